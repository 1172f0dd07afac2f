"""/v1: users, connect links, connections, free/busy, events. Parse → service → JSON."""
from __future__ import annotations

import secrets

from flask import Blueprint, Response, current_app, json

from hub.api.auth import require_api_key
# jsonify: flask.jsonify's answer without the proxy lookup (hub/api/context.py), on the hot routes
from hub.api.context import current_request, hub, jsonify, services, tenant_id
from hub.api.routing import operation
from hub.api.return_origins import check_return_url
from hub.api.schemas import (
    USER_ID,
    AttendanceOut,
    AvailabilityIn,
    AttendeeIn,
    AvailabilityOut,
    ConnectionsOut,
    ConnectLinkIn,
    EventIn,
    EventOut,
    EventPatch,
    FreeBusyIn,
    FreeBusyOut,
    LinkOut,
    UserIn,
    UserOut,
)
from hub.problems import Problem
from hub.services import connections as connection_service
from hub.services import users as user_service
from hub.services.availability import availability
from hub.services.attendance import AttendanceRules
from hub.services.directory import require_user
from hub.services.events import EventUpdate, NewEvent
from hub.services.freebusy import free_busy, participant_status
from hub.services.idempotency import complete_in, request_hash
from providers import registry
from providers.base import Attendee

bp = Blueprint("v1", __name__, url_prefix="/v1")
bp.before_request(require_api_key)

USERS = ("Users",)
CONNECTIONS = ("Connections",)


def _valid_user_id(user_id: str) -> str:
    if not USER_ID.fullmatch(user_id):  # fullmatch: `$` alone lets a trailing newline through
        raise Problem(422, "validation_failed", "The user id is not valid",
                      "user_id is 1–128 characters of A-Z a-z 0-9 . _ : @ -",
                      errors=[{"field": "user_id", "message": "1–128 characters of A-Za-z0-9._:@-"}])
    return user_id


def user_out(user) -> dict:
    return {"user_id": user.external_id, "email": user.email, "name": user.name, "timezone": user.timezone,
            "working_hours": user.working_hours, "default_conferencing": user.default_conferencing,
            "created_at": user.created_at, "updated_at": user.updated_at}


@bp.put("/users/<user_id>")
@operation("Create or update a user", tags=USERS, body=UserIn, responses={200: UserOut, 201: UserOut},
           problems=(400, 415, 422))
def put_user(user_id: str, body: UserIn):
    user, created = user_service.upsert_user(hub().db, tenant_id(), _valid_user_id(user_id), body,
                                             services().parse_working_hours)
    return jsonify(user_out(user)), 201 if created else 200


@bp.get("/users/<user_id>")
@operation("Get a user", tags=USERS, responses={200: UserOut}, problems=(404,))
def get_user(user_id: str):
    return jsonify(user_out(user_service.get_user(hub().db, tenant_id(), user_id)))


@bp.delete("/users/<user_id>")
@operation("Delete a user; their grants are revoked at the providers in the background", tags=USERS,
           responses={204: None},
           problems=(404,))
def delete_user(user_id: str):
    user_service.delete_user(hub().db, tenant_id(), user_id,
                             lambda cid: connection_service.delete_connection(hub(), tenant_id(), cid))
    return Response(status=204)


@bp.post("/users/<user_id>/connect-links")
@operation("Create a single-use link that starts the provider's consent", tags=CONNECTIONS,
           body=ConnectLinkIn, responses={201: LinkOut}, problems=(400, 404, 422),
           description="OAuth providers: the link redirects to the provider's consent (PKCE S256 + state). "
                       "Providers connected with a credential form (`caldav`): the link opens a form on the "
                       "hub (`server_url`, `username`, app-specific `password`) that posts back to the same "
                       "URL; a refused credential shows the form again with its cause, and the end is the "
                       "same redirect to `return_url?status=connected&connection_id=…` (or "
                       "`?status=error&code=…`). The password is stored encrypted and never returned.")
