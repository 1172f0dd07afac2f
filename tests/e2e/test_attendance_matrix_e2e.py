"""Attendance, issue 15's scenarios on each conferencing provider, end to end and as a backend sees it.

A backend books an interview with attendance over HTTP and registers a real webhook receiver on
a loopback port. People join the meeting through the sandbox's control API
(`POST /_control/meetings/{provider}/{id}/participants`): the sandbox's Zoom sends its signed
participant webhooks to the hub and serves the participants API, its Google serves Meet
conference records, its Microsoft serves Teams attendance reports once the meeting has ended.
Time is a fake clock moved in the 15-second steps of the `attendance.evaluate` job; at each step
the job's entry point (`AttendanceService.evaluate_due`) and the webhook sender
(`DeliveryWorker.deliver_due`) run — no sleeps, no wall-clock assertions. What counts is what the
receiver got: each webhook signed (Standard Webhooks), once, at the time the contract says.

Timing per provider: Zoom's joins arrive by webhook at once and absences are confirmed by reading
the participants API at start + late / start + grace; Meet pushes nothing, so it is read every
minute from the start until the candidate is seen (a join is told within a minute and a tick)
and at the deadlines; Teams writes its attendance report only after the meeting, so everything
is said at the meeting's end, with `"source": "teams_report"`.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from hub.services.directory import create_api_key
from hub.services.tenants import set_attendance
from hub.storage.models import Tenant
from tests.conftest import own_database
from tests.e2e.attendance_support import START, Clock
from tests.e2e.support import Api, Sandbox, start_hub
from tests.e2e.test_outbound_webhooks import Receiver, verified
from tests.e2e.zoom_support import Person, person

SECRET = "zoom-webhook-secret-attendance-matrix"
HOUR = 60  # every interview here lasts an hour: Teams reports at minute 60
TICK = timedelta(seconds=15)  # the attendance.evaluate job's period (hub/jobs/catalog.py)
TYPES = ["attendance.candidate_joined", "attendance.candidate_late", "attendance.no_show",
         "attendance.interviewer_no_show"]
JOINED, LATE, NO_SHOW, INTERVIEWER_NO_SHOW = TYPES
CANDIDATE = "grace@candidates.example"


@dataclass(frozen=True)
class Conferencing:
    """How one provider's meetings are booked, joined and reported."""

    name: str  # POST /v1/events "conferencing"
    calendar: str  # the organizer's calendar provider
    control: str  # /_control/meetings/{control}/…
    source: str  # what the webhooks and the answer name, absences included
    live: bool  # False: read only after the meeting ends (Teams)
    join_source: str | None = None  # a join told by a push notification (Zoom's webhooks)
    told_within: timedelta = timedelta(0)  # a live join is told this soon at the latest

    def meeting(self, event: dict[str, Any]) -> str:
        if self.control == "zoom":
            return str(event["conferencing"]["meeting_id"])
        if self.control == "google":
            return event["conferencing"]["join_url"].rsplit("/", 1)[1]  # the Meet code
        return event["calendar"]["event_id"]  # Teams meetings are known by their calendar event

    def at(self, minute: float) -> float:
        """When something due at start + `minute` is said: at once where the provider reports
        live, at the meeting's end where it reports afterwards."""
        return minute if self.live else max(minute, HOUR)


ZOOM = Conferencing("zoom", "google", "zoom", "zoom_api", True, join_source="zoom_webhooks")
MEET = Conferencing("google_meet", "google", "google", "meet_api", True, told_within=TICK + timedelta(minutes=1))
TEAMS = Conferencing("teams", "microsoft", "microsoft", "teams_report", False)
ALL = pytest.mark.parametrize("conf", [ZOOM, MEET, TEAMS], ids=lambda c: c.name)


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def hub_live(tmp_path_factory, sandbox_url, clock):
    """A hub on a database of its own, background runner off: the test is the job runner (the
    attendance timer and the webhook sender) and no other hub's sweep takes its deliveries."""
    with own_database(tmp_path_factory, "attendance-matrix") as url:
        server, live = start_hub(url, sandbox_url, zoom_webhook_secret=SECRET, webhook_worker=False,
                                 webhook_allow_private_urls=True)  # the receiver is on loopback
        live.hub.clock = clock
        assert not live.hub.jobs.running
        yield live
        server.shutdown()
        live.hub.close()


