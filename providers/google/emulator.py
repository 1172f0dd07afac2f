"""The sandbox's Google: OAuth 2.0 / OpenID Connect (accounts.google.com,
oauth2.googleapis.com) and Calendar API v3 (www.googleapis.com/calendar/v3), mounted under
``/google``.

Paths (relative to the sandbox base URL):
- ``GET|POST /google/o/oauth2/v2/auth`` consent page; ``POST /google/token``;
  ``POST /google/revoke?token=``; ``GET /google/oauth2/v3/certs`` (JWKS);
  ``GET /google/.well-known/openid-configuration``; ``GET /google/v1/userinfo`` and
  ``/google/oauth2/v3/userinfo``; ``GET /google/tokeninfo?access_token=``
- ``/google/calendar/v3/...`` — calendars.get, calendarList.list/get, freebusy.query,
  events.list/insert/get/patch/update/delete/watch (writes honour ``If-Match``: 412
  conditionNotMet for a stale etag), channels.stop, settings.list/get, colors.get
- ``POST /google/batch/calendar/v3`` — those calls batched, multipart/mixed (``emulator_batch``)
- push: a channel opened with events.watch gets ``sync``, then ``exists`` after every change to
  the calendar's events (``emulator_push``); the control API's changes people make are
  ``emulator_people``
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Mapping

from flask import Blueprint, jsonify, request

from providers.emulator_kit.accounts import Account
from providers.emulator_kit.context import SandboxContext
from providers.emulator_kit.emulator import COMMON_SCENARIOS, ProviderEmulator
from providers.emulator_kit.faults import Fault
from providers.emulator_kit.oauth_views import (
    authorization_endpoint,
    jwks_endpoint,
    revocation_endpoint,
    token_endpoint,
)

from . import emulator_people as people
from .emulator_api import API_ROOT, register_calendar_api
from .emulator_batch import register_batch
from .emulator_calendar import GoogleCalendarStore, MeetPolicy
from .emulator_meet_records import MeetRecords, register_meet_api
from .emulator_discovery import api_scopes, calendar_discovery, meet_discovery, method_scopes
from .emulator_push import GooglePush
from .emulator_oauth import (
    GoogleOAuthDialect,
    openid_configuration,
    tokeninfo_endpoint,
    userinfo_endpoint,
)

GOOGLE_SCENARIOS: Mapping[str, str] = {
    **COMMON_SCENARIOS,
    "rate_limit": "Calendar API answers 429 rateLimitExceeded with Retry-After "
    '(params {"retry_after": 2, "status": 429}); status 403 gives the 403 variant, '
    '{"reason": "userRateLimitExceeded"} the per-user one.',
    "server_error": 'Calendar API answers 500 backendError (params {"status": 503} for 503).',
    "quota_exceeded": "Calendar API answers 403 quotaExceeded (daily usage limits).",
    "meet_unavailable": "Meet cannot be used: calendars report no allowed conference types and "
    'a createRequest answers 400 invalid "Invalid conference type value.".',
    "meet_pending": "A Meet createRequest comes back with status pending; the next events.get "
    "returns it created.",
    "sync_token_invalid": "The next events.list with a syncToken answers 410 fullSyncRequired "
    "(the client must wipe what it synced and sync in full again).",
    "full_sync_required": "The same as sync_token_invalid (its first name).",
    "freebusy_calendar_error": "freeBusy reports this account's calendar with a per-calendar "
    'error inside HTTP 200 (params {"reason": "internalError"}).',
    "scopes_missing": "The account's grants lose scopes now, as when a person unticks one on the "
    'granular consent screen (params {"remove": [scope, …]}, default calendar.events); current '
    "access tokens expire, so the next refresh and tokeninfo show the narrower scope.",
}
# The scope a scopes_missing fault removes unless told otherwise: reads keep working, writes
# (events with Meet links) would fail — the case only a scope check catches early.
CALENDAR_EVENTS = "https://www.googleapis.com/auth/calendar.events"


class GoogleEmulator(ProviderEmulator):
    name: ClassVar[str] = "google"
    scenarios: ClassVar[Mapping[str, str]] = GOOGLE_SCENARIOS
    # Google refuses plain-http push addresses; the sandbox accepts them so a hub on loopback
    # can receive notifications. Set True to reproduce Google's refusal.
    require_https_webhooks: bool = False

    def __init__(self, ctx: SandboxContext) -> None:
        discovery = calendar_discovery()
        self.method_scopes = method_scopes(discovery)
        # Meet's scopes too: the hub asks for meetings.space.readonly where attendance is on.
        self._calendar_scopes = {**api_scopes(discovery), **api_scopes(meet_discovery())}
        super().__init__(ctx)
        self.push = GooglePush(ctx)
        self.calendar = GoogleCalendarStore(
            ctx.state,
            ctx.config.clock,
            MeetPolicy(allowed=self._meet_allowed, outcome=self._meet_outcome),
            self.take_fault,
            listener=self.push,
        )

    def create_dialect(self) -> GoogleOAuthDialect:
        return GoogleOAuthDialect(self._calendar_scopes)

    def apply_fault(self, fault: Fault) -> bool:
        if fault.scenario == "scopes_missing":
            remove = set(fault.params.get("remove") or [CALENDAR_EVENTS])
            for grant in self.oauth.grants(fault.email):
                grant.scopes = tuple(s for s in grant.scopes if s not in remove)
            self.oauth.expire_access_tokens(fault.email)
            return True
        return super().apply_fault(fault)

    # -- Meet decisions (account switch + faults) --------------------------------------------
    def _meet_allowed(self, account: Account) -> bool:
        return account.meet_enabled and self.peek_fault("meet_unavailable", account.email) is None

    def _meet_outcome(self, account: Account) -> str:
        if not account.meet_enabled or self.take_fault("meet_unavailable", account.email):
            return "unavailable"
        if self.take_fault("meet_pending", account.email):
            return "pending"
        return "success"

    # -- routes ------------------------------------------------------------------------------
    def add_routes(self, bp: Blueprint) -> None:
        bp.add_url_rule("/o/oauth2/v2/auth", "authorize", authorization_endpoint(self), methods=["GET", "POST"])
        bp.add_url_rule("/token", "token", token_endpoint(self), methods=["POST"])
        bp.add_url_rule("/revoke", "revoke", revocation_endpoint(self), methods=["POST"])
        bp.add_url_rule("/oauth2/v3/certs", "jwks", jwks_endpoint(self), methods=["GET"])
        bp.add_url_rule("/v1/userinfo", "userinfo", userinfo_endpoint(self), methods=["GET", "POST"])
        bp.add_url_rule("/oauth2/v3/userinfo", "userinfo_v3", userinfo_endpoint(self), methods=["GET", "POST"])
        bp.add_url_rule("/tokeninfo", "tokeninfo", tokeninfo_endpoint(self), methods=["GET", "POST"])
        bp.add_url_rule(
            "/.well-known/openid-configuration",
            "openid_configuration",
            lambda: jsonify(openid_configuration(request.host_url.rstrip("/") + request.script_root + "/google")),
        )
        register_calendar_api(bp, self)
        register_batch(bp, self)
        # Channel messages a request caused leave once its answer is made (any request: the
        # control API's changes notify too).
        bp.teardown_app_request(self.push.flush)
        register_meet_api(bp, self, self.meet_records)

    @property
    def meet_records(self) -> MeetRecords:
        return MeetRecords(self)  # stateless over the sandbox state

    def record_participant(self, meeting_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.meet_records.record(meeting_id, body)

    def endpoints(self, base_url: str) -> dict[str, str]:
        base = f"{base_url}/{self.name}"
        config = openid_configuration(base)
        return {
            "issuer": config["issuer"],
            "openid_configuration": f"{base}/.well-known/openid-configuration",
            "authorize": config["authorization_endpoint"],
            "token": config["token_endpoint"],
            "revoke": config["revocation_endpoint"],
            "jwks_uri": config["jwks_uri"],
            "userinfo": config["userinfo_endpoint"],
            "tokeninfo": f"{base}/tokeninfo",
            "calendar_api": f"{base}{API_ROOT}/",
        }

    # -- control API -------------------------------------------------------------------------
    def create_control_event(
        self, account: Account, start: datetime, end: datetime, status: str, subject: str | None
    ) -> dict[str, Any]:
        return self.calendar.add_busy_block(account, start, end, status, subject)

    def control_events(self, account: Account) -> list[dict[str, Any]]:
        return self.calendar.current_events(account)

    def control_channels(self, account: Account) -> list[dict[str, Any]]:
        now_ms = self.ctx.now() * 1000
        return [{k: v for k, v in c.items() if not k.startswith("_")} for c in self.calendar.channels()
                if c["_email"] == account.email and int(c.get("expiration") or 0) > now_ms]

    def person_changes_event(self, event_id: str, changes: Mapping[str, Any]) -> dict[str, Any] | None:
        return people.change(self.calendar, event_id, changes)

    def person_deletes_event(self, event_id: str) -> bool:
        return people.delete(self.calendar, event_id)

    def person_responds(self, event_id: str, email: str, response: str) -> dict[str, Any] | None:
        return people.respond(self.calendar, event_id, email, response)
