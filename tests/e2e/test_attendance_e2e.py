"""Attendance on Zoom, end to end: a backend books an interview with attendance over HTTP, people
join the meeting in the sandbox's Zoom (which sends its signed participant webhooks to the hub
and serves the participants API), and the deadline timers run on a fake clock — never a sleep.
What the backend would receive is read from the outbox, one row per webhook."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from hub.services.directory import create_api_key
from hub.storage.models import WebhookDelivery
from tests.e2e.attendance_support import START, Clock
from tests.e2e.support import Api, start_hub
from tests.e2e.zoom_support import Person, person

SECRET = "zoom-webhook-secret-attendance"


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def hub_live(database_url, sandbox_url, clock):
    server, live = start_hub(database_url, sandbox_url, zoom_webhook_secret=SECRET, webhook_worker=False)
    live.hub.clock = clock
    yield live
    server.shutdown()
    live.hub.close()


@pytest.fixture
def tenant(hub_live, sandbox, clock):
    clock.now = START - timedelta(hours=1)
    r = sandbox.http.post(f"{sandbox.base}/_control/webhooks", timeout=10,
                          json={"provider": "zoom", "url": f"{hub_live.url}/webhooks/zoom", "secret": SECRET})
    assert r.status_code == 201, r.text
    tenant_id, key = create_api_key(hub_live.hub.db, f"att-{uuid.uuid4().hex[:8]}")
    api = Api(hub_live.url, key)
    r = api.post("/v1/webhook-endpoints", json={"url": "https://backend.example/hooks", "events": ["*"]})
    assert r.status_code == 201, r.text
    return tenant_id, api


def book(api: Api, who: Person, *, candidate_name: str = "Grace Hopper", start: datetime = START,
         **attendance) -> dict:
    body = {"organizer": who.user_id, "title": "Interview: Grace", "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(), "conferencing": "zoom",
            "attendees": [{"email": "grace@candidates.example", "name": candidate_name}],
            "attendance": {"grace_minutes": 10, "late_after_minutes": 3, **attendance}}
    r = api.post("/v1/events", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def join(sandbox, event: dict, name: str, minute: float, email: str | None = None, **extra) -> dict:
    body = {"name": name, "joined_at": (START + timedelta(minutes=minute)).isoformat(), **extra}
    if email is not None:
        body["email"] = email
    r = sandbox.http.post(f"{sandbox.base}/_control/meetings/zoom/{event['conferencing']['meeting_id']}/participants",
                          json=body, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()


def at(hub_live, clock: Clock, event: dict, minute: float) -> None:
    """Time passes to start + `minute`, and the timer job runs."""
    clock.now = START + timedelta(minutes=minute)
    hub_live.app.extensions["hub_services"].attendance.check(event["id"], clock.now)


def sent(hub_live, tenant_id: str) -> list[tuple[str, str]]:
    import json
    with hub_live.hub.db.session() as s:
        rows = s.execute(select(WebhookDelivery).where(WebhookDelivery.tenant_id == tenant_id,
                                                       WebhookDelivery.event_type.like("attendance.%"))
                         .order_by(WebhookDelivery.created_at, WebhookDelivery.id)).scalars()
        return [(r.event_type, json.loads(r.payload)["data"].get("source")) for r in rows]


def types(hub_live, tenant_id: str) -> list[str]:
    return [t for t, _ in sent(hub_live, tenant_id)]


def test_on_time_candidate_is_reported_at_once_and_nothing_else(hub_live, tenant, sandbox, clock):
    tenant_id, api = tenant
    who = person(api, sandbox)
    event = book(api, who)
    assert api.get(f"/v1/events/{event['id']}/attendance").json()["status"] == "scheduled"
    join(sandbox, event, "Ada Lovelace", -2, who.zoom_email)
    clock.now = START + timedelta(minutes=1)
    delivered = join(sandbox, event, "Grace Hopper", 1, "grace@candidates.example")
    assert [w["status"] for w in delivered["webhooks"]] == [200]  # signed, verified, recorded
    assert sent(hub_live, tenant_id) == [("attendance.candidate_joined", "zoom_webhooks")]
    at(hub_live, clock, event, 3)
    at(hub_live, clock, event, 10)
    assert types(hub_live, tenant_id) == ["attendance.candidate_joined"]
    report = api.get(f"/v1/events/{event['id']}/attendance").json()
    assert (report["status"], report["candidate"], report["source"]) == ("in_progress", "on_time", "zoom_api")
    roles = {p["role"]: p for p in report["participants"]}
    assert roles["candidate"]["email"] == "grace@candidates.example" and roles["candidate"]["minutes_late"] == 1
    assert roles["interviewer"]["email"] == who.calendar_email
    assert [d["status"] for d in report["deadlines"]] == ["done", "done"]


def test_late_candidate(hub_live, tenant, sandbox, clock):
    tenant_id, api = tenant
    who = person(api, sandbox)
    event = book(api, who)
    join(sandbox, event, "Ada Lovelace", 0, who.zoom_email)
    at(hub_live, clock, event, 3)
    assert types(hub_live, tenant_id) == ["attendance.candidate_late"]
    assert api.get(f"/v1/events/{event['id']}/attendance").json()["candidate"] == "late"
    clock.now = START + timedelta(minutes=5)
    join(sandbox, event, "Grace Hopper", 5, "grace@candidates.example")
    at(hub_live, clock, event, 10)
    assert types(hub_live, tenant_id) == ["attendance.candidate_late", "attendance.candidate_joined"]
    assert api.get(f"/v1/events/{event['id']}/attendance").json()["candidate"] == "late"


def test_no_show_is_confirmed_by_reading_zoom(hub_live, tenant, sandbox, clock):
    tenant_id, api = tenant
    who = person(api, sandbox)
    event = book(api, who)
    join(sandbox, event, "Ada Lovelace", 0, who.zoom_email)
    at(hub_live, clock, event, 3)
    at(hub_live, clock, event, 10)
    assert types(hub_live, tenant_id) == ["attendance.candidate_late", "attendance.no_show"]
    reads = sandbox.requests_log("zoom", f"/zoom/v2/metrics/meetings/{event['conferencing']['meeting_id']}")
    assert len(reads) == 2  # each deadline read the live participant list
    report = api.get(f"/v1/events/{event['id']}/attendance").json()
    assert (report["candidate"], report["status"]) == ("no_show", "waiting")
    at(hub_live, clock, event, 11)  # the timers ran once: nothing is sent twice
    hub_live.app.extensions["hub_services"].attendance.evaluate_due(START + timedelta(minutes=12))
    assert types(hub_live, tenant_id) == ["attendance.candidate_late", "attendance.no_show"]


def test_candidate_joining_at_minute_nine_is_not_a_no_show(hub_live, tenant, sandbox, clock):
    tenant_id, api = tenant
    who = person(api, sandbox)
    event = book(api, who)
    join(sandbox, event, "Ada Lovelace", 0, who.zoom_email)
    at(hub_live, clock, event, 3)
    clock.now = START + timedelta(minutes=9)
    join(sandbox, event, "Grace Hopper", 9, "grace@candidates.example")
    at(hub_live, clock, event, 10)
    assert types(hub_live, tenant_id) == ["attendance.candidate_late", "attendance.candidate_joined"]


def test_lost_webhook_is_caught_by_the_deadline_poll(hub_live, tenant, sandbox, clock):
    tenant_id, api = tenant
    who = person(api, sandbox)
    event = book(api, who)
    sandbox.fault("zoom", "webhook_lost", who.zoom_email)  # every delivery of this host is lost
    join(sandbox, event, "Ada Lovelace", 0, who.zoom_email)
    clock.now = START + timedelta(minutes=2)
    lost = join(sandbox, event, "Grace Hopper", 2, "grace@candidates.example")
    assert [w["status"] for w in lost["webhooks"]] == ["lost"]
    assert types(hub_live, tenant_id) == []
    at(hub_live, clock, event, 3)
    assert sent(hub_live, tenant_id) == [("attendance.candidate_joined", "zoom_api")]
    at(hub_live, clock, event, 10)
    assert types(hub_live, tenant_id) == ["attendance.candidate_joined"]
    sandbox.http.delete(f"{sandbox.base}/_control/faults", params={"provider": "zoom"}, timeout=10)


def test_missing_interviewer_is_reported(hub_live, tenant, sandbox, clock):
    tenant_id, api = tenant
    who = person(api, sandbox)
    event = book(api, who)
    join(sandbox, event, "Grace Hopper", 0, "grace@candidates.example")
    at(hub_live, clock, event, 3)
    at(hub_live, clock, event, 10)
    assert types(hub_live, tenant_id) == ["attendance.candidate_joined", "attendance.interviewer_no_show"]
    with hub_live.hub.db.session() as s:
        row = s.execute(select(WebhookDelivery).where(
            WebhookDelivery.tenant_id == tenant_id,
            WebhookDelivery.event_type == "attendance.interviewer_no_show")).scalar_one()
    assert who.calendar_email in row.payload


def test_guest_with_empty_email_is_matched_by_name(hub_live, tenant, sandbox, clock):
    tenant_id, api = tenant
    who = person(api, sandbox)
    event = book(api, who)
    join(sandbox, event, "Ada Lovelace", 0, who.zoom_email)
    join(sandbox, event, "grace  HOPPER", 1, "")  # Zoom guests often come without an email
    key = api.get(f"/v1/events/{event['id']}/attendance").json()["watching"]["key"]
    join(sandbox, event, "Guest 7", 2, "", customer_key=key)  # a second device, with the hub's key
    at(hub_live, clock, event, 10)
    assert "attendance.no_show" not in types(hub_live, tenant_id)
    report = api.get(f"/v1/events/{event['id']}/attendance").json()
    assert report["candidate"] == "on_time"
    assert {p["role"] for p in report["participants"]} == {"candidate", "interviewer"}


def test_rescheduled_event_moves_the_deadlines(hub_live, tenant, sandbox, clock):
    tenant_id, api = tenant
    who = person(api, sandbox)
    event = book(api, who)
    later = START + timedelta(days=1)
    r = api.patch(f"/v1/events/{event['id']}", json={"start": later.isoformat(),
                                                     "end": (later + timedelta(hours=1)).isoformat()})
    assert r.status_code == 200, r.text
    deadlines = api.get(f"/v1/events/{event['id']}/attendance").json()["deadlines"]
    assert sorted(d["due_at"] for d in deadlines) == ["2026-03-03T13:03:00Z", "2026-03-03T13:10:00Z"]
    at(hub_live, clock, event, 11)  # the old time passes: nothing is due
    assert types(hub_live, tenant_id) == []
    at(hub_live, clock, event, 24 * 60 + 10)
    assert types(hub_live, tenant_id) == ["attendance.candidate_late", "attendance.no_show",
                                          "attendance.interviewer_no_show"]


def test_cancelled_event_stops_the_timers(hub_live, tenant, sandbox, clock):
    tenant_id, api = tenant
    who = person(api, sandbox)
    event = book(api, who)
    assert api.delete(f"/v1/events/{event['id']}").status_code == 204
    at(hub_live, clock, event, 11)
    assert types(hub_live, tenant_id) == []
    report = api.get(f"/v1/events/{event['id']}/attendance").json()
    assert report["status"] == "cancelled" and {d["status"] for d in report["deadlines"]} == {"cancelled"}


def test_attendance_needs_a_meeting_and_a_candidate(hub_live, tenant, sandbox):
    _, api = tenant
    who = person(api, sandbox)
    body = {"organizer": who.user_id, "title": "No link", "start": START.isoformat(),
            "end": (START + timedelta(hours=1)).isoformat(), "conferencing": "none",
            "attendees": [{"email": "grace@candidates.example"}], "attendance": {}}
    r = api.post("/v1/events", json=body)
    assert (r.status_code, r.json()["code"]) == (422, "attendance_unavailable")
    r = api.post("/v1/events", json={**body, "conferencing": "zoom", "attendees": []})
    assert (r.status_code, r.json()["code"]) == (422, "attendance_candidate_missing")
    r = api.post("/v1/events", json={**body, "attendance": {"grace_minutes": 0}})
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"
    assert not [m for m in sandbox.events("google", who.calendar_email) if m.get("summary") == "No link"]


def meet_join(sandbox, event: dict, name: str, minute: float, email: str | None = None) -> dict:
    body = {"name": name, "joined_at": (START + timedelta(minutes=minute)).isoformat()}
    if email:
        body["email"] = email
    code = event["conferencing"]["join_url"].rsplit("/", 1)[1]
    r = sandbox.http.post(f"{sandbox.base}/_control/meetings/google/{code}/participants", json=body, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()


def attendance_on(hub_live, tenant_id: str) -> None:
    from hub.services.tenants import set_attendance
    from hub.storage.models import Tenant
    with hub_live.hub.db.session() as s:
        name = s.get(Tenant, tenant_id).name
    set_attendance(hub_live.hub.db, name, True)


def test_meet_attendance_needs_the_tenant_to_turn_it_on(hub_live, tenant, sandbox):
    tenant_id, api = tenant
    who = person(api, sandbox, connect_zoom=False)
    body = {"organizer": who.user_id, "title": "Interview on Meet", "start": START.isoformat(),
            "end": (START + timedelta(hours=1)).isoformat(), "conferencing": "google_meet",
            "attendees": [{"email": "grace@candidates.example"}], "attendance": {}}
    r = api.post("/v1/events", json=body)
    assert (r.status_code, r.json()["code"], r.json()["cause"]) == (422, "attendance_unavailable", "scopes_missing")
    consents = sandbox.requests_log("google", "/google/o/oauth2/v2/auth")
    assert not any("meetings.space" in str(e["query"]) for e in consents if who.calendar_email in str(e["query"]))
    attendance_on(hub_live, tenant_id)
    again = person(api, sandbox, connect_zoom=False)  # connects after: the consent asks for Meet
    assert any("meetings.space.readonly" in str(e["query"]) for e in sandbox.requests_log(
        "google", "/google/o/oauth2/v2/auth") if again.calendar_email in str(e["query"]))
    r = api.post("/v1/events", json={**body, "organizer": again.user_id})
    assert r.status_code == 201, r.text


def test_meet_attendance_comes_from_conference_records(hub_live, tenant, sandbox, clock):
    tenant_id, api = tenant
    attendance_on(hub_live, tenant_id)
    who = person(api, sandbox, connect_zoom=False)
    body = {"organizer": who.user_id, "title": "Interview on Meet", "start": START.isoformat(),
            "end": (START + timedelta(hours=1)).isoformat(), "conferencing": "google_meet",
            "attendees": [{"email": "grace@candidates.example", "name": "Grace Hopper"}],
            "attendance": {"grace_minutes": 10, "late_after_minutes": 3}}
    r = api.post("/v1/events", json=body)
    assert r.status_code == 201, r.text
    event = r.json()
    # The interviewer is signed in to Google (recognised by account id); the candidate is a guest.
    joined = meet_join(sandbox, event, "Ada L.", -1, who.calendar_email)
    assert "signedinUser" in joined["participant"]
    at(hub_live, clock, event, 3)
    clock.now = START + timedelta(minutes=4)
    meet_join(sandbox, event, "Grace Hopper", 4)
    at(hub_live, clock, event, 10)
    assert sent(hub_live, tenant_id) == [("attendance.candidate_late", "meet_api"),
                                         ("attendance.candidate_joined", "meet_api")]
    report = api.get(f"/v1/events/{event['id']}/attendance").json()
    assert (report["source"], report["candidate"]) == ("meet_api", "late")
    assert {p["role"] for p in report["participants"]} == {"candidate", "interviewer"}
    assert sandbox.requests_log("google", "/google/meet/v2/conferenceRecords")


def test_meet_no_show(hub_live, tenant, sandbox, clock):
    tenant_id, api = tenant
    attendance_on(hub_live, tenant_id)
    who = person(api, sandbox, connect_zoom=False)
    body = {"organizer": who.user_id, "title": "Interview on Meet", "start": START.isoformat(),
            "end": (START + timedelta(hours=1)).isoformat(), "conferencing": "google_meet",
            "attendees": [{"email": "grace@candidates.example", "name": "Grace Hopper"}], "attendance": {}}
    event = api.post("/v1/events", json=body).json()
    meet_join(sandbox, event, "Ada", 0, who.calendar_email)
    at(hub_live, clock, event, 3)
    at(hub_live, clock, event, 10)
    assert types(hub_live, tenant_id) == ["attendance.candidate_late", "attendance.no_show"]


def test_meet_is_read_every_minute_so_a_join_is_told_before_the_late_deadline(hub_live, tenant, sandbox, clock):
    """Meet pushes nothing: from the start the hub reads the participant list every minute (on
    the attendance.evaluate tick, here every 15 s) until the candidate is seen."""
    tenant_id, api = tenant
    attendance_on(hub_live, tenant_id)
    who = person(api, sandbox, connect_zoom=False)
    body = {"organizer": who.user_id, "title": "Interview on Meet", "start": START.isoformat(),
            "end": (START + timedelta(hours=1)).isoformat(), "conferencing": "google_meet",
            "attendees": [{"email": "grace@candidates.example", "name": "Grace Hopper"}],
            "attendance": {"grace_minutes": 10, "late_after_minutes": 3}}
    event = api.post("/v1/events", json=body).json()
    meet_join(sandbox, event, "Ada", 0, who.calendar_email)
    reads = lambda: len(sandbox.requests_log("google", "/google/meet/v2/conferenceRecords"))  # noqa: E731
    joined_at, told_at = START + timedelta(minutes=1, seconds=45), None
    for tick in range(0, 12):  # 0:00 … 2:45
        clock.now = START + timedelta(seconds=15 * tick)
        if clock.now == joined_at:
            meet_join(sandbox, event, "Grace Hopper", 1.75)
        hub_live.app.extensions["hub_services"].attendance.check(event["id"], clock.now)
        if told_at is None and types(hub_live, tenant_id):
            told_at, reads_when_told = clock.now, reads()
    assert sent(hub_live, tenant_id) == [("attendance.candidate_joined", "meet_api")]
    assert told_at is not None and told_at - joined_at <= timedelta(seconds=75)  # a minute and a tick
    assert reads() == reads_when_told  # seen: the polling stopped
    at(hub_live, clock, event, 3)
    at(hub_live, clock, event, 10)
    assert types(hub_live, tenant_id) == ["attendance.candidate_joined"]  # neither late nor a no-show
    assert {d["kind"] for d in api.get(f"/v1/events/{event['id']}/attendance").json()["deadlines"]} == {
        "late", "deadline"}


def test_meet_polling_ends_at_the_grace_deadline_and_moves_with_the_event(hub_live, tenant, sandbox, clock):
    from hub.storage.models import AttendanceCheck

    tenant_id, api = tenant
    attendance_on(hub_live, tenant_id)
    who = person(api, sandbox, connect_zoom=False)
    body = {"organizer": who.user_id, "title": "Interview on Meet", "start": START.isoformat(),
            "end": (START + timedelta(hours=1)).isoformat(), "conferencing": "google_meet",
            "attendees": [{"email": "grace@candidates.example", "name": "Grace Hopper"}], "attendance": {}}
    event = api.post("/v1/events", json=body).json()

    def poll() -> tuple[datetime, str]:
        with hub_live.hub.db.session() as s:
            row = s.execute(select(AttendanceCheck).where(AttendanceCheck.event_id == event["id"],
                                                          AttendanceCheck.kind == "poll")).scalar_one()
            return row.due_at, row.status

    later = START + timedelta(days=1)
    r = api.patch(f"/v1/events/{event['id']}", json={"start": later.isoformat(),
                                                     "end": (later + timedelta(hours=1)).isoformat()})
    assert r.status_code == 200, r.text
    assert poll() == (later, "pending")  # the polling starts at the new start
    reads = lambda: len(sandbox.requests_log("google", "/google/meet/v2/conferenceRecords"))  # noqa: E731
    at(hub_live, clock, event, 24 * 60 + 5)
    assert poll() == (later + timedelta(minutes=6), "pending")
    before = reads()
    at(hub_live, clock, event, 24 * 60 + 10)  # the deadline reads; the poll stops without reading
    assert poll()[1] == "done" and reads() == before + 1
    at(hub_live, clock, event, 24 * 60 + 12)
    assert reads() == before + 1
    assert types(hub_live, tenant_id) == ["attendance.candidate_late", "attendance.no_show",
                                          "attendance.interviewer_no_show"]


def teams_event(api: Api, who: Person, start: datetime = START) -> dict:
    body = {"organizer": who.user_id, "title": "Interview on Teams", "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(), "conferencing": "teams",
            "attendees": [{"email": "grace@candidates.example", "name": "Grace Hopper"}],
            "attendance": {"grace_minutes": 10, "late_after_minutes": 3}}
    r = api.post("/v1/events", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def teams_join(sandbox, event: dict, name: str, minute: float, email: str = "") -> None:
    r = sandbox.http.post(f"{sandbox.base}/_control/meetings/microsoft/{event['calendar']['event_id']}/participants",
                          json={"name": name, "email": email, "joined_at": (START + timedelta(minutes=minute)).isoformat(),
                                "left_at": (START + timedelta(minutes=50)).isoformat()}, timeout=30)
    assert r.status_code == 201, r.text


def test_teams_attendance_comes_from_the_report_after_the_meeting(hub_live, tenant, sandbox, clock):
    tenant_id, api = tenant
    attendance_on(hub_live, tenant_id)
    who = person(api, sandbox, "microsoft", connect_zoom=False)
    event = teams_event(api, who)
    report = api.get(f"/v1/events/{event['id']}/attendance").json()
    assert report["live"] is False and report["source"] == "teams_report"
    assert {d["due_at"] for d in report["deadlines"]} == {"2026-03-02T14:00:00Z"}  # the meeting's end
    teams_join(sandbox, event, "Ada Lovelace", 0, who.calendar_email)
    teams_join(sandbox, event, "Grace Hopper", 5, "grace@candidates.example")
    at(hub_live, clock, event, 10)
    assert types(hub_live, tenant_id) == []  # Teams says nothing before the end
    at(hub_live, clock, event, 60)
    assert sent(hub_live, tenant_id) == [("attendance.candidate_joined", "teams_report"),
                                         ("attendance.candidate_late", "teams_report")]
    report = api.get(f"/v1/events/{event['id']}/attendance").json()
    assert (report["status"], report["candidate"]) == ("ended", "late")
    assert sandbox.requests_log("microsoft", "/microsoft/v1.0/me/onlineMeetings")


def test_teams_report_not_written_yet_is_asked_again_later(hub_live, tenant, sandbox, clock):
    tenant_id, api = tenant
    attendance_on(hub_live, tenant_id)
    who = person(api, sandbox, "microsoft", connect_zoom=False)
    future = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=30)
    event = teams_event(api, who, future)
    clock.now = future + timedelta(hours=1)
    services = hub_live.app.extensions["hub_services"]
    services.attendance.check(event["id"], clock.now)  # the sandbox's Teams has no report yet
    assert types(hub_live, tenant_id) == []
    deadlines = api.get(f"/v1/events/{event['id']}/attendance").json()["deadlines"]
    assert {d["status"] for d in deadlines} == {"pending"}
    assert min(d["due_at"] for d in deadlines) > (future + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_timers_running_at_once_send_each_webhook_once(hub_live, tenant, sandbox, clock):
    """Two job runners (or a runner and a retry) reach the same deadline together: the notice's
    unique key lets one message out."""
    from concurrent.futures import ThreadPoolExecutor

    tenant_id, api = tenant
    who = person(api, sandbox)
    event = book(api, who)
    join(sandbox, event, "Ada Lovelace", 0, who.zoom_email)
    clock.now = START + timedelta(minutes=10)
    service = hub_live.app.extensions["hub_services"].attendance
    with hub_live.hub.db.session() as s:
        from hub.storage.models import AttendanceCheck
        ids = list(s.execute(select(AttendanceCheck.id).where(AttendanceCheck.event_id == event["id"])).scalars())
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: service.run_check(i, clock.now), ids * 3))
    assert sorted(types(hub_live, tenant_id)) == ["attendance.candidate_late", "attendance.no_show"]


def test_a_failed_read_never_declares_a_no_show_and_is_retried(hub_live, tenant, sandbox, clock):
    tenant_id, api = tenant
    who = person(api, sandbox)
    event = book(api, who, late_after_minutes=10)
    join(sandbox, event, "Ada Lovelace", 0, who.zoom_email)
    sandbox.fault("zoom", "server_error", who.zoom_email, times=2, params={"status": 503})
    at(hub_live, clock, event, 10)
    assert types(hub_live, tenant_id) == []  # Zoom did not answer: nobody is called a no-show
    report = api.get(f"/v1/events/{event['id']}/attendance").json()
    assert report["error"]["kind"] == "provider_down"
    assert {d["due_at"] for d in report["deadlines"]} == {"2026-03-02T13:11:00Z"}
    at(hub_live, clock, event, 11)  # both deadlines used up the two failures; Zoom answers now
    assert sorted(types(hub_live, tenant_id)) == ["attendance.candidate_late", "attendance.no_show"]
    assert api.get(f"/v1/events/{event['id']}/attendance").json()["error"] is None