@dataclass
class Interview:
    """One booked interview, its backend's receiver and the clock, driven minute by minute."""

    live: Any
    api: Api
    sandbox: Sandbox
    clock: Clock
    conf: Conferencing
    who: Person
    receiver: Receiver
    secret: str
    start: datetime = START
    event: dict[str, Any] = field(default_factory=dict)

    @property
    def attendance(self):
        return self.live.app.extensions["hub_services"].attendance

    def book(self, **attendance: Any) -> dict[str, Any]:
        body = {"organizer": self.who.user_id, "title": "Interview: Grace", "start": START.isoformat(),
                "end": (START + timedelta(minutes=HOUR)).isoformat(), "conferencing": self.conf.name,
                "attendees": [{"email": CANDIDATE, "name": "Grace Hopper"}],
                "attendance": {"grace_minutes": 10, "late_after_minutes": 3, **attendance}}
        r = self.api.post("/v1/events", json=body)
        assert r.status_code == 201, r.text
        self.event = r.json()
        assert self.event["conferencing"]["provider"] == self.conf.name
        return self.event

    def minute(self, minute: float) -> datetime:
        return self.start + timedelta(minutes=minute)

    def tick(self) -> None:
        """What the job runner does at each period: due deadlines, then due deliveries."""
        self.attendance.evaluate_due(self.clock.now)
        while self.live.hub.webhooks.deliver_due(self.clock.now):
            pass

    def until(self, minute: float) -> None:
        """Time passes, in job periods, to start + `minute`."""
        target = self.minute(minute)
        while self.clock.now < target:
            self.clock.now = min(self.clock.now + TICK, target)
            self.tick()

    def join(self, minute: float, name: str, email: str | None, **extra: Any) -> dict[str, Any]:
        """Someone joins at start + `minute` (the clock goes there first: a Zoom webhook is
        handled the moment it is sent)."""
        self.until(minute)
        body: dict[str, Any] = {"name": name, "joined_at": self.minute(minute).isoformat(), **extra}
        if email is not None:
            body["email"] = email
        if not self.conf.live:  # a Teams record has an interval; the report is written after the end
            body["left_at"] = self.minute(HOUR - 5).isoformat()
        r = self.sandbox.http.post(
            f"{self.sandbox.base}/_control/meetings/{self.conf.control}/{self.conf.meeting(self.event)}/participants",
            json=body, timeout=30)
        assert r.status_code == 201, r.text
        self.tick()
        return r.json()

    def interviewer_joins(self, minute: float) -> None:
        # Zoom: the interviewer's Zoom login (not their calendar address); Meet: signed in to
        # the connected Google account; Teams: their Microsoft address.
        self.join(minute, "Ada Lovelace", self.who.zoom_email if self.conf is ZOOM else self.who.calendar_email)

    def candidate_joins(self, minute: float, email: str | None = CANDIDATE, name: str = "Grace Hopper",
                        **extra: Any) -> dict[str, Any]:
        return self.join(minute, name, email, **extra)

    # --- what the backend got ------------------------------------------------------------------
    def received(self) -> list[dict[str, Any]]:
        """Every attendance webhook the receiver got, verified, oldest first."""
        calls = self.receiver.hooks()
        assert all(c["status"] == 204 for c in calls)
        ids = [c["headers"]["Webhook-Id"] for c in calls]
        assert len(ids) == len(set(ids)), "a message was delivered twice"
        return [verified(self.secret, c) for c in calls]

    def said(self) -> dict[str, float]:
        """type → the minute (after the start) it was said at; each type at most once (one
        interviewer here)."""
        out: dict[str, float] = {}
        for message in self.received():
            assert message["type"] not in out, f"{message['type']} was sent twice"
            assert message["data"]["event_id"] == self.event["id"]
            created = datetime.fromisoformat(message["created_at"].replace("Z", "+00:00"))
            out[message["type"]] = (created - self.start).total_seconds() / 60
        return out

    def sources(self) -> dict[str, str]:
        return {m["type"]: m["data"]["source"] for m in self.received()}

    def report(self) -> dict[str, Any]:
        r = self.api.get(f"/v1/events/{self.event['id']}/attendance")
        assert r.status_code == 200, r.text
        return r.json()

    def reads(self) -> int:
        """Participant-list reads the provider received for this meeting."""
        if self.conf is ZOOM:
            paths = [f"/zoom/v2/metrics/meetings/{self.conf.meeting(self.event)}",
                     f"/zoom/v2/past_meetings/{self.conf.meeting(self.event)}"]
            return sum(len(self.sandbox.requests_log("zoom", p)) for p in paths)
        if self.conf is MEET:
            code = self.conf.meeting(self.event)
            return len([e for e in self.sandbox.requests_log("google", "/google/meet/v2/conferenceRecords")
                        if code in json.dumps(e["query"])])
        return len([e for e in self.sandbox.requests_log("microsoft", "/microsoft/v1.0/me/onlineMeetings")
                    if e["path"].endswith("/onlineMeetings")
                    and self.event["conferencing"]["join_url"] in json.dumps(e["query"])])

    def nothing_more(self) -> None:
        """Days later, with every timer and delivery run again, nothing new reaches the backend."""
        before = [m["type"] for m in self.received()]
        for later in (timedelta(days=1), timedelta(days=3)):
            self.clock.now = self.start + later
            self.tick()
        assert [m["type"] for m in self.received()] == before


