"""Plain words for every failure cause, with the fix a person can carry out.

One table for the whole hub: the settings page shows these to the person whose account broke,
diagnostics (and `hub doctor`) show the same words to support, `POST /v1/diagnostics/explain`
can answer with them. Keys are the stable `cause` codes of API.md plus the outcome codes of the
connect flow (`access_denied`, `link_expired`, ...), which reach the settings page as
`?status=error&code=…`.

Wording rules: say what happened in the person's terms (no HTTP, no OAuth jargon), say whose
move it is (yours, your administrator's, nobody's — it recovers by itself), keep it to one or
two sentences. `{provider}` is replaced by the provider's title ("Google Calendar").
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from providers import registry

# What the person (or support) is asked to do. `reconnect` and `connect` are buttons on the
# settings page; the others are steps to read.
RECONNECT = "reconnect"
CONNECT = "connect"
CONNECT_OWN_ACCOUNT = "connect_own_account"
CONTACT_ADMIN = "contact_admin"
CONTACT_SUPPORT = "contact_support"
CHOOSE_CONFERENCING = "choose_other_conferencing"
WAIT = "wait"
RETRY = "retry"


@dataclass(frozen=True)
class Explanation:
    code: str
    summary: str  # what happened, in plain words
    fix: str  # the next step, one sentence
    action: str  # one of the constants above
    steps: tuple[str, ...] = ()

    @property
    def reconnect_fixes_it(self) -> bool:
        return self.action in (RECONNECT, CONNECT, CONNECT_OWN_ACCOUNT)

    def as_fix(self, url: str | None = None) -> dict[str, Any]:
        """The API's `fix` object: `{"action", "url"?, "steps"?}`."""
        out: dict[str, Any] = {"action": self.action}
        if url:
            out["url"] = url
        out["steps"] = list(self.steps) or [self.fix]
        return out


def _e(code: str, summary: str, fix: str, action: str, *steps: str) -> Explanation:
    return Explanation(code, summary, fix, action, tuple(steps))


_REVOKED_STEPS = ("Choose Reconnect.", "Sign in with the same account and allow every permission.")

