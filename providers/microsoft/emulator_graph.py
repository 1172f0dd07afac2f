"""Microsoft Graph v1.0 for the sandbox, under ``/microsoft/v1.0`` (the SDK's base URL then is
``<sandbox>/microsoft/v1.0``): /me, /me/mailboxSettings, /me/calendar, /me/calendars[/{id}],
getSchedule, calendarView and events (list, create, get, patch, delete) under /me/events,
/me/calendar/events and /me/calendars/{id}/events. Single entities carry ``@odata.context``;
any other path or method answers Graph's JSON error, never an HTML page.

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
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule

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




def read_json() -> dict[str, Any]:
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


def instant_param(value: str | None, name: str) -> datetime:
    if not value:
        raise GraphError(400, "ErrorInvalidParameter",
                         "This request requires a time window specified by the query string parameters "
                         "StartDateTime and EndDateTime.")  # [seen]
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise GraphError(400, "ErrorInvalidParameter", f"The value '{value}' of parameter '{name}' is invalid.") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def calendar_id(account: "Account") -> str:
    return "AAMkAD" + object_id(account.email).replace("-", "") + "AAA="


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

    served = Map(strict_slashes=False)  # what Graph serves here, to tell 404 from 405 below

    def route(rule: str, endpoint: str, view: Callable[..., Any], methods: list[str]) -> None:
        bp.add_url_rule(GRAPH_ROOT + rule, endpoint, view, methods=methods)
        served.add(Rule(rule, endpoint=endpoint, methods=methods))

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
            "archiveFolder": events.new_event_id()[:60], "timeZone": events.mailbox_zone_name(account),
            "delegateMeetingMessageDeliveryOptions": "sendToDelegateOnly", "dateFormat": "yyyy-MM-dd",
            "timeFormat": "HH:mm", "userPurpose": emulator.user_purpose(account),
            "automaticRepliesSetting": {"status": "disabled", "externalAudience": "all",
                                        "internalReplyMessage": "", "externalReplyMessage": ""},
            "language": {"locale": "en-US", "displayName": "English (United States)"},
            "workingHours": {"daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                             "startTime": "08:00:00.0000000", "endTime": "17:00:00.0000000",
                             "timeZone": {"name": events.mailbox_zone_name(account)}},
        }

    def calendar_entity(account: "Account") -> dict[str, Any]:
        teams = emulator.teams_allowed(account)
        return {
            "id": calendar_id(account), "name": "Calendar",
            "color": "auto", "hexColor": "", "isDefaultCalendar": True, "changeKey": "fJKVL07sbkmIfHqjbDnRgQAAAAACOA==",
            "canShare": True, "canViewPrivateItems": True, "canEdit": True,
            # [?] what a mailbox without Teams lists; "unknown" is the documented "none" value.
            "allowedOnlineMeetingProviders": ["teamsForBusiness"] if teams else [],
            "defaultOnlineMeetingProvider": "teamsForBusiness" if teams else "unknown",
            "isTallyingResponses": True, "isRemovable": False,
            "owner": {"name": account.name, "address": account.email},
        }

    def resolve_calendar(account: "Account", calendar_ref: str | None) -> None:
        """The sandbox mailbox has one calendar, the default; any other id is not found."""
        if calendar_ref is not None and calendar_ref != calendar_id(account):
            raise errors.item_not_found() if calendar_ref.startswith("AAMk") else errors.invalid_id()

    @graph_call(CALENDAR_READ)
    def calendar(account: "Account", calendar_ref: str | None = None):
        resolve_calendar(account, calendar_ref)
        segment = "calendar" if calendar_ref is None else f"calendars('{calendar_ref}')"
        return {"@odata.context": f"{CONTEXT}#users('{quote(account.email)}')/{segment}/$entity",
                **calendar_entity(account)}

    @graph_call(CALENDAR_READ)
    def calendars(account: "Account"):
        return {"@odata.context": f"{CONTEXT}#users('{quote(account.email)}')/calendars",
                "value": [calendar_entity(account)]}

    route("/me", "graph_me", me, ["GET"])
    for path in ("/me/mailboxSettings", "/me/mailboxsettings"):
        route(path, "graph_mailbox_settings" + path[-8:], mailbox_settings, ["GET"])
    route("/me/calendar", "graph_calendar", calendar, ["GET"])
    route("/me/calendars", "graph_calendars", calendars, ["GET"])
    route("/me/calendars/<calendar_ref>", "graph_calendar_by_id", calendar, ["GET"])

    # -- free/busy ---------------------------------------------------------------------------
    @graph_call(CALENDAR_READ)
    def get_schedule(account: "Account", user: str | None = None):
        if user is not None and normalise_email(user) not in (account.email, object_id(account.email)):
            raise errors.access_denied()
        body = read_json()
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
        zone_name, tz = events.preferred_zone(account)
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

    def event_page(account: "Account", found: list[dict[str, Any]], collection: str) -> dict[str, Any]:
        """One page of events ($top, default 10; $skip) with Graph's nextLink."""
        args = {k.lower(): v for k, v in request.args.items()}
        try:
            top = max(1, min(int(args.get("$top") or 10), 1000))
            skip = max(0, int(args.get("$skip") or 0))
        except ValueError:
            raise errors.bad_body("Invalid $top or $skip value.") from None
        zone_name, tz = events.preferred_zone(account)
        page = [events.wire(e, zone_name, tz) for e in found[skip:skip + top]]
        body: dict[str, Any] = {"@odata.context": f"{CONTEXT}#users('{quote(account.email)}')/{collection}",
                                "value": page}
        if skip + top < len(found):
            query = {**{k: v for k, v in request.args.items() if k.lower() not in ("$skip",)}, "$skip": skip + top}
            body["@odata.nextLink"] = f"{request.base_url}?{urlencode(query)}"
        return body

    @graph_call(CALENDAR_READ)
    def calendar_view(account: "Account", calendar_ref: str | None = None):
        resolve_calendar(account, calendar_ref)
        args = {k.lower(): v for k, v in request.args.items()}
        start = instant_param(args.get("startdatetime"), "startDateTime")
        end = instant_param(args.get("enddatetime"), "endDateTime")
        return event_page(account, store.overlapping(account.email, start, end), "calendarView")

    @graph_call(CALENDAR_READ)
    def list_events(account: "Account", calendar_ref: str | None = None):
        resolve_calendar(account, calendar_ref)
        return event_page(account, store.all(account.email), "events")

    for path in ("/me/calendarView", "/me/calendarview", "/me/calendar/calendarView", "/me/calendar/calendarview",
                 "/me/calendars/<calendar_ref>/calendarView", "/me/calendars/<calendar_ref>/calendarview"):
        route(path, "graph_calendar_view" + path.replace("/", "_").replace("<", "").replace(">", ""),
              calendar_view, ["GET"])

    # -- events --------------------------------------------------------------------------------
    def event_entity(account: "Account", event: dict[str, Any]) -> dict[str, Any]:
        zone_name, tz = events.preferred_zone(account)
        context = f"{CONTEXT}#users('{quote(account.email)}')/events/$entity"
        return {"@odata.context": context, **events.wire(event, zone_name, tz)}

    @graph_call(CALENDAR_WRITE)
    def create_event(account: "Account", calendar_ref: str | None = None):
        resolve_calendar(account, calendar_ref)
        return event_entity(account, store.create(account, read_json())), 201

    @graph_call(CALENDAR_READ)
    def get_event(account: "Account", event_id: str, calendar_ref: str | None = None):
        resolve_calendar(account, calendar_ref)
        return event_entity(account, store.get(account.email, event_id))

    @graph_call(CALENDAR_WRITE)
    def patch_event(account: "Account", event_id: str, calendar_ref: str | None = None):
        resolve_calendar(account, calendar_ref)
        return event_entity(account, store.patch(account, event_id, read_json()))

    @graph_call(CALENDAR_WRITE)
    def delete_event(account: "Account", event_id: str, calendar_ref: str | None = None):
        resolve_calendar(account, calendar_ref)
        store.delete(account.email, event_id)
        return Response(status=204)

    for prefix, name in (("/me/events", "events"), ("/me/calendar/events", "calendar_events"),
                         ("/me/calendars/<calendar_ref>/events", "calendars_events")):
        route(prefix, f"graph_{name}_list", list_events, ["GET"])
        route(prefix, f"graph_{name}_create", create_event, ["POST"])
        route(prefix + "/<event_id>", f"graph_{name}_get", get_event, ["GET"])
        route(prefix + "/<event_id>", f"graph_{name}_patch", patch_event, ["PATCH"])
        route(prefix + "/<event_id>", f"graph_{name}_delete", delete_event, ["DELETE"])

    # -- everything else: Graph's JSON errors, never an HTML page ------------------------------
    def not_served(unknown: str) -> Response:
        try:
            served.bind("graph.microsoft.com").match("/" + unknown, method=request.method)
        except MethodNotAllowed:
            # [?] Graph's wording for a method a resource does not support.
            return GraphError(405, "Request_BadRequest",
                              "Specified HTTP method is not allowed for the request uri.").response()
        except NotFound:
            pass
        segment = unknown.rstrip("/").rsplit("/", 1)[-1]
        # [seen] "Resource not found for the segment 'x'." (400 BadRequest) for an unknown path.
        return GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'.").response()

    bp.add_url_rule(GRAPH_ROOT + "/<path:unknown>", "graph_not_served", not_served,
                    methods=["GET", "POST", "PUT", "PATCH", "DELETE"])

    return graph_call, route  # more Graph routes register through these (emulator_attendance.py)
