"""What the settings page shows, computed from stored state: one card per provider in the
registry, each connection's health in plain words, the conferencing choices, the notice after
coming back from a provider's consent screen.

No provider is named here: cards come from the provider registry (`providers.registry`), so a
provider appears when its registry line lands.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo

from hub.services.explanations import Explanation, explain
from hub.storage.models import Connection
from providers import registry
from providers.base import Capability

CHOICE_LABELS = {"default": "Automatic (recommended)", "none": "No video meeting"}


def label(capability: str) -> str:
    return registry.capability_labels().get(capability, capability.replace("_", " ").capitalize())


def _order(capability: Capability) -> tuple[int, str]:
    return (0 if capability is Capability.CALENDAR else 1, capability.value)


@dataclass(frozen=True)
class ConnectionView:
    id: str
    account_email: str | None
    healthy: bool
    status_text: str
    capabilities: list[str]
    connected_at: datetime
    last_used_at: datetime | None
    problem: Explanation | None
    problem_is_failure: bool  # a broken connection (red) rather than a warning (amber)
    offer_reconnect: bool


@dataclass(frozen=True)
class ProviderCard:
    name: str
    title: str
    capabilities: list[str]
    connectable: bool
    connections: list[ConnectionView]


def provider_cards(connections: Iterable[Connection]) -> list[ProviderCard]:
    by_provider: dict[str, list[Connection]] = {}
    for conn in connections:
        by_provider.setdefault(conn.provider, []).append(conn)
    cards = []
    for name, spec in registry.PROVIDERS.items():
        caps = [label(c.value) for c in sorted(spec.capabilities, key=_order)]
        cards.append(ProviderCard(name, spec.title, caps, True,
                                  [connection_view(c, spec.title, spec.native_conferencing)
                                   for c in by_provider.get(name, [])]))
    # A connection to a provider this hub no longer lists still shows, so it can be disconnected.
    for name in sorted(set(by_provider) - set(registry.PROVIDERS)):
        cards.append(ProviderCard(name, name.capitalize(), [], False,
                                  [connection_view(c, name.capitalize(), None) for c in by_provider[name]]))
    return cards


def connection_view(conn: Connection, title: str, native: Capability | None) -> ConnectionView:
    last = conn.last_error or {}
    caps = list(conn.capabilities or [])
    if conn.status != "active":
        dead = explain(last.get("cause"), last.get("kind") or "auth_revoked", title)
        return ConnectionView(conn.id, conn.account_email, False, "Needs reconnecting",
                              [label(c) for c in caps], conn.connected_at, conn.last_used_at,
                              dead, True, True)
    problem: Explanation | None = None
    if last:
        # Active but the last call failed (rate limit, outage, a Teams link not made): a warning.
        problem = explain(last.get("cause"), last.get("kind"), title)
    elif native is not None and native.value not in caps:
        problem = explain(registry.unavailable_cause(native.value), None, title)
    return ConnectionView(conn.id, conn.account_email, True,
                          "Connected" if problem is None else "Connected, with a problem",
                          [label(c) for c in caps], conn.connected_at, conn.last_used_at,
                          problem, False, bool(problem and problem.action == "reconnect"))


@dataclass(frozen=True)
class ConferencingOption:
    value: str
    label: str
    available: bool


def conferencing_options(connections: Iterable[Connection], current: str | None) -> list[ConferencingOption]:
    """Choices that some provider in the registry can deliver, marked by whether an active
    connection of this person delivers them now."""
    active = {cap for c in connections if c.status == "active" for cap in (c.capabilities or [])}
    offered = sorted({c.value for spec in registry.PROVIDERS.values() for c in spec.capabilities}
                     - {Capability.CALENDAR.value})
    values = ["default", *offered, "none"]
    if current and current not in values:
        values.insert(-1, current)  # set through the API for a provider not on this hub: keep it
    return [ConferencingOption(v, CHOICE_LABELS.get(v, label(v)),
                               v in ("default", "none") or v in active) for v in values]


def conferencing_warning(options: list[ConferencingOption], current: str | None) -> Explanation | None:
    chosen = next((o for o in options if o.value == (current or "default")), None)
    if chosen is None or chosen.available:
        return None
    spec = registry.bringing(chosen.value)
    if spec is not None and spec.native:
        return explain(registry.unavailable_cause(chosen.value))
    return explain("conferencing_not_connected")


@dataclass(frozen=True)
class Notice:
    ok: bool
    title: str
    explanation: Explanation | None = None
    detail: str | None = None


def return_notice(args: Mapping[str, str], connections: list[Connection]) -> Notice | None:
    """The message after coming back from consent (`?status=…`) or after a form (`?notice=…`).
    Only codes from fixed tables are shown; nothing from the query string is echoed verbatim."""
    provider = args.get("provider")
    title = registry.PROVIDERS[provider].title if provider in registry.PROVIDERS else None
    status = args.get("status")
    if status == "connected":
        conn = next((c for c in connections if c.id == args.get("connection_id")), None)
        if conn is None:
            return None  # not this person's connection (or a made-up URL): claim nothing
        return Notice(True, f"{title or conn.provider} is connected.",
                      detail=f"Connected as {conn.account_email}." if conn.account_email else None)
    if status == "error":
        what = title or "The account"
        return Notice(False, f"{what} was not connected.", explain(args.get("code"), None, title))
    notice = args.get("notice")
    if notice == "disconnected":
        return Notice(True, f"{title or 'The account'} was disconnected.",
                      detail="The hub asked the provider to forget its access and deleted its copy.")
    if notice in _SAVED:
        return Notice(True, _SAVED[notice])
    return None


_SAVED = {"hours_saved": "Your time zone and working hours were saved.",
          "conferencing_saved": "Your default video meeting was saved."}


def local_time(value: datetime | None, zone: str | None) -> str:
    """'20 Nov 2026, 14:05' in the person's own time zone."""
    if value is None:
        return ""
    try:
        tz = ZoneInfo(zone or "UTC")
    except (KeyError, ValueError):
        tz = ZoneInfo("UTC")
    local = value.astimezone(tz)
    return f"{local.day} {local:%b %Y, %H:%M}"


def overrides_count(working_hours: Mapping[str, Any] | None) -> int:
    return len((working_hours or {}).get("overrides") or [])


@dataclass
class PageModel:
    user: Any
    cards: list[ProviderCard]
    conferencing: list[ConferencingOption]
    conferencing_current: str
    conferencing_warning: Explanation | None
    notice: Notice | None
    hours: dict[str, str]
    hours_errors: Any
    conferencing_errors: Any
    zone: str
    overrides: int
    no_calendar: Explanation | None
    return_url: str | None
    csrf: str
    zones: list[str] = field(default_factory=list)
