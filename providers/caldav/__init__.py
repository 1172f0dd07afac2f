"""CalDAV calendars (iCloud, Fastmail, Nextcloud, …): the provider spec (the registry's one line
points here). Connected with a credential form, not OAuth; no conferencing of its own (Zoom
links go into the event); the sandbox mounts a real Radicale server at `/caldav`."""
from __future__ import annotations

from typing import TYPE_CHECKING

from providers.base import (
    Capability,
    FormConnect,
    ProviderConfig,
    ProviderSpec,
    Setting,
)
from providers.caldav.texts import CAUSES

if TYPE_CHECKING:  # pragma: no cover
    from oauth.credential_form import CredentialForm
    from providers.base import CalendarProvider


def _form(config: ProviderConfig) -> CredentialForm:
    from providers.caldav.connect import credential_form
    return credential_form(config)


def _calendar(config: ProviderConfig) -> CalendarProvider:
    from providers.caldav.calendar import calendar_for
    return calendar_for(config)


def _emulator():
    from providers.caldav.emulator import CalDAVEmulator
    return CalDAVEmulator


def _diagnostics():
    from providers.caldav import diagnostics
    return diagnostics


SPEC = ProviderSpec(
    name="caldav",
    title="CalDAV calendar",
    capabilities=frozenset({Capability.CALENDAR}),
    connect=FormConnect(_form),
    settings=(
        Setting("allow_private_urls", "`true` lets people connect CalDAV servers on loopback or private "
                "addresses (always allowed when `HUB_SANDBOX_URL` is set)", default="false"),
    ),
    calendar=_calendar,
    emulator=_emulator,
    diagnostics=_diagnostics,
    causes=CAUSES,
)