# The stable cause codes of API.md ("extend, never rename"). tests check every code is here.
# Causes only one provider produces come from its spec (`ProviderSpec.causes`), added below.
CAUSES: dict[str, Explanation] = {e.code: e for e in (
    _e("token_revoked",
       "{provider} no longer lets the hub into this account: access was removed in the account's "
       "security settings, or the sign-in ran out.",
       "Reconnect the account.", RECONNECT, *_REVOKED_STEPS),
    _e("token_expired_inactivity",
       "The connection expired because the hub had not used it for a long time.",
       "Reconnect the account.", RECONNECT, *_REVOKED_STEPS),
    _e("token_expired_testing_app",
       "The hub's app at {provider} is still in testing mode, so {provider} ends every "
       "connection after seven days.",
       "Reconnect now, and ask the hub's administrator to publish the app so it stops happening.",
       RECONNECT, "Choose Reconnect.",
       "Ask the hub's administrator to set the Google app's publishing status to In production."),
    _e("password_reset_revoked",
       "The account's password was changed, which signed the hub out.",
       "Reconnect the account with the new password.", RECONNECT, *_REVOKED_STEPS),
    _e("consent_required",
       "Your organisation has to approve the hub before it may read your calendar, and that "
       "approval is missing or was withdrawn.",
       "Ask your IT administrator to approve the hub, then reconnect.", CONTACT_ADMIN,
       "Ask your IT administrator to grant admin consent to the hub's app.",
       "Then choose Reconnect."),
    _e("mfa_required",
       "Your organisation wants you to sign in again with your second factor (for example an "
       "authenticator app).",
       "Reconnect and complete the extra sign-in step.", RECONNECT, *_REVOKED_STEPS),
    _e("conditional_access_blocked",
       "Your organisation's sign-in rules block the hub (for example because of the network, "
       "device or app it signs in from).",
       "Ask your IT administrator to allow the hub, then reconnect.", CONTACT_ADMIN,
       "Ask your IT administrator to allow the hub's app in the conditional-access policy.",
       "Then choose Reconnect."),
    _e("account_disabled",
       "This account is disabled at {provider}.",
       "Ask your administrator to enable it again, or connect the account you use now.",
       CONTACT_ADMIN, "Ask your administrator whether the account was disabled on purpose.",
       "Connect the account you use now, then disconnect this one."),
    _e("scopes_missing",
       "Some permissions were not granted, so the hub cannot read your calendar or add meeting "
       "links.",
       "Reconnect and leave every permission ticked.", RECONNECT,
       "Choose Reconnect.", "Leave every requested permission ticked and choose Allow."),
    _e("shared_mailbox",
       "This is a shared mailbox — connect your own account.",
       "Connect the account you sign in with yourself, not a shared or team mailbox.",
       CONNECT_OWN_ACCOUNT, "Choose Connect.", "Sign in with your personal work account."),
    _e("credentials_unreadable",
       "The hub can no longer read the saved sign-in for this account (the key that protected it "
       "was changed or removed).",
       "Reconnect the account.", RECONNECT, *_REVOKED_STEPS),
    # {provider}, not "Zoom": diagnostics also finds two people on one Google or Microsoft login.
    _e("credentials_shared",
       "Someone else uses the same {provider} account. With shared credentials two people cannot be in "
       "the same interview.",
       "Connect your own {provider} account.", CONNECT_OWN_ACCOUNT,
       "Disconnect this {provider} account.", "Connect a {provider} account that only you use."),
    _e("account_mismatch",
       "The {provider} account connected is not this person's own address.",
       "If that is not expected, disconnect it and connect the person's own account.", CONNECT_OWN_ACCOUNT,
       "Disconnect this {provider} account.", "Connect the account that belongs to this person."),
    _e("organizer_not_connected",
       "No calendar is connected, so interviews cannot be booked in your calendar.",
       "Connect your Google or Microsoft 365 calendar.", CONNECT, "Choose Connect on a calendar."),
    _e("conferencing_not_connected",
       "Your default video meeting service is not connected.",
       "Connect it, or choose another video meeting default.", CONNECT,
       "Connect Zoom, or pick another default video meeting."),
    _e("client_misconfigured",
       "The hub's own registration with {provider} is set up wrongly. Nothing on your side "
       "causes this.",
       "Tell the team that runs the hub; reconnecting will not help until they fix it.",
       CONTACT_SUPPORT, "Tell the team that runs the hub (mention: client_misconfigured)."),
    _e("rate_limited",
       "{provider} is briefly limiting how often the hub may ask. The hub slows down and retries "
       "by itself.",
       "Nothing to do: wait a few minutes.", WAIT),
    _e("provider_unavailable",
       "{provider} is having trouble or did not answer in time.",
       "Nothing to do on your side: the hub tries again. Check again in a few minutes.", WAIT),
    _e("channel_failed",
       "{provider} is not telling the hub about changes in this calendar right now, so the hub reads "
       "the calendar directly (a little slower) and cannot report changes made there. The hub keeps "
       "trying to subscribe again.",
       "Usually nothing to do: it recovers by itself. If it keeps failing, reconnect the calendar; "
       "operators check that the hub's public address (HUB_PUBLIC_URL) is a secure address reachable "
       "from the internet.", RETRY,
       "Wait a few minutes: the hub subscribes again by itself.",
       "If it still fails, choose Reconnect and sign in with the same account.",
       "Operators: HUB_PUBLIC_URL must be a secure public address the provider can reach; the "
       "details show the provider's answer."),
    _e("unknown_time_zone",
       "{provider} reported a time zone the hub does not recognise, so it cannot place those "
       "times correctly.",
       "Contact support and name the time zone shown in the details; setting your mailbox's "
       "time zone to another city nearby works meanwhile.", CONTACT_SUPPORT,
       "Contact support with the time zone named in the details.",
       "Meanwhile, pick a nearby city's time zone in your mailbox settings."),
)}

CAUSES.update({c.code: Explanation(c.code, c.summary, c.fix, c.action, c.steps)
               for spec in registry.SPECS for c in spec.causes})