@pytest.fixture
def interview(conf: Conferencing, hub_live, sandbox, clock):
    clock.now = START - timedelta(hours=1)
    r = sandbox.http.post(f"{sandbox.base}/_control/webhooks", timeout=10,
                          json={"provider": "zoom", "url": f"{hub_live.url}/webhooks/zoom", "secret": SECRET})
    assert r.status_code == 201, r.text
    tenant_id, key = create_api_key(hub_live.hub.db, f"attm-{uuid.uuid4().hex[:8]}")
    with hub_live.hub.db.session() as s:
        name = s.get(Tenant, tenant_id).name
    set_attendance(hub_live.hub.db, name, True)  # Meet and Teams need the tenant's attendance scopes
    api = Api(hub_live.url, key)
    receiver = Receiver()
    r = api.post("/v1/webhook-endpoints", json={"url": receiver.url, "events": TYPES})
    assert r.status_code == 201, r.text
    endpoint = r.json()
    who = person(api, sandbox, conf.calendar, connect_zoom=conf is ZOOM)
    yield Interview(hub_live, api, sandbox, clock, conf, who, receiver, endpoint["secret"])
    api.delete(f"/v1/webhook-endpoints/{endpoint['id']}")  # later tests' deliveries skip it
    receiver.close()
    sandbox.http.delete(f"{sandbox.base}/_control/faults", params={"provider": "zoom"}, timeout=10)


# --- the scenarios of issue 15, item 5 ---------------------------------------------------------
@ALL
def test_on_time(interview, conf):
    iv = interview
    iv.book()
    assert iv.report()["status"] == "scheduled"
    iv.interviewer_joins(-2)
    iv.candidate_joins(1)
    iv.until(HOUR + 1)
    said = iv.said()
    assert list(said) == [JOINED]
    assert 1 <= said[JOINED] <= iv.conf.at(1 + iv.conf.told_within.total_seconds() / 60)
    assert iv.sources()[JOINED] == (conf.join_source or conf.source)
    report = iv.report()
    assert (report["candidate"], report["source"], report["live"]) == ("on_time", conf.source, conf.live)
    roles = {p["role"]: p for p in report["participants"]}
    assert roles["candidate"]["minutes_late"] == 1 and roles["interviewer"]["email"] == iv.who.calendar_email
    iv.nothing_more()


@ALL
def test_late(interview, conf):
    iv = interview
    iv.book()
    iv.interviewer_joins(0)
    iv.candidate_joins(5)
    iv.until(HOUR + 1)
    said = iv.said()
    assert set(said) == {LATE, JOINED}
    assert said[LATE] == conf.at(3)  # not there at start + late_after_minutes
    assert 5 <= said[JOINED] <= conf.at(5 + conf.told_within.total_seconds() / 60)
    late = next(m for m in iv.received() if m["type"] == LATE)["data"]
    assert (late["late_after_minutes"], late["candidate"]["email"], late["source"]) == (3, CANDIDATE, conf.source)
    report = iv.report()
    assert report["candidate"] == "late"
    assert next(p for p in report["participants"] if p["role"] == "candidate")["minutes_late"] == 5
    iv.nothing_more()


