"""The explicit, lazy provider registry: one line per provider.

Factories import their adapter only when called, so a process that never talks to Microsoft
never pays for msgraph-sdk's imports.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from providers.base import CalendarProvider, Capability, ConferencingProvider

if TYPE_CHECKING:  # pragma: no cover
    from hub.config import Settings


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    title: str
    # What a fully consented connection to this provider can do.
    capabilities: frozenset[Capability]
    # The calendar's own conferencing (Meet, Teams), if it is a calendar.
    native_conferencing: Capability | None
    calendar: Callable[["Settings"], CalendarProvider] | None = None
    conferencing: Callable[["Settings"], ConferencingProvider] | None = None


def _google_calendar(settings: "Settings") -> CalendarProvider:
    from providers.google.calendar import GoogleCalendar
    return GoogleCalendar(settings.google().api_base, timeout=settings.provider_timeout_seconds)


def _zoom_meetings(settings: "Settings") -> ConferencingProvider:
    from providers.zoom.meetings import ZoomMeetings
    return ZoomMeetings(settings.zoom().api_base, timeout=settings.provider_timeout_seconds)


def _microsoft_calendar(settings: "Settings") -> CalendarProvider:
    from providers.microsoft.calendar import MicrosoftCalendar
    return MicrosoftCalendar(settings.microsoft().api_base, timeout=settings.provider_timeout_seconds)


def _caldav_calendar(settings: "Settings") -> CalendarProvider:
    from providers.caldav.calendar import calendar_for
    return calendar_for(settings)


PROVIDERS: dict[str, ProviderSpec] = {
    "google": ProviderSpec("google", "Google Calendar", frozenset({Capability.CALENDAR, Capability.GOOGLE_MEET}),
                           Capability.GOOGLE_MEET, calendar=_google_calendar),
    "microsoft": ProviderSpec("microsoft", "Microsoft 365", frozenset({Capability.CALENDAR, Capability.TEAMS}),
                              Capability.TEAMS, calendar=_microsoft_calendar),
    "zoom": ProviderSpec("zoom", "Zoom", frozenset({Capability.ZOOM}), None, conferencing=_zoom_meetings),
    "caldav": ProviderSpec("caldav", "CalDAV calendar", frozenset({Capability.CALENDAR}), None,
                           calendar=_caldav_calendar),
}


def get(name: str) -> ProviderSpec:
    return PROVIDERS[name]


def names() -> list[str]:
    return list(PROVIDERS)
