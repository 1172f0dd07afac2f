"""What diagnostics needs to know about CalDAV (the shape is described in providers/probes.py).

One probe, two round trips in sequence, with the stored credential (there is no refresh: an
app password is valid until the server refuses it):
- identity: PROPFIND the server URL for `current-user-principal` (RFC 5397) — the password is
  accepted (else `credentials_invalid`, or `app_password_required` at services that demand app
  passwords) and the URL is a CalDAV server (else `client_misconfigured`);
- calendar: PROPFIND the stored calendar URL — still there and still a calendar (else
  `calendar_not_found`).
CalDAV has no conferencing of its own, so there is nothing to check for it.
https://www.rfc-editor.org/rfc/rfc4791#section-6  https://www.rfc-editor.org/rfc/rfc5397
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from providers.base import (
    CalendarProvider,
    ConferencingProvider,
    ProviderConfig,
    ProviderError,
)
from providers.caldav.credential import Credential
from providers.caldav.errors import PROVIDER, classify_status
from providers.caldav.texts import fix_for
from providers.probes import (
    CALENDAR,
    IDENTITY,
    Explained,
    Finding,
    Probe,
    Subject,
    body_mapping,
)

# An app password does not expire from disuse or age; only its owner revokes it.
INACTIVITY_LIMIT: timedelta | None = None


def consent_lifetime(config: ProviderConfig) -> timedelta | None:
    return None


def probes(config: ProviderConfig, calendar: CalendarProvider | None,
           conferencing: ConferencingProvider | None) -> list[Probe]:
    del config, conferencing
    if calendar is None:
        return []
    return [Probe("caldav.account", (IDENTITY, CALENDAR), lambda token, subject: _account(calendar, token, subject))]


def _account(calendar: CalendarProvider, token: str, subject: Subject) -> list[Finding]:
    cred = Credential.decode(token)
    server = urlsplit(cred.server_url).netloc or cred.server_url
    principal = getattr(calendar, "principal_url", None)
    try:
        found = principal(token) if principal is not None else subject.account_id
    except ProviderError as err:
        return [_failed(IDENTITY, err, f"Signing in to {server} as {cred.username} (PROPFIND current-user-principal)")]
    identity = Finding.passed(IDENTITY, f"Signed in to the CalDAV server {server} as {cred.username}.",
                              f"current-user-principal {found}")
    try:
        calendar.verify_mailbox(token)
    except ProviderError as err:
        return [identity, _failed(CALENDAR, err, f"Reading the calendar {cred.calendar_url} (PROPFIND)")]
    return [identity, Finding.passed(CALENDAR, "The calendar can be read.", f"calendar {cred.calendar_url}")]


def _failed(check: str, err: ProviderError, doing: str) -> Finding:
    finding = Finding.from_error(check, err, doing)
    fix = fix_for(err.cause)
    return Finding(finding.check, finding.status, err.message, finding.detail + (f". {fix}" if fix else ""),
                   cause=err.cause, error=err)


def explain(http_status: int | None, body: Any) -> Explained:
    """CalDAV errors are bare HTTP statuses (the body is free text or a WebDAV precondition)."""
    data, text = body_mapping(body)
    recognised: dict[str, Any] = {"provider": PROVIDER, "http_status": http_status,
                                  "format": "json" if data is not None else "text" if text else "none"}
    if not http_status:
        return Explained(None, recognised, "CalDAV servers answer with HTTP statuses: give the status too.")
    return Explained(classify_status(http_status), recognised)
