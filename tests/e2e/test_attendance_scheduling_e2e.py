"""Attendance on interviews booked from scheduling requests: the request (or its template) gives
the thresholds, the candidate who books is the one watched, a reschedule moves the timers and a
cancel stops them. Over HTTP against a live hub and the sandbox's Zoom (signed participant
webhooks and the participants API); the deadline timers run on the fake clock."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from hub.storage.models import WebhookDelivery
from tests.conftest import own_database
from tests.e2e import test_attendance_e2e as base
from tests.e2e.support import start_hub
from tests.e2e.test_attendance_e2e import SECRET, START, at, join, types
from tests.e2e.zoom_support import person

# The fake clock and a tenant with a backend webhook, as in the other attendance tests.
clock, tenant = base.clock, base.tenant


@pytest.fixture(scope="module")
def hub_live(tmp_path_factory, sandbox_url, clock):
    """A hub on its own database: its requests are in the past of the real clock, and other
    tests' expiry sweeps (which look at every tenant) must not find them."""
    with own_database(tmp_path_factory, "attendance-scheduling") as url:
        server, live = start_hub(url, sandbox_url, zoom_webhook_secret=SECRET, webhook_worker=False)
        live.hub.clock = clock
        yield live
        server.shutdown()
        live.hub.close()
CANDIDATE = {"email": "grace@candidates.example", "name": "Grace Hopper"}
NEXT_DAY = START + timedelta(days=1)


def window(start) -> dict:
    return {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}


def offer(api, organizer: str, **extra):
    body = {"organizer": organizer, "title": "Interview: {candidate_name}", "duration_minutes": 60,
            "conferencing": "zoom", "candidates": [CANDIDATE], "slots": [window(START), window(NEXT_DAY)],
            "hold": False, **extra}
    return api.post("/v1/scheduling-requests", json=body)


def book(api, req: dict) -> dict:
    cand = req["candidates"][0]
    r = api.post(f"/v1/scheduling-requests/{req['id']}/candidates/{cand['id']}/book",
                 json={"slot_id": req["slots"][0]["id"]})
    assert r.status_code == 200, r.text
    return r.json()["event"]


def deadlines(api, event: dict) -> dict[str, tuple[str, str]]:
    report = api.get(f"/v1/events/{event['id']}/attendance").json()
    return {d["kind"]: (d["due_at"], d["status"]) for d in report["deadlines"]}


def test_a_booked_candidate_who_never_joins_is_a_no_show(hub_live, tenant, sandbox, clock):
    tenant_id, api = tenant
    who = person(api, sandbox)
    r = offer(api, who.user_id, attendance={"grace_minutes": 10, "late_after_minutes": 3})
    assert r.status_code == 201, r.text
    req = r.json()
    assert req["attendance"] == {"grace_minutes": 10, "late_after_minutes": 3}
    event = book(api, req)
    assert event["conferencing"]["provider"] == "zoom"
    report = api.get(f"/v1/events/{event['id']}/attendance").json()
    assert report["watching"]["email"] == CANDIDATE["email"] and report["candidate"] == "unknown"
    join(sandbox, event, "Ada Lovelace", 0, who.zoom_email)  # the interviewer is there; the candidate never comes
    at(hub_live, clock, event, 3)
    at(hub_live, clock, event, 10)
    assert types(hub_live, tenant_id) == ["attendance.candidate_late", "attendance.no_show"]
    with hub_live.hub.db.session() as s:
        row = s.execute(select(WebhookDelivery).where(WebhookDelivery.tenant_id == tenant_id,
                                                      WebhookDelivery.event_type == "attendance.no_show")).scalar_one()
    data = json.loads(row.payload)["data"]
    assert data["event_id"] == event["id"] and data["candidate"]["email"] == CANDIDATE["email"]
    assert data["grace_minutes"] == 10 and data["source"] == "zoom_api"


def test_template_thresholds_a_reschedule_moves_the_timers_and_a_cancel_stops_them(hub_live, tenant, sandbox, clock):
    tenant_id, api = tenant
    who = person(api, sandbox)
    r = api.put("/v1/interview-templates/panel-att", json={
        "name": "Panel", "duration_minutes": 60, "title": "Interview: {candidate_name}", "conferencing": "zoom",
        "attendance": {"grace_minutes": 5, "late_after_minutes": 2}})
    assert r.status_code in (200, 201), r.text
    assert r.json()["attendance"] == {"grace_minutes": 5, "late_after_minutes": 2}
    overridden = offer(api, who.user_id, template_id="panel-att", attendance={"grace_minutes": 15},
                       slots=[window(START + timedelta(days=2))])
    assert overridden.status_code == 201, overridden.text
    assert overridden.json()["attendance"] == {"grace_minutes": 15, "late_after_minutes": 3}  # replaced, not merged
    r = offer(api, who.user_id, template_id="panel-att")
    assert r.status_code == 201, r.text
    req = r.json()
    assert req["attendance"] == {"grace_minutes": 5, "late_after_minutes": 2}
    event = book(api, req)
    assert deadlines(api, event) == {"late": ("2026-03-02T13:02:00Z", "pending"),
                                     "deadline": ("2026-03-02T13:05:00Z", "pending")}
    cand = req["candidates"][0]
    moved = api.post(f"/v1/scheduling-requests/{req['id']}/candidates/{cand['id']}/reschedule",
                     json={"slot_id": req["slots"][1]["id"]})
    assert moved.status_code == 200, moved.text
    assert deadlines(api, event) == {"late": ("2026-03-03T13:02:00Z", "pending"),
                                     "deadline": ("2026-03-03T13:05:00Z", "pending")}
    at(hub_live, clock, event, 6)  # the old time passes: nothing is due
    assert types(hub_live, tenant_id) == []
    cancelled = api.post(f"/v1/scheduling-requests/{req['id']}/candidates/{cand['id']}/cancel",
                         json={"reason": "Found another job"})
    assert cancelled.status_code == 200, cancelled.text
    assert {status for _, status in deadlines(api, event).values()} == {"cancelled"}
    at(hub_live, clock, event, 24 * 60 + 6)
    assert types(hub_live, tenant_id) == []


def test_attendance_is_refused_when_the_request_is_made_not_when_someone_books(hub_live, tenant, sandbox):
    _, api = tenant
    who = person(api, sandbox)
    r = offer(api, who.user_id, conferencing="none", attendance={})
    assert (r.status_code, r.json()["code"]) == (422, "attendance_unavailable")
    r = offer(api, who.user_id, attendance={"grace_minutes": 0})
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    r = offer(api, who.user_id, attendance={"grace_minutes": 5, "late_after_minutes": 6})
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    r = offer(api, who.user_id, attendance={"candidate_email": "someone@else.example"})  # the booker is watched
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    meet = person(api, sandbox, connect_zoom=False)  # Meet, but the tenant has not turned attendance on
    r = offer(api, meet.user_id, conferencing="google_meet", attendance={})
    assert (r.status_code, r.json()["code"], r.json()["cause"]) == (422, "attendance_unavailable", "scopes_missing")
    listed = api.get("/v1/scheduling-requests", params={"organizer": who.user_id}).json()["scheduling_requests"]
    assert listed == []
    plain = offer(api, who.user_id)
    assert plain.status_code == 201 and plain.json()["attendance"] is None
    event = book(api, plain.json())
    assert api.get(f"/v1/events/{event['id']}/attendance").status_code == 404
