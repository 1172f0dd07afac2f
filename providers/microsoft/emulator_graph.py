"""Microsoft Graph v1.0 for the sandbox, under ``/microsoft/v1.0`` (the SDK's base URL then is
``<sandbox>/microsoft/v1.0``): /me, /me/mailboxSettings, /me/calendar, getSchedule,
calendarView and events.

Every call goes through ``graph_call``: bearer token (401 InvalidAuthenticationToken), request
faults (rate_limit, server_error), the scopes the endpoint needs (403), and for mailbox
endpoints the mailbox itself (404 MailboxNotEnabledForRESTAPI when unlicensed).
"""

from __future__ import annotations

import functools
import math
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import quote, urlencode

from flask import Blueprint, Response, jsonify, request

from providers.emulator_kit.accounts import normalise_email
from providers.emulator_kit.wire import bearer_token

from . import emulator_errors as errors
from . import emulator_events as events
from .emulator_calendar import MAX_WINDOW
from .emulator_errors import GraphError
from .emulator_oauth import object_id

if TYPE_CHECKING:
    from providers.emulator_kit.accounts import Account

    from .emulator import MicrosoftEmulator

GRAPH_ROOT = "/v1.0"
CONTEXT = "https://graph.microsoft.com/v1.0/$metadata"
USER_READ = frozenset({"User.Read", "User.ReadWrite", "User.ReadBasic.All", "User.Read.All"})
CALENDAR_READ = frozenset({"Calendars.Read", "Calendars.ReadWrite", "Calendars.ReadBasic"})
CALENDAR_WRITE = frozenset({"Calendars.ReadWrite"})
MAILBOX_SETTINGS = frozenset({"MailboxSettings.Read", "MailboxSettings.ReadWrite"})
MAX_SCHEDULES = 20  # [?] PROVIDERS.md; Microsoft does not publish the limit




def _json() -> dict[str, Any]:
    raw = request.get_data(cache=True)
    if not raw:
        raise errors.bad_body()
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict):
        raise errors.bad_body("Unable to read JSON request payload. Please ensure Content-Type header is set and "
                              "payload is of valid JSON format.")
    return body


def _field(body: dict[str, Any], name: str) -> Any:
    """getSchedule keys are matched case-insensitively: msgraph-sdk sends PascalCase
    (``Schedules``, ``StartTime``), Microsoft's own examples use camelCase."""
    lowered = name.lower()
    return next((v for k, v in body.items() if k.lower() == lowered), None)


