"""The ordered rules: stored health record + live findings → checks with a stable cause.

Pure functions over snapshots, so every rule is testable without a provider. Provider facts
(inactivity limit, consent lifetime, required scopes, the probes' findings) arrive as data;
no provider is named here.

Order matters and is the order a support person reads:
1. the user: is a calendar connected, is the chosen video meeting service connected;
2. per connection: the grant (refresh), then whose account it is, its permissions, the mailbox,
   the calendar, conferencing, whether other users share the same provider login, and how
   long the grant has left. A connection whose grant is dead skips the live checks — they
   cannot run, and the grant is the one thing to fix.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterable, Sequence

from hub.services.diagnostics.model import Check, ConnectionState, UserState
from hub.services.sync.status import SyncStatus
from hub.services.diagnostics.providers import ProviderFacts
from providers.base import Capability, ErrorKind, ProviderError
from providers.probes import (CALENDAR, CONFERENCING, FAIL, IDENTITY, MAILBOX, PASS, SCOPES, SKIP, WARN,
                              Finding, error_detail)

LIVE_CHECKS = (IDENTITY, SCOPES, MAILBOX, CALENDAR, CONFERENCING)
# The answers a dead grant gives when the provider does not say why (Google's bare
# invalid_grant, Zoom's "Invalid Token!"): context narrows them down.
UNSPECIFIC_DEATH = frozenset({"token_revoked", "zoom_token_revoked"})
# A failing check must name a cause; when the provider error has none, its kind decides.
KIND_CAUSE = {
    ErrorKind.AUTH_REVOKED.value: "token_revoked",
    ErrorKind.AUTH_EXPIRED.value: "token_revoked",  # refused right after a refresh: the grant is bad
    ErrorKind.SCOPE_MISSING.value: "scopes_missing",
    ErrorKind.MAILBOX_UNAVAILABLE.value: "mailbox_unlicensed",
    ErrorKind.ACCESS_DENIED.value: "scopes_missing",  # reconnecting with every permission is the fix
    ErrorKind.RATE_LIMITED.value: "rate_limited",
    ErrorKind.PROVIDER_DOWN.value: "provider_unavailable",
}
# The coarse kind to store with a cause found without a provider error (a capability missing).
CAUSE_KIND = {
    "shared_mailbox": ErrorKind.MAILBOX_UNAVAILABLE.value,
    "mailbox_unlicensed": ErrorKind.MAILBOX_UNAVAILABLE.value,
    "scopes_missing": ErrorKind.SCOPE_MISSING.value,
    "meet_unavailable": ErrorKind.ACCESS_DENIED.value,
    "teams_unavailable": ErrorKind.ACCESS_DENIED.value,
    "zoom_cannot_host": ErrorKind.ACCESS_DENIED.value,
    "credentials_shared": ErrorKind.ACCESS_DENIED.value,
    "organizer_not_connected": ErrorKind.NOT_FOUND.value,
    "conferencing_not_connected": ErrorKind.NOT_FOUND.value,
}
NOT_CHECKED = "Not checked: the sign-in has to work first."
# Causes no read-only probe can see — only a write reveals them (Graph creates the event and
# simply leaves out the Teams link). The stored record keeps them until a booking succeeds
# (record_outcome clears last_error then), so the diagnosis repeats them until then.
WRITE_ONLY_CAUSES = frozenset({"teams_link_not_generated"})


@dataclass
class Evidence:
    """Everything known about one connection when the rules run."""

    state: ConnectionState
    facts: ProviderFacts
    refreshed: bool = False
    refresh_error: ProviderError | None = None
    findings: list[Finding] = field(default_factory=list)
    # external ids of the tenant's other users holding a connection to the same provider login
    peers: list[str] = field(default_factory=list)
    # Push channel and sync (providers that push only; hub/services/sync/status.py).
    sync: SyncStatus | None = None


def refine_dead_grant(cause: str | None, state: ConnectionState, facts: ProviderFacts, now: datetime) -> str:
    """Name why a grant died when the provider only said "dead". Most specific first: a
    Testing-status app kills every grant at 7 days, long before any inactivity limit."""
    if cause is not None and cause not in UNSPECIFIC_DEATH:
        return cause
    if facts.consent_lifetime is not None and now - state.consented_at >= facts.consent_lifetime:
        return "token_expired_testing_app"
    if facts.inactivity_limit is not None and now - state.last_success >= facts.inactivity_limit:
        return "token_expired_inactivity"
    return cause or "token_revoked"


def user_checks(user: UserState, states: Sequence[ConnectionState],
                all_facts: dict[str, ProviderFacts]) -> list[Check]:
    calendars = [s for s in states if Capability.CALENDAR.value in s.capabilities]
    if calendars:
        names = ", ".join(f"{all_facts[s.provider].title} ({s.account_email or s.provider_account_id})"
                          for s in calendars)
        calendar = Check("calendar_connected", PASS, f"A calendar is connected: {names}.",
                         f"{len(calendars)} calendar connection(s)")
    else:
        calendar = Check("calendar_connected", FAIL, "", "no connection with the calendar capability",
                         cause="organizer_not_connected", kind=CAUSE_KIND["organizer_not_connected"])
    return [calendar, conferencing_check(user, states, all_facts, bool(calendars))]


def conferencing_check(user: UserState, states: Sequence[ConnectionState],
                       all_facts: dict[str, ProviderFacts], has_calendar: bool) -> Check:
    choice = user.default_conferencing or "default"
    if choice == "none":
        return Check("conferencing_connected", PASS, "No video meeting is added to events (the user's choice).",
                     "default_conferencing: none")
    if choice == "default":
        if not has_calendar:
            return Check("conferencing_connected", SKIP, "Not checked: video meetings follow the calendar, and "
                         "none is connected.", "default_conferencing: default")
        offered = sorted({c for s in states for c in s.capabilities if c != Capability.CALENDAR.value})
        return Check("conferencing_connected", PASS, "Video meetings follow the calendar's own service "
                     "(Google Meet or Teams), else Zoom.",
                     "default_conferencing: default; connections offer " + (", ".join(offered) or "none"))
    holders = [s for s in states if choice in all_facts[s.provider].capabilities]
    if holders:
        return Check("conferencing_connected", PASS, f"The chosen video meeting service ({choice}) is connected.",
                     f"default_conferencing: {choice}; held by " + ", ".join(s.id for s in holders))
    return Check("conferencing_connected", FAIL, "", f"default_conferencing is {choice}, but no connection offers it",
                 cause="conferencing_not_connected", kind=CAUSE_KIND["conferencing_not_connected"], wants=choice)


def connection_checks(ev: Evidence, user: UserState | None, now: datetime) -> list[Check]:
    state, facts = ev.state, ev.facts
    out = [_grant_check(ev, now)]
    alive = ev.refreshed and ev.refresh_error is None
    # Every check the provider's probes cover is listed, run or skipped, so a report always
    # has the same shape for a provider.
    covered = {c for probe in facts.probes for c in probe.checks} | {f.check for f in ev.findings} | {SCOPES}
    for check_id in LIVE_CHECKS:
        if check_id not in covered:
            continue
        if not alive:
            out.append(_check(ev, check_id, SKIP, NOT_CHECKED, "the grant could not be refreshed"))
            continue
        if check_id == SCOPES:
            out.append(_scopes_check(ev))
            continue
        for finding in (f for f in ev.findings if f.check == check_id):
            out.append(_from_finding(ev, finding, user))
    last = state.last_error or {}
    if alive and last.get("cause") in WRITE_ONLY_CAUSES:
        check = _check(ev, "last_booking", FAIL, "", f"the last booking failed at {last.get('at', '?')}: "
                       f"{last.get('message') or last['cause']}", last["cause"], last.get("kind"))
        check.message, check.provider_code = last.get("message"), last.get("provider_code")
        out.append(check)
    out.append(_shared_check(ev))
    mismatch = _account_mismatch_check(ev)
    if mismatch is not None:
        out.append(mismatch)
    lifetime = _lifetime_check(ev, now) if alive else None
    if lifetime is not None:
        out.append(lifetime)
    # A dead grant is the one thing to fix: a channel cannot work without it either.
    named = {c.cause for c in out if c.status == FAIL and c.cause}
    sync = sync_check(ev, now, named) if alive else None
    if sync is not None:
        out.append(sync)
    return out


def sync_check(ev: Evidence, now: datetime, named: frozenset[str] | set[str] = frozenset()) -> Check | None:
    """Whether changes in the calendar reach the hub (push channel) and when it last synced.
    A failed channel does not stop bookings (they are checked live) but leaves free/busy
    without the cache and event changes without webhooks until it works again."""
    sync = ev.sync
    if sync is None:
        return None
    synced = f"last synced {_ago(now - sync.last_synced_at)}" if sync.last_synced_at else "never synced"
    window = (f"; window {sync.window_start:%Y-%m-%d} to {sync.window_end:%Y-%m-%d}"
              if sync.window_start and sync.window_end else "")
    errors = f"; {len(sync.errors)} recent sync error(s), last: {sync.errors[-1].get('message')}" if sync.errors else ""
    if sync.channel_status == "failed":
        err = sync.channel_error or {}
        # The provider asked to wait or was down (the hub retries by itself), or the channel
        # failed for a cause another check of this connection already names (fixing that fixes
        # this): a warning here, not a second failure.
        transient = err.get("kind") in (ErrorKind.RATE_LIMITED.value, ErrorKind.PROVIDER_DOWN.value)
        return _check(ev, "sync_channel", WARN if transient or err.get("cause") in named else FAIL, "",
                      f"push channel failed at {err.get('at', '?')}: {err.get('message') or err.get('cause') or '?'}"
                      f" (cause {err.get('cause') or '?'}); {synced}{window}{errors}",
                      "channel_failed", ErrorKind.PROVIDER_DOWN.value)
    if sync.channel_status == "active":
        expires = f"; channel expires {sync.channel_expires_at:%Y-%m-%d %H:%M}Z" if sync.channel_expires_at else ""
        return _check(ev, "sync_channel", PASS,
                      f"Changes in this {ev.facts.title} calendar reach the hub as they happen.",
                      f"{synced}{expires}{window}{errors}")
    state = "has lapsed" if sync.channel_status == "expired" else "is not open yet"
    return _check(ev, "sync_channel", WARN,
                  f"The hub's subscription to changes in this {ev.facts.title} calendar {state}; the hub opens a "
                  "new one by itself and reads the calendar directly meanwhile.", f"{synced}{window}{errors}")


def _check(ev: Evidence, check_id: str, status: str, summary: str, detail: str = "",
           cause: str | None = None, kind: str | None = None, err: ProviderError | None = None) -> Check:
    return Check(f"{ev.state.provider}.{check_id}", status, summary, detail, connection_id=ev.state.id,
                 provider=ev.state.provider, cause=cause, kind=kind,
                 message=err.message if err else None, provider_code=err.provider_code if err else None)


def _grant_check(ev: Evidence, now: datetime) -> Check:
    state, facts = ev.state, ev.facts
    context = _context(state, facts, now)
    if not ev.refreshed:
        # needs_reauth: the hub does not try a dead grant again (it would only answer the same,
        # and Zoom's rotation makes every try a risk); the stored record says why.
        last = state.last_error or {}
        dead_cause = refine_dead_grant(last.get("cause"), state, facts, now)
        message = str(last.get("message") or "no message").rstrip(".")
        detail = (f"status {state.status} since {last.get('at', '?')}: {message}"
                  + (f" (code {last['provider_code']})" if last.get("provider_code") else "") + f"; {context}")
        check = _check(ev, "token_refresh", FAIL, "", detail, dead_cause, last.get("kind") or ErrorKind.AUTH_REVOKED.value)
        check.message, check.provider_code = last.get("message"), last.get("provider_code")
        return check
    err = ev.refresh_error
    if err is not None:
        cause = err.cause or KIND_CAUSE.get(err.kind.value)
        if err.kind is ErrorKind.AUTH_REVOKED:
            cause = refine_dead_grant(cause, state, facts, now)
        return _check(ev, "token_refresh", FAIL, "", f"{error_detail(err, 'Refreshing the access token')}; {context}",
                      cause, err.kind.value, err)
    if not state.renewable:
        return _check(ev, "token_refresh", PASS, f"The hub's stored sign-in for {facts.title} does not expire; "
                      "the checks below show whether it still works.", context)
    return _check(ev, "token_refresh", PASS, f"The hub renewed its access to {facts.title} just now.", context)


def _context(state: ConnectionState, facts: ProviderFacts, now: datetime) -> str:
    parts = [f"consented {_ago(now - state.consented_at)}",
             f"last worked {_ago(now - state.last_success)}",
             f"{state.refresh_failures} refresh failure(s) in a row",
             f"{state.reconnect_count} reconnect(s)"]
    if facts.consent_lifetime is not None:
        parts.append(f"grants end {_days(facts.consent_lifetime)} after consent (app in testing)")
    if facts.inactivity_limit is not None:
        parts.append(f"unused grants end after {_days(facts.inactivity_limit)}")
    return "; ".join(parts)


def _scopes_check(ev: Evidence) -> Check:
    live = next((f for f in ev.findings if f.check == SCOPES and f.status == PASS and "granted_scopes" in f.facts),
                None)
    failed = next((f for f in ev.findings if f.check == SCOPES and f.status != PASS), None)
    if failed is not None:
        return _from_finding(ev, failed, None)
    granted = set(live.facts["granted_scopes"]) if live else set(ev.state.scopes)
    source = "granted now (read from the provider)" if live else "granted at consent (stored)"
    missing = [s for s in ev.facts.required_scopes if s not in granted]
    if missing:
        return _check(ev, SCOPES, FAIL, "", f"missing {', '.join(missing)}; {source}: {' '.join(sorted(granted))}",
                      "scopes_missing", ErrorKind.SCOPE_MISSING.value)
    return _check(ev, SCOPES, PASS, "Every permission the hub needs is granted.",
                  f"required {', '.join(ev.facts.required_scopes) or 'none'}; {source}")


def _from_finding(ev: Evidence, finding: Finding, user: UserState | None) -> Check:
    if finding.status != FAIL:
        return _check(ev, finding.check, finding.status, finding.summary, finding.detail)
    err = finding.error
    cause = finding.cause or (err.cause if err else None) or (KIND_CAUSE.get(err.kind.value) if err else None)
    kind = err.kind.value if err else CAUSE_KIND.get(cause or "", ErrorKind.UNKNOWN.value)
    status = FAIL
    if finding.check == CONFERENCING and err is None and not _relies_on(ev, user):
        # The calendar's own meetings are unavailable, but the user books with something else.
        status = WARN
    return _check(ev, finding.check, status, "" if cause else finding.summary, finding.detail, cause, kind, err)


def _relies_on(ev: Evidence, user: UserState | None) -> bool:
    """Whether the user's bookings need this connection's conferencing."""
    choice = (user.default_conferencing if user else None) or "default"
    mine = ev.facts.capabilities - {Capability.CALENDAR.value}
    if choice == "default":
        return True  # default picks the calendar's own service first (API.md)
    return choice in mine


def _shared_check(ev: Evidence) -> Check:
    login = ev.state.account_email or ev.state.provider_account_id
    if ev.peers:
        return _check(ev, "credentials_shared", FAIL, "",
                      f"{ev.facts.title} login {login} is also connected by user(s) {', '.join(ev.peers)} of this "
                      "tenant", "credentials_shared", CAUSE_KIND["credentials_shared"])
    return _check(ev, "credentials_shared", PASS, f"No other user of this tenant has connected {login}.")


def _account_mismatch_check(ev: Evidence) -> Check | None:
    """A warning, not a failure: the account connected is not the user's own address (someone
    else finished the consent, or the person used another account of theirs)."""
    found = (ev.state.flags or {}).get("account_mismatch")
    if not found:
        return None
    return _check(ev, "account_mismatch", WARN,
                  f"The {ev.facts.title} account connected ({found.get('account_email')}) is not this user's "
                  f"address ({found.get('user_email')}). If that is not expected, disconnect it and connect "
                  "the user's own account.",
                  f"connected {found.get('since', '?')}", "account_mismatch", ErrorKind.ACCESS_DENIED.value)


def _lifetime_check(ev: Evidence, now: datetime) -> Check | None:
    lifetime = ev.facts.consent_lifetime
    if lifetime is None:
        return None
    ends = ev.state.consented_at + lifetime
    return _check(ev, "consent_lifetime", WARN,
                  f"This connection will stop working on {ends:%Y-%m-%d} ({_ago(ends - now, future=True)}): the "
                  f"hub's {ev.facts.title} app is still in testing mode.",
                  f"consented {ev.state.consented_at:%Y-%m-%d %H:%M}Z; grants of an app in testing end after "
                  f"{_days(lifetime)}", "token_expired_testing_app", ErrorKind.AUTH_REVOKED.value)


def peers_of(state: ConnectionState, others: Iterable[tuple[str, str, str, str]]) -> list[str]:
    """External ids of other users holding the same provider login. `others` are
    (connection id, provider, provider_account_id, user external id) of the tenant."""
    return sorted({ext for cid, provider, account, ext in others
                   if cid != state.id and provider == state.provider and account == state.provider_account_id})


def _days(delta: timedelta) -> str:
    return f"{delta.days} days"


def _ago(delta: timedelta, future: bool = False) -> str:
    seconds = abs(delta.total_seconds())
    if seconds < 120:
        text = f"{int(seconds)} seconds"
    elif seconds < 7200:
        text = f"{int(seconds // 60)} minutes"
    elif seconds < 172800:
        text = f"{int(seconds // 3600)} hours"
    else:
        text = f"{int(seconds // 86400)} days"
    return f"in {text}" if future else f"{text} ago"
