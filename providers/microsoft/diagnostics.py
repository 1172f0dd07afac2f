"""What diagnostics needs to know about Microsoft 365 (the shape is described in providers/probes.py).

Probes, run at the same time with a freshly refreshed access token (three requests: within
Outlook's four concurrent requests per mailbox):
- identity (GET /me through the adapter's Graph runtime): whose token it is;
- the mailbox (`verify_mailbox`: mailboxSettings.userPurpose — a shared mailbox, room or
  equipment signed into directly is not a person; 404 MailboxNotEnabledForRESTAPI is an account
  without an Exchange Online licence);
- the calendar (`conferencing_allowed`: GET /me/calendar, whose allowedOnlineMeetingProviders
  says whether Teams links can be made — an event asking for Teams is otherwise created
  without one).
The token endpoint's AADSTS code names most dead grants exactly (700082 inactivity, 50173
password change, 65001 consent, 50076 MFA, 53003 conditional access), so no context is needed.
https://learn.microsoft.com/graph/api/resources/mailboxsettings
https://learn.microsoft.com/graph/api/resources/calendar
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Mapping

from providers.base import CalendarProvider, ConferencingProvider, ErrorKind, ProviderConfig, ProviderError
from providers.microsoft.errors import (AADSTS, PROVIDER, aadsts_code, classify_graph_error,
                                        classify_schedule_error, classify_token_error)
from providers.probes import (CALENDAR, CONFERENCING, IDENTITY, MAILBOX, WARN, Explained, Finding, Probe,
                              Subject, body_mapping, error_detail)


# Refresh tokens live 90 days and slide with use; unused that long, AADSTS700082.
# https://learn.microsoft.com/entra/identity-platform/refresh-tokens#token-lifetime
INACTIVITY_LIMIT: timedelta | None = timedelta(days=90)


def consent_lifetime(config: ProviderConfig) -> timedelta | None:
    del config
    return None


def probes(config: ProviderConfig, calendar: CalendarProvider | None,
           conferencing: ConferencingProvider | None) -> list[Probe]:
    del config, conferencing
    if calendar is None:
        return []
    out = []
    if getattr(calendar, "graph", None) is not None:  # the msgraph adapter (a stand-in may lack it)
        out.append(Probe("microsoft.me", (IDENTITY,), lambda token, subject: _me(calendar, token, subject)))
    return out + [Probe("microsoft.mailbox", (MAILBOX,), lambda token, subject: _mailbox(calendar, token)),
            Probe("microsoft.calendar", (CALENDAR, CONFERENCING), lambda token, subject: _calendar(calendar, token))]


def _me(calendar: Any, token: str, subject: Subject) -> list[Finding]:
    try:
        me = calendar.graph.call(token, lambda client: client.me.get())
    except ProviderError as err:
        return [Finding.from_error(IDENTITY, err, "Reading the signed-in user (GET /me)")]
    # The stored account id is "<object id>.<tenant id>" (oauth/microsoft.py); /me answers the object id.
    oid = subject.account_id.split(".", 1)[0]
    who = (me.mail or me.user_principal_name) if me else None
    if me is None or str(me.id or "") != oid:
        return [Finding(IDENTITY, WARN, "The token belongs to a different Microsoft account than the one connected.",
                        f"/me id {getattr(me, 'id', None)!r}, stored object id {oid!r}")]
    return [Finding.passed(IDENTITY, f"Signed in to Microsoft 365 as {who or subject.account_email}.",
                           f"/me: id {oid}, userPrincipalName {me.user_principal_name}")]


def _mailbox(calendar: CalendarProvider, token: str) -> list[Finding]:
    try:
        calendar.verify_mailbox(token)
    except ProviderError as err:
        return [Finding.from_error(MAILBOX, err, "Reading the mailbox type (GET /me/mailboxSettings)")]
    return [Finding.passed(MAILBOX, "This is a person's own licensed mailbox.",
                           "mailboxSettings.userPurpose: user")]


def _calendar(calendar: CalendarProvider, token: str) -> list[Finding]:
    try:
        teams = calendar.conferencing_allowed(token)
    except ProviderError as err:
        return [Finding.from_error(CALENDAR, err, "Reading the calendar (GET /me/calendar)")]
    found = [Finding.passed(CALENDAR, "The calendar can be read.", "GET /me/calendar: 200")]
    if teams:
        found.append(Finding.passed(CONFERENCING, "Teams links can be added to events.",
                                    "calendar.allowedOnlineMeetingProviders includes teamsForBusiness"))
    else:
        found.append(Finding.failed(CONFERENCING, "teams_unavailable", "Teams is not available to this mailbox.",
                                    "calendar.allowedOnlineMeetingProviders has no teamsForBusiness: events "
                                    "asking for Teams would be created without a link"))
    return found


def explain(http_status: int | None, body: Any) -> Explained:
    data, text = body_mapping(body)
    if data is None and text and aadsts_code({"error_description": text}) is not None:
        # A sign-in page or log line quoting "AADSTS50076: …" without the JSON around it.
        data = {"error_description": text}
    if data is None:
        return Explained(None, {"provider": PROVIDER, "http_status": http_status, "format": "text" if text else "none"})
    error = data.get("error")
    if isinstance(error, Mapping) and "responseCode" in error:
        # getSchedule's per-schedule error inside HTTP 200: {"scheduleId","error":{"message","responseCode"}}
        err = classify_schedule_error(str(data.get("scheduleId") or "schedule"), _str(error.get("responseCode")),
                                      _str(error.get("message")))
        recognised = {"provider": PROVIDER, "shape": "schedule_error", "responseCode": error.get("responseCode")}
        return Explained(None if err.kind is ErrorKind.UNKNOWN else err, recognised, error_detail(err, "getSchedule"))
    if isinstance(error, Mapping):  # Graph: {"error":{"code","message","innerError"}}
        err = classify_graph_error(http_status, _str(error.get("code")), _str(error.get("message")))
        recognised = {"provider": PROVIDER, "shape": "graph_error", "http_status": http_status,
                      "code": error.get("code"), "message": error.get("message")}
        return Explained(None if err.kind is ErrorKind.UNKNOWN else err, recognised, error_detail(err, "Microsoft Graph"))
    if isinstance(error, str) or "error_codes" in data or "error_description" in data:
        # Identity platform: {"error","error_description":"AADSTS…","error_codes":[…],"suberror"?}
        code = aadsts_code(data)
        err = classify_token_error(http_status, data)
        recognised = {"provider": PROVIDER, "shape": "token_error", "http_status": http_status,
                      "error": error, "aadsts": code, "known_aadsts": code in AADSTS if code else None,
                      "suberror": data.get("suberror")}
        return Explained(None if err.kind is ErrorKind.UNKNOWN else err, recognised,
                         error_detail(err, "Microsoft identity platform"))
    return Explained(None, {"provider": PROVIDER, "http_status": http_status, "format": "json",
                            "fields": sorted(str(k) for k in data)})


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
