"""Google Calendar with Google Meet: the provider spec (the registry's one line points here)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from providers.base import (Capability, CauseText, Conferencing, OAuthConnect, OAuthEndpoints,
                            ProviderConfig, ProviderSpec, Setting)

if TYPE_CHECKING:  # pragma: no cover
    from flask import Blueprint

    from oauth.flows import OAuthFlow
    from providers.base import AttendanceReader, CalendarProvider, CalendarSync


def endpoints(config: ProviderConfig) -> OAuthEndpoints:
    """Google's endpoints, or the sandbox's Google when the hub runs on the sandbox."""
    sb = config.sandbox
    if sb:
        return OAuthEndpoints(
            authorize_url=f"{sb}/o/oauth2/v2/auth", token_url=f"{sb}/token", revoke_url=f"{sb}/revoke",
            jwks_url=f"{sb}/oauth2/v3/certs", api_base=f"{sb}/calendar/v3/",
            client_id=config.get("client_id") or "sandbox-google-client",
            client_secret=config.get("client_secret") or "sandbox-google-secret")
    return OAuthEndpoints(
        authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
        token_url="https://oauth2.googleapis.com/token", revoke_url="https://oauth2.googleapis.com/revoke",
        jwks_url="https://www.googleapis.com/oauth2/v3/certs",
        api_base="https://www.googleapis.com/calendar/v3/",
        client_id=config.get("client_id"), client_secret=config.get("client_secret"))


def _flow(config: ProviderConfig) -> "OAuthFlow":
    from providers.google.oauth import google_flow
    return google_flow(endpoints(config), timeout=config.timeout)


def _calendar(config: ProviderConfig) -> "CalendarProvider":
    from providers.google.calendar import GoogleCalendar
    return GoogleCalendar(endpoints(config).api_base, timeout=config.timeout)


def _sync(config: ProviderConfig) -> "CalendarSync":
    from providers.google.sync import GoogleSync
    return GoogleSync(endpoints(config).api_base, timeout=config.timeout)


def meet_base(config: ProviderConfig) -> str:
    """The Meet REST API's root (meet.googleapis.com), or the sandbox's `/google/meet/`."""
    sb = config.sandbox
    return f"{sb}/meet/" if sb else "https://meet.googleapis.com/"


def _attendance(config: ProviderConfig) -> "AttendanceReader":
    from providers.google.attendance import MeetAttendance
    return MeetAttendance(meet_base(config), timeout=config.timeout)


def _emulator():
    from providers.google.emulator import GoogleEmulator
    return GoogleEmulator


def _diagnostics():
    from providers.google import diagnostics
    return diagnostics


def _push_webhooks() -> "Blueprint":
    from webhooks.calendar_push import blueprint  # the hub's generic receiver, mounted per provider
    return blueprint("google")


SPEC = ProviderSpec(
    name="google",
    title="Google Calendar",
    capabilities=frozenset({Capability.CALENDAR, Capability.GOOGLE_MEET}),
    connect=OAuthConnect(_flow),
    settings=(
        Setting("client_id", "Google OAuth client id (the sandbox's client when unset)"),
        Setting("client_secret", "Google OAuth client secret", secret=True),
        Setting("app_status", "`testing` when the Google app is unpublished (tokens die after 7 days)",
                default="production"),
    ),
    calendar=_calendar,
    sync=_sync,
    meetings=Conferencing(Capability.GOOGLE_MEET, "Google Meet", unavailable_cause="meet_unavailable",
                          link_missing_cause="meet_unavailable", join_label="Join with Google Meet"),
    native=True,
    attendance=_attendance,
    attendance_scopes=("https://www.googleapis.com/auth/meetings.space.readonly",),
    emulator=_emulator,
    webhooks=_push_webhooks,
    diagnostics=_diagnostics,
    causes=(
        CauseText("meet_unavailable",
                  "Google Meet is switched off for this account by your Google Workspace administrator.",
                  "Ask your administrator to turn on Meet, or choose another video meeting default.",
                  "choose_other_conferencing",
                  ("Ask your Google Workspace administrator to turn on Google Meet for you.",
                   "Then reconnect Google so the hub sees the change.",
                   "Or pick another default video meeting below.")),
    ),
)
