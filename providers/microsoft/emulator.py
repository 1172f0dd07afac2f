"""The sandbox's Microsoft: the identity platform v2.0 (login.microsoftonline.com) and Microsoft
Graph v1.0 (graph.microsoft.com), mounted under ``/microsoft``.

Paths (relative to the sandbox base URL):
- ``GET|POST /microsoft/<tenant>/oauth2/v2.0/authorize`` consent page;
  ``POST /microsoft/<tenant>/oauth2/v2.0/token``;
  ``GET /microsoft/<tenant>/v2.0/.well-known/openid-configuration``;
  ``GET /microsoft/<tenant>/discovery/v2.0/keys``; ``GET /microsoft/common/discovery/instance``
  (msal's instance discovery)
- ``/microsoft/v1.0/...`` — /me, /me/mailboxSettings, /me/calendar, getSchedule,
  calendarView, events (see ``emulator_graph``); /subscriptions with the validation handshake,
  change and lifecycle notifications (``emulator_subscriptions``); calendarView/delta
  (``emulator_delta``)

Every change to a stored event — Graph API, ``POST /_control/events``, and the changes people
make (``emulator_people``, behind the control API's person_* hooks) — goes through the calendar
store's change listener: delta tracks it and subscribers are notified.

msal insists on an https authority, so a client keeps the real one
(``https://login.microsoftonline.com/<tenant>``) and rewrites that host to
``<sandbox>/microsoft``; the discovery document therefore names login.microsoftonline.com, as
the real one does (``oauth/microsoft.py`` shows the client side).

Graph enforces Outlook's MailboxConcurrency limit here too: more than four requests in flight
for one mailbox answer 429 ApplicationThrottled, as the real service does.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timezone
from typing import Any, ClassVar, Mapping

from flask import Blueprint, Response, g, jsonify, request

from providers.emulator_kit.accounts import Account
from providers.emulator_kit.context import SandboxContext
from providers.emulator_kit.emulator import COMMON_SCENARIOS, ProviderEmulator
from providers.emulator_kit.faults import Fault
from providers.emulator_kit.oauth_views import authorization_endpoint, jwks_endpoint, token_endpoint
from providers.emulator_kit.request_log import describe_request

from . import emulator_errors as errors
from .emulator_calendar import CalendarStore
from .emulator_events import wire
from .emulator_attendance import TeamsAttendanceStore, register_attendance_api
from .emulator_delta import DeltaLog, register_delta_api
from .emulator_graph import CALENDAR_READ, GRAPH_ROOT, instant_param, read_json, register_graph_api
from .emulator_people import PeopleChanges
from .emulator_subscriptions import LIFECYCLE_EVENTS, SubscriptionStore, register_subscriptions_api
from .emulator_subscriptions import wire as subscription_wire
from .emulator_oauth import LOGIN, MicrosoftOAuthDialect, aadsts_body, instance_discovery, openid_configuration

MAILBOX_CONCURRENCY = 4  # Outlook: 4 concurrent requests per app per mailbox [doc]

MICROSOFT_SCENARIOS: Mapping[str, str] = {
    **COMMON_SCENARIOS,
    "invalid_grant": "The account's grants die now: refresh answers invalid_grant with the AADSTS code "
    'of params ({"aadsts": 700082|70008|50173|50076|53003|50057|…}, default 70008; "suberror" and '
    '"error" override) and access tokens are refused.',
    "consent_required": "Consent is withdrawn now: refresh answers AADSTS65001 (suberror consent_required) "
    "and access tokens are refused until the user consents again.",
    "token_error": 'The account\'s next token requests (code exchange or refresh) answer the AADSTS error of '
    'params {"aadsts": 50076}; grants are untouched, so it passes once used up.',
    "shared_mailbox": "The account behaves as a shared mailbox: mailboxSettings.userPurpose is shared.",
    "mailbox_unlicensed": "The account has no Exchange Online mailbox: mailbox and calendar endpoints answer "
    "404 MailboxNotEnabledForRESTAPI (/me still works).",
    "teams_unavailable": "Teams is not available to the mailbox: the calendar allows no online meeting "
    "provider and events asking for Teams are created without a link.",
    "teams_link_missing": "Teams is allowed, but the next event asking for it is created with "
    "isOnlineMeeting true and onlineMeeting null.",
    "rate_limit": '429 ApplicationThrottled with Retry-After (params {"retry_after": 2, "message": …}).',
    "server_error": 'Graph answers 503 serviceNotAvailable (params {"status": 500} for 500 generalException); '
    'params {"endpoint": "token"} hits the token endpoint instead (AADSTS50000).',
    "schedule_error": "getSchedule reports this account with a per-schedule error inside HTTP 200 "
    '(params {"responseCode": "5009", "message": …}).',
    "subscription_removed": "Graph removes the account's subscriptions now and says so to their lifecycle URL "
    "(subscriptionRemoved); no more change notifications until a new subscription is created.",
    "missed": "Graph tells the lifecycle URL of the account's subscriptions that notifications were missed "
    '(missed): resync with delta. params {"changes": N}: the next N changes are not notified first, then '
    "missed is sent.",
    "reauthorization_required": "Graph asks the lifecycle URL of the account's subscriptions for "
    "reauthorization (reauthorizationRequired): renew (PATCH) or POST …/reauthorize.",
    "sync_token_invalid": "The account's next calendarView/delta call with a $deltatoken answers 410 "
    "SyncStateNotFound: the client must start a full sync.",
}


def _known_tenant(tenant: str) -> bool:
    """common/organizations/consumers, a tenant GUID or a domain: any of them exists here."""
    if tenant in ("common", "organizations", "consumers") or "." in tenant:
        return True
    try:
        uuid.UUID(tenant)
    except ValueError:
        return False
    return True


class MicrosoftEmulator(ProviderEmulator):
    name: ClassVar[str] = "microsoft"
    scenarios: ClassVar[Mapping[str, str]] = MICROSOFT_SCENARIOS

    def __init__(self, ctx: SandboxContext) -> None:
        super().__init__(ctx)
        self.delta = DeltaLog(ctx.state)
        self.subscriptions = SubscriptionStore(self)
        self.calendar = CalendarStore(ctx.state, ctx.config.clock, self._teams_outcome, self._event_changed)
        self.people = PeopleChanges(self.calendar)
        self._flight_lock = threading.Lock()
        self._in_flight: dict[str, int] = {}

    def create_dialect(self) -> MicrosoftOAuthDialect:
        return MicrosoftOAuthDialect()

    # -- routes ------------------------------------------------------------------------------
    def add_routes(self, bp: Blueprint) -> None:
        bp.add_url_rule("/<tenant>/oauth2/v2.0/authorize", "authorize", authorization_endpoint(self),
                        methods=["GET", "POST"])
        bp.add_url_rule("/<tenant>/oauth2/v2.0/token", "token", self._token_view(), methods=["POST"])
        bp.add_url_rule("/<tenant>/v2.0/.well-known/openid-configuration", "openid_configuration",
                        self._discovery)
        bp.add_url_rule("/<tenant>/discovery/v2.0/keys", "jwks", jwks_endpoint(self))
        bp.add_url_rule("/<tenant>/discovery/instance", "instance_discovery", self._instance_discovery)
        graph_call, route = register_graph_api(bp, self)
        register_attendance_api(graph_call, route, TeamsAttendanceStore(self))
        register_subscriptions_api(graph_call, route, self.subscriptions, CALENDAR_READ, read_json)
        register_delta_api(graph_call, route, self, CALENDAR_READ, instant_param)

    def _event_changed(self, email: str, event: dict[str, Any], change: str) -> None:
        """Every change to a stored event, however made: tracked for delta, pushed to subscribers."""
        self.delta.record(email, event, change)
        self.subscriptions.notify(email, event, change)

    def record_participant(self, meeting_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return TeamsAttendanceStore(self).record(meeting_id, body)

    def blueprint(self) -> Blueprint:
        bp = super().blueprint()
        # First in line, so a request waiting out the latency fault counts as in flight, as a
        # slow mailbox would.
        bp.before_request_funcs.setdefault(None, []).insert(0, self._enter_mailbox)
        bp.teardown_request(self._leave_mailbox)
        return bp

    def _discovery(self, tenant: str) -> Response:
        if not _known_tenant(tenant):
            status, body = aadsts_body(90002, tenant=tenant)
            response = jsonify(body)
            response.status_code = status
            return response
        return jsonify(openid_configuration(tenant))

    def _instance_discovery(self, tenant: str) -> Response:
        status, body = instance_discovery(tenant, request.args.get("authorization_endpoint"))
        response = jsonify(body)
        response.status_code = status
        return response

    def _token_view(self):
        kit_view = token_endpoint(self)

        def view(tenant: str) -> Response:
            email = self.account_for_request()
            fault = self.take_fault("token_error", email) or self._take_targeted("server_error", email, "token")
            if fault is not None:
                code = int(fault.params.get("aadsts") or (50000 if fault.scenario == "server_error" else 50076))
                status, body = aadsts_body(code, client=request.form.get("client_id", ""), tenant=tenant,
                                           error=fault.params.get("error"), suberror=fault.params.get("suberror"),
                                           status=fault.params.get("status"))
                response = jsonify(body)
                response.status_code = status
                response.headers["Cache-Control"] = "no-store, no-cache"
                return response
            return kit_view(tenant=tenant)

        return view

    def endpoints(self, base_url: str) -> dict[str, str]:
        base = f"{base_url}/{self.name}"
        return {
            "authority": f"{LOGIN}/common",
            "login_host": f"{LOGIN} is served at {base}",
            "openid_configuration": f"{base}/common/v2.0/.well-known/openid-configuration",
            "authorize": f"{base}/common/oauth2/v2.0/authorize",
            "token": f"{base}/common/oauth2/v2.0/token",
            "jwks_uri": f"{base}/common/discovery/v2.0/keys",
            "graph_api": f"{base}{GRAPH_ROOT}",
        }

    # -- MailboxConcurrency --------------------------------------------------------------------
    def _enter_mailbox(self) -> Response | None:
        if f"{GRAPH_ROOT}/" not in request.path:
            return None
        auth = request.headers.get("Authorization", "")
        email = self.oauth.email_for_credential(auth[7:].strip()) if auth[:7].lower() == "bearer " else None
        if email is None:
            return None
        with self._flight_lock:
            busy = self._in_flight.get(email, 0)
            if busy < MAILBOX_CONCURRENCY:
                self._in_flight[email] = busy + 1
                g.microsoft_mailbox = email
                return None
        # Refused before the kit's observer runs, so log it here: support must see the 429s too.
        self.ctx.requests.record(describe_request(self.name, request, self.ctx.now()))
        return errors.throttled(1).response()

    def _leave_mailbox(self, _exc: BaseException | None) -> None:
        email = g.pop("microsoft_mailbox", None)
        if email is not None:
            with self._flight_lock:
                self._in_flight[email] -= 1

    # -- faults and account switches -----------------------------------------------------------
    def apply_fault(self, fault: Fault) -> bool:
        if fault.scenario in LIFECYCLE_EVENTS:
            changes = fault.params.get("changes")
            self.subscriptions.lifecycle(fault.email, fault.scenario, int(changes) if isinstance(changes, int) else 0)
            return True
        if fault.scenario == "consent_required":
            self.oauth.revoke_grants(fault.email, {"scenario": "consent_required", "params": {"aadsts": 65001}})
            return True
        return super().apply_fault(fault)

    def _take_targeted(self, scenario: str, email: str | None, endpoint: str) -> Fault | None:
        """server_error hits Graph unless params say ``"endpoint": "token"``."""
        armed = self.peek_fault(scenario, email)
        if armed is None or (armed.params.get("endpoint") or "graph") != endpoint:
            return None
        return self.take_fault(scenario, email)

    def graph_faults(self, account: Account) -> None:
        fault = self.take_fault("rate_limit", account.email)
        if fault is not None:
            retry_after = fault.params.get("retry_after", 2)
            raise errors.GraphError(int(fault.params.get("status") or 429), "ApplicationThrottled",
                                    fault.params.get("message") or "Application is over its MailboxConcurrency limit.",
                                    {"Retry-After": str(int(retry_after))} if retry_after is not None else {})
        fault = self._take_targeted("server_error", account.email, "graph")
        if fault is not None:
            raise errors.server_error(int(fault.params.get("status") or 503))

    # The mailbox faults describe the mailbox, so every request that meets them uses one of
    # their ``times`` (take_fault counts a request once, however often it asks).
    def mailbox_missing(self, account: Account) -> bool:
        return self.take_fault("mailbox_unlicensed", account.email) is not None

    def user_purpose(self, account: Account) -> str:
        if account.kind == "shared" or self.take_fault("shared_mailbox", account.email) is not None:
            return "shared"
        return "room" if account.kind == "room" else "user"

    def teams_allowed(self, account: Account) -> bool:
        return account.teams_enabled and self.take_fault("teams_unavailable", account.email) is None

    def _teams_outcome(self, account: Account) -> str:
        if not self.teams_allowed(account):
            return "unavailable"
        return "missing" if self.take_fault("teams_link_missing", account.email) else "ok"

    def schedule_error(self, schedule_id: str) -> dict[str, Any] | None:
        fault = self.take_fault("schedule_error", schedule_id)
        if fault is None:
            return None
        return {"scheduleId": schedule_id, "error": {
            "message": fault.params.get("message") or "The server failed to retrieve free/busy information.",
            "responseCode": str(fault.params.get("responseCode") or "ErrorFreeBusyGenerationFailed")}}

    # -- control API -------------------------------------------------------------------------
    def create_control_event(self, account: Account, start: datetime, end: datetime, status: str,
                             subject: str | None) -> dict[str, Any]:
        return wire(self.calendar.add_busy_block(account, start, end, status, subject), "UTC", timezone.utc)

    def control_events(self, account: Account) -> list[dict[str, Any]]:
        return [wire(e, "UTC", timezone.utc) for e in self.calendar.all(account.email)]

    def control_channels(self, account: Account) -> list[dict[str, Any]]:
        return [subscription_wire(s, context=False) for s in self.subscriptions.of_mailbox(account.email)]

    # Changes people make in Outlook themselves (providers/microsoft/emulator_people.py).
    def person_changes_event(self, event_id: str, changes: Mapping[str, Any]) -> dict[str, Any] | None:
        return self.people.move_or_retitle(event_id, changes)

    def person_deletes_event(self, event_id: str) -> bool:
        return self.people.delete(event_id)

    def person_responds(self, event_id: str, email: str, response: str) -> dict[str, Any] | None:
        return self.people.respond(event_id, email, response)
