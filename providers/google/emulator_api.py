"""Calendar API v3 over HTTP, at the paths of the discovery document (``/calendar/v3/...``
under the emulator's prefix), so google-api-python-client built with
``client_options={"api_endpoint": base + "/google/calendar/v3/"}`` talks to it unchanged.

Every call goes through ``api_method``: bearer token (401 authError), request faults
(server_error, rate_limit, quota_exceeded), then the method's scopes as the discovery
document lists them (403 insufficientPermissions).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable

from flask import Blueprint, Response, jsonify, request

from providers.emulator_kit.wire import bearer_token, json_object

from . import emulator_errors as errors
from . import emulator_settings as user_settings
from .emulator_discovery import rpc_method_name

if TYPE_CHECKING:
    from providers.emulator_kit.accounts import Account

    from .emulator import GoogleEmulator

API_ROOT = "/calendar/v3"
_SEND_UPDATES = ("all", "externalOnly", "none")






def _conference_version() -> int:
    raw = request.args.get("conferenceDataVersion", "0")
    if raw not in ("0", "1"):
        raise errors.invalid("Invalid value for: conferenceDataVersion", "conferenceDataVersion")
    return int(raw)


def _check_send_updates() -> None:
    value = request.args.get("sendUpdates")
    if value is not None and value not in _SEND_UPDATES:
        raise errors.invalid("Invalid value for: sendUpdates", "sendUpdates")


def register_calendar_api(bp: Blueprint, emulator: "GoogleEmulator") -> None:
    store = emulator.calendar
    scopes = emulator.method_scopes

    def request_fault(email: str) -> errors.GoogleApiError | None:
        fault = emulator.take_fault("server_error", email)
        if fault is not None:
            return errors.backend_error(int(fault.params.get("status", 500)))
        fault = emulator.take_fault("rate_limit", email)
        if fault is not None:
            return errors.rate_limited(
                int(fault.params.get("status", 429)),
                fault.params.get("retry_after", 2),
                fault.params.get("reason", "rateLimitExceeded"),
            )
        if emulator.take_fault("quota_exceeded", email) is not None:
            return errors.quota_exceeded()
        return None

    def api_method(method_id: str) -> Callable[[Callable[..., Any]], Callable[..., Response]]:
        accepted = scopes[method_id]

        def decorate(view: Callable[..., Any]) -> Callable[..., Response]:
            @functools.wraps(view)
            def wrapper(**kwargs: Any) -> Response:
                presented = bearer_token()
                token = emulator.oauth.validate_access_token(presented)
                if token is None:
                    return errors.auth_error(token_presented=presented is not None)
                try:
                    failure = request_fault(token.email)
                    if failure is not None:
                        raise failure
                    if not accepted & set(token.scopes):
                        raise errors.insufficient_scopes(rpc_method_name(method_id), accepted)
                    result = view(emulator.account(token.email), **kwargs)
                except errors.GoogleApiError as err:
                    return err.response()
                if result is None:
                    return Response(status=204)
                return jsonify(result)

            return wrapper

        return decorate

    def route(rule: str, method_id: str, http_method: str) -> Callable[[Callable[..., Any]], Any]:
        def register(view: Callable[..., Any]) -> Any:
            bp.add_url_rule(
                API_ROOT + rule,
                endpoint=method_id.replace(".", "_"),
                view_func=api_method(method_id)(view),
                methods=[http_method],
            )
            return view

        return register

    @route("/calendars/<calendar_id>", "calendar.calendars.get", "GET")
    def calendars_get(caller: "Account", calendar_id: str):
        return store.calendar(store.resolve(caller, calendar_id))

    @route("/users/me/calendarList", "calendar.calendarList.list", "GET")
    def calendar_list(caller: "Account"):
        return store.calendar_list(caller)

    @route("/users/me/calendarList/<calendar_id>", "calendar.calendarList.get", "GET")
    def calendar_list_get(caller: "Account", calendar_id: str):
        return store.calendar_list_entry(store.resolve(caller, calendar_id))

    @route("/freeBusy", "calendar.freebusy.query", "POST")
    def free_busy(caller: "Account"):
        return store.free_busy(caller, json_object(errors.parse_error))

    @route("/calendars/<calendar_id>/events", "calendar.events.list", "GET")
    def events_list(caller: "Account", calendar_id: str):
        return store.list_events(store.resolve(caller, calendar_id), request.args)

    @route("/calendars/<calendar_id>/events", "calendar.events.insert", "POST")
    def events_insert(caller: "Account", calendar_id: str):
        _check_send_updates()
        return store.insert_event(store.resolve(caller, calendar_id), json_object(errors.parse_error), _conference_version())

    @route("/calendars/<calendar_id>/events/<event_id>", "calendar.events.get", "GET")
    def events_get(caller: "Account", calendar_id: str, event_id: str):
        return store.get_event(store.resolve(caller, calendar_id), event_id)

    @route("/calendars/<calendar_id>/events/<event_id>", "calendar.events.patch", "PATCH")
    def events_patch(caller: "Account", calendar_id: str, event_id: str):
        _check_send_updates()
        return store.patch_event(store.resolve(caller, calendar_id), event_id, json_object(errors.parse_error),
                                 _conference_version(), request.headers.get("If-Match"))

    @route("/calendars/<calendar_id>/events/<event_id>", "calendar.events.update", "PUT")
    def events_update(caller: "Account", calendar_id: str, event_id: str):
        _check_send_updates()
        return store.update_event(store.resolve(caller, calendar_id), event_id, json_object(errors.parse_error),
                                  _conference_version(), request.headers.get("If-Match"))

    @route("/calendars/<calendar_id>/events/<event_id>", "calendar.events.delete", "DELETE")
    def events_delete(caller: "Account", calendar_id: str, event_id: str):
        _check_send_updates()
        store.delete_event(store.resolve(caller, calendar_id), event_id, request.headers.get("If-Match"))
        return None

    @route("/calendars/<calendar_id>/events/watch", "calendar.events.watch", "POST")
    def events_watch(caller: "Account", calendar_id: str):
        return store.watch(store.resolve(caller, calendar_id), json_object(errors.parse_error), emulator.require_https_webhooks)

    @route("/channels/stop", "calendar.channels.stop", "POST")
    def channels_stop(caller: "Account"):
        store.stop_channel(json_object(errors.parse_error))
        return None

    @route("/users/me/settings", "calendar.settings.list", "GET")
    def settings_list(caller: "Account"):
        return user_settings.settings_list(caller)

    @route("/users/me/settings/<setting>", "calendar.settings.get", "GET")
    def settings_get(caller: "Account", setting: str):
        return user_settings.setting(caller, setting)

    @route("/colors", "calendar.colors.get", "GET")
    def colors_get(caller: "Account"):
        del caller
        return user_settings.COLORS

    @bp.route(API_ROOT + "/<path:unknown>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def not_emulated(unknown: str) -> Response:
        del unknown
        return errors.not_found().response()