@ALL
def test_no_show(interview, conf):
    iv = interview
    iv.book()
    iv.interviewer_joins(0)
    iv.until(9)
    reads_before_deadline = iv.reads()
    iv.until(HOUR + 1)
    said = iv.said()
    assert said == {LATE: conf.at(3), NO_SHOW: conf.at(10)}
    assert iv.sources() == {LATE: conf.source, NO_SHOW: conf.source}
    # Declared on a read of the provider's list at the deadline, never on a missing webhook.
    assert iv.reads() > reads_before_deadline
    no_show = next(m for m in iv.received() if m["type"] == NO_SHOW)["data"]
    assert (no_show["grace_minutes"], no_show["candidate"]["email"]) == (10, CANDIDATE)
    assert iv.report()["candidate"] == "no_show"
    iv.nothing_more()


@ALL
def test_candidate_joining_at_minute_nine_is_not_a_no_show(interview, conf):
    iv = interview
    iv.book()
    iv.interviewer_joins(0)
    iv.candidate_joins(9)
    iv.until(HOUR + 1)
    said = iv.said()
    assert set(said) == {LATE, JOINED}
    assert 9 <= said[JOINED] <= conf.at(10)  # within the grace period wherever the provider reports live
    assert iv.report()["candidate"] == "late"
    iv.nothing_more()


@pytest.mark.parametrize("conf", [ZOOM], ids=lambda c: c.name)
def test_lost_webhook_the_deadline_read_finds_the_join(interview, conf):
    """Zoom only: Meet and Teams send no webhooks (they are read, as every test here shows)."""
    iv = interview
    iv.book()
    iv.interviewer_joins(0)
    iv.sandbox.fault("zoom", "webhook_lost", iv.who.zoom_email)  # every delivery of this host is lost
    lost = iv.candidate_joins(2)
    assert [w["status"] for w in lost["webhooks"]] == ["lost"]
    assert iv.said() == {}
    iv.until(HOUR + 1)
    assert iv.said() == {JOINED: 3}  # the read at start + late_after_minutes found Grace
    assert iv.sources() == {JOINED: "zoom_api"}
    assert iv.report()["candidate"] == "on_time"
    iv.nothing_more()


@ALL
def test_interviewer_missing(interview, conf):
    iv = interview
    iv.book()
    iv.candidate_joins(0)
    iv.until(HOUR + 1)
    said = iv.said()
    assert set(said) == {JOINED, INTERVIEWER_NO_SHOW}
    assert said[INTERVIEWER_NO_SHOW] == conf.at(10)
    missing = next(m for m in iv.received() if m["type"] == INTERVIEWER_NO_SHOW)["data"]
    assert missing["interviewer"]["email"] == iv.who.calendar_email
    assert iv.report()["candidate"] == "on_time"
    iv.nothing_more()


@ALL
def test_guest_with_empty_email_is_matched_by_name(interview, conf):
    """Zoom and Teams guests often come without an address, Meet's anonymous ones always do."""
    iv = interview
    iv.book()
    iv.interviewer_joins(0)
    iv.candidate_joins(1, email="", name="grace  HOPPER")
    iv.until(HOUR + 1)
    assert list(iv.said()) == [JOINED]
    report = iv.report()
    assert report["candidate"] == "on_time"
    assert {p["role"] for p in report["participants"]} == {"candidate", "interviewer"}
    iv.nothing_more()


@ALL
def test_rescheduled_meeting_moves_the_timers(interview, conf):
    iv = interview
    iv.book()
    later = START + timedelta(days=1)
    r = iv.api.patch(f"/v1/events/{iv.event['id']}", json={
        "start": later.isoformat(), "end": (later + timedelta(minutes=HOUR)).isoformat()})
    assert r.status_code == 200, r.text
    deadlines = {d["kind"]: d["due_at"] for d in iv.report()["deadlines"]}
    moved = {kind: (later + timedelta(minutes=conf.at(m))).strftime("%Y-%m-%dT%H:%M:%SZ")
             for kind, m in (("late", 3), ("deadline", 10))}
    assert deadlines == moved
    reads = iv.reads()
    iv.until(HOUR + 1)  # the old time passes: nothing is due, nobody is read
    assert iv.said() == {} and iv.reads() == reads
    iv.clock.now, iv.start = later - timedelta(minutes=5), later
    iv.interviewer_joins(0)
    iv.until(HOUR + 1)
    assert iv.said() == {LATE: conf.at(3), NO_SHOW: conf.at(10)}  # minutes after the new start
    iv.nothing_more()


