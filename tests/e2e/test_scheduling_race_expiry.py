"""The one-winner rule with real concurrent requests against a live hub, and expiry and hold
release driven through the service functions the background jobs call, with a fake clock."""
from __future__ import annotations

import threading
from datetime import timedelta

from hub.storage.models import SchedulingHold
from tests.e2e.scheduling_support import at, holds_at_provider, interviewer, slot


def _offer(api, people, n_candidates, slots):
    body = {"organizer": people[0]["user_id"], "interviewers": [p["user_id"] for p in people[1:]],
            "title": "Race", "duration_minutes": 30, "conferencing": "none",
            "candidates": [{"email": f"c{i}@cand.example"} for i in range(n_candidates)], "slots": slots}
    r = api.post("/v1/scheduling-requests", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def race(api, request: dict, slot_id: str) -> list[tuple[int, str | None]]:
    """Every candidate books the same slot at the same moment."""
    gate = threading.Barrier(len(request["candidates"]))
    results: list[tuple[int, str | None]] = []

    def go(cid: str) -> None:
        gate.wait()
        r = api.post(f"/v1/scheduling-requests/{request['id']}/candidates/{cid}/book", json={"slot_id": slot_id})
        results.append((r.status_code, r.json().get("code")))

    threads = [threading.Thread(target=go, args=(c["id"],)) for c in request["candidates"]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_two_candidates_one_slot_exactly_one_wins(api, sandbox):
    people = [interviewer(api, sandbox, "google", "rae"), interviewer(api, sandbox, "google", "sam")]
    request = _offer(api, people, 4, [slot(9), slot(10), slot(11), slot(12)])
    results = race(api, request, request["slots"][0]["id"])
    assert sorted(results) == [(200, None)] + [(409, "slot_taken")] * 3
    interviews = [e for e in sandbox.events("google", people[0]["email"]) if e.get("summary") == "Race"]
    assert len(interviews) == 1


def test_expiry_releases_holds_and_a_failed_release_is_retried(api, sandbox, live_hub):
    people = [interviewer(api, sandbox, "google", "exp"), interviewer(api, sandbox, "microsoft", "max")]
    request = _offer(api, people, 1, [slot(9), slot(10)])
    hub = live_hub.hub
    scheduling = live_hub.app.extensions["hub_services"].scheduling
    assert scheduling.expire_due(at(9)) == []  # expires_at defaults to the end of the last slot
    # Microsoft refuses the first deletions: the holds must stay on record and be retried.
    sandbox.fault("microsoft", "server_error", email=people[1]["email"], times=8)
    later = at(10, 30)
    assert scheduling.expire_due(later) == [request["id"]]
    assert scheduling.expire_due(later) == []  # once
    state = api.get(f"/v1/scheduling-requests/{request['id']}").json()
    assert state["status"] == "expired"
    assert len(holds_at_provider(sandbox, people[0])) == 0
    assert len(holds_at_provider(sandbox, people[1])) == 2
    assert [h["status"] for h in state["holds"]] == ["releasing", "releasing"]  # agrees with the calendar
    deadline = later + timedelta(hours=6)
    moment = later
    while moment < deadline and [h for h in api.get(f"/v1/scheduling-requests/{request['id']}").json()["holds"]]:
        scheduling.release_pending_holds(moment)
        moment += timedelta(minutes=10)
    assert holds_at_provider(sandbox, people[1]) == []
    assert api.get(f"/v1/scheduling-requests/{request['id']}").json()["holds"] == []
    with hub.db.session() as session:
        rows = session.query(SchedulingHold).filter_by(request_id=request["id"]).all()
        assert {r.status for r in rows} == {"released"} and max(r.attempts for r in rows) >= 1
    book = api.post(f"/v1/scheduling-requests/{request['id']}/candidates/{request['candidates'][0]['id']}/book",
                    json={"slot_id": request["slots"][0]["id"]})
    assert book.status_code == 410 and book.json()["code"] == "request_ended"
