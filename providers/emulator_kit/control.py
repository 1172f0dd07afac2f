"""The sandbox control API (``/_control``): arrange accounts, calendars and faults, and read
back what the emulators received. Sandbox-only; the hub never mounts it.

Shapes (JSON; collections are returned as bare lists, oldest first):

- ``POST /_control/accounts`` ``{"provider","email","name"?,"kind"?,"timezone"?,
  "timezone_style"?:"iana"|"windows","teams_enabled"?,"meet_enabled"?,"zoom_can_host"?}`` → 201 account (200 when it existed and
  was updated); ``GET /_control/accounts?provider=`` → [account]
- ``POST /_control/events`` ``{"provider","email","start","end","status"?:"busy","subject"?}``
  → 201 the event in the provider's wire format; ``GET /_control/events?provider=&email=`` →
  [event] (what is on the calendar now, conference data included)
- ``GET /_control/meetings?email=&provider=zoom`` → [meeting] ([] until a Zoom emulator exists)
- ``POST /_control/meetings/{provider}/{id}/participants`` ``{"email"?,"name","joined_at"?,
  "left_at"?}`` → 201: someone joins a meeting (Zoom also sends its webhooks);
  ``POST /_control/webhooks`` ``{"provider","url","secret"}`` → 201: where the provider sends
  its signed notifications
- ``POST /_control/faults`` ``{"provider","scenario","email"?,"times"?,"params"?}`` → 201
  ``{"id","provider","scenario","email","times","params","applied"}``; ``applied: true`` means
  it acted at once (invalid_grant, expire_access_tokens) and is not kept armed. Unknown
  scenario → 422 ``{"error":"unknown_scenario","known":[...]}``. ``GET /_control/faults`` →
  armed faults; ``DELETE /_control/faults[/<id>]`` disarms.
- ``GET /_control/requests?provider=&path_prefix=`` → [{"id","provider","method","path",
  "query","headers","body","at"}] (``path`` is the full path, e.g. ``/google/token``; headers
  and bodies are kept verbatim, tokens and client secrets included: sandbox only);
  ``DELETE /_control/requests`` clears the log
- Changes people make in their own calendars, pushed to the hub by the provider as it would:
  ``PATCH /_control/events/{id}`` ``{"start"?,"end"?,"subject"?}`` → 200 the event;
  ``DELETE /_control/events/{id}`` → 204; ``POST /_control/events/{id}/responses``
  ``{"email","response":"accepted|declined|tentative"}`` → 201 the event (``{id}`` is the
  provider's event id; 404 when no emulator has it)
- ``GET /_control/channels?provider=&email=`` → [channel]: the push channels open on that
  calendar now, in wire format (Google's watch channels, Graph's subscriptions; stopped,
  deleted and expired ones are gone); ``GET /_control/grants?provider=&email=`` →
  [{"id","client_id","scopes","alive","revoked_reason"}]: the account's consents to the
  provider's apps
- ``GET /_control/notifications?provider=`` → [{"id","provider","url","kind","headers","body",
  "at","attempts","status":"pending|delivered|failed|dropped"}]: what the emulators pushed
- ``POST /_control/reset`` → 204: accounts, calendars, tokens, faults and log are forgotten
- ``GET /_control/clients`` → {provider: {"client_id","client_secret","redirect_uris",
  "allow_loopback_redirects","require_pkce","endpoints":{...},"other_clients":[client]}}: the
  first is the hub's registration (PKCE required); ``other_clients`` are further apps the
  provider knows (``sandbox-<provider>-app``, PKCE optional as at the real providers)
- ``GET /_control/providers`` → {provider: {"prefix","scenarios":{name: description}}}
"""

from __future__ import annotations

from typing import Any, Mapping

from flask import Blueprint, Response, jsonify, request

from .accounts import ACCOUNT_KINDS, SETTABLE_ATTRIBUTES, TIMEZONE_STYLES
from .context import SandboxContext
from .emulator import IMMEDIATE_SCENARIOS, ProviderEmulator
from .participants import ControlRefusal
from .timefmt import parse_rfc3339, zone_or_none


class ControlError(Exception):
    def __init__(self, status: int, body: dict[str, Any]):
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body


def _invalid(field: str, message: str) -> ControlError:
    return ControlError(422, {"error": "validation_error", "field": field, "message": message})