@ALL
def test_cancelled_event_stops_the_timers(interview, conf):
    iv = interview
    iv.book()
    reads = iv.reads()
    assert iv.api.delete(f"/v1/events/{iv.event['id']}").status_code == 204
    iv.until(HOUR + 1)
    assert iv.said() == {} and iv.reads() == reads
    report = iv.report()
    assert report["status"] == "cancelled" and {d["status"] for d in report["deadlines"]} == {"cancelled"}
    iv.nothing_more()


@ALL
def test_extending_the_meeting_says_nothing_twice(interview, conf):
    """The interviewer gives the interview 15 more minutes while it runs: the start stays, so
    what was said stays said (a move of the start is a new chance to join; this is not)."""
    iv = interview
    iv.book()
    iv.interviewer_joins(0)
    iv.candidate_joins(5)
    iv.until(20)
    r = iv.api.patch(f"/v1/events/{iv.event['id']}", json={"end": iv.minute(HOUR + 15).isoformat()})
    assert r.status_code == 200, r.text
    iv.until(HOUR + 16)
    said = iv.said()
    assert set(said) == {LATE, JOINED}
    assert said[LATE] == (3 if conf.live else HOUR + 15)  # Teams: at the new end
    assert iv.report()["candidate"] == "late"
    iv.nothing_more()


@pytest.mark.parametrize("conf", [ZOOM], ids=lambda c: c.name)
def test_zoom_without_the_dashboard_never_takes_a_lost_webhook_for_a_no_show(interview, conf):
    """Zoom lists who is in a running meeting only through its Dashboard (Business plan, admin
    scopes a user-level app lacks). Refused, and with no past meeting yet, the hub asks the
    meeting's status: running → the list cannot be read, which is said and read again later;
    a no-show is never declared because a webhook did not come. Lateness is told from Zoom's
    webhooks alone (the list comes only after the end, too late to call the candidate), and its
    source says so: here the join's webhook was lost, so the backend hears "late" unconfirmed."""
    iv = interview
    iv.book()
    iv.sandbox.fault("zoom", "dashboard_unavailable", iv.who.zoom_email)
    iv.interviewer_joins(0)
    iv.sandbox.fault("zoom", "webhook_lost", iv.who.zoom_email)
    iv.candidate_joins(2)  # Zoom's webhook is lost; only Zoom's list knows
    iv.until(30)
    assert iv.said() == {LATE: 3}
    assert iv.sources() == {LATE: "zoom_webhooks"}
    report = iv.report()
    assert (report["error"]["kind"], report["error"]["cause"]) == ("access_denied", "zoom_live_participants_unavailable")
    assert "fix" not in report["error"]  # nothing to reconnect: it is Zoom's plan, not the grant
    assert {d["kind"]: d["status"] for d in report["deadlines"]} == {"late": "done", "deadline": "pending"}
    # Read again every 5 minutes, not every minute: the Dashboard's rate limit is "heavy".
    status_reads = [e for e in iv.sandbox.requests_log("zoom", f"/zoom/v2/meetings/{conf.meeting(iv.event)}")
                    if e["method"] == "GET"]
    assert 2 <= len(status_reads) <= 2 * 6


@pytest.mark.parametrize("conf", [ZOOM], ids=lambda c: c.name)
@pytest.mark.parametrize("minute", [1, 5], ids=["on_time", "late"])
def test_zoom_without_the_dashboard_tells_lateness_from_its_webhooks(interview, conf, minute):
    """Webhooks arrive: a candidate there before start + late_after is not called late, one who
    is not gets candidate_late at that minute — both without a list Zoom will not show."""
    iv = interview
    iv.book()
    iv.sandbox.fault("zoom", "dashboard_unavailable", iv.who.zoom_email)
    iv.interviewer_joins(0)
    iv.candidate_joins(minute)
    iv.until(8)
    said = iv.said()
    assert said == ({JOINED: 1} if minute == 1 else {LATE: 3, JOINED: 5})
    assert set(iv.sources().values()) == {"zoom_webhooks"}


