"""Zoom API v2 over HTTP under the emulator's prefix (``/zoom/v2/...``), so zoomus built with
``base_uri=<sandbox>/zoom/v2`` talks to it unchanged.

Every call goes through ``api_call``: bearer token (401 code 124), request faults
(``server_error``, ``rate_limit``), then the endpoint's scopes (4711).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable

from flask import Blueprint, Response, jsonify

from providers.emulator_kit.wire import bearer_token, json_object

from . import emulator_errors as errors

if TYPE_CHECKING:
    from providers.emulator_kit.accounts import Account

    from .emulator import ZoomEmulator

API_ROOT = "/v2"
# Endpoint -> scopes of which the token needs one (classic scopes; the granular ones are the
# same per endpoint: https://developers.zoom.us/docs/integrations/oauth-scopes/).
READ_USER = frozenset({"user:read", "user:read:admin", "user_profile"})
READ_MEETING = frozenset({"meeting:read", "meeting:write", "meeting:read:admin", "meeting:write:admin"})
WRITE_MEETING = frozenset({"meeting:write", "meeting:write:admin"})






def register_api(bp: Blueprint, emulator: "ZoomEmulator") -> Callable[..., Any]:
    store = emulator.meetings

    def request_fault(email: str) -> errors.ZoomApiError | None:
        fault = emulator.take_fault("server_error", email)
        if fault is not None:
            return errors.server_error(int(fault.params.get("status", 500)))
        fault = emulator.take_fault("rate_limit", email)
        if fault is not None:
            return errors.rate_limited(float(fault.params.get("retry_after", 1)), str(fault.params.get("type", "QPS")))
        return None

    def api_call(accepted: frozenset[str]) -> Callable[[Callable[..., Any]], Callable[..., Response]]:
        def decorate(view: Callable[..., Any]) -> Callable[..., Response]:
            @functools.wraps(view)
            def wrapper(**kwargs: Any) -> Response:
                presented = bearer_token()
                token = emulator.oauth.validate_access_token(presented)
                try:
                    if token is None:
                        raise errors.invalid_token(expired=emulator.oauth.access_token_expired(presented))
                    failure = request_fault(token.email)
                    if failure is not None:
                        raise failure
                    if not accepted & set(token.scopes):
                        raise errors.missing_scopes(sorted(accepted))
                    result = view(emulator.account(token.email), **kwargs)
                except errors.ZoomApiError as err:
                    return err.response()
                if result is None:
                    return Response(status=204)
                status, body = result if isinstance(result, tuple) else (200, result)
                response = jsonify(body)
                response.status_code = status
                return response

            return wrapper

        return decorate

    def route(rule: str, endpoint: str, method: str, scopes: frozenset[str]):
        def register(view: Callable[..., Any]) -> Callable[..., Any]:
            bp.add_url_rule(API_ROOT + rule, endpoint=endpoint, view_func=api_call(scopes)(view), methods=[method])
            return view

        return register

    @route("/users/<user_id>", "users_get", "GET", READ_USER)
    def users_get(caller: "Account", user_id: str):
        return store.user(store.resolve_user(caller, user_id))

    @route("/users/<user_id>/meetings", "meetings_create", "POST", WRITE_MEETING)
    def meetings_create(caller: "Account", user_id: str):
        host = store.resolve_user(caller, user_id)
        return 201, store.create(host, json_object(errors.bad_json))

    @route("/users/<user_id>/meetings", "meetings_list", "GET", READ_MEETING)
    def meetings_list(caller: "Account", user_id: str):
        return store.list(store.resolve_user(caller, user_id))

    @route("/meetings/<meeting_id>", "meetings_get", "GET", READ_MEETING)
    def meetings_get(caller: "Account", meeting_id: str):
        meeting = store.get(caller, meeting_id)
        if meeting.get("status") == "ended":  # the sandbox's own mark (past meeting's list)
            meeting["status"] = "waiting"  # a scheduled meeting that ended may start again
        return meeting

    @route("/meetings/<meeting_id>", "meetings_update", "PATCH", WRITE_MEETING)
    def meetings_update(caller: "Account", meeting_id: str):
        store.patch(caller, meeting_id, json_object(errors.bad_json))
        return None

    @route("/meetings/<meeting_id>", "meetings_delete", "DELETE", WRITE_MEETING)
    def meetings_delete(caller: "Account", meeting_id: str):
        store.delete(caller, meeting_id)
        return None

    @bp.route(API_ROOT + "/<path:unknown>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def not_emulated(unknown: str) -> Response:
        return errors.not_found(f"{API_ROOT}/{unknown}").response()

    return route  # more endpoints register through it (emulator_participants.py)
