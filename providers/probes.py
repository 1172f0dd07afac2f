"""The shape of a provider's diagnostics module (``providers/<name>/diagnostics.py``).

Diagnostics (``hub/services/diagnostics``) is provider-neutral: it refreshes, runs probes, and
turns what they found into checks with a stable cause and a fix. What only a provider knows
comes from its diagnostics module, a module with this fixed shape (like an allauth provider
package), which its spec's ``diagnostics`` factory imports lazily:

- ``INACTIVITY_LIMIT``: how long an unused grant lives (Google 6 months, Microsoft 90 days), or
  None — a refused refresh after that long without use is ``token_expired_inactivity``;
- ``consent_lifetime(config)``: how long any grant lives from consent regardless of use
  (a Google app in Testing status: 7 days), or None;
- ``probes(config, calendar, conferencing)``: read-only probes run concurrently with a
  freshly refreshed access token;
- ``explain(http_status, body)``: a pasted provider error body, classified with the provider's
  own ``errors.py`` tables.

A provider without a module still gets the generic probes built on its ports
(``verify_mailbox``, ``conferencing_allowed``, ``can_host``).

Probes return `Finding`s and never raise for a provider failure: a `ProviderError` becomes a
failing finding whose cause the engine explains. Findings carry no token, ever.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable, Mapping, Protocol, Sequence

from providers.base import CalendarProvider, ConferencingProvider, ProviderConfig, ProviderError


# Check ids a probe may report on. The engine orders them; a provider needs not cover all.
IDENTITY = "identity"
SCOPES = "scopes"
MAILBOX = "mailbox"
CALENDAR = "calendar"
CONFERENCING = "conferencing"

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"


@dataclass(frozen=True)
class Subject:
    """The connection a probe looks at, as stored (no secrets)."""

    account_id: str
    account_email: str | None
    capabilities: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finding:
    """What one probe learned about one check.

    `facts` are for the rules (e.g. ``granted_scopes``) and for the engineer's detail; `cause`
    is one of the stable causes of API.md when the check fails for a reason the hub can name.
    """

    check: str
    status: str
    summary: str
    detail: str = ""
    cause: str | None = None
    error: ProviderError | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def passed(cls, check: str, summary: str, detail: str = "", **facts: Any) -> "Finding":
        return cls(check, PASS, summary, detail, facts=facts)

    @classmethod
    def failed(cls, check: str, cause: str | None, summary: str, detail: str,
               error: ProviderError | None = None, **facts: Any) -> "Finding":
        return cls(check, FAIL, summary, detail, cause=cause, error=error, facts=facts)

    @classmethod
    def from_error(cls, check: str, err: ProviderError, doing: str) -> "Finding":
        return cls(check, FAIL, f"{doing} failed.", error_detail(err, doing), cause=err.cause, error=err)


def error_detail(err: ProviderError, doing: str) -> str:
    """The engineer's line: what was tried, the provider's code and HTTP status, its message.
    ProviderError messages come from provider bodies, which never echo our tokens."""
    parts = [f"{doing}: {err.provider} answered {err.kind.value}"]
    if err.http_status is not None:
        parts.append(f"HTTP {err.http_status}")
    if err.provider_code:
        parts.append(f"code {err.provider_code}")
    if err.retry_after is not None:
        parts.append(f"retry after {err.retry_after:g} s")
    return ", ".join(parts) + (f" — {err.message.rstrip('.')}" if err.message else "")


@dataclass(frozen=True)
class Probe:
    """One provider round trip (or a few in sequence), reporting on `checks` in order.

    If `run` raises a ProviderError anyway, the engine fails the first check with it and skips
    the others."""

    name: str
    checks: tuple[str, ...]
    run: Callable[[str, Subject], Sequence[Finding]]


@dataclass(frozen=True)
class Explained:
    """A pasted error body, classified. `error` is None when nothing in it was recognised;
    `recognised` always says what was (shape, codes, fields), for the person reading it."""

    error: ProviderError | None
    recognised: Mapping[str, Any]
    note: str | None = None


class ProviderDiagnostics(Protocol):
    """What diagnostics reads from ``providers/<name>/diagnostics.py`` (a module satisfies it)."""

    INACTIVITY_LIMIT: timedelta | None

    def consent_lifetime(self, config: ProviderConfig) -> timedelta | None: ...

    def probes(self, config: ProviderConfig, calendar: CalendarProvider | None,
               conferencing: ConferencingProvider | None) -> Sequence[Probe]: ...

    def explain(self, http_status: int | None, body: Any) -> Explained: ...


def body_mapping(body: Any) -> tuple[Mapping[str, Any] | None, str | None]:
    """A pasted body as a mapping when it is (or contains) JSON, else None; and the raw text."""
    if isinstance(body, Mapping):
        return body, None
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str):
        return None, None
    text = body.strip()
    start = text.find("{")
    if start >= 0:
        try:
            parsed = json.loads(text[start:text.rfind("}") + 1])
        except ValueError:
            parsed = None
        if isinstance(parsed, Mapping):
            return parsed, text
    return None, text
