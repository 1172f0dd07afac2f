"""The one-winner rule with real concurrent requests against a live hub, and expiry and hold
release driven through the service functions the background jobs call, with a fake clock."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
import requests

from hub.storage.models import SchedulingHold
from tests.e2e.scheduling_support import at, holds_at_provider, interviewer, slot
from tests.e2e.support import Api


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
    # expire_due looks at every tenant; other tests' requests may expire here too.
    assert request["id"] not in scheduling.expire_due(at(9))  # expires_at defaults to the end of the last slot
    # Microsoft refuses the first deletions: the holds must stay on record and be retried.
    sandbox.fault("microsoft", "server_error", email=people[1]["email"], times=8)
    later = at(10, 30)
    assert request["id"] in scheduling.expire_due(later)
    assert request["id"] not in scheduling.expire_due(later)  # once
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


@pytest.mark.postgres_only
def test_one_winner_across_gunicorn_workers(api, sandbox, live_hub, database_url):
    """Several gunicorn worker processes on PostgreSQL: the request row lock, not a process
    lock, keeps it to one booking."""
    if database_url.startswith("sqlite"):
        pytest.skip("processes share the one-winner rule through PostgreSQL row locks; SQLite runs one process")
    people = [interviewer(api, sandbox, "google", "gun"), interviewer(api, sandbox, "microsoft", "nic")]
    request = _offer(api, people, 6, [slot(h) for h in range(8, 14)])
    settings = live_hub.hub.settings
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "HUB_DATABASE_URL": database_url, "HUB_SANDBOX_URL": settings.sandbox_url,
           "HUB_PUBLIC_URL": settings.public_url, "HUB_ENCRYPTION_KEYS": settings.encryption_keys,
           "HUB_WEBHOOK_WORKER": "false", "HUB_LOG_LEVEL": "WARNING", "HUB_LOG_JSON": "false"}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "4", "-b", f"127.0.0.1:{port}",
                               "hub.wsgi:create()"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(base + "/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:  # not listening or still booting
                time.sleep(0.2)
        workers = Api(base, api.key)
        results = race(workers, request, request["slots"][0]["id"])
    finally:
        server.terminate()
        server.wait(30)
    assert sorted(results) == [(200, None)] + [(409, "slot_taken")] * 5, results
    interviews = [e for e in sandbox.events("google", people[0]["email"]) if e.get("summary") == "Race"]
    assert len(interviews) == 1


def test_a_hold_whose_id_was_never_recorded_is_found_by_its_handle_and_removed(api, sandbox, live_hub):
    """As after a crash between the provider's answer and the commit: the row is `placing` with
    no event id. The periodic release finds the event by re-sending its idempotency handle."""
    people = [interviewer(api, sandbox, "google", "lost"), interviewer(api, sandbox, "microsoft", "lena")]
    request = _offer(api, people, 1, [slot(16)])
    assert [len(holds_at_provider(sandbox, p)) for p in people] == [1, 1]
    hub = live_hub.hub
    with hub.db.session() as session:
        for hold in session.query(SchedulingHold).filter_by(request_id=request["id"]):
            hold.status, hold.provider_event_id = "placing", None
    scheduling = live_hub.app.extensions["hub_services"].scheduling
    assert scheduling.release_pending_holds(hub.clock() + timedelta(minutes=1)) >= 0  # not stale yet
    assert [len(holds_at_provider(sandbox, p)) for p in people] == [1, 1]
    scheduling.release_pending_holds(hub.clock() + timedelta(minutes=11))
    assert [holds_at_provider(sandbox, p) for p in people] == [[], []]
    with hub.db.session() as session:
        assert {h.status for h in session.query(SchedulingHold).filter_by(request_id=request["id"])} == {"released"}


def test_the_expiry_job_is_recorded_with_the_request_and_ends_it_when_run(api, sandbox, live_hub):
    from sqlalchemy import select

    from hub.jobs.catalog import JOBS, run_stored_job
    from hub.storage.models import Job
    people = [interviewer(api, sandbox, "google", "job")]
    request = _offer(api, people, 1, [slot(17)])
    hub = live_hub.hub
    with hub.db.session() as session:
        [job] = session.execute(select(Job).where(Job.name == "scheduling.expire",
                                                  Job.payload["request_id"].as_string() == request["id"])).scalars()
        job_id, run_at = job.id, job.run_at
    assert run_at == at(17, 30)  # the end of the last slot
    assert "scheduling.sweep" in JOBS and JOBS["scheduling.sweep"].every is not None
    real_clock = hub.clock
    hub.clock = lambda: at(17, 31)
    try:
        run_stored_job(hub, {"job_id": job_id})
    finally:
        hub.clock = real_clock
    state = api.get(f"/v1/scheduling-requests/{request['id']}").json()
    assert state["status"] == "expired" and state["holds"] == []
    assert holds_at_provider(sandbox, people[0]) == []
