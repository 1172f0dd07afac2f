"""CalDAV failures → ProviderError: one table from HTTP status to kind and cause.

CalDAV servers answer with bare HTTP statuses (RFC 4791 §1.3 builds on WebDAV, RFC 4918, and
HTTP semantics, RFC 9110); bodies are free text or an RFC 4918 §16 precondition element, rarely
more. The `caldav` library raises `DAVError` subclasses carrying `.status`, or lets the HTTP
library's (niquests/requests) connection errors through; both are classified here.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from caldav.lib import error as dav_error
from caldav.lib.http_sync import requests as http
from lxml import etree  # type: ignore[import-untyped]

from providers.base import ErrorKind, ProviderError

PROVIDER = "caldav"

CREDENTIALS_INVALID = "credentials_invalid"
APP_PASSWORD_REQUIRED = "app_password_required"
CALENDAR_NOT_FOUND = "calendar_not_found"
CLIENT_MISCONFIGURED = "client_misconfigured"  # the server URL is not a CalDAV server
PROVIDER_UNAVAILABLE = "provider_unavailable"
RATE_LIMITED = "rate_limited"

# Servers whose accounts need an app-specific password: the account password answers 401, so a
# 401 there most likely means the person typed their account password. [doc] for each:
# https://support.apple.com/en-us/102654  (iCloud: app-specific passwords for third-party apps)
# https://www.fastmail.help/hc/en-us/articles/360058752854  (Fastmail: app passwords for CalDAV)
# https://help.yahoo.com/kb/SLN15241.html  (Yahoo: app passwords for third-party apps)
APP_PASSWORD_HOSTS = ("icloud.com", "me.com", "fastmail.com", "yahoo.com")


@dataclass(frozen=True)
class Rule:
    kind: ErrorKind
    cause: str | None
    message: str


# HTTP status → what it means for a CalDAV connection.
STATUS_TABLE: dict[int, Rule] = {
    # RFC 9110 §15.5.2: the credentials were refused. For a CalDAV connection there is nothing
    # to refresh: AUTH_EXPIRED lets the token manager decide (a credential it cannot renew is
    # dead, and the connection becomes needs_reauth with this cause).
    401: Rule(ErrorKind.AUTH_EXPIRED, CREDENTIALS_INVALID,
              "The CalDAV server refused the user name or password."),
    # RFC 4791 §1.3 / RFC 9110 §15.5.4: signed in, but this account may not use the resource.
    403: Rule(ErrorKind.ACCESS_DENIED, None, "The CalDAV server does not let this account do that."),
    # RFC 9110 §15.5.5: the calendar (or event) is not there.
    404: Rule(ErrorKind.NOT_FOUND, CALENDAR_NOT_FOUND, "The calendar is not on the CalDAV server any more."),
    # RFC 9110 §15.5.6: the URL does not speak WebDAV (PROPFIND/REPORT not allowed) — not CalDAV.
    405: Rule(ErrorKind.INVALID_REQUEST, CLIENT_MISCONFIGURED, "The server URL is not a CalDAV server."),
    # RFC 4918 §12.1 / RFC 9110 §15.5.13: If-Match / If-None-Match failed (someone changed it).
    412: Rule(ErrorKind.CONFLICT, None, "The event was changed at the same time; try again."),
    # RFC 6585 §4: too many requests; Retry-After says when to come back.
    429: Rule(ErrorKind.RATE_LIMITED, RATE_LIMITED, "The CalDAV server asks to slow down."),
    # RFC 4918 §11.5: insufficient storage (quota full).
    507: Rule(ErrorKind.ACCESS_DENIED, None, "The CalDAV account has no storage left."),
}
# RFC 9110 §15.6: any 5xx not listed above is the server's own trouble: retry later.
SERVER_ERROR = Rule(ErrorKind.PROVIDER_DOWN, PROVIDER_UNAVAILABLE, "The CalDAV server had an error.")


def needs_app_password(server_url: str | None) -> bool:
    host = (urlsplit(server_url or "").hostname or "").lower()
    return any(host == h or host.endswith("." + h) for h in APP_PASSWORD_HOSTS)


def classify_status(status: int | None, *, server_url: str | None = None, retry_after: float | None = None,
                    detail: str | None = None) -> ProviderError:
    rule = STATUS_TABLE.get(status or 0)
    if rule is None:
        rule = SERVER_ERROR if status and status >= 500 else Rule(
            ErrorKind.UNKNOWN, None, f"The CalDAV server answered HTTP {status}.")
    cause, message = rule.cause, rule.message
    if status == 401 and needs_app_password(server_url):
        cause = APP_PASSWORD_REQUIRED
        message = ("The server refused the password. This service needs an app-specific password, "
                   "not the account password.")
    if status == 503 and retry_after is not None:
        rule = STATUS_TABLE[429]
        cause = RATE_LIMITED
    if detail:
        message = f"{message} ({detail})"
    return ProviderError(rule.kind, message, provider=PROVIDER, cause=cause,
                         provider_code=str(status) if status else None, http_status=status,
                         retry_after=retry_after)


def classify_exception(exc: BaseException, server_url: str | None = None) -> ProviderError:
    """Whatever the `caldav` library or its HTTP library raised, as a ProviderError. Messages
    carry no URL with credentials and no response body (a body may echo anything)."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, dav_error.RateLimitError):
        return classify_status(exc.status or 429, server_url=server_url, retry_after=exc.retry_after_seconds)
    if isinstance(exc, dav_error.DAVError):
        status = exc.status
        if status is None and isinstance(exc, dav_error.AuthorizationError):
            status = 401
        if status is None and isinstance(exc, dav_error.NotFoundError):
            status = 404
        if status is None:
            # The server answered 2xx with something that is not WebDAV (an HTML page, say).
            return ProviderError(ErrorKind.INVALID_REQUEST, "The server URL answered, but not as a CalDAV "
                                 "server.", provider=PROVIDER, cause=CLIENT_MISCONFIGURED)
        return classify_status(status, server_url=server_url)
    name = type(exc).__name__
    if isinstance(exc, http.exceptions.Timeout):
        return ProviderError(ErrorKind.PROVIDER_DOWN, "The CalDAV server did not answer in time.",
                             provider=PROVIDER, cause=PROVIDER_UNAVAILABLE, provider_code="timeout")
    if isinstance(exc, (http.exceptions.ConnectionError, ConnectionError)):
        return ProviderError(ErrorKind.PROVIDER_DOWN, "The CalDAV server could not be reached.",
                             provider=PROVIDER, cause=PROVIDER_UNAVAILABLE, provider_code="unreachable")
    if isinstance(exc, (http.exceptions.InvalidURL, http.exceptions.MissingSchema, http.exceptions.InvalidSchema)):
        return ProviderError(ErrorKind.INVALID_REQUEST, "The server URL is not a valid http(s) URL.",
                             provider=PROVIDER, cause=CLIENT_MISCONFIGURED)
    if isinstance(exc, etree.LxmlError):
        return ProviderError(ErrorKind.INVALID_REQUEST, "The server URL answered, but not as a CalDAV "
                             "server.", provider=PROVIDER, cause=CLIENT_MISCONFIGURED)
    return ProviderError(ErrorKind.UNKNOWN, f"The CalDAV request failed ({name}).", provider=PROVIDER)