def create_control_blueprint(ctx: SandboxContext, emulators: Mapping[str, ProviderEmulator]) -> Blueprint:
    bp = Blueprint("sandbox_control", __name__)

    @bp.errorhandler(ControlError)
    def _control_error(err: ControlError) -> tuple[Response, int]:
        return jsonify(err.body), err.status

    def body() -> dict[str, Any]:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise ControlError(400, {"error": "invalid_json", "message": "Send a JSON object."})
        return data

    def emulator_for(name: Any) -> ProviderEmulator:
        if name not in emulators:
            raise ControlError(
                422,
                {"error": "unknown_provider", "message": f"Unknown provider {name!r}.", "known": sorted(emulators)},
            )
        return emulators[name]

    def required_email(value: Any, field: str = "email") -> str:
        if not isinstance(value, str) or "@" not in value:
            raise _invalid(field, "An email address is required.")
        return value

    def base_url() -> str:
        return request.host_url.rstrip("/") + request.script_root

    # -- accounts ----------------------------------------------------------------------------
    @bp.post("/accounts")
    def create_account():
        data = body()
        emulator = emulator_for(data.get("provider"))
        email = required_email(data.get("email"))
        attributes = {k: data[k] for k in SETTABLE_ATTRIBUTES if k in data}
        if "kind" in attributes and attributes["kind"] not in ACCOUNT_KINDS:
            raise _invalid("kind", f"kind must be one of {', '.join(ACCOUNT_KINDS)}.")
        if "timezone" in attributes and zone_or_none(attributes["timezone"]) is None:
            raise _invalid("timezone", "An IANA time zone name is required.")
        if "timezone_style" in attributes and attributes["timezone_style"] not in TIMEZONE_STYLES:
            raise _invalid("timezone_style", f"timezone_style must be one of {', '.join(TIMEZONE_STYLES)}.")
        for flag in ("teams_enabled", "meet_enabled", "zoom_can_host"):
            if flag in attributes and not isinstance(attributes[flag], bool):
                raise _invalid(flag, "true or false.")
        if "name" in attributes and not isinstance(attributes["name"], str):
            raise _invalid("name", "A string.")
        account, _created = ctx.state.upsert_account(emulator.name, email, **attributes)
        emulator.account_created(account, data)
        # 201 whether created or updated (API.md): arranging a test is idempotent.
        return jsonify(account.to_dict()), 201

    @bp.get("/accounts")
    def list_accounts():
        provider = request.args.get("provider") or None
        return jsonify([a.to_dict() for a in ctx.state.accounts(provider)])

    # -- calendars ---------------------------------------------------------------------------
    @bp.post("/events")
    def create_event():
        data = body()
        emulator = emulator_for(data.get("provider"))
        email = required_email(data.get("email"))
        moments = {}
        for field in ("start", "end"):
            try:
                moments[field] = parse_rfc3339(data.get(field))
            except ValueError:
                raise _invalid(field, "An RFC 3339 date-time with offset is required.") from None
        if moments["end"] <= moments["start"]:
            raise _invalid("end", "end must be after start.")
        subject = data.get("subject")
        if subject is not None and not isinstance(subject, str):
            raise _invalid("subject", "A string.")
        account = emulator.account(email)
        try:
            event = emulator.create_control_event(
                account, moments["start"], moments["end"], data.get("status") or "busy", subject
            )
        except ValueError as err:
            raise _invalid("status", str(err)) from None
        except NotImplementedError as err:
            raise ControlError(422, {"error": "not_supported", "message": str(err)}) from None
        return jsonify(event), 201

    @bp.get("/events")
    def list_events():
        emulator = emulator_for(request.args.get("provider"))
        email = required_email(request.args.get("email"))
        account = ctx.state.account(emulator.name, email)
        return jsonify(emulator.control_events(account) if account else [])

    # -- changes people make in their own calendars (pushed to the hub by the provider) ------
    def find(call: Any) -> Any:
        for emulator in emulators.values():
            found = call(emulator)
            if found:
                return found
        return None

    @bp.patch("/events/<event_id>")
    def person_changes_event(event_id: str):
        data = body()
        changes: dict[str, Any] = {}
        for field in ("start", "end"):
            if data.get(field) is not None:
                try:
                    changes[field] = parse_rfc3339(data[field])
                except ValueError:
                    raise _invalid(field, "An RFC 3339 date-time with offset is required.") from None
        if data.get("subject") is not None:
            if not isinstance(data["subject"], str):
                raise _invalid("subject", "A string.")
            changes["subject"] = data["subject"]
        if not changes:
            raise _invalid("start", "Give at least one of start, end, subject.")
        if "start" in changes and "end" in changes and changes["end"] <= changes["start"]:
            raise _invalid("end", "end must be after start.")
        try:
            event = find(lambda e: e.person_changes_event(event_id, changes))
        except ControlRefusal as err:
            raise ControlError(err.status, err.body) from None
        if event is None:
            raise ControlError(404, {"error": "not_found", "message": f"No event {event_id} in any calendar."})
        return jsonify(event)

    @bp.delete("/events/<event_id>")
    def person_deletes_event(event_id: str):
        if not find(lambda e: e.person_deletes_event(event_id)):
            raise ControlError(404, {"error": "not_found", "message": f"No event {event_id} in any calendar."})
        return Response(status=204)

    @bp.post("/events/<event_id>/responses")
    def person_responds(event_id: str):
        data = body()
        email = required_email(data.get("email"))
        response = data.get("response")
        if response not in ("accepted", "declined", "tentative"):
            raise _invalid("response", "One of accepted, declined, tentative.")
        try:
            event = find(lambda e: e.person_responds(event_id, email, response))
        except ControlRefusal as err:
            raise ControlError(err.status, err.body) from None
        if event is None:
            raise ControlError(404, {"error": "not_found", "message": f"No event {event_id} in any calendar."})
        return jsonify(event), 201

    @bp.get("/notifications")
    def list_notifications():
        return jsonify(ctx.push.entries(request.args.get("provider") or None))

    @bp.get("/meetings")
    def list_meetings():
        # Zoom by default; an unregistered provider simply has no meetings yet.
        emulator = emulators.get(request.args.get("provider") or "zoom")
        email = required_email(request.args.get("email"))
        account = ctx.state.account(emulator.name, email) if emulator else None
        return jsonify(emulator.control_meetings(account) if emulator and account else [])

    @bp.get("/channels")
    def list_channels():
        emulator = emulator_for(request.args.get("provider"))
        account = ctx.state.account(emulator.name, required_email(request.args.get("email")))
        return jsonify(emulator.control_channels(account) if account else [])

    @bp.get("/grants")
    def list_grants():
        emulator = emulator_for(request.args.get("provider"))
        account = ctx.state.account(emulator.name, required_email(request.args.get("email")))
        return jsonify(emulator.control_grants(account) if account else [])

    @bp.post("/meetings/<provider>/<meeting_id>/participants")
    def record_participant(provider: str, meeting_id: str):
        emulator = emulator_for(provider)
        try:
            return jsonify(emulator.record_participant(meeting_id, body())), 201
        except NotImplementedError as err:
            raise ControlError(422, {"error": "not_supported", "message": str(err)}) from None
        except ControlRefusal as err:
            raise ControlError(err.status, err.body) from None

    @bp.post("/webhooks")
    def set_webhook():
        data = body()
        emulator = emulator_for(data.get("provider"))
        url, secret = data.get("url"), data.get("secret")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise _invalid("url", "An absolute http(s) URL.")
        if not isinstance(secret, str) or not secret:
            raise _invalid("secret", "The webhook secret token.")
        try:
            emulator.set_webhook(url, secret)
        except NotImplementedError as err:
            raise ControlError(422, {"error": "not_supported", "message": str(err)}) from None
        return jsonify({"provider": emulator.name, "url": url}), 201

    # -- faults ------------------------------------------------------------------------------
    @bp.post("/faults")
    def arm_fault():
        data = body()
        emulator = emulator_for(data.get("provider"))
        scenario = data.get("scenario")
        if scenario not in emulator.scenarios:
            raise ControlError(
                422,
                {
                    "error": "unknown_scenario",
                    "message": f"{emulator.name} has no scenario {scenario!r}.",
                    "provider": emulator.name,
                    "known": sorted(emulator.scenarios),
                },
            )
        email = data.get("email")
        if email is not None:
            required_email(email)
        times = data.get("times")
        if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
            raise _invalid("times", "A positive integer, or absent for unlimited.")
        params = data.get("params") or {}
        if not isinstance(params, dict):
            raise _invalid("params", "An object.")
        fault = ctx.faults.add(emulator.name, str(scenario), email, times, params)
        applied = emulator.apply_fault(fault)
        if applied or scenario in IMMEDIATE_SCENARIOS:
            ctx.faults.remove(fault.id)
        return jsonify({**fault.to_dict(), "applied": applied}), 201

    @bp.get("/faults")
    def list_faults():
        return jsonify([f.to_dict() for f in ctx.faults.list(request.args.get("provider") or None)])

    @bp.delete("/faults")
    def clear_faults():
        ctx.faults.clear(request.args.get("provider") or None)
        return Response(status=204)

    @bp.delete("/faults/<fault_id>")
    def remove_fault(fault_id: str):
        if not ctx.faults.remove(fault_id):
            raise ControlError(404, {"error": "not_found", "message": f"No fault {fault_id}."})
        return Response(status=204)

    # -- observation and housekeeping ----------------------------------------------------------
    @bp.get("/requests")
    def list_requests():
        return jsonify(
            ctx.requests.entries(request.args.get("provider") or None, request.args.get("path_prefix") or None)
        )

    @bp.delete("/requests")
    def clear_requests():
        ctx.requests.clear()
        return Response(status=204)

    @bp.post("/reset")
    def reset():
        ctx.state.reset()
        ctx.faults.clear()
        ctx.requests.clear()
        ctx.push.clear()
        for emulator in emulators.values():
            emulator.reset()
        return Response(status=204)

    @bp.get("/clients")
    def clients():
        return jsonify(
            {
                name: {**emulator.client.to_dict(), "endpoints": emulator.endpoints(base_url()),
                       "other_clients": [c.to_dict() for c in emulator.oauth.clients.values()
                                         if c.client_id != emulator.client.client_id]}
                for name, emulator in emulators.items()
            }
        )

    @bp.get("/providers")
    def providers():
        return jsonify(
            {name: {"prefix": f"/{name}", "scenarios": dict(e.scenarios)} for name, e in emulators.items()}
        )

    return bp