# Outcome codes of the connect flow (oauth/connect.py), shown after coming back from consent.
CONNECT_OUTCOMES: dict[str, Explanation] = {e.code: e for e in (
    _e("access_denied",
       "Access was not allowed on {provider}'s consent screen, so the hub got no access.",
       "Choose Connect again and then Allow.", CONNECT),
    _e("interaction_required",
       "{provider} needs you to sign in again before it can connect.",
       "Choose Connect again and complete the sign-in.", CONNECT),
    _e("link_expired",
       "The sign-in took too long and expired.",
       "Choose Connect again.", CONNECT),
    _e("link_used",
       "That sign-in was already completed (perhaps in another tab).",
       "Check the card below; choose Connect again if it is not connected.", CONNECT),
    _e("state_used",
       "That sign-in was already completed (perhaps in another tab).",
       "Check the card below; choose Connect again if it is not connected.", CONNECT),
    _e("state_invalid",
       "The sign-in could not be matched to this page (it may have been finished in another "
       "browser).",
       "Choose Connect again from this page.", CONNECT),
    _e("state_missing",
       "The sign-in came back incomplete.",
       "Choose Connect again from this page.", CONNECT),
    _e("code_missing",
       "{provider} sent you back without finishing the sign-in.",
       "Choose Connect again.", CONNECT),
    _e("provider_error",
       "{provider} answered with an error the hub did not expect.",
       "Try again in a few minutes; if it keeps happening, tell the team that runs the hub.", RETRY),
    _e("calendar_not_connected",
       "No calendar is connected, so the hub cannot see when you are busy.",
       "Connect your Google or Microsoft 365 calendar.", CONNECT),
)}

# When a stored error has no cause, its coarse kind still says what to do.
KINDS: dict[str, Explanation] = {e.code: e for e in (
    _e("auth_revoked", CAUSES["token_revoked"].summary, "Reconnect the account.", RECONNECT, *_REVOKED_STEPS),
    _e("auth_expired",
       "The hub's short-lived access to {provider} ran out; it renews it by itself.",
       "Nothing to do.", WAIT),
    _e("scope_missing", CAUSES["scopes_missing"].summary, CAUSES["scopes_missing"].fix, RECONNECT,
       *CAUSES["scopes_missing"].steps),
    _e("mailbox_unavailable",
       "This account has no mailbox or calendar the hub can use.",
       "Connect the account you sign in with yourself.", CONNECT_OWN_ACCOUNT),
    _e("access_denied",
       "{provider} refused the hub access to something in this account.",
       "Reconnect and allow every permission; if it persists, ask your administrator.", RECONNECT,
       *_REVOKED_STEPS),
    _e("rate_limited", CAUSES["rate_limited"].summary, CAUSES["rate_limited"].fix, WAIT),
    _e("provider_down", CAUSES["provider_unavailable"].summary, CAUSES["provider_unavailable"].fix, WAIT),
)}

_UNKNOWN = _e("unknown",
              "Something went wrong with this connection that the hub could not identify.",
              "Try reconnecting; if it keeps happening, tell the team that runs the hub.", RECONNECT,
              "Choose Reconnect.", "If it keeps failing, tell the team that runs the hub.")


def explain(cause: str | None, kind: str | None = None, provider_title: str | None = None) -> Explanation:
    """The explanation for a cause (or, lacking one, a kind), with `{provider}` filled in."""
    found = (CAUSES.get(cause or "") or CONNECT_OUTCOMES.get(cause or "") or KINDS.get(kind or "")
             or _UNKNOWN)
    return Explanation(found.code, _fill(found.summary, provider_title), _fill(found.fix, provider_title),
                       found.action, tuple(_fill(s, provider_title) for s in found.steps))


def _fill(text: str, provider: str | None) -> str:
    if provider:
        return text.replace("{provider}", provider)
    # Without a name: "The provider" where a sentence starts, "the provider" elsewhere.
    return re.sub(r"(^|[.!?]\s+)?\{provider\}",
                  lambda m: (m.group(1) + "The provider") if m.group(1) is not None else "the provider", text)
