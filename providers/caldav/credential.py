"""The stored CalDAV credential and the HTTP client built from it.

The hub keeps one encrypted secret per connection (the token column the OAuth providers use for
their access token). For CalDAV that secret is this JSON document: the server, the account and
its app-specific password, plus what discovery found at connect (the calendar's URL), so every
later call goes straight to the calendar. It has no expiry and no refresh token: the token
manager treats it as always fresh and, once the server refuses it, as dead.
"""
from __future__ import annotations

import ipaddress
import json
import socket
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from caldav.collection import Principal
from caldav.davclient import DAVClient
from caldav.lib import error as dav_error

from providers.base import ErrorKind, ProviderConfig, ProviderError
from providers.caldav.errors import CLIENT_MISCONFIGURED, CREDENTIALS_INVALID, PROVIDER


@dataclass(frozen=True)
class Credential:
    server_url: str
    username: str
    password: str
    email: str  # the account's address: the calendar this credential reads free/busy for
    calendar_url: str = ""
    auth_type: str = "basic"

    def encode(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def decode(cls, token: str) -> Credential:
        """A stored credential; anything else is a credential the server would refuse."""
        try:
            data = json.loads(token)
            return cls(**{k: str(data[k]) for k in ("server_url", "username", "password", "email")},
                       calendar_url=str(data.get("calendar_url") or ""),
                       auth_type=str(data.get("auth_type") or "basic"))
        except (ValueError, TypeError, KeyError):
            raise ProviderError(ErrorKind.AUTH_EXPIRED, "The stored CalDAV credential is not readable.",
                                provider=PROVIDER, cause=CREDENTIALS_INVALID) from None

    def owns(self, email: str) -> bool:
        return email.strip().lower() in {self.email.lower(), self.username.lower()}


@dataclass(frozen=True)
class ClientOptions:
    timeout: float = 20.0
    # Loopback and private addresses are refused unless this is set (the sandbox, tests): the
    # server URL is typed by a person, and the hub must not be made to call its own network.
    allow_private_urls: bool = False


def check_url(url: str, options: ClientOptions) -> None:
    """Refuse a server URL that is not http(s), or (unless allowed) one whose host resolves to
    a loopback, private, link-local or otherwise non-public address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProviderError(ErrorKind.INVALID_REQUEST, "The server URL must start with https://.",
                            provider=PROVIDER, cause=CLIENT_MISCONFIGURED)
    if options.allow_private_urls:
        return
    if parts.scheme != "https":
        raise ProviderError(ErrorKind.INVALID_REQUEST, "The server URL must use https://.",
                            provider=PROVIDER, cause=CLIENT_MISCONFIGURED)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise ProviderError(ErrorKind.PROVIDER_DOWN, f"The server name {parts.hostname} does not resolve.",
                            provider=PROVIDER, cause=CLIENT_MISCONFIGURED) from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise ProviderError(ErrorKind.INVALID_REQUEST, "The server URL points into a private network.",
                                provider=PROVIDER, cause=CLIENT_MISCONFIGURED)


def make_client(url: str, username: str, password: str, options: ClientOptions,
                auth_type: str | None = "basic") -> DAVClient:
    check_url(url, options)
    client = DAVClient(url=url, username=username, password=password, auth_type=auth_type,
                       timeout=options.timeout,  # type: ignore[arg-type]  # niquests takes floats
                       enable_rfc6764=False,  # the URL is given: no DNS SRV discovery elsewhere
                       rate_limit_handle=False)  # a 429 is reported with Retry-After, never slept on
    client.session.trust_env = False  # no proxy from the environment sees the password
    _guard_every_hop(client, options)
    return client


def _guard_every_hop(client: DAVClient, options: ClientOptions) -> None:
    """Check every request the session sends — redirects, and URLs a server names in its
    answers (a calendar home on another host) — not only the URL the person typed."""
    send = client.session.send

    def checked_send(request: Any, **kwargs: Any) -> Any:
        check_url(str(request.url), options)
        return send(request, **kwargs)

    client.session.send = checked_send  # type: ignore[method-assign]


def find_principal(client: DAVClient) -> Principal:
    """The signed-in account's principal (RFC 5397 current-user-principal). A URL without one
    answers 404/405/501 or no WebDAV at all: that is not a CalDAV server."""
    try:
        return client.principal()
    except dav_error.DAVError as exc:
        if exc.status in (None, 404, 405, 501) and not isinstance(exc, dav_error.AuthorizationError):
            where = f", HTTP {exc.status}" if exc.status else ""
            raise ProviderError(ErrorKind.INVALID_REQUEST, "The server URL is not a CalDAV server (no calendar "
                                f"account found there{where}).", provider=PROVIDER, cause=CLIENT_MISCONFIGURED,
                                http_status=exc.status, provider_code=str(exc.status) if exc.status else None
                                ) from None
        raise


def client_options(config: ProviderConfig) -> ClientOptions:
    """Private addresses are allowed next to a sandbox (`HUB_SANDBOX_URL`: its CalDAV server is the
    sandbox's own Radicale on loopback) or when `HUB_CALDAV_ALLOW_PRIVATE_URLS=true`."""
    allow = bool(config.sandbox_url) or config.get("allow_private_urls").strip().lower() in ("1", "true", "yes")
    return ClientOptions(timeout=config.timeout, allow_private_urls=allow)
