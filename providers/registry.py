"""The provider registry: ONE list of provider specs, one line per provider.

Everything the hub knows about a provider comes from its spec (providers/base.py
`ProviderSpec`): API validation, settings-page cards, diagnostics, the sandbox's mounts, the
`HUB_<NAME>_*` settings. Importing a spec is cheap; its factories import SDKs when called.
"""
from __future__ import annotations

from providers import google, microsoft, zoom
from providers.base import Capability, ProviderSpec

SPECS: tuple[ProviderSpec, ...] = (
    google.SPEC,
    microsoft.SPEC,
    zoom.SPEC,
)

PROVIDERS: dict[str, ProviderSpec] = {spec.name: spec for spec in SPECS}


def get(name: str) -> ProviderSpec:
    return PROVIDERS[name]


def names() -> list[str]:
    return list(PROVIDERS)


def conferencing_choices() -> list[str]:
    """Every conferencing the registered providers can bring (`google_meet`, `teams`, `zoom` …)."""
    return [spec.meetings.capability.value for spec in SPECS if spec.meetings is not None]


def bringing(capability: str) -> ProviderSpec | None:
    """The provider whose meetings are `capability` (e.g. "teams" → Microsoft)."""
    return next((s for s in SPECS if s.meetings is not None and s.meetings.capability.value == capability), None)


def unavailable_cause(capability: str | None) -> str | None:
    """What losing a conferencing capability is called (API.md causes), from the spec of the
    provider that brings it, so no provider is named where it is needed."""
    spec = bringing(capability or "")
    return spec.meetings.unavailable_cause if spec is not None and spec.meetings is not None else None


def capability_labels() -> dict[str, str]:
    """What people call each capability: "Calendar", "Google Meet", …"""
    labels = {Capability.CALENDAR.value: "Calendar"}
    labels.update({s.meetings.capability.value: s.meetings.label for s in SPECS if s.meetings is not None})
    return labels
