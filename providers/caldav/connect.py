"""Connecting a CalDAV account: check what a person typed into the connect form.

Discovery as RFC 4791 §6 and RFC 5397 describe it: PROPFIND the server URL for
`current-user-principal`, then the principal's `calendar-home-set`, then the calendars in it
(the first that holds VEVENTs is used; its URL is stored, so a calendar that disappears later
is reported as `calendar_not_found`, never silently replaced by another). Success is a
credential the adapter can use; failure a ProviderError whose cause says what to fix.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, cast

from caldav.collection import Calendar
from caldav.davclient import DAVClient
from caldav.lib import error as dav_error

from oauth.credential_form import CredentialForm, FormField
from oauth.flows import Grant, Identity
from providers.base import ErrorKind, ProviderError
from providers.caldav.credential import (
    ClientOptions,
    Credential,
    client_options,
    find_principal,
    make_client,
)
from providers.caldav.errors import (
    CALENDAR_NOT_FOUND,
    CLIENT_MISCONFIGURED,
    PROVIDER,
    classify_exception,
)
from providers.caldav.texts import FIXES

if TYPE_CHECKING:  # pragma: no cover
    from providers.base import ProviderConfig

FIELDS = (
    FormField("server_url", "Server URL", "url",
              "For example https://caldav.icloud.com/ or https://caldav.fastmail.com/dav/"),
    FormField("username", "User name", "text", "Usually your email address (your Apple ID for iCloud)."),
    FormField("password", "App-specific password", "password",
              "Create one in your account's security settings; your account password will not work "
              "where two-step sign-in is on."),
)
TITLE = "CalDAV calendar"
INTRO = ("Connect a calendar that speaks CalDAV (iCloud, Fastmail, Nextcloud and others). The password "
         "is stored encrypted and never shown again.")


def credential_form(config: ProviderConfig) -> CredentialForm:
    fields = FIELDS
    if config.sandbox:  # next to a sandbox its Radicale is the server: the demo needs only the account
        fields = (replace(FIELDS[0], default=config.sandbox + "/"), *FIELDS[1:])
    return CredentialForm(PROVIDER, TITLE, INTRO, fields, partial(verify, client_options(config)), FIXES)


def verify(options: ClientOptions, values: Mapping[str, str]) -> Grant:
    server_url = (values.get("server_url") or "").strip()
    username = (values.get("username") or "").strip()
    password = values.get("password") or ""
    if not server_url or not username or not password:
        raise ProviderError(ErrorKind.INVALID_REQUEST, "Server URL, user name and password are all needed.",
                            provider=PROVIDER, cause=CLIENT_MISCONFIGURED)
    if "://" not in server_url:
        server_url = "https://" + server_url
    try:
        client = make_client(server_url, username, password, options, auth_type=None)
        with client:
            return _discover(client, server_url, username, password)
    except Exception as exc:  # noqa: BLE001 — the caldav library and its HTTP library raise many types
        raise classify_exception(exc, server_url) from None


def _discover(client: DAVClient, server_url: str, username: str, password: str) -> Grant:
    principal = find_principal(client)
    calendars = [c for c in cast(list[Calendar], principal.calendars()) if _holds_events(c)]
    if not calendars:
        raise ProviderError(ErrorKind.NOT_FOUND, "This account has no calendar for events on that server.",
                            provider=PROVIDER, cause=CALENDAR_NOT_FOUND)
    addresses = [str(a) for a in _addresses(principal)]
    email = next((a.split(":", 1)[1] for a in addresses if a.lower().startswith("mailto:")), None)
    email = email or username
    auth = type(client.auth).__name__.lower() if client.auth is not None else ""
    cred = Credential(server_url=server_url, username=username, password=password, email=email,
                      calendar_url=str(calendars[0].url), auth_type="digest" if "digest" in auth else "basic")
    identity = Identity(account_id=str(principal.url), email=email, name=None)
    return Grant(access_token=cred.encode(), refresh_token=None, expires_at=None, scopes=(), identity=identity)


def _holds_events(calendar) -> bool:
    try:
        components = calendar.get_supported_components()
    except dav_error.DAVError:  # servers that do not publish the set hold VEVENTs (RFC 4791 §5.2.3)
        return True
    return not components or "VEVENT" in components


def _addresses(principal) -> list:
    try:
        return list(principal.calendar_user_address_set() or [])
    except dav_error.DAVError:  # optional (RFC 6638 §2.4.1): a server without scheduling has none
        return []
