"""Zoom meetings: the provider spec (the registry's one line points here)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from providers.base import (Capability, CauseText, Conferencing, OAuthConnect, OAuthEndpoints,
                            ProviderConfig, ProviderSpec, Setting)

if TYPE_CHECKING:  # pragma: no cover
    from flask import Blueprint

    from oauth.flows import OAuthFlow
    from providers.base import AttendanceReader, ConferencingProvider


def endpoints(config: ProviderConfig) -> OAuthEndpoints:
    sb = config.sandbox
    if sb:
        return OAuthEndpoints(
            authorize_url=f"{sb}/oauth/authorize", token_url=f"{sb}/oauth/token",
            revoke_url=f"{sb}/oauth/revoke",
            jwks_url=None,  # Zoom has no id_token: identity comes from /v2/users/me
            api_base=f"{sb}/v2",
            client_id=config.get("client_id") or "sandbox-zoom-client",
            client_secret=config.get("client_secret") or "sandbox-zoom-secret")
    return OAuthEndpoints(
        authorize_url="https://zoom.us/oauth/authorize", token_url="https://zoom.us/oauth/token",
        revoke_url="https://zoom.us/oauth/revoke", jwks_url=None, api_base="https://api.zoom.us/v2",
        client_id=config.get("client_id"), client_secret=config.get("client_secret"))


def _flow(config: ProviderConfig) -> "OAuthFlow":
    from providers.zoom.oauth import zoom_flow
    return zoom_flow(endpoints(config), timeout=config.timeout)


def _meetings(config: ProviderConfig) -> "ConferencingProvider":
    from providers.zoom.meetings import ZoomMeetings
    return ZoomMeetings(endpoints(config).api_base, timeout=config.timeout)


def _attendance(config: ProviderConfig) -> "AttendanceReader":
    from providers.zoom.attendance import ZoomAttendance
    return ZoomAttendance(endpoints(config).api_base, timeout=config.timeout)


def _emulator():
    from providers.zoom.emulator import ZoomEmulator
    return ZoomEmulator


def _diagnostics():
    from providers.zoom import diagnostics
    return diagnostics


def _webhooks() -> "Blueprint":
    from webhooks.zoom import bp
    return bp


SPEC = ProviderSpec(
    name="zoom",
    title="Zoom",
    capabilities=frozenset({Capability.ZOOM}),
    connect=OAuthConnect(_flow),
    settings=(
        Setting("client_id", "Zoom OAuth app client id (the sandbox's when unset)"),
        Setting("client_secret", "Zoom OAuth app client secret", secret=True),
        Setting("webhook_secret", "Zoom app's secret token: verifies `/webhooks/zoom`", secret=True),
    ),
    conferencing=_meetings,
    meetings=Conferencing(Capability.ZOOM, "Zoom", unavailable_cause="zoom_cannot_host",
                          link_missing_cause="zoom_cannot_host", join_label="Join Zoom Meeting"),
    attendance=_attendance,
    emulator=_emulator,
    diagnostics=_diagnostics,
    webhooks=_webhooks,
    causes=(
        CauseText("zoom_cannot_host",
                  "This Zoom user cannot host meetings (a basic or deactivated Zoom user).",
                  "Ask your Zoom administrator for a licensed user, then reconnect Zoom.", "contact_admin",
                  ("Ask your Zoom administrator to make you a licensed user.", "Then reconnect Zoom.")),
        CauseText("zoom_token_revoked",
                  "Zoom no longer lets the hub in: the app was removed from your Zoom account, or the "
                  "sign-in ran out.",
                  "Reconnect Zoom.", "reconnect",
                  ("Choose Reconnect.", "Sign in with the same account and allow every permission.")),
        CauseText("zoom_live_participants_unavailable",
                  "Zoom shows who is in a running meeting only through its Dashboard (a Business plan and an "
                  "account-level app), so absences are confirmed from Zoom's list of participants once the "
                  "meeting has ended; joins still arrive at once by webhook.",
                  "Nothing to do: the hub reads the list again by itself.", "wait"),
    ),
)
