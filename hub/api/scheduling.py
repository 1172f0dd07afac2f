"""/v1/interview-templates and /v1/scheduling-requests. Parse → service → JSON; the services'
domain errors become problem+json in hub/app.py like every other blueprint's."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from hub.api.auth import require_api_key
from hub.api.context import hub, services, tenant_id
from hub.api.routing import operation
from hub.api.scheduling_schemas import (
    BookIn,
    BookingOut,
    CandidateOut,
    CandidateSlotsOut,
    ReasonIn,
    RequestIn,
    RequestOut,
    RequestPatch,
    RequestsOut,
    RescheduleIn,
    TemplateIn,
    TemplateOut,
    TemplatesOut,
)
from hub.api.schemas import USER_ID, _check_zone
from hub.api.v1 import IDEMPOTENCY_HEADER, hub_json
from hub.problems import Problem
from hub.services.idempotency import request_hash

bp = Blueprint("scheduling", __name__, url_prefix="/v1")
bp.before_request(require_api_key)

TEMPLATES = ("Interview templates",)
REQUESTS = ("Scheduling requests",)
CANDIDATES = ("Scheduling requests: candidate actions",)

def _template_id(template_id: str) -> str:
    if not USER_ID.match(template_id):
        raise Problem(422, "validation_failed", "The template id is not valid", "1–128 characters of A-Za-z0-9._:@-",
                      errors=[{"field": "template_id", "message": "1–128 characters of A-Za-z0-9._:@-"}])
    return template_id


# --- templates ------------------------------------------------------------------------------
@bp.put("/interview-templates/<template_id>")
@operation("Create or replace an interview template", tags=TEMPLATES, body=TemplateIn,
           responses={200: TemplateOut, 201: TemplateOut}, problems=(400, 415, 422))
def put_template(template_id: str, body: TemplateIn):
    out, created = services().scheduling.put_template(tenant_id(), _template_id(template_id),
                                                      body.model_dump(mode="json", exclude_none=True))
    return jsonify(out), 201 if created else 200


@bp.get("/interview-templates/<template_id>")
@operation("Get an interview template", tags=TEMPLATES, responses={200: TemplateOut}, problems=(404,))
def get_template(template_id: str):
    return jsonify(services().scheduling.get_template(tenant_id(), template_id))


@bp.get("/interview-templates")
@operation("List interview templates", tags=TEMPLATES, responses={200: TemplatesOut})
def list_templates():
    return jsonify({"templates": services().scheduling.list_templates(tenant_id())})


@bp.delete("/interview-templates/<template_id>")
@operation("Delete an interview template (requests made from it keep their settings)", tags=TEMPLATES,
           responses={204: None}, problems=(404,))
def delete_template(template_id: str):
    services().scheduling.delete_template(tenant_id(), template_id)
    return Response(status=204)


# --- requests -------------------------------------------------------------------------------
@bp.post("/scheduling-requests")
@operation("Offer interview times to candidates and hold them on the interviewers' calendars", tags=REQUESTS,
           body=RequestIn, responses={201: RequestOut}, problems=(400, 404, 409, 415, 422, 502),
           headers=IDEMPOTENCY_HEADER)
def create_request(body: RequestIn):
    key = request.headers.get("Idempotency-Key")
    tenant = tenant_id()
    data = body.model_dump(exclude_unset=True)
    if key is None:
        return jsonify(services().scheduling.create(tenant, data)), 201
    store = services().idempotency
    replay = store.begin(tenant, f"scheduling:{key}", request_hash(body.model_dump(mode="json")), hub().clock())
    if replay is not None:
        resp = jsonify(replay.body)
        resp.status_code = replay.status
        resp.headers["Idempotent-Replayed"] = "true"
        return resp
    try:
        out = hub_json(services().scheduling.create(tenant, data))
    except BaseException:
        store.abandon(tenant, f"scheduling:{key}")
        raise
    store.complete(tenant, f"scheduling:{key}", 201, out)
    return jsonify(out), 201


@bp.get("/scheduling-requests")
@operation("List scheduling requests, newest first (?status=&candidate_email=&organizer=&limit=)", tags=REQUESTS,
           responses={200: RequestsOut}, problems=(422,))
def list_requests():
    try:
        limit = int(request.args.get("limit", "50"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 200:
        raise Problem(422, "validation_failed", "The request is not valid", "limit is 1–200.",
                      errors=[{"field": "limit", "message": "1–200"}])
    status = request.args.get("status")
    if status and status not in ("pending", "completed", "cancelled", "expired"):
        raise Problem(422, "validation_failed", "The request is not valid", "Unknown status.",
                      errors=[{"field": "status", "message": "pending, completed, cancelled or expired"}])
    found = services().scheduling.search(tenant_id(), status=status, candidate_email=request.args.get("candidate_email"),
                                       organizer=request.args.get("organizer"), limit=limit)
    return jsonify({"scheduling_requests": found})


@bp.get("/scheduling-requests/<request_id>")
@operation("Get a scheduling request with its slots, candidates and holds", tags=REQUESTS,
           responses={200: RequestOut}, problems=(404,))
def get_request(request_id: str):
    return jsonify(services().scheduling.get(tenant_id(), request_id))


@bp.patch("/scheduling-requests/<request_id>")
@operation("Edit a pending offer: slots or windows, expires_at (holds follow)", tags=REQUESTS, body=RequestPatch,
           responses={200: RequestOut}, problems=(400, 404, 409, 415, 422, 502))
def patch_request(request_id: str, body: RequestPatch):
    return jsonify(services().scheduling.edit(tenant_id(), request_id, body.model_dump(exclude_unset=True)))


@bp.delete("/scheduling-requests/<request_id>")
@operation("Cancel: holds removed, booked interviews cancelled, links answer 410", tags=REQUESTS,
           responses={200: RequestOut}, problems=(404,))
def cancel_request(request_id: str):
    return jsonify(services().scheduling.cancel(tenant_id(), request_id))


# --- candidate actions ----------------------------------------------------------------------
CANDIDATE = "/scheduling-requests/<request_id>/candidates/<candidate_id>"


@bp.get(CANDIDATE + "/slots")
@operation("The slots this candidate may pick now, in their zone (?timezone=), odd hours flagged",
           tags=CANDIDATES, responses={200: CandidateSlotsOut}, problems=(404, 409, 410, 422))
def candidate_slots(request_id: str, candidate_id: str):
    zone = request.args.get("timezone") or None
    try:
        _check_zone(zone)
    except ValueError as exc:
        raise Problem(422, "validation_failed", "The request is not valid", str(exc),
                      errors=[{"field": "timezone", "message": str(exc)}]) from None
    return jsonify(services().candidates.slots(tenant_id(), request_id, candidate_id, zone))


@bp.post(CANDIDATE + "/book")
@operation("Book a slot: live re-check, then the interview is created like POST /v1/events", tags=CANDIDATES,
           body=BookIn, responses={200: BookingOut}, problems=(400, 404, 409, 410, 415, 422, 502))
def book(request_id: str, candidate_id: str, body: BookIn):
    out = services().candidates.book(tenant_id(), request_id, candidate_id, slot_id=body.slot_id, start=body.start)
    return jsonify(_with_event(out))


@bp.post(CANDIDATE + "/reschedule")
@operation("Move the candidate's interview to another slot", tags=CANDIDATES, body=RescheduleIn,
           responses={200: BookingOut}, problems=(400, 404, 409, 410, 415, 422, 502))
def reschedule(request_id: str, candidate_id: str, body: RescheduleIn):
    out = services().candidates.reschedule(tenant_id(), request_id, candidate_id, slot_id=body.slot_id,
                                           start=body.start, reason=body.reason)
    return jsonify(_with_event(out))


@bp.post(CANDIDATE + "/decline")
@operation("Decline with a reason (cancels a booked interview; the candidate may book again until expiry)",
           tags=CANDIDATES, body=ReasonIn, responses={200: CandidateOut}, problems=(400, 404, 410, 415, 422, 502))
def decline(request_id: str, candidate_id: str, body: ReasonIn):
    return jsonify(services().candidates.decline(tenant_id(), request_id, candidate_id, body.reason or ""))


@bp.post(CANDIDATE + "/cancel")
@operation("Cancel the candidate's booked interview, with a reason", tags=CANDIDATES, body=ReasonIn,
           responses={200: CandidateOut}, problems=(400, 404, 409, 410, 415, 422, 502))
def cancel_booking(request_id: str, candidate_id: str, body: ReasonIn):
    return jsonify(services().candidates.cancel(tenant_id(), request_id, candidate_id, body.reason or ""))


def _with_event(candidate: dict) -> dict:
    event_id = candidate.get("event_id")
    return {**candidate, "event": services().events.get(tenant_id(), event_id) if event_id else None}