def _instant(value: str | None, name: str) -> datetime:
    if not value:
        raise GraphError(400, "ErrorInvalidParameter",
                         "This request requires a time window specified by the query string parameters "
                         "StartDateTime and EndDateTime.")  # [seen]
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise GraphError(400, "ErrorInvalidParameter", f"The value '{value}' of parameter '{name}' is invalid.") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def register_graph_api(bp: Blueprint, emulator: "MicrosoftEmulator") -> tuple[Callable[..., Any], Callable[..., None]]:
    store = emulator.calendar

    def graph_call(scopes: frozenset[str], *, mailbox: bool = True,
                   denied: Callable[[], GraphError] = errors.access_denied):
        def wrap(view: Callable[..., Any]):
            @functools.wraps(view)
            def inner(**kwargs: Any) -> Response:
                try:
                    bearer = bearer_token()
                    if not bearer:
                        raise errors.token_empty()
                    token = emulator.oauth.validate_access_token(bearer)
                    if token is None:
                        raise errors.token_invalid(emulator.oauth.email_for_credential(bearer) is not None)
                    account = emulator.account(token.email)
                    emulator.graph_faults(account)
                    if not scopes & set(token.scopes):
                        raise denied()
                    if mailbox and emulator.mailbox_missing(account):
                        raise errors.mailbox_not_enabled()
                    result = view(account, **kwargs)
                except GraphError as err:
                    return err.response()
                if isinstance(result, Response):
                    return result
                body, status = result if isinstance(result, tuple) else (result, 200)
                response = jsonify(body)
                response.status_code = status
                return response

            return inner

        return wrap

    def route(rule: str, endpoint: str, view: Callable[..., Any], methods: list[str]) -> None:
        bp.add_url_rule(GRAPH_ROOT + rule, endpoint, view, methods=methods)

    # -- directory and mailbox ----------------------------------------------------------------
    @graph_call(USER_READ, mailbox=False, denied=errors.directory_denied)
    def me(account: "Account"):
        given, _, surname = account.name.partition(" ")
        return {"@odata.context": f"{CONTEXT}#users/$entity", "businessPhones": [], "displayName": account.name,
                "givenName": given, "jobTitle": None, "mail": account.email, "mobilePhone": None,
                "officeLocation": None, "preferredLanguage": "en-US", "surname": surname or None,
                "userPrincipalName": account.email, "id": object_id(account.email)}

    @graph_call(MAILBOX_SETTINGS)
    def mailbox_settings(account: "Account"):
        return {
            "@odata.context": f"{CONTEXT}#users('{quote(account.email)}')/mailboxSettings",
            "archiveFolder": events.new_event_id()[:60], "timeZone": account.timezone,
            "delegateMeetingMessageDeliveryOptions": "sendToDelegateOnly", "dateFormat": "yyyy-MM-dd",
            "timeFormat": "HH:mm", "userPurpose": emulator.user_purpose(account),
            "automaticRepliesSetting": {"status": "disabled", "externalAudience": "all",
                                        "internalReplyMessage": "", "externalReplyMessage": ""},
            "language": {"locale": "en-US", "displayName": "English (United States)"},
            "workingHours": {"daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                             "startTime": "08:00:00.0000000", "endTime": "17:00:00.0000000",
                             "timeZone": {"name": account.timezone}},
        }

    @graph_call(CALENDAR_READ)
    def calendar(account: "Account"):
        teams = emulator.teams_allowed(account)
        return {
            "@odata.context": f"{CONTEXT}#users('{quote(account.email)}')/calendar/$entity",
            "id": "AAMkAD" + object_id(account.email).replace("-", "") + "AAA=", "name": "Calendar",
            "color": "auto", "hexColor": "", "isDefaultCalendar": True, "changeKey": "fJKVL07sbkmIfHqjbDnRgQAAAAACOA==",
            "canShare": True, "canViewPrivateItems": True, "canEdit": True,
            # [?] what a mailbox without Teams lists; "unknown" is the documented "none" value.
            "allowedOnlineMeetingProviders": ["teamsForBusiness"] if teams else [],
            "defaultOnlineMeetingProvider": "teamsForBusiness" if teams else "unknown",
            "isTallyingResponses": True, "isRemovable": False,
            "owner": {"name": account.name, "address": account.email},
        }

    route("/me", "graph_me", me, ["GET"])
    for path in ("/me/mailboxSettings", "/me/mailboxsettings"):
        route(path, "graph_mailbox_settings" + path[-8:], mailbox_settings, ["GET"])
    route("/me/calendar", "graph_calendar", calendar, ["GET"])

    # -- free/busy ---------------------------------------------------------------------------
    @graph_call(CALENDAR_READ)
    def get_schedule(account: "Account", user: str | None = None):
        if user is not None and normalise_email(user) not in (account.email, object_id(account.email)):
            raise errors.access_denied()
        body = _json()
        schedules = _field(body, "schedules")
        if not isinstance(schedules, list) or not schedules or not all(isinstance(s, str) for s in schedules):
            raise errors.invalid_request("Schedules is required and must be a collection of SMTP addresses.")
        if len(schedules) > MAX_SCHEDULES:
            raise errors.invalid_request(f"The number of schedules exceeds the limit of {MAX_SCHEDULES}.")
        start, _ = events.parse_dtz(_field(body, "startTime"), "StartTime")
        end, _ = events.parse_dtz(_field(body, "endTime"), "EndTime")
        if end <= start:
            raise errors.invalid_request("The start time must be before the end time.")
        if end - start > MAX_WINDOW:
            raise errors.time_interval_too_big(math.ceil((end - start) / timedelta(days=1)))
        raw_interval = _field(body, "availabilityViewInterval")
        try:
            interval = 30 if raw_interval is None else int(raw_interval)
        except (TypeError, ValueError):
            raise errors.invalid_request("AvailabilityViewInterval must be an integer.") from None
        if not 5 <= interval <= 1440:
            raise errors.invalid_request("AvailabilityViewInterval must be between 5 and 1440.")
        zone_name, tz = events.preferred_zone()
        value = []
        for schedule_id in schedules:
            entry = emulator.schedule_error(schedule_id)
            if entry is None:
                target = emulator.ctx.state.account(emulator.name, schedule_id)
                entry = store.schedule(schedule_id, target, start, end, interval, zone_name, tz,
                                       detailed=target is not None and target.email == account.email)
            value.append(entry)
        return {"@odata.context": f"{CONTEXT}#Collection(microsoft.graph.scheduleInformation)", "value": value}

    for path in ("/me/calendar/getSchedule", "/me/calendar/getschedule"):
        route(path, "graph_get_schedule" + path[-8:], get_schedule, ["POST"])
    route("/users/<user>/calendar/getSchedule", "graph_user_get_schedule", get_schedule, ["POST"])

    @graph_call(CALENDAR_READ)
    def calendar_view(account: "Account"):
        args = {k.lower(): v for k, v in request.args.items()}
        start = _instant(args.get("startdatetime"), "startDateTime")
        end = _instant(args.get("enddatetime"), "endDateTime")
        top = max(1, min(int(args.get("$top") or 10), 1000))
        skip = max(0, int(args.get("$skip") or 0))
        zone_name, tz = events.preferred_zone()
        found = store.overlapping(account.email, start, end)
        page = [events.wire(e, zone_name, tz) for e in found[skip:skip + top]]
        body: dict[str, Any] = {"@odata.context": f"{CONTEXT}#users('{quote(account.email)}')/calendarView", "value": page}
        if skip + top < len(found):
            query = {**{k: v for k, v in request.args.items() if k.lower() not in ("$skip",)}, "$skip": skip + top}
            body["@odata.nextLink"] = f"{request.base_url}?{urlencode(query)}"
        return body

    for path in ("/me/calendarView", "/me/calendarview", "/me/calendar/calendarView", "/me/calendar/calendarview"):
        route(path, "graph_calendar_view" + path.replace("/", "_"), calendar_view, ["GET"])

    # -- events --------------------------------------------------------------------------------
    @graph_call(CALENDAR_WRITE)
    def create_event(account: "Account"):
        event = store.create(account, _json())
        zone_name, tz = events.preferred_zone()
        context = f"{CONTEXT}#users('{quote(account.email)}')/events/$entity"
        return {"@odata.context": context, **events.wire(event, zone_name, tz)}, 201

    @graph_call(CALENDAR_READ)
    def get_event(account: "Account", event_id: str):
        zone_name, tz = events.preferred_zone()
        return events.wire(store.get(account.email, event_id), zone_name, tz)

    @graph_call(CALENDAR_WRITE)
    def patch_event(account: "Account", event_id: str):
        zone_name, tz = events.preferred_zone()
        return events.wire(store.patch(account, event_id, _json()), zone_name, tz)

    @graph_call(CALENDAR_WRITE)
    def delete_event(account: "Account", event_id: str):
        store.delete(account.email, event_id)
        return Response(status=204)

    for prefix, name in (("/me/events", "events"), ("/me/calendar/events", "calendar_events")):
        route(prefix, f"graph_{name}_create", create_event, ["POST"])
        route(prefix + "/<event_id>", f"graph_{name}_get", get_event, ["GET"])
        route(prefix + "/<event_id>", f"graph_{name}_patch", patch_event, ["PATCH"])
        route(prefix + "/<event_id>", f"graph_{name}_delete", delete_event, ["DELETE"])

    return graph_call, route  # more Graph routes register through these (emulator_attendance.py)