def create_connect_link(user_id: str, body: ConnectLinkIn):
    if body.provider not in hub_providers():
        raise Problem(422, "provider_unavailable", "Provider not available",
                      f"{body.provider} is not enabled on this hub.",
                      errors=[{"field": "provider", "message": f"one of {', '.join(hub_providers())}"}])
    with hub().db.session() as session:
        user = require_user(session, tenant_id(), user_id)
    check_return_url(body.return_url)
    link = services().connect.create_link(tenant_id(), user, body.provider, body.return_url, body.login_hint)
    return jsonify({"url": link.url, "expires_at": link.expires_at}), 201


def hub_providers() -> list[str]:
    return registry.names()


@bp.get("/users/<user_id>/connections")
@operation("List a user's connections with their health", tags=CONNECTIONS, responses={200: ConnectionsOut},
           problems=(404,))
def list_connections(user_id: str):
    conns = connection_service.list_connections(hub(), tenant_id(), user_id)
    return jsonify({"connections": [connection_service.connection_out(c) for c in conns]})


@bp.delete("/connections/<connection_id>")
@operation("Disconnect: forget the connection now; stop its push channels and revoke at the provider in the "
           "background", tags=CONNECTIONS, responses={204: None}, problems=(404,),
           description="Takes effect at once: the connection, its push channels and its cached busy time are "
                       "deleted and `connection.deleted` is queued; notifications on its channels are refused from "
                       "then on. A background job then stops each channel at the provider and revokes the grant "
                       "(where the provider has a revocation endpoint: Google, Zoom), retried while the provider "
                       "fails. If the same account is connected again before it ran, the new grant is kept.")
def delete_connection(connection_id: str):
    connection_service.delete_connection(hub(), tenant_id(), connection_id)
    return Response(status=204)


@bp.post("/freebusy")
@operation("Busy blocks of several users; each user's failure is reported in place", tags=("Free/busy",),
           body=FreeBusyIn, responses={200: FreeBusyOut}, problems=(400, 422),
           description="With `consistency:\"cached\"` (the default) a user whose synced calendar is fresh is "
                       "answered from the busy cache without a provider call; each user's `source` and "
                       "`fresh_as_of` say where the answer came from and how current it is.")
def post_freebusy(body: FreeBusyIn):
    results = free_busy(hub(), tenant_id(), body.users, body.start, body.end, consistency=body.consistency)
    users = {user_id: {**participant_status(res),
                       "busy": [{"start": b.start, "end": b.end, "status": b.status} for b in res.busy or []]}
             for user_id, res in results.items()}
    return jsonify({"start": body.start, "end": body.end, "users": users})


@bp.post("/availability")
@operation("Common free slots of several participants inside their working hours", tags=("Availability",),
           body=AvailabilityIn, responses={200: AvailabilityOut}, problems=(400, 422),
           description="Each participant is read from the busy cache or live as in `POST /v1/freebusy` "
                       "(`consistency`); `participants[].source` and `fresh_as_of` say which. Offering and "
                       "booking times in scheduling requests always re-check live.")
def post_availability(body: AvailabilityIn):
    result = availability(hub(), tenant_id(), body)
    return jsonify({"complete": result.complete,
                    "slots": [{"start": s.start, "end": s.end, "optional_available": s.optional_available}
                              for s in result.slots],
                    "participants": result.participants})


EVENTS = ("Events",)
IDEMPOTENCY_HEADER = (("Idempotency-Key", "Same key + same body replays the first response (kept ≥ 24 h)"),)


@bp.post("/events")
@operation("Create an event with a Meet, Teams or Zoom link", tags=EVENTS, body=EventIn,
           responses={201: EventOut}, problems=(400, 404, 409, 422, 502), headers=IDEMPOTENCY_HEADER)
