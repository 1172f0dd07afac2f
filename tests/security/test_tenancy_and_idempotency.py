"""Checked where the effect lands: another tenant's PATCH/DELETE never reaches the provider
event; an Idempotency-Key in flight answers 409 and a failed first attempt can be retried at
once; a failed calendar PATCH moves the Zoom meeting back."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from hub.errors import Conflict
from hub.problems import problem_of
from hub.services.directory import create_api_key
from hub.services.idempotency import IdempotencyStore
from tests.e2e.support import Api, connect
from tests.e2e.zoom_support import event_body, meetings
from tests.e2e.zoom_support import person as zoom_person

DAY = "2026-03-02"


@pytest.fixture
def ada(api, sandbox):
    tag = uuid.uuid4().hex[:8]
    email = f"ada.{tag}@example.com"
    sandbox.account("google", email, timezone="Europe/Stockholm")
    assert api.put(f"/v1/users/ada-{tag}", json={"email": email}).status_code == 201
    assert connect(api, f"ada-{tag}", "google", email).status == "connected"
    return {"user_id": f"ada-{tag}", "email": email}


def provider_event(sandbox, email: str, event_id: str) -> dict:
    [found] = [e for e in sandbox.events("google", email) if e["id"] == event_id]
    return found


def test_another_tenants_patch_and_delete_never_reach_the_provider_event(api, sandbox, ada, live_hub):
    created = api.post("/v1/events", json={"organizer": ada["user_id"], "title": "Mine", "conferencing": "none",
                                           "start": f"{DAY}T09:00:00Z", "end": f"{DAY}T09:30:00Z"})
    assert created.status_code == 201, created.text
    event = created.json()
    provider_id = event["calendar"]["event_id"]
    before = provider_event(sandbox, ada["email"], provider_id)
    mark = max((e["id"] for e in sandbox.requests_log("google")), default=0)

    other = Api(live_hub.url, create_api_key(live_hub.hub.db, f"other-{uuid.uuid4().hex[:6]}")[1])
    moved = other.patch(f"/v1/events/{event['id']}", json={"title": "Hijacked", "start": f"{DAY}T12:00:00Z",
                                                             "end": f"{DAY}T12:30:00Z"})
    assert moved.status_code == 404
    assert other.delete(f"/v1/events/{event['id']}").status_code == 404

    after = provider_event(sandbox, ada["email"], provider_id)
    assert after == before  # same title, times and status at the provider
    writes = [e for e in sandbox.requests_log("google") if e["id"] > mark and e["method"] in ("PATCH", "PUT", "DELETE")]
    assert writes == []
    assert api.get(f"/v1/events/{event['id']}").json()["status"] == "confirmed"


def test_a_key_in_flight_answers_409_and_a_failed_first_attempt_can_retry_at_once(database):
    store = IdempotencyStore(database, timedelta(hours=24))
    tenant_id, _ = create_api_key(database, f"idem-{uuid.uuid4().hex[:6]}")
    now = datetime.now(UTC)
    assert store.begin(tenant_id, "k1", "fp", now) is None  # first: go ahead
    with pytest.raises(Conflict) as in_flight:  # 409 at the API
        store.begin(tenant_id, "k1", "fp", now + timedelta(seconds=1))
    assert in_flight.value.code == "idempotency_in_progress"
    assert problem_of(in_flight.value).status == 409 and problem_of(in_flight.value).headers["Retry-After"]
    store.abandon(tenant_id, "k1")  # the first attempt failed
    assert store.begin(tenant_id, "k1", "fp", now + timedelta(seconds=2)) is None  # at once, no waiting
    store.complete(tenant_id, "k1", 201, {"id": "evt_1"})
    replay = store.begin(tenant_id, "k1", "fp", now + timedelta(seconds=3))
    assert (replay.status, replay.body) == (201, {"id": "evt_1"})


def test_a_retry_after_a_failed_booking_works_at_once(api, sandbox, ada):
    body = {"organizer": ada["user_id"], "title": "Retry me", "conferencing": "none",
            "start": f"{DAY}T10:00:00Z", "end": f"{DAY}T10:30:00Z"}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    # Only the write fails: the sync the hub runs in the background reads the same calendar.
    sandbox.fault("google", "server_error", ada["email"], times=1, params={"method": "POST"})
    first = api.post("/v1/events", json=body, headers=key)
    assert first.status_code == 502, first.text
    second = api.post("/v1/events", json=body, headers=key)
    assert second.status_code == 201, second.text
    assert [e["summary"] for e in sandbox.events("google", ada["email"]) if e.get("summary") == "Retry me"] == ["Retry me"]


def test_a_failed_calendar_patch_moves_the_zoom_meeting_back(api, sandbox):
    who = zoom_person(api, sandbox)
    made = api.post("/v1/events", json=event_body(who, title="Move me"))
    assert made.status_code == 201, made.text
    event = made.json()
    [before] = meetings(sandbox, who.zoom_email)
    sandbox.fault("google", "server_error", who.calendar_email, times=1, params={"method": "PATCH"})
    moved = api.patch(f"/v1/events/{event['id']}", json={"start": f"{DAY}T16:00:00+01:00",
                                                         "end": f"{DAY}T17:00:00+01:00"})
    assert moved.status_code == 502, moved.text
    [after] = meetings(sandbox, who.zoom_email)
    assert (after["start_time"], after["duration"]) == (before["start_time"], before["duration"])
    patches = [e for e in sandbox.requests_log("zoom", f"/zoom/v2/meetings/{before['id']}") if e["method"] == "PATCH"]
    assert len(patches) == 2  # moved first, then moved back — not simply left alone
    assert api.get(f"/v1/events/{event['id']}").json()["start"] == event["start"]
