"""Where the provider-specific parts of a diagnosis come from — without naming a provider.

A provider's spec may point at a diagnostics module of a fixed shape (see providers/probes.py).
A registered provider without one still gets probes built on its ports: the calendar's
`verify_mailbox` and `conferencing_allowed`, the conferencing service's `can_host`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Sequence

from providers import registry
from providers.base import CalendarProvider, ConferencingProvider, ProviderError, ProviderSpec
from providers.probes import CALENDAR, CONFERENCING, MAILBOX, Finding, Probe, Subject

if TYPE_CHECKING:  # pragma: no cover
    from hub.container import Hub

def title(provider: str) -> str:
    spec = registry.PROVIDERS.get(provider)
    return spec.title if spec else provider.capitalize()


@dataclass(frozen=True)
class ProviderFacts:
    """What the rules need to know about one provider, gathered once per diagnosis."""

    name: str
    title: str
    capabilities: frozenset[str]
    native_conferencing: str | None
    required_scopes: tuple[str, ...]
    inactivity_limit: timedelta | None
    consent_lifetime: timedelta | None
    probes: tuple[Probe, ...]


def provider_facts(hub: "Hub", provider: str) -> ProviderFacts:
    spec = registry.get(provider)
    config = hub.settings.provider(provider)
    module = spec.diagnostics() if spec.diagnostics is not None else None
    calendar = hub.calendar(provider) if spec.calendar is not None else None
    conferencing = hub.conferencing(provider) if spec.conferencing is not None else None
    if module is not None:
        probes = tuple(module.probes(config, calendar, conferencing))
        inactivity = module.INACTIVITY_LIMIT
        lifetime = module.consent_lifetime(config)
    else:
        probes = tuple(port_probes(spec, calendar, conferencing))
        inactivity = lifetime = None
    try:
        required = tuple(hub.flow(provider).required_scopes)
    except KeyError:  # a provider without an OAuth flow cannot have connections anyway
        required = ()
    return ProviderFacts(
        name=provider, title=spec.title, capabilities=frozenset(c.value for c in spec.capabilities),
        native_conferencing=spec.native_conferencing.value if spec.native_conferencing else None,
        required_scopes=required, inactivity_limit=inactivity, consent_lifetime=lifetime, probes=probes)


def port_probes(spec: ProviderSpec, calendar: CalendarProvider | None,
                conferencing: ConferencingProvider | None) -> Sequence[Probe]:
    """Probes any adapter supports through its ports alone."""
    provider, native = spec.name, spec.native_conferencing
    hosted = spec.external_conferencing
    out: list[Probe] = []
    if calendar is not None:
        def mailbox(token: str, subject: Subject) -> list[Finding]:
            try:
                calendar.verify_mailbox(token)
            except ProviderError as err:
                return [Finding.from_error(MAILBOX, err, "Checking the mailbox")]
            return [Finding.passed(MAILBOX, "The account has a calendar of its own.")]

        def native_conferencing(token: str, subject: Subject) -> list[Finding]:
            try:
                allowed = calendar.conferencing_allowed(token)
            except ProviderError as err:
                return [Finding.from_error(CALENDAR, err, "Reading the calendar")]
            found = [Finding.passed(CALENDAR, "The calendar can be read.")]
            if native is None or allowed:
                found.append(Finding.passed(CONFERENCING, "The calendar's own video meetings are available."))
            else:
                found.append(Finding.failed(CONFERENCING, registry.unavailable_cause(native.value),
                                            "The calendar's own video meetings are not available.",
                                            f"{provider}: conferencing_allowed() is false"))
            return found

        out += [Probe(f"{provider}.mailbox", (MAILBOX,), mailbox),
                Probe(f"{provider}.calendar", (CALENDAR, CONFERENCING), native_conferencing)]
    if conferencing is not None:
        def host(token: str, subject: Subject) -> list[Finding]:
            try:
                ok = conferencing.can_host(token)
            except ProviderError as err:
                return [Finding.from_error(CONFERENCING, err, "Checking the meeting host")]
            if ok:
                return [Finding.passed(CONFERENCING, "This account may host meetings.")]
            return [Finding.failed(CONFERENCING, registry.unavailable_cause(hosted.value if hosted else None),
                                   "This account cannot host meetings.", f"{provider}: can_host() is false")]

        out.append(Probe(f"{provider}.host", (CONFERENCING,), host))
    return out