@pytest.mark.parametrize("conf", [ZOOM], ids=lambda c: c.name)
def test_zoom_without_the_dashboard_a_meeting_nobody_started_is_a_no_show(interview, conf):
    """The meeting never started (Zoom says `waiting`): nobody joined, which Zoom confirms."""
    iv = interview
    iv.book()
    iv.sandbox.fault("zoom", "dashboard_unavailable", iv.who.zoom_email)
    iv.until(HOUR + 1)
    assert iv.said() == {LATE: 3, NO_SHOW: 10, INTERVIEWER_NO_SHOW: 10}
    assert iv.report()["error"] is None
    iv.nothing_more()


def leave(iv: Interview, minute: float, name: str, email: str) -> dict[str, Any]:
    """Someone in the Zoom meeting leaves at start + `minute`; the last one out ends it."""
    iv.until(minute)
    r = iv.sandbox.http.post(
        f"{iv.sandbox.base}/_control/meetings/zoom/{iv.conf.meeting(iv.event)}/participants",
        json={"name": name, "email": email, "left_at": iv.minute(minute).isoformat()}, timeout=30)
    assert r.status_code == 201, r.text
    iv.tick()
    return r.json()


@pytest.mark.parametrize("conf", [ZOOM], ids=lambda c: c.name)
@pytest.mark.parametrize("candidate_came", [True, False], ids=["joined", "no_show"])
def test_zoom_without_the_dashboard_decides_from_the_past_meeting_after_the_end(interview, conf, candidate_came):
    """…and once the meeting has ended, Zoom's past-meeting list settles it: the join whose
    webhook was lost is found, or the absence is confirmed."""
    iv = interview
    iv.book()
    iv.sandbox.fault("zoom", "dashboard_unavailable", iv.who.zoom_email)
    iv.sandbox.fault("zoom", "webhook_lost", iv.who.zoom_email)
    iv.interviewer_joins(0)
    if candidate_came:
        iv.candidate_joins(2)
    iv.until(44)
    assert iv.said() == {LATE: 3}  # from Zoom's webhooks: the candidate's was lost
    if candidate_came:
        leave(iv, 44, "Grace Hopper", CANDIDATE)
    ended = leave(iv, 45, "Ada Lovelace", iv.who.zoom_email)
    assert ended["meeting_status"] == "ended"
    iv.until(HOUR + 1)
    said = iv.said()
    if candidate_came:
        assert set(said) == {LATE, JOINED} and 45 <= said[JOINED] <= 50  # the next read after the end
        assert iv.report()["candidate"] == "on_time"
    else:
        assert set(said) == {LATE, NO_SHOW} and 45 <= said[NO_SHOW] <= 50
    sources = iv.sources()
    assert sources.pop(LATE) == "zoom_webhooks" and set(sources.values()) == {"zoom_api"}
    assert iv.report()["error"] is None
    iv.nothing_more()


@ALL
def test_a_scheduling_request_watches_the_candidate_who_books(interview, conf):
    """Issue 15, item 1: the request's thresholds go to the interview the candidate books, and
    that candidate is the one watched (the organizer is the interviewer)."""
    iv = interview
    r = iv.api.post("/v1/scheduling-requests", json={
        "organizer": iv.who.user_id, "title": "Interview: {candidate_name}", "duration_minutes": HOUR,
        "conferencing": conf.name, "candidates": [{"email": CANDIDATE, "name": "Grace Hopper"}],
        "slots": [{"start": START.isoformat(), "end": iv.minute(HOUR).isoformat()}], "hold": False,
        "attendance": {"grace_minutes": 8, "late_after_minutes": 2}})
    assert r.status_code == 201, r.text
    req = r.json()
    booked = iv.api.post(f"/v1/scheduling-requests/{req['id']}/candidates/{req['candidates'][0]['id']}/book",
                         json={"slot_id": req["slots"][0]["id"]})
    assert booked.status_code == 200, booked.text
    iv.event = booked.json()["event"]
    report = iv.report()
    assert (report["watching"]["email"], report["grace_minutes"], report["late_after_minutes"]) == (CANDIDATE, 8, 2)
    iv.interviewer_joins(0)
    iv.candidate_joins(4)
    iv.until(HOUR + 1)
    said = iv.said()
    assert set(said) == {LATE, JOINED} and said[LATE] == conf.at(2)
    assert 4 <= said[JOINED] <= conf.at(4 + conf.told_within.total_seconds() / 60)
    iv.nothing_more()