def create_event(body: EventIn):
    key = current_request().headers.get("Idempotency-Key")
    tenant = tenant_id()
    svc = services()
    if key is None:
        return jsonify(svc.events.create(tenant, new_event(body), secrets.token_hex(16))), 201
    store = svc.idempotency
    replay = store.begin(tenant, key, request_hash(body.model_dump(mode="json")), hub().clock())
    if replay is not None:
        resp = jsonify(replay.body)
        resp.status_code = replay.status
        resp.headers["Idempotent-Replayed"] = "true"
        return resp
    stored: list[dict] = []

    def answered(unit, out: dict) -> None:
        # The replay is stored in the transaction that stores the event: a key is never left
        # without the answer of an event that exists, nor holds one for an event that does not.
        stored.append(hub_json(out))
        complete_in(unit, tenant, key, 201, stored[0])

    try:
        svc.events.create(tenant, new_event(body), f"{tenant}:{key}", answered)
    except BaseException:
        store.abandon(tenant, key)
        raise
    return jsonify(stored[0]), 201


def _attendees(items: list[AttendeeIn]) -> tuple[Attendee, ...]:
    return tuple(Attendee(a.email, a.name, a.optional) for a in items)


def new_event(body: EventIn) -> NewEvent:
    return NewEvent(organizer=body.organizer, title=body.title, start=body.start, end=body.end,
                    attendees=_attendees(body.attendees), description=body.description,
                    location=body.location, timezone=body.timezone, conferencing=body.conferencing,
                    send_updates=body.send_updates,
                    attendance=AttendanceRules(body.attendance.grace_minutes, body.attendance.late_after_minutes,
                                               body.attendance.candidate_email) if body.attendance else None)


def event_update(body: EventPatch) -> EventUpdate:
    return EventUpdate(given=frozenset(body.model_fields_set), start=body.start, end=body.end,
                       title=body.title, description=body.description,
                       attendees=_attendees(body.attendees) if body.attendees is not None else None,
                       send_updates=body.send_updates)


def hub_json(value):
    """The JSON form of a response body (datetimes as RFC 3339 UTC), for storing replays."""
    return json.loads(current_app.json.dumps(value))


@bp.get("/events/<event_id>")
@operation("Get an event", tags=EVENTS, responses={200: EventOut}, problems=(404,))
def get_event(event_id: str):
    return jsonify(services().events.get(tenant_id(), event_id))


@bp.patch("/events/<event_id>")
@operation("Move or edit an event (and its Zoom meeting)", tags=EVENTS, body=EventPatch,
           responses={200: EventOut}, problems=(400, 404, 409, 422, 502),
           description="With attendance tracked, a new `start` moves the deadlines and forgets the "
                       "`attendance.*` webhooks already sent (a new chance to join); a new `end` alone "
                       "keeps them — nothing is sent twice — and moves only deadlines that wait for the "
                       "end (Teams reports).")
def patch_event(event_id: str, body: EventPatch):
    return jsonify(services().events.update(tenant_id(), event_id, event_update(body)))


@bp.delete("/events/<event_id>")
@operation("Cancel an event (idempotent)", tags=EVENTS, responses={204: None}, problems=(404, 409, 502))
def delete_event(event_id: str):
    services().events.cancel(tenant_id(), event_id)
    return Response(status=204)


@bp.get("/events/<event_id>/attendance")
@operation("Who joined the event's meeting, and whether the candidate is on time, late or a no-show",
           tags=EVENTS, responses={200: AttendanceOut}, problems=(404,),
           description="A no-show is declared only on a list the provider gave (Zoom's participants API, "
                       "Meet's conference records, the Teams report after the meeting), never on a missing "
                       "webhook. Where Zoom refuses the live list (its Dashboard needs a Business plan and "
                       "admin scopes) and the meeting is running, `error.cause` is "
                       "`zoom_live_participants_unavailable`, absences are confirmed from the past "
                       "meeting's list after the end, and `candidate_late` is told from Zoom's webhooks "
                       "alone (`source: zoom_webhooks`).")
def get_attendance(event_id: str):
    return jsonify(services().attendance.report(tenant_id(), event_id))
