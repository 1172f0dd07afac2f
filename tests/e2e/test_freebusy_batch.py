"""Live free/busy with several Google participants goes to Google as one batch request
(`/google/batch/calendar/v3`), over HTTP against the sandbox whose request log is the witness:
one round trip for the Google participants, Microsoft's read per person as before, every
participant's answer the one its own single read gives, and one person's refused token failing
that person alone — an expired one refreshed and read again by itself, a revoked one reported
(and its connection marked) exactly as a single read would."""
from __future__ import annotations

import json
import uuid

import pytest

from tests.e2e.scheduling_support import at, iso
from tests.e2e.support import connect

RANGE = {"start": iso(at(8)), "end": iso(at(18))}
BATCH = "/google/batch/calendar/v3"
FREEBUSY = "/google/calendar/v3/freeBusy"


@pytest.fixture
def people(api, sandbox):
    """make(provider, n) → n connected hub users, each busy at a different hour."""
    def make(provider: str, count: int) -> list[dict]:
        out = []
        for i in range(count):
            tag = uuid.uuid4().hex[:8]
            email = f"batch.{tag}@acme.example"
            sandbox.account(provider, email, timezone="UTC")
            sandbox.busy(provider, email, iso(at(9 + i)), iso(at(9 + i, 30)))
            user_id = f"batch-{tag}"
            assert api.put(f"/v1/users/{user_id}", json={"email": email, "timezone": "UTC"}).status_code == 201
            result = connect(api, user_id, provider, email)
            assert result.status == "connected", result
            out.append({"user_id": user_id, "email": email, "provider": provider,
                        "connection_id": result.params["connection_id"]})
        return out
    return make


def _log(sandbox) -> list[dict]:
    r = sandbox.http.get(f"{sandbox.base}/_control/requests", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def _mark(sandbox) -> int:
    entries = _log(sandbox)
    return entries[-1]["id"] if entries else 0


def _about(sandbox, since: int, people: list[dict]) -> list[dict]:
    """Requests after `since` that name one of `people` (freeBusy bodies name the calendar;
    a batch's raw body names all of its parts'); the session hub's background sync of other
    people is left out."""
    emails = [p["email"] for p in people]
    return [e for e in _log(sandbox) if e["id"] > since
            and any(m in json.dumps([e["path"], e["query"], e["body"]]) for m in emails)]


def _freebusy(api, people: list[dict]) -> dict:
    r = api.post("/v1/freebusy", json={"users": [p["user_id"] for p in people], **RANGE, "consistency": "live"})
    assert r.status_code == 200, r.text
    return r.json()["users"]


def _without_time(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k != "fresh_as_of"}


def test_google_participants_are_read_in_one_batch_with_the_answers_of_single_reads(api, sandbox, people):
    google, microsoft = people("google", 5), people("microsoft", 2)
    everyone = google + microsoft
    mark = _mark(sandbox)

    together = _freebusy(api, everyone)

    seen = _about(sandbox, mark, everyone)
    batches = [e for e in seen if e["path"] == BATCH]
    assert len(batches) == 1
    parts = [e for e in seen if e.get("batch")]
    assert sorted(e["body"]["items"][0]["id"] for e in parts) == sorted(p["email"] for p in google)
    assert [e for e in seen if e["path"] == FREEBUSY and not e.get("batch")] == []  # no single Google read
    graph = [e for e in seen if e["provider"] == "microsoft" and "getSchedule" in e["path"]]
    assert len(graph) == len(microsoft)  # Microsoft: one call per person, as before

    assert all(together[p["user_id"]]["status"] == "ok" for p in everyone), together
    alone = {p["user_id"]: _freebusy(api, [p])[p["user_id"]] for p in everyone}  # one person: a single read
    assert {u: _without_time(a) for u, a in together.items()} == {u: _without_time(a) for u, a in alone.items()}
    assert [together[p["user_id"]]["busy"] for p in google] == [
        [{"start": iso(at(9 + i)), "end": iso(at(9 + i, 30)), "status": "busy"}] for i in range(5)]


def test_availability_reads_its_google_participants_in_one_batch(api, sandbox, people):
    google, microsoft = people("google", 4), people("microsoft", 1)
    mark = _mark(sandbox)
    r = api.post("/v1/availability", json={
        "participants": [{"user_id": p["user_id"]} for p in google + microsoft], **RANGE,
        "duration_minutes": 30, "interval_minutes": 30, "consistency": "live"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["complete"] and all(p["source"] == "live" for p in body["participants"].values())
    # Someone is busy in the first half of every hour from 9:00 to 12:30 (working hours from 9).
    starts = [s["start"] for s in body["slots"]]
    assert starts[:5] == [iso(at(9, 30)), iso(at(10, 30)), iso(at(11, 30)), iso(at(12, 30)), iso(at(13))]
    seen = _about(sandbox, mark, google)
    assert len([e for e in seen if e["path"] == BATCH]) == 1
    assert [e for e in seen if e["path"] == FREEBUSY and not e.get("batch")] == []


def test_an_expired_token_in_a_batch_is_refreshed_and_read_again_alone(api, sandbox, people):
    google = people("google", 3)
    stale = google[1]
    sandbox.fault("google", "expire_access_tokens", stale["email"])  # refresh still works
    mark = _mark(sandbox)

    answers = _freebusy(api, google)

    assert all(answers[p["user_id"]]["status"] == "ok" for p in google), answers
    assert answers[stale["user_id"]]["busy"] == [{"start": iso(at(10)), "end": iso(at(10, 30)), "status": "busy"}]
    seen = _about(sandbox, mark, [stale])
    # Its part refused (and re-sent once by the SDK), then the hub's refresh, then one single read.
    assert [e["path"] for e in seen if not e.get("batch")] == [BATCH, BATCH, FREEBUSY]
    refreshes = [e for e in _log(sandbox) if e["id"] > mark and e["path"] == "/google/token"]
    assert len(refreshes) == 1


def test_a_revoked_grant_in_a_batch_fails_that_participant_alone(api, sandbox, people):
    google = people("google", 3)
    dead = google[0]
    sandbox.fault("google", "invalid_grant", dead["email"])  # access tokens dead, refresh refused

    answers = _freebusy(api, google)

    assert [answers[p["user_id"]]["status"] for p in google] == ["error", "ok", "ok"]
    error = answers[dead["user_id"]]["error"]
    assert (error["kind"], error["cause"]) == ("auth_revoked", "token_revoked")
    conn = api.get(f"/v1/users/{dead['user_id']}/connections")
    assert conn.status_code == 200, conn.text
    assert [c["status"] for c in conn.json()["connections"]] == ["needs_reauth"]
    # Read again: the same error, now from the connection's record, without a provider call.
    assert _freebusy(api, google)[dead["user_id"]]["error"] == error
