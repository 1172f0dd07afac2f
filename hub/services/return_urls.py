"""Where a browser may be sent back after a connect link or from the settings page.

A `return_url` becomes a redirect the hub issues, so a lax parser is an open redirect with the
hub's name on it. Parsing is strict — an absolute http(s) URL in printable ASCII, a plain host
name, no user info (`https://good@evil`), no empty authority (`http:///evil`), no backslash
(browsers read `https:\\\\evil` as `https://evil`), no whitespace or control characters (a
trailing newline) — and a tenant can pin the origins its URLs may use (`hub tenants
set-return-origins`, `PUT /v1/return-origins`). Without a list, any well-formed URL is taken.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from hub.storage.db import Database
from hub.storage.models import Tenant

_HOST = r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?"
_PORT = r"(?::(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
# Printable ASCII except space and backslash, after the authority.
_REST = r"(?:[/?#][!-\[\]-~]*)?"
RETURN_URL_PATTERN = rf"^https?://{_HOST}{_PORT}{_REST}$"  # also the OpenAPI `pattern`
ORIGIN_PATTERN = rf"^https?://{_HOST}{_PORT}/?$"
_RETURN_URL = re.compile(RETURN_URL_PATTERN[1:-1])
_ORIGIN = re.compile(ORIGIN_PATTERN[1:-1])
MAX_ORIGINS = 20


class ReturnUrlNotAllowed(Exception):
    """A well-formed URL whose origin is not on the tenant's list."""


def parse_return_url(value: str) -> str:
    """The URL unchanged when it is acceptable; ValueError (with the reason) otherwise."""
    if not _RETURN_URL.fullmatch(value):  # fullmatch: `$` alone would let a trailing "\n" by
        raise ValueError("must be an absolute http(s) URL: printable ASCII, a host name, no user info, "
                         "spaces or backslashes")
    return value


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}[parts.scheme]
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{(parts.hostname or '').lower().rstrip('.')}{port}"


def parse_origin(value: str) -> str:
    """`https://ats.example.com` (no path); normalised: lower case, default port dropped."""
    if not _ORIGIN.fullmatch(value):
        raise ValueError("must be an origin like https://ats.example.com (scheme, host, optional port; no path)")
    return origin_of(value)


def return_origins(db: Database, tenant_id: str) -> list[str]:
    with db.session() as session:
        tenant = session.get(Tenant, tenant_id)
        return list(tenant.return_origins or []) if tenant is not None else []


def set_return_origins(db: Database, tenant_id: str, origins: list[str]) -> list[str]:
    cleaned = list(dict.fromkeys(parse_origin(o) for o in origins))
    if len(cleaned) > MAX_ORIGINS:
        raise ValueError(f"at most {MAX_ORIGINS} origins")
    with db.session() as session:
        tenant = session.get(Tenant, tenant_id)
        if tenant is None:
            raise LookupError(tenant_id)
        tenant.return_origins = cleaned or None
    return cleaned


def require_allowed(db: Database, tenant_id: str, url: str) -> None:
    allowed = return_origins(db, tenant_id)
    if allowed and origin_of(url) not in allowed:
        raise ReturnUrlNotAllowed(f"{origin_of(url)} is not one of this tenant's return origins")
