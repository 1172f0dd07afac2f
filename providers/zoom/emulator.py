"""The sandbox's Zoom: OAuth (zoom.us/oauth) and API v2 (api.zoom.us/v2), mounted under
``/zoom``.

Paths (relative to the sandbox base URL):
- ``GET|POST /zoom/oauth/authorize`` consent page; ``POST /zoom/oauth/token`` (HTTP Basic
  client auth only; ``authorization_code`` and ``refresh_token``, the latter rotating);
  ``POST /zoom/oauth/revoke?token=``
- ``GET /zoom/v2/users/me`` (id, account_id, email, type: 2 Licensed / 4 without meetings)
- ``POST|GET /zoom/v2/users/{me|id|email}/meetings``; ``GET|PATCH|DELETE /zoom/v2/meetings/{id}``

Control: ``GET /_control/meetings?email=`` lists a user's meetings; accounts take
``zoom_can_host``; faults below.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from flask import Blueprint

from providers.emulator_kit.accounts import Account
from providers.emulator_kit.context import SandboxContext
from providers.emulator_kit.emulator import COMMON_SCENARIOS, ProviderEmulator
from providers.emulator_kit.oauth_views import authorization_endpoint, revocation_endpoint, token_endpoint

from .emulator_api import API_ROOT, READ_MEETING, register_api
from .emulator_meetings import ZoomMeetingStore
from .emulator_oauth import ZoomOAuthDialect
from .emulator_participants import (DASHBOARD_UNAVAILABLE, WEBHOOK_LOST, ZoomParticipants,
                                    register_participants_api)

ZOOM_SCENARIOS: Mapping[str, str] = {
    **COMMON_SCENARIOS,
    "invalid_grant": COMMON_SCENARIOS["invalid_grant"] + ' params {"code": 4735|4738, "reason": …} add '
    "Zoom's OAuth error code to the refused refresh (owner gone, app disabled by an admin).",
    "zoom_cannot_host": "Creating or updating a meeting answers 400 code 3161 (the user may not host); "
    "while armed, users/me reports type 4 (no meetings product).",
    "rate_limit": "The API answers 429 code 429 with X-RateLimit-Type and Retry-After "
    '(params {"retry_after": 2, "type": "QPS" | "Daily-limit"}).',
    "server_error": 'The API answers 500 (params {"status": 503} for another 5xx).',
    WEBHOOK_LOST: "Participant webhooks of this host's meetings are not delivered (Zoom retries only "
    "after 5 minutes); the participants API still lists the join.",
    DASHBOARD_UNAVAILABLE: "The live participant list (Dashboard API, GET /metrics/meetings/{id}/participants) "
    "answers 400 code 4711 for this host's token, as Zoom does for a user-level app or a plan below "
    "Business; the past-meeting list and the meeting's status still answer.",
}


class ZoomEmulator(ProviderEmulator):
    name: ClassVar[str] = "zoom"
    scenarios: ClassVar[Mapping[str, str]] = ZOOM_SCENARIOS

    def __init__(self, ctx: SandboxContext) -> None:
        super().__init__(ctx)
        self.meetings = ZoomMeetingStore(ctx.state, ctx.config.clock, self._can_host)
        self.participants = ZoomParticipants(self)

    def create_dialect(self) -> ZoomOAuthDialect:
        return ZoomOAuthDialect()

    def _can_host(self, account: Account, consume: bool) -> bool:
        """The account switch, and the zoom_cannot_host fault: a create/update uses one hit of
        it; reading the user only looks."""
        if not account.zoom_can_host:
            return False
        look = self.take_fault if consume else self.peek_fault
        return look("zoom_cannot_host", account.email) is None

    # -- routes ------------------------------------------------------------------------------
    def add_routes(self, bp: Blueprint) -> None:
        bp.add_url_rule("/oauth/authorize", "authorize", authorization_endpoint(self), methods=["GET", "POST"])
        bp.add_url_rule("/oauth/token", "token", token_endpoint(self), methods=["POST"])
        bp.add_url_rule("/oauth/revoke", "revoke", revocation_endpoint(self), methods=["POST"])
        register_participants_api(register_api(bp, self), self.participants, READ_MEETING)

    def endpoints(self, base_url: str) -> dict[str, str]:
        base = f"{base_url}/{self.name}"
        return {
            "authorize": f"{base}/oauth/authorize",
            "token": f"{base}/oauth/token",
            "revoke": f"{base}/oauth/revoke",
            "api_base": f"{base}{API_ROOT}",
        }

    # -- control API -------------------------------------------------------------------------
    def control_meetings(self, account: Account) -> list[dict[str, Any]]:
        return self.meetings.all_for(account)

    def record_participant(self, meeting_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.participants.record(meeting_id, body)

    def set_webhook(self, url: str, secret: str) -> None:
        self.participants.set_webhook(url, secret)
