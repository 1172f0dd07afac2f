"""POST/PATCH/DELETE /v1/events through the real app and database, with hand-written calendar
and Zoom adapters that record every call: which conferencing is chosen, what is undone when a
later step fails, what the calendar and the meeting are asked to hold, which problem a provider
failure becomes, and what is stored and queued as webhooks. Fast enough to run for every mutant
of hub/services/events.py (bench/mutation.py); the e2e tests prove the same against emulators."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select

from hub.app import create_app
from hub.errors import Invalid, ProviderFailed
from hub.services.directory import create_api_key
from hub.services.explanations import explain
from hub.services.events import EventService, EventUpdate, NewEvent, with_join_text
from hub.services.sync.records import RUN
from hub.storage.models import (ConnectAttempt, Connection, Event, Job, SyncChannel, SyncState, User,
                                WebhookDelivery, WebhookEndpoint)
from oauth.connect import digest
from oauth.flows import Grant
from oauth.vault import TokenVault
from providers.base import (Attendee, CalendarEvent, ConferenceLink, ErrorKind, Meeting, MeetingDraft,
                            ProviderError)

# A row asked for by a null key is None today with a warning, an error in a later SQLAlchemy.
pytestmark = pytest.mark.filterwarnings("error::sqlalchemy.exc.SAWarning")

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
JOIN = "https://zoom.example/j/12345678901"
CALENDARS = "Google Calendar, Microsoft 365, CalDAV calendar"


def _account(provider: str, email: str) -> str:
    """Each connection its own account address, so a message names the right one."""
    return email if provider != "zoom" else email.replace("@example.com", "@zoom.example")


def _at(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


class Recorder:
    """Calls in order, and a failure to raise per operation."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.fail: dict[str, ProviderError] = {}

    def _call(self, token: str, op: str, *args: Any) -> None:
        if token != "tok":  # as a provider answers a call without the connection's grant
            raise AssertionError(f"{op} called without the stored access token")
        self.calls.append((op, *args))
        if op in self.fail:
            raise self.fail[op]

    def ops(self) -> list[str]:
        return [c[0] for c in self.calls]


class FakeCalendar(Recorder):
    def __init__(self, name: str, native: str) -> None:
        super().__init__()
        self.name, self.native = name, native
        self.link = True
        self.meeting_id: str | None = None

    def create_event(self, token, draft):
        self._call(token, "create", draft)
        n = len(self.calls)
        conf = ConferenceLink(self.native, f"https://{self.native}.example/{n}", meeting_id=self.meeting_id,
                              passcode="", dial_in=[]) if draft.native_conferencing and self.link else None
        return CalendarEvent(f"ev{n}", f"https://calendar.example/ev{n}", conf)

    def update_event(self, token, event_id, changes):
        self._call(token, "update", event_id, changes)
        return CalendarEvent(event_id, None, None)

    def cancel_event(self, token, event_id, send_updates=True):
        self._call(token, "cancel", event_id, send_updates)


class FakeZoom(Recorder):
    name = "zoom"
    passcode = "pw1"

    def create_meeting(self, token, draft):
        self._call(token, "create", draft)
        return Meeting("12345678901", JOIN, self.passcode)

    def update_meeting(self, token, meeting_id, draft):
        self._call(token, "update", meeting_id, draft)

    def delete_meeting(self, token, meeting_id):
        self._call(token, "delete", meeting_id)


@dataclass
class Person:
    user_id: str
    email: str
    row: str
    calendar: str | None = None
    zoom: str | None = None


@dataclass
class Watching:
    """A stand-in AttendanceService: what the event service asks of it, and when."""

    calls: list[tuple[Any, ...]] = field(default_factory=list)
    previous_starts: list[Any] = field(default_factory=list)  # what each move says the start was

    def prepare(self, session, tenant_id, organizer, attendees, conferencing, meeting_connection, rules):
        # Read through the session given, as the real one reads the tenant's people.
        self.calls.append(("prepare", tenant_id, session.get(User, organizer.id).external_id, tuple(attendees), conferencing, meeting_connection.id,
                           rules))
        return "prepared"

    def watch(self, session, event, prepared):
        # In the transaction that stores the event, as the real one adds its rows there.
        self.calls.append(("watch", session.get(Event, event.id).id, prepared))

    def moved(self, session, event, previous_start=None):
        self.calls.append(("moved", event.id, event.start))
        self.previous_starts.append(previous_start)

    def stopped(self, session, event_id):
        self.calls.append(("stopped", event_id))


class Env:
    def __init__(self, app, key: str) -> None:
        self.app = app
        self.hub = app.extensions["hub"]
        self.services = app.extensions["hub_services"]
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {key}"}
        self.google = FakeCalendar("google", "google_meet")
        self.microsoft = FakeCalendar("microsoft", "teams")
        self.zoom = FakeZoom()
        self.hub.use("calendar", "google", self.google)
        self.hub.use("calendar", "microsoft", self.microsoft)
        self.hub.use("conferencing", "zoom", self.zoom)
        self.tenant_id = ""

    def person(self, calendar: str | None = "google", caps: tuple[str, ...] = ("calendar", "google_meet"),
               status: str = "active", last_error: dict | None = None, zoom: tuple[str, ...] | None = None,
               zoom_status: str = "active", default_conferencing: str | None = None) -> Person:
        user_id = f"u{uuid.uuid4().hex[:8]}"
        email = f"{user_id}@example.com"
        r = self.client.put(f"/v1/users/{user_id}", json={"email": email}, headers=self.headers)
        assert r.status_code == 201, r.json
        with self.hub.db.session() as s:
            user = s.execute(select(User).where(User.external_id == user_id, User.email == email)).scalar_one()
            user.default_conferencing = default_conferencing
            self.tenant_id = user.tenant_id
            who = Person(user_id, email, user.id)
            if calendar is not None:
                who.calendar = self._connect(s, user, calendar, list(caps), status, last_error, NOW)
            if zoom is not None:
                who.zoom = self._connect(s, user, "zoom", list(zoom), zoom_status, None, NOW)
        return who

    def _connect(self, s, user: User, provider: str, caps: list[str], status: str, last_error: dict | None,
                 at: datetime) -> str:
        conn = Connection(tenant_id=user.tenant_id, user_id=user.id, provider=provider,
                          provider_account_id=f"{provider}-{uuid.uuid4().hex[:8]}", account_email=_account(provider, user.email),
                          capabilities=caps, scopes=[], status=status, last_error=last_error, connected_at=at)
        s.add(conn)
        s.flush()
        self.hub.tokens.store_grant(conn, Grant("tok", "ref", NOW + timedelta(days=2), ()))
        return conn.id

    def add_zoom(self, who: Person, caps: list[str], status: str, at: datetime) -> str:
        with self.hub.db.session() as s:
            return self._connect(s, s.get(User, who.row), "zoom", caps, status, None, at)

    def post(self, who: Person, **body) -> Any:
        body = {"organizer": who.user_id, "title": "Interview", "start": _at(START),
                "end": _at(START + timedelta(minutes=45)), **body}
        return self.client.post("/v1/events", json=body, headers={**self.headers, **body.pop("_headers", {})})

    def patch(self, event_id: str, **body) -> Any:
        return self.client.patch(f"/v1/events/{event_id}", json=body, headers=self.headers)

    def delete(self, event_id: str) -> Any:
        return self.client.delete(f"/v1/events/{event_id}", headers=self.headers)

    def subscribe(self) -> None:
        with self.hub.db.session() as s:
            s.add(WebhookEndpoint(tenant_id=self.tenant_id, url="https://backend.example/hook", events=["*"],
                                  secret_enc="x"))

    def deliveries(self, event_type: str) -> list[dict]:
        """The `data` of each queued message, checked to be of this type and stamped by the hub's clock."""
        with self.hub.db.session() as s:
            rows = s.execute(select(WebhookDelivery.payload).where(WebhookDelivery.tenant_id == self.tenant_id,
                                                                   WebhookDelivery.event_type == event_type))
            bodies = [json.loads(p) for p in rows.scalars()]
        assert all((b["type"], b["created_at"]) == (event_type, _at(self.hub.clock())) for b in bodies), bodies
        return [b["data"] for b in bodies]

    def event(self, event_id: str) -> Event:
        with self.hub.db.session() as s:
            row = s.get(Event, event_id)
            s.expunge(row)
            return row

    def events_of(self, who: Person) -> list[Event]:
        with self.hub.db.session() as s:
            rows = list(s.execute(select(Event).where(Event.organizer_id == who.row)).scalars())
            for row in rows:
                s.expunge(row)
            return rows

    def connection(self, conn_id: str) -> Connection:
        with self.hub.db.session() as s:
            row = s.get(Connection, conn_id)
            s.expunge(row)
            return row

    def link_provider(self, url: str) -> tuple[str, str]:
        """(provider, user row) the connect link at `url` was minted for."""
        token = url.rsplit("/connect/", 1)[1]
        with self.hub.db.session() as s:
            attempt = s.execute(select(ConnectAttempt).where(ConnectAttempt.link_hash == digest(token))).scalar_one()
            return attempt.provider, attempt.user_id

    def watched(self, conn_id: str) -> None:
        """An open push channel: the hub's own writes must mark the cache behind."""
        with self.hub.db.session() as s:
            s.add(SyncChannel(tenant_id=self.tenant_id, connection_id=conn_id, provider="google",
                              secret_hash="h", status="active"))

    def sync_runs(self, conn_id: str) -> list[dict]:
        with self.hub.db.session() as s:
            rows = s.execute(select(Job.payload).where(Job.name == RUN)).scalars()
            return [p for p in rows if p.get("connection_id") == conn_id]

    def dirty_since(self, conn_id: str) -> datetime | None:
        with self.hub.db.session() as s:
            state = s.get(SyncState, conn_id)
            return state.dirty_since if state is not None else None


@pytest.fixture
def env(database_url):
    # The session's database (tests/conftest.py): every test has its own tenant.
    app = create_app({"database_url": database_url, "encryption_keys": TokenVault.generate_key_spec("ev"),
                      "log_json": False, "webhook_worker": False, "public_url": "https://hub.example",
                      # The limiter's own Retry-After would mask the provider's one these tests check.
                      "rate_limit_enabled": False})
    app.extensions["hub"].clock = lambda: NOW
    _, key = create_api_key(app.extensions["hub"].db, f"events-{uuid.uuid4().hex[:8]}")
    yield Env(app, key)
    app.extensions["hub"].close()


def problem(r, *keys: str) -> dict:
    return {k: r.json.get(k) for k in ("status", "code", "title", "detail", *keys)}


# --- which conferencing ------------------------------------------------------------------------

def test_no_calendar_asks_to_connect_one_and_names_every_calendar_provider(env):
    who = env.person(calendar=None)
    r = env.post(who)
    assert problem(r, "cause") == {
        "status": 409, "code": "no_calendar_connection", "title": "The organizer has no calendar connected",
        "detail": f"{who.user_id} must connect a calendar ({CALENDARS}) first.", "cause": "organizer_not_connected"}
    assert r.json["fix"]["action"] == "connect"
    assert env.link_provider(r.json["fix"]["url"]) == ("google", who.row)


def test_a_broken_calendar_is_reported_with_its_cause_and_a_reconnect_link(env):
    who = env.person(status="needs_reauth", last_error={"cause": "consent_revoked"})
    r = env.post(who)
    assert problem(r, "cause", "connection_id") == {
        "status": 409, "code": "connection_needs_reauth", "title": "The connection must be reconnected",
        "detail": f"Google Calendar for {who.email} stopped working (consent_revoked); the person must reconnect it.",
        "cause": "consent_revoked", "connection_id": who.calendar}
    assert r.json["fix"]["action"] == "reconnect"
    assert env.link_provider(r.json["fix"]["url"]) == ("google", who.row)
    assert env.google.calls == []


def test_a_broken_calendar_without_a_recorded_error_is_called_revoked(env):
    who = env.person(status="needs_reauth")
    r = env.post(who)
    assert r.status_code == 409 and r.json["cause"] == "token_revoked"
    assert "(token_revoked)" in r.json["detail"]


def test_default_is_the_calendars_own_meetings(env):
    who = env.person(zoom=("zoom",))
    r = env.post(who)
    assert r.status_code == 201, r.json
    [(op, draft)] = env.google.calls
    assert draft.native_conferencing is True and env.zoom.calls == []
    assert r.json["conferencing"] == {"provider": "google_meet", "join_url": "https://google_meet.example/1"}


def test_default_without_native_meetings_is_the_working_zoom(env):
    who = env.person(caps=("calendar",), zoom=("zoom",))
    r = env.post(who)
    assert r.status_code == 201, r.json
    assert env.zoom.ops() == ["create"] and env.google.calls[0][1].native_conferencing is False
    assert r.json["conferencing"]["provider"] == "zoom"


def test_default_skips_a_broken_zoom_and_books_without_a_link(env):
    who = env.person(caps=("calendar",), zoom=("zoom",), zoom_status="needs_reauth")
    r = env.post(who)
    assert r.status_code == 201, r.json
    assert r.json["conferencing"] is None and env.zoom.calls == []
    assert env.google.calls[0][1].native_conferencing is False


def test_the_persons_default_conferencing_wins_over_the_calendars(env):
    who = env.person(zoom=("zoom",), default_conferencing="zoom")
    assert env.post(who).json["conferencing"]["provider"] == "zoom"
    plain = env.person(default_conferencing="none")
    r = env.post(plain)
    assert r.json["conferencing"] is None and env.google.calls[-1][1].native_conferencing is False


def test_an_explicit_choice_wins_over_the_persons_default(env):
    who = env.person(zoom=("zoom",), default_conferencing="zoom")
    r = env.post(who, conferencing="google_meet")
    assert r.json["conferencing"]["provider"] == "google_meet" and env.zoom.calls == []


def test_conferencing_no_provider_brings_is_refused_before_anything_is_made(env):
    who = env.person()
    service = env.services.events
    with pytest.raises(Invalid) as err:
        service.create(env.tenant_id, NewEvent(who.user_id, "t", START, START + timedelta(hours=1),
                                               conferencing="webex"), "h")
    assert (err.value.code, err.value.title, err.value.extra, err.value.detail) == (
        "conferencing_unavailable", "That conferencing is not available", {"reason": "unknown_conferencing"},
        "No provider on this hub brings 'webex' meetings.")
    assert env.google.calls == []


def test_teams_on_a_google_calendar_asks_for_a_microsoft_connection(env):
    who = env.person()
    r = env.post(who, conferencing="teams")
    assert problem(r, "reason", "cause") == {
        "status": 422, "code": "conferencing_unavailable", "title": "That conferencing is not available",
        "detail": f"Microsoft Teams needs a Microsoft 365 connection; {who.user_id}'s calendar is Google Calendar.",
        "reason": "teams_unavailable", "cause": "teams_unavailable"}
    assert env.link_provider(r.json["fix"]["url"]) == ("microsoft", who.row)
    assert r.json["fix"]["action"] == "connect" and env.google.calls == []


def test_teams_on_a_microsoft_calendar_is_native(env):
    who = env.person(calendar="microsoft", caps=("calendar", "teams"))
    r = env.post(who, conferencing="teams")
    assert r.status_code == 201, r.json
    assert env.microsoft.calls[0][1].native_conferencing is True and env.google.calls == []
    assert r.json["conferencing"]["provider"] == "teams"
    assert r.json["calendar"]["provider"] == "microsoft"


def test_meet_switched_off_by_the_admin_gives_the_diagnostics_steps(env):
    who = env.person(caps=("calendar",))
    r = env.post(who, conferencing="google_meet")
    assert problem(r, "reason", "cause") == {
        "status": 422, "code": "conferencing_unavailable", "title": "That conferencing is not available",
        "detail": f"Google Meet is not available to {who.email}: the account's administrator has not enabled it.",
        "reason": "meet_unavailable", "cause": "meet_unavailable"}
    assert r.json["fix"] == explain("meet_unavailable").as_fix() and env.google.calls == []


def test_zoom_not_connected_links_to_connecting_zoom(env):
    who = env.person()
    r = env.post(who, conferencing="zoom")
    assert problem(r, "reason", "cause") == {
        "status": 422, "code": "conferencing_unavailable", "title": "That conferencing is not available",
        "detail": f"{who.user_id} has not connected Zoom.", "reason": "zoom_not_connected",
        "cause": "conferencing_not_connected"}
    assert env.link_provider(r.json["fix"]["url"]) == ("zoom", who.row)


def test_zoom_that_may_not_host_is_refused_before_anything_is_made(env):
    who = env.person(zoom=())
    r = env.post(who, conferencing="zoom")
    assert problem(r, "reason", "cause") == {
        "status": 422, "code": "conferencing_unavailable", "title": "That conferencing is not available",
        "detail": f"{_account('zoom', who.email)} is connected to Zoom but may not host Zoom meetings.",
        "reason": "zoom_cannot_host", "cause": "zoom_cannot_host"}
    assert r.json["fix"] == explain("zoom_cannot_host").as_fix()
    assert env.zoom.calls == [] and env.google.calls == []


def test_a_broken_zoom_asks_for_a_zoom_reconnect(env):
    who = env.person(zoom=("zoom",), zoom_status="needs_reauth")
    r = env.post(who, conferencing="zoom")
    assert (r.status_code, r.json["code"], r.json["connection_id"]) == (409, "connection_needs_reauth", who.zoom)
    assert env.link_provider(r.json["fix"]["url"]) == ("zoom", who.row)
    assert env.zoom.calls == []


def test_the_newest_working_zoom_makes_the_meeting(env):
    who = env.person(zoom=("zoom",))
    newer = env.add_zoom(who, ["zoom"], "active", NOW + timedelta(minutes=1))
    env.add_zoom(who, ["zoom"], "needs_reauth", NOW + timedelta(minutes=2))
    env.post(who, conferencing="zoom")
    assert env.events_of(who)[0].conference_connection_id == newer


def test_a_zoom_that_may_not_host_is_found_even_when_broken(env):
    """Not hosting is its own cause, not "not connected"; the newest such connection is named."""
    who = env.person()
    env.add_zoom(who, [], "needs_reauth", NOW)
    newer = env.add_zoom(who, [], "needs_reauth", NOW + timedelta(minutes=1))
    r = env.post(who, conferencing="zoom")
    assert (r.json["code"], r.json["connection_id"]) == ("connection_needs_reauth", newer)
    fine = env.add_zoom(who, [], "active", NOW - timedelta(days=1))
    r = env.post(who, conferencing="zoom")
    assert (r.json["code"], r.json["reason"]) == ("conferencing_unavailable", "zoom_cannot_host")
    assert fine


# --- creating ------------------------------------------------------------------------------------

def test_a_zoom_event_puts_the_join_details_in_the_invitation_and_queues_one_webhook(env):
    who = env.person(caps=("calendar",), zoom=("zoom",))
    env.subscribe()
    env.watched(who.calendar)
    attendees = [{"email": "cand@example.com", "name": "Cand"}, {"email": "x@example.com", "optional": True}]
    r = env.post(who, conferencing="zoom", description="Bring a laptop", location="Room 4", timezone="Europe/Oslo",
                 send_updates=False, attendees=attendees, _headers={"Idempotency-Key": "k-zoom"})
    assert r.status_code == 201, r.json
    assert env.zoom.ops() == ["create"]
    [(_, meeting)] = env.zoom.calls
    assert meeting == MeetingDraft("Interview", START, 45, "Europe/Oslo", "Bring a laptop")
    assert env.google.ops() == ["create"]
    [(_, draft)] = env.google.calls
    assert draft.location == f"Room 4; {JOIN}"
    assert draft.description == (f"Bring a laptop\n\nJoin Zoom Meeting: {JOIN}\nMeeting ID: 123 4567 8901\n"
                                 "Passcode: pw1")
    assert (draft.title, draft.start, draft.end, draft.timezone) == (
        "Interview", START, START + timedelta(minutes=45), "Europe/Oslo")
    assert draft.attendees == (Attendee("cand@example.com", "Cand"), Attendee("x@example.com", None, True))
    assert (draft.native_conferencing, draft.send_updates) == (False, False)
    assert draft.idempotency_handle == f"{env.tenant_id}:k-zoom"
    out = r.json
    assert out["conferencing"] == {"provider": "zoom", "join_url": JOIN, "meeting_id": "12345678901",
                                   "passcode": "pw1"}
    assert out["attendees"] == [
        {"email": "cand@example.com", "name": "Cand", "optional": False, "response_status": "needs_action"},
        {"email": "x@example.com", "name": None, "optional": True, "response_status": "needs_action"}]
    assert (out["organizer"], out["title"], out["description"], out["timezone"], out["status"]) == (
        who.user_id, "Interview", "Bring a laptop", "Europe/Oslo", "confirmed")
    assert out["calendar"] == {"provider": "google", "event_id": "ev1", "html_link": "https://calendar.example/ev1"}
    assert (out["start"], out["end"]) == (_at(START), _at(START + timedelta(minutes=45)))
    row = env.event(out["id"])
    # The row keeps what the organizer wrote; the join text lives at the provider.
    assert (row.description, row.location, row.send_updates) == ("Bring a laptop", "Room 4", False)
    assert (row.connection_id, row.conference_connection_id, row.calendar_provider) == (who.calendar, who.zoom,
                                                                                         "google")
    assert env.deliveries("event.created") == [out]
    assert env.dirty_since(who.calendar) == NOW.replace(tzinfo=None) or env.dirty_since(who.calendar) == NOW
    assert len(env.sync_runs(who.calendar)) == 1


def test_each_write_on_a_watched_calendar_queues_a_sync_and_marks_it_behind_once(env):
    """After the first write the state row exists (the short way in calendar_written): a write
    on a clean cache marks it behind from its own moment, a write on a cache already behind
    keeps the earlier moment, and every write queues its own sync run."""
    who = env.person(caps=("calendar",))
    env.watched(who.calendar)

    def dirty() -> datetime | None:
        at = env.dirty_since(who.calendar)
        return at.replace(tzinfo=timezone.utc) if at is not None and at.tzinfo is None else at

    assert env.post(who).status_code == 201
    assert dirty() == NOW and len(env.sync_runs(who.calendar)) == 1
    env.hub.clock = lambda: NOW + timedelta(minutes=1)
    assert env.post(who).status_code == 201
    assert dirty() == NOW and len(env.sync_runs(who.calendar)) == 2  # behind since the first write
    with env.hub.db.session() as s:
        s.get(SyncState, who.calendar).dirty_since = None  # as if the sync ran
    env.hub.clock = lambda: NOW + timedelta(minutes=2)
    assert env.post(who).status_code == 201
    assert dirty() == NOW + timedelta(minutes=2) and len(env.sync_runs(who.calendar)) == 3


def test_a_create_queues_event_created_for_each_enabled_subscribed_endpoint_of_its_tenant_only(env):
    """Storing the event reads the calendar's channel and the tenant's endpoints in one
    statement: with several endpoints (and the channel's columns on each of their rows), and
    without a channel or without endpoints, each reaches what it did when read separately."""
    def endpoint(tenant_id: str, events: list[str], status: str = "enabled") -> str:
        with env.hub.db.session() as s:
            row = WebhookEndpoint(tenant_id=tenant_id, url="https://backend.example/hook", events=events,
                                  secret_enc="x", status=status)
            s.add(row)
            s.flush()
            return row.id

    def queued_to(event_id: str) -> list[str]:
        with env.hub.db.session() as s:
            rows = s.execute(select(WebhookDelivery.endpoint_id, WebhookDelivery.payload)
                             .where(WebhookDelivery.event_type == "event.created")).all()
        return sorted(endpoint_id for endpoint_id, payload in rows if json.loads(payload)["data"]["id"] == event_id)

    plain = env.person(caps=("calendar",))
    r = env.post(plain)  # no endpoint, no channel: nothing queued, nothing marked
    assert r.status_code == 201 and queued_to(r.json["id"]) == []
    assert env.dirty_since(plain.calendar) is None and env.sync_runs(plain.calendar) == []

    other_tenant, _ = create_api_key(env.hub.db, f"other-{uuid.uuid4().hex[:8]}")
    endpoint(other_tenant, ["*"])
    wanted = [endpoint(env.tenant_id, ["*"]), endpoint(env.tenant_id, ["event.updated", "event.created"])]
    endpoint(env.tenant_id, ["event.updated"])
    endpoint(env.tenant_id, ["event.created"], status="disabled")
    r = env.post(plain)  # endpoints, no channel
    assert r.status_code == 201 and queued_to(r.json["id"]) == sorted(wanted)
    assert env.dirty_since(plain.calendar) is None and env.sync_runs(plain.calendar) == []

    watched = env.person(caps=("calendar",))
    env.watched(watched.calendar)
    r = env.post(watched)  # endpoints and an active channel
    assert r.status_code == 201 and queued_to(r.json["id"]) == sorted(wanted)
    assert env.dirty_since(watched.calendar) is not None and len(env.sync_runs(watched.calendar)) == 1


def test_join_text_alone_when_there_is_no_description_or_location(env):
    who = env.person(caps=("calendar",), zoom=("zoom",))
    env.post(who, conferencing="zoom")
    draft = env.google.calls[0][1]
    assert draft.location == JOIN
    assert draft.description == f"Join Zoom Meeting: {JOIN}\nMeeting ID: 123 4567 8901\nPasscode: pw1"


def test_join_text_wording_follows_the_meeting_provider():
    other = with_join_text(None, {"provider": "somewhere", "join_url": "https://x.example/1", "meeting_id": "ab-12"})
    assert other == "Join the meeting: https://x.example/1\nMeeting ID: ab-12"
    assert with_join_text("Hi", None) == "Hi" and with_join_text("Hi", {}) == "Hi"
    teams = with_join_text("Hi", {"provider": "teams", "join_url": "https://t.example/1", "passcode": "x"})
    assert teams == "Hi\n\nJoin Microsoft Teams Meeting: https://t.example/1\nPasscode: x"
    short = with_join_text(None, {"provider": "zoom", "join_url": "u", "meeting_id": 12345})
    assert short == "Join Zoom Meeting: u\nMeeting ID: 123 45"


def test_a_failed_calendar_event_deletes_the_zoom_meeting_it_made(env):
    who = env.person(caps=("calendar",), zoom=("zoom",))
    env.subscribe()
    env.google.fail["create"] = ProviderError(ErrorKind.PROVIDER_DOWN, "backend error", provider="google",
                                              cause="provider_unavailable", retry_after=7)
    r = env.post(who, conferencing="zoom")
    assert problem(r, "provider", "kind", "cause") == {
        "status": 502, "code": "provider_error", "title": "Google Calendar refused the request",
        "detail": "backend error", "provider": "google", "kind": "provider_down", "cause": "provider_unavailable"}
    assert r.headers["Retry-After"] == "7"
    assert env.zoom.ops() == ["create", "delete"] and env.zoom.calls[1] == ("delete", "12345678901")
    assert env.events_of(who) == [] and env.deliveries("event.created") == []
    assert env.connection(who.calendar).last_error["cause"] == "provider_unavailable"


def test_a_meeting_that_cannot_be_deleted_leaves_the_calendar_failure_to_report(env):
    who = env.person(caps=("calendar",), zoom=("zoom",))
    env.google.fail["create"] = ProviderError(ErrorKind.PROVIDER_DOWN, "down", provider="google")
    env.zoom.fail["delete"] = ProviderError(ErrorKind.PROVIDER_DOWN, "zoom down too", provider="zoom")
    r = env.post(who, conferencing="zoom")
    assert (r.status_code, r.json["provider"], r.json["detail"]) == (502, "google", "down")


def test_a_failed_meeting_creates_no_calendar_event(env):
    who = env.person(caps=("calendar",), zoom=("zoom",))
    env.zoom.fail["create"] = ProviderError(ErrorKind.INVALID_REQUEST, "Invalid meeting type.", provider="zoom",
                                            cause="zoom_cannot_host")
    r = env.post(who, conferencing="zoom")
    # A conferencing cause is the conferencing problem, with the provider's words kept.
    assert problem(r, "reason", "cause") == {
        "status": 422, "code": "conferencing_unavailable", "title": "That conferencing is not available",
        "detail": "Zoom: Invalid meeting type.", "reason": "zoom_cannot_host", "cause": "zoom_cannot_host"}
    assert r.json["fix"] == explain("zoom_cannot_host").as_fix()  # the steps diagnostics gives
    assert env.google.calls == [] and env.zoom.ops() == ["create"]
    # An invalid request is the caller's, not the connection's health.
    assert env.connection(who.zoom).last_error is None


def test_a_revoked_grant_at_the_provider_asks_for_a_reconnect(env):
    who = env.person()
    env.google.fail["create"] = ProviderError(ErrorKind.AUTH_REVOKED, "invalid_grant", provider="google",
                                              cause="token_revoked")
    r = env.post(who)
    assert problem(r, "cause", "connection_id") == {
        "status": 409, "code": "connection_needs_reauth", "title": "The connection must be reconnected",
        "detail": "Google Calendar refused the stored grant (token_revoked).", "cause": "token_revoked",
        "connection_id": who.calendar}
    assert r.json["fix"]["action"] == "reconnect"
    assert env.link_provider(r.json["fix"]["url"]) == ("google", who.row)


def test_a_missing_meet_link_undoes_the_event_and_is_kept_for_diagnostics(env):
    who = env.person()
    env.google.link = False
    env.google.fail["cancel"] = ProviderError(ErrorKind.PROVIDER_DOWN, "cannot delete", provider="google")
    r = env.post(who, conferencing="google_meet", send_updates=True)
    message = "Google Calendar returned no Google Meet link, so the calendar event was deleted again; nothing was booked."
    assert problem(r, "cause", "provider") == {
        "status": 502, "code": "provider_error", "title": "The meeting link was not generated", "detail": message,
        "cause": "meet_unavailable", "provider": "google"}
    assert r.json["fix"] == explain("meet_unavailable").as_fix()
    assert env.google.calls[1] == ("cancel", "ev1", False)  # removed quietly: no cancellation mails
    assert env.events_of(who) == []
    error = env.connection(who.calendar).last_error
    assert (error["kind"], error["cause"], error["message"]) == ("unknown", "meet_unavailable", message)


def test_teams_link_missing_is_named_for_teams(env):
    who = env.person(calendar="microsoft", caps=("calendar", "teams"))
    env.microsoft.link = False
    r = env.post(who, conferencing="teams")
    assert (r.json["cause"], r.json["provider"]) == ("teams_link_not_generated", "microsoft")
    assert env.microsoft.ops() == ["create", "cancel"]


def test_health_record_last_used_is_written_once_a_minute(env):
    who = env.person(caps=("calendar",), last_error={"cause": "provider_unavailable"})
    assert env.post(who).status_code == 201
    first = env.connection(who.calendar)
    assert first.last_error is None and first.last_used_at is not None
    env.hub.clock = lambda: NOW + timedelta(seconds=59)
    env.post(who)
    assert env.connection(who.calendar).last_used_at == first.last_used_at
    env.hub.clock = lambda: NOW + timedelta(seconds=60)
    env.post(who)
    assert env.connection(who.calendar).last_used_at != first.last_used_at


def test_the_write_skips_the_health_record_within_the_minute(env, monkeypatch):
    """A healthy connection used within the minute costs no extra transaction."""
    import hub.services.events as events
    who = env.person(caps=("calendar",))
    env.post(who)
    recorded: list = []
    monkeypatch.setattr(events, "record_outcome", lambda *a: recorded.append(a))
    env.hub.clock = lambda: NOW + timedelta(seconds=30)
    env.post(who)
    assert recorded == []
    env.hub.clock = lambda: NOW + timedelta(seconds=61)
    env.post(who)
    assert [(a[1], a[3]) for a in recorded] == [(who.calendar, None)]


def test_an_event_that_cannot_be_stored_leaves_nothing_booked_elsewhere(env):
    who = env.person(caps=("calendar",))
    r = env.post(who, title="x" * 1025)
    assert r.status_code == 422 and env.google.calls == []


# --- attendance ------------------------------------------------------------------------------------

def test_attendance_is_prepared_before_anything_and_watched_with_the_event(env):
    who = env.person(caps=("calendar",), zoom=("zoom",))
    watching = Watching()
    env.services.events.attendance = watching
    r = env.post(who, conferencing="zoom", attendees=[{"email": "cand@example.com"}],
                 attendance={"grace_minutes": 5, "late_after_minutes": 2, "candidate_email": "cand@example.com"})
    assert r.status_code == 201, r.json
    (op, tenant_id, organizer, attendees, conferencing, conn_id, rules), watch = watching.calls
    assert (op, tenant_id, organizer, attendees, conferencing, conn_id) == (
        "prepare", env.tenant_id, who.user_id, (Attendee("cand@example.com"),), "zoom", who.zoom)
    assert (rules.grace_minutes, rules.late_after_minutes, rules.candidate_email) == (5, 2, "cand@example.com")
    assert watch == ("watch", r.json["id"], "prepared")


def test_attendance_on_a_native_meeting_reads_the_calendar_connection(env):
    who = env.person()
    watching = Watching()
    env.services.events.attendance = watching
    env.services.events.check_attendance(env.tenant_id, NewEvent(
        who.user_id, "t", START, START + timedelta(hours=1), attendance=object()))  # type: ignore[arg-type]
    assert [(c[0], c[1], c[4], c[5]) for c in watching.calls] == [
        ("prepare", env.tenant_id, "google_meet", who.calendar)]
    assert env.google.calls == []


def test_no_attendance_asked_means_no_watch(env):
    who = env.person()
    watching = Watching()
    env.services.events.attendance = watching
    assert env.post(who).status_code == 201
    assert watching.calls == []


def test_attendance_on_a_hub_that_does_not_track_it_is_refused(env):
    who = env.person()
    service = EventService(env.hub, lambda *a: "https://hub.example/connect/x", None)
    with pytest.raises(Invalid) as err:
        service.create(env.tenant_id, NewEvent(who.user_id, "t", START, START + timedelta(hours=1),
                                               attendance=object()), "h")  # type: ignore[arg-type]
    assert (err.value.code, err.value.title) == ("attendance_unavailable", "Attendance is not tracked by this hub")
    assert env.google.calls == []
    made = service.create(env.tenant_id, NewEvent(who.user_id, "t", START, START + timedelta(hours=1)), "h2")
    assert made["status"] == "confirmed"


# --- moving --------------------------------------------------------------------------------------

def _zoom_event(env, **body) -> tuple[Person, dict]:
    who = env.person(caps=("calendar",), zoom=("zoom",))
    env.subscribe()
    r = env.post(who, conferencing="zoom", description="Agenda", timezone="Europe/Oslo", **body)
    assert r.status_code == 201, r.json
    env.zoom.calls.clear()
    env.google.calls.clear()
    return who, r.json


def test_moving_a_zoom_event_moves_the_meeting_then_the_calendar(env):
    who, made = _zoom_event(env)
    watching = Watching()
    env.services.events.attendance = watching
    env.watched(who.calendar)
    new_start = START + timedelta(hours=2)
    r = env.patch(made["id"], start=_at(new_start), end=_at(new_start + timedelta(minutes=30)), send_updates=False)
    assert r.status_code == 200, r.json
    assert env.zoom.calls == [("update", "12345678901", MeetingDraft("Interview", new_start, 30, "Europe/Oslo",
                                                                     "Agenda"))]
    assert env.google.ops() == ["update"]
    [(_, event_id, changes)] = env.google.calls
    assert event_id == "ev1"
    assert (changes.start, changes.end, changes.title, changes.description, changes.attendees,
            changes.send_updates) == (new_start, new_start + timedelta(minutes=30), None, None, None, False)
    assert r.json == {**made, "start": _at(new_start), "end": _at(new_start + timedelta(minutes=30))}
    row = env.event(made["id"])
    assert (row.start.replace(tzinfo=timezone.utc), row.write_started_at) == (new_start, None)
    assert env.deliveries("event.updated") == [r.json]
    assert watching.calls == [("moved", made["id"], row.start)]
    assert watching.previous_starts == [START]  # attendance tells a new start from a new end by it
    assert len(env.sync_runs(who.calendar)) == 1


def test_a_new_description_keeps_the_join_details_at_the_calendar_only(env):
    who, made = _zoom_event(env)
    r = env.patch(made["id"], description="New agenda", title="Final round")
    assert r.status_code == 200, r.json
    assert env.google.ops() == ["update"]
    [(_, _, changes)] = env.google.calls
    assert changes.description == (f"New agenda\n\nJoin Zoom Meeting: {JOIN}\nMeeting ID: 123 4567 8901\n"
                                   "Passcode: pw1")
    assert changes.title == "Final round" and (changes.start, changes.end) == (None, None)
    assert env.zoom.calls == [("update", "12345678901", MeetingDraft("Final round", START, 45, "Europe/Oslo",
                                                                     "New agenda"))]
    assert (r.json["description"], r.json["title"]) == ("New agenda", "Final round")
    row = env.event(made["id"])
    assert (row.description, row.title) == ("New agenda", "Final round")


def test_clearing_the_description_keeps_the_join_details(env):
    who, made = _zoom_event(env)
    r = env.patch(made["id"], description=None)
    assert r.status_code == 200, r.json
    assert env.google.calls[0][2].description.startswith(f"Join Zoom Meeting: {JOIN}")
    assert env.zoom.calls[0][2].agenda is None
    assert r.json["description"] is None and env.event(made["id"]).description is None


def test_changing_only_attendees_leaves_the_meeting_alone(env):
    who, made = _zoom_event(env)
    watching = Watching()
    env.services.events.attendance = watching
    r = env.patch(made["id"], attendees=[{"email": "new@example.com"}])
    assert r.status_code == 200, r.json
    assert env.zoom.calls == []
    assert env.google.ops() == ["update"]
    [(_, _, changes)] = env.google.calls
    assert (changes.attendees, changes.title, changes.description) == ((Attendee("new@example.com"),), None, None)
    assert env.event(made["id"]).attendees == [{"email": "new@example.com", "name": None, "optional": False}]
    assert watching.calls == []  # nothing moved: the deadlines stand
    assert r.json["title"] == "Interview" and r.json["description"] == "Agenda"


def test_a_title_change_alone_renames_the_meeting(env):
    who, made = _zoom_event(env)
    env.patch(made["id"], title="Renamed")
    assert env.zoom.calls == [("update", "12345678901", MeetingDraft("Renamed", START, 45, "Europe/Oslo", "Agenda"))]
    assert env.google.calls[0][2].description is None  # not given: the calendar's text stays


def test_moving_the_end_alone_moves_the_meeting(env):
    who, made = _zoom_event(env)
    watching = Watching()
    env.services.events.attendance = watching
    r = env.patch(made["id"], end=_at(START + timedelta(minutes=90)))
    assert r.status_code == 200, r.json
    assert env.zoom.calls == [("update", "12345678901", MeetingDraft("Interview", START, 90, "Europe/Oslo",
                                                                     "Agenda"))]
    assert len(watching.calls) == 1


def test_a_failed_calendar_move_puts_the_meeting_back(env):
    who, made = _zoom_event(env)
    env.google.fail["update"] = ProviderError(ErrorKind.PROVIDER_DOWN, "backend error", provider="google")
    env.zoom.fail["update"] = None  # type: ignore[assignment]
    del env.zoom.fail["update"]
    new_start = START + timedelta(hours=3)
    r = env.patch(made["id"], start=_at(new_start), end=_at(new_start + timedelta(hours=1)), title="Moved")
    assert (r.status_code, r.json["code"]) == (502, "provider_error")
    assert env.zoom.calls == [
        ("update", "12345678901", MeetingDraft("Moved", new_start, 60, "Europe/Oslo", "Agenda")),
        ("update", "12345678901", MeetingDraft("Interview", START, 45, "Europe/Oslo", "Agenda"))]
    row = env.event(made["id"])
    assert (row.start.replace(tzinfo=timezone.utc), row.title, row.write_started_at) == (START, "Interview", None)
    assert env.deliveries("event.updated") == []


def test_a_meeting_that_cannot_be_put_back_leaves_the_calendar_failure_to_report(env):
    who, made = _zoom_event(env)
    env.google.fail["update"] = ProviderError(ErrorKind.PROVIDER_DOWN, "calendar down", provider="google")
    r = env.patch(made["id"], title="Moved")
    assert r.status_code == 502
    env.zoom.fail["update"] = ProviderError(ErrorKind.PROVIDER_DOWN, "zoom down", provider="zoom")
    r = env.patch(made["id"], title="Moved")
    assert r.status_code == 502 and r.json["detail"] == "zoom down"  # the meeting move itself failed first
    assert env.google.ops() == ["update"]


def test_a_failed_meeting_move_leaves_the_calendar_alone_and_clears_the_mark(env):
    who, made = _zoom_event(env)
    env.zoom.fail["update"] = ProviderError(ErrorKind.PROVIDER_DOWN, "zoom down", provider="zoom")
    r = env.patch(made["id"], title="Moved")
    assert (r.status_code, r.json["provider"]) == (502, "zoom")
    assert env.google.calls == [] and env.event(made["id"]).write_started_at is None


def test_a_broken_zoom_refuses_the_move_before_anything_moves(env):
    who, made = _zoom_event(env)
    with env.hub.db.session() as s:
        s.get(Connection, who.zoom).status = "needs_reauth"
    r = env.patch(made["id"], start=_at(START + timedelta(hours=1)), end=_at(START + timedelta(hours=2)))
    assert (r.status_code, r.json["connection_id"]) == (409, who.zoom)
    assert env.google.calls == [] and env.zoom.calls == []
    # Attendees alone do not touch the meeting: a broken Zoom does not block them.
    assert env.patch(made["id"], attendees=[]).status_code == 200


def test_a_broken_calendar_refuses_the_move(env):
    who, made = _zoom_event(env)
    with env.hub.db.session() as s:
        s.get(Connection, who.calendar).status = "needs_reauth"
    r = env.patch(made["id"], title="x")
    assert (r.status_code, r.json["connection_id"]) == (409, who.calendar)
    assert env.google.calls == [] and env.zoom.calls == []


def test_end_before_start_is_refused_naming_the_field(env):
    who, made = _zoom_event(env)
    r = env.patch(made["id"], start=_at(START + timedelta(minutes=45)))
    assert problem(r, "errors") == {
        "status": 422, "code": "validation_failed", "title": "The request is not valid",
        "detail": "end must be after start.", "errors": [{"field": "end", "message": "must be after start"}]}
    assert env.google.calls == [] and env.zoom.calls == []
    assert env.patch(made["id"], end=_at(START + timedelta(minutes=1))).status_code == 200


def test_a_cancelled_event_cannot_be_moved(env):
    who, made = _zoom_event(env)
    assert env.delete(made["id"]).status_code == 204
    env.google.calls.clear()
    r = env.patch(made["id"], title="Again")
    assert problem(r) == {"status": 409, "code": "event_cancelled", "title": "The event is cancelled",
                          "detail": "A cancelled event cannot be changed."}
    assert env.google.calls == []


def test_an_event_whose_calendar_connection_is_gone_cannot_be_moved(env):
    who = env.person(caps=("calendar",))
    made = env.post(who).json
    with env.hub.db.session() as s:
        s.get(Event, made["id"]).connection_id = "con_gone"
    env.google.calls.clear()
    r = env.patch(made["id"], title="x")
    assert problem(r) == {
        "status": 409, "code": "no_calendar_connection", "title": "The calendar connection is gone",
        "detail": "The connection that holds this event was removed; the event cannot be moved."}
    assert env.google.calls == []
    r = env.delete(made["id"])  # cancelling still records it, with nothing to call
    assert r.status_code == 204 and env.google.calls == [] and env.event(made["id"]).status == "cancelled"


def test_a_plain_event_moves_without_a_meeting(env):
    who = env.person(caps=("calendar",))
    made = env.post(who, description="Plain").json
    env.google.calls.clear()
    r = env.patch(made["id"], description="Changed")
    assert env.google.calls[0][2].description == "Changed" and env.zoom.calls == []
    assert r.json["description"] == "Changed"


# --- cancelling ----------------------------------------------------------------------------------

def test_cancelling_removes_the_event_and_its_meeting_once(env):
    who, made = _zoom_event(env, send_updates=False)
    watching = Watching()
    env.services.events.attendance = watching
    env.watched(who.calendar)
    assert env.delete(made["id"]).status_code == 204
    assert env.google.calls == [("cancel", "ev1", False)]
    assert env.zoom.calls == [("delete", "12345678901")]
    row = env.event(made["id"])
    assert (row.status, row.write_started_at) == ("cancelled", None)
    [cancelled] = env.deliveries("event.cancelled")
    assert cancelled == {**made, "status": "cancelled"}
    assert watching.calls == [("stopped", made["id"])]
    assert len(env.sync_runs(who.calendar)) == 1
    assert env.delete(made["id"]).status_code == 204  # again: nothing called, nothing queued
    assert len(env.google.calls) == 1 and len(env.deliveries("event.cancelled")) == 1
    assert env.client.get(f"/v1/events/{made['id']}", headers=env.headers).json["status"] == "cancelled"


def test_a_failed_cancel_keeps_the_event_and_clears_the_mark(env):
    who, made = _zoom_event(env)
    env.google.fail["cancel"] = ProviderError(ErrorKind.PROVIDER_DOWN, "down", provider="google")
    r = env.delete(made["id"])
    assert r.status_code == 502
    assert env.zoom.calls == []  # the meeting stays with the event
    row = env.event(made["id"])
    assert (row.status, row.write_started_at) == ("confirmed", None)
    assert env.deliveries("event.cancelled") == []


def test_a_broken_calendar_refuses_the_cancel(env):
    who, made = _zoom_event(env)
    with env.hub.db.session() as s:
        s.get(Connection, who.calendar).status = "needs_reauth"
    r = env.delete(made["id"])
    assert (r.status_code, r.json["connection_id"]) == (409, who.calendar)
    assert env.google.calls == [] and env.event(made["id"]).status == "confirmed"


def test_a_broken_zoom_refuses_the_cancel_before_anything_goes(env):
    who, made = _zoom_event(env)
    with env.hub.db.session() as s:
        s.get(Connection, who.zoom).status = "needs_reauth"
    env.google.calls.clear()
    env.zoom.calls.clear()
    r = env.delete(made["id"])
    assert (r.status_code, r.json["code"], r.json["connection_id"]) == (409, "connection_needs_reauth", who.zoom)
    assert env.google.calls == [] and env.zoom.calls == []
    assert env.event(made["id"]).status == "confirmed"


def test_a_cancel_that_lost_a_race_queues_no_second_webhook(env):
    """Two cancels read the event as confirmed; only the first to store it says so."""
    who, made = _zoom_event(env)
    calendar = env.google

    class Racing(FakeCalendar):
        def cancel_event(self, token, event_id, send_updates=True):
            calendar.cancel_event(token, event_id, send_updates)
            with env.hub.db.session() as s:
                s.get(Event, made["id"]).status = "cancelled"

    env.hub.use("calendar", "google", Racing("google", "google_meet"))
    assert env.delete(made["id"]).status_code == 204
    assert env.deliveries("event.cancelled") == []


def test_a_plain_event_cancels_without_a_meeting_call(env):
    who = env.person(caps=("calendar",))
    made = env.post(who).json
    assert env.delete(made["id"]).status_code == 204
    assert env.zoom.calls == [] and env.google.ops() == ["create", "cancel"]


# --- tenancy -------------------------------------------------------------------------------------

def test_another_tenants_event_is_not_found_and_never_reaches_the_provider(env):
    who, made = _zoom_event(env)
    _, other_key = create_api_key(env.hub.db, f"other-{uuid.uuid4().hex[:8]}")
    other = {"Authorization": f"Bearer {other_key}"}
    for r in (env.client.get(f"/v1/events/{made['id']}", headers=other),
              env.client.patch(f"/v1/events/{made['id']}", json={"title": "Hijacked"}, headers=other),
              env.client.delete(f"/v1/events/{made['id']}", headers=other)):
        assert problem(r) == {"status": 404, "code": "event_not_found", "title": "Event not found",
                              "detail": f"No event {made['id']!r} exists for this API key."}
    assert env.google.calls == [] and env.zoom.calls == []
    assert env.client.get(f"/v1/events/{made['id']}", headers=env.headers).json == made


# --- the write mark (a sync meanwhile leaves the row alone: tests/unit/test_sync_service.py) ----

def test_the_row_is_marked_while_the_provider_is_written_and_a_failure_queues_a_sync(env):
    who, made = _zoom_event(env)
    env.watched(who.calendar)
    seen: list = []

    class Looking(FakeCalendar):
        def update_event(self, token, event_id, changes):
            seen.append(env.event(made["id"]).write_started_at)
            raise ProviderError(ErrorKind.PROVIDER_DOWN, "down", provider="google")

        def cancel_event(self, token, event_id, send_updates=True):
            seen.append(env.event(made["id"]).write_started_at)

    env.hub.use("calendar", "google", Looking("google", "google_meet"))
    assert env.patch(made["id"], title="x").status_code == 502
    assert seen[0] is not None and env.event(made["id"]).write_started_at is None
    assert len(env.sync_runs(who.calendar)) == 1  # the write failed: a sync finds what it skipped
    assert env.delete(made["id"]).status_code == 204
    assert seen[1] is not None and env.event(made["id"]).write_started_at is None


# --- what a booking made in code gets (scheduling builds NewEvent / EventUpdate itself) ---------

def test_a_booking_made_in_code_sends_invitations_and_holds_at_least_a_minute(env):
    who = env.person(caps=("calendar",), zoom=("zoom",))
    service = env.services.events
    made = service.create(env.tenant_id, NewEvent(who.user_id, "Call", START, START + timedelta(seconds=59),
                                                  conferencing="zoom"), "handle-1")
    assert env.zoom.calls[0][1] == MeetingDraft("Call", START, 1, None, None)
    draft = env.google.calls[0][1]
    assert (draft.send_updates, draft.attendees, draft.description is not None, draft.location, draft.timezone,
            draft.idempotency_handle) == (True, (), True, JOIN, None, "handle-1")
    assert env.event(made["id"]).send_updates is True
    env.google.calls.clear()
    env.zoom.calls.clear()
    later = START + timedelta(hours=1)
    moved = service.update(env.tenant_id, made["id"], EventUpdate(given=frozenset({"start", "end"}), start=later,
                                                                  end=later + timedelta(seconds=30)))
    assert env.zoom.calls[0][2] == MeetingDraft("Call", later, 1, None, None)
    changes = env.google.calls[0][2]
    assert (changes.send_updates, changes.title, changes.description, changes.attendees) == (True, None, None, None)
    assert moved["start"] == later
    # The meeting put back after a failed move is as long as it was: one minute.
    env.google.fail["update"] = ProviderError(ErrorKind.PROVIDER_DOWN, "down", provider="google")
    with pytest.raises(ProviderFailed):
        service.update(env.tenant_id, made["id"], EventUpdate(given=frozenset({"title"}), title="T2"))
    assert env.zoom.calls[-1][2] == MeetingDraft("Call", later, 1, None, None)


def test_a_native_meetings_description_gets_no_join_text_from_the_hub(env):
    """The calendar writes Meet/Teams details itself; only an external meeting's are added."""
    who = env.person()
    env.google.meeting_id = "abc-defg-hij"
    made = env.post(who, description="Agenda").json
    assert made["conferencing"] == {"provider": "google_meet", "join_url": "https://google_meet.example/1",
                                    "meeting_id": "abc-defg-hij"}
    env.google.calls.clear()
    r = env.patch(made["id"], description="New", start=_at(START + timedelta(hours=1)),
                  end=_at(START + timedelta(hours=2)))
    assert r.status_code == 200, r.json
    assert env.google.calls[0][2].description == "New" and env.zoom.calls == []
    assert env.delete(made["id"]).status_code == 204 and env.zoom.calls == []


def test_a_null_title_changes_nothing(env):
    who, made = _zoom_event(env)
    r = env.patch(made["id"], title=None)
    assert r.status_code == 200, r.json
    assert r.json["title"] == "Interview" and env.event(made["id"]).title == "Interview"
    assert env.google.calls[0][2].title is None
    assert env.zoom.calls[0][2].topic == "Interview"


@pytest.mark.parametrize("provider,op,act", [("zoom", "create", "post"), ("zoom", "update", "patch"),
                                             ("google", "update", "patch"), ("google", "cancel", "delete"),
                                             ("zoom", "delete", "delete")])
def test_a_grant_revoked_mid_request_links_that_person_to_reconnect_that_provider(env, provider, op, act):
    who, made = _zoom_event(env)
    fake = env.zoom if provider == "zoom" else env.google
    fake.fail[op] = ProviderError(ErrorKind.AUTH_REVOKED, "invalid_grant", provider=provider, cause="token_revoked")
    r = {"post": lambda: env.post(who, conferencing="zoom"), "patch": lambda: env.patch(made["id"], title="New"),
         "delete": lambda: env.delete(made["id"])}[act]()
    assert (r.status_code, r.json["code"], r.json["connection_id"]) == (
        409, "connection_needs_reauth", who.zoom if provider == "zoom" else who.calendar)
    assert env.link_provider(r.json["fix"]["url"]) == (provider, who.row)


def test_a_cancel_whose_meeting_cannot_be_deleted_drops_the_mark_and_queues_a_sync(env):
    """The calendar event is gone but the meeting stays: the row is not cancelled (a retried
    DELETE finishes the job), and a sync is not kept from looking at the calendar."""
    who, made = _zoom_event(env)
    env.watched(who.calendar)
    env.zoom.fail["delete"] = ProviderError(ErrorKind.PROVIDER_DOWN, "zoom down", provider="zoom")
    r = env.delete(made["id"])
    assert (r.status_code, r.json["provider"]) == (502, "zoom")
    row = env.event(made["id"])
    assert (row.status, row.write_started_at) == ("confirmed", None)
    assert len(env.sync_runs(who.calendar)) == 1
    del env.zoom.fail["delete"]
    assert env.delete(made["id"]).status_code == 204
    assert env.zoom.ops() == ["delete", "delete"] and env.event(made["id"]).status == "cancelled"


def test_a_failed_move_of_a_plain_event_is_the_calendars_failure(env):
    who = env.person(caps=("calendar",))
    made = env.post(who).json
    env.google.fail["update"] = ProviderError(ErrorKind.RATE_LIMITED, "slow down", provider="google",
                                              cause="rate_limited", retry_after=30)
    r = env.patch(made["id"], title="New")
    assert (r.status_code, r.json["kind"], r.json["cause"], r.headers["Retry-After"]) == (
        502, "rate_limited", "rate_limited", "30")
    assert env.zoom.calls == [] and env.event(made["id"]).title == "Interview"


def test_a_zoom_meeting_without_a_passcode_shows_none(env):
    who = env.person(caps=("calendar",), zoom=("zoom",))
    env.zoom.passcode = ""
    r = env.post(who, conferencing="zoom")
    assert r.json["conferencing"] == {"provider": "zoom", "join_url": JOIN, "meeting_id": "12345678901"}
    assert env.google.calls[0][1].description == f"Join Zoom Meeting: {JOIN}\nMeeting ID: 123 4567 8901"


def test_an_answer_an_attendee_gave_is_shown(env):
    who = env.person(caps=("calendar",))
    made = env.post(who, attendees=[{"email": "a@example.com"}, {"email": "b@example.com"}]).json
    with env.hub.db.session() as s:  # as the sync records answers (hub/services/sync)
        row = s.get(Event, made["id"])
        row.attendees = [{**row.attendees[0], "response_status": "accepted"}, row.attendees[1]]
    got = env.client.get(f"/v1/events/{made['id']}", headers=env.headers).json
    assert [a["response_status"] for a in got["attendees"]] == ["accepted", "needs_action"]


def test_a_newer_zoom_account_that_may_not_host_does_not_shadow_one_that_can(env):
    who = env.person(caps=("calendar",), zoom=("zoom",))
    env.add_zoom(who, [], "active", NOW + timedelta(minutes=1))
    r = env.post(who, conferencing="zoom")
    assert r.status_code == 201, r.json
    assert env.events_of(who)[0].conference_connection_id == who.zoom


def test_the_hubs_own_attendance_service_is_asked(env):
    """Wired as the app wires it: a connection without the attendance scopes is refused by it."""
    who = env.person()
    r = env.post(who, attendees=[{"email": "cand@example.com"}], attendance={"candidate_email": "cand@example.com"})
    assert (r.status_code, r.json["code"], r.json.get("cause")) == (422, "attendance_unavailable", "scopes_missing")
    assert env.google.calls == []


# --- idempotency key ---------------------------------------------------------------------------

def test_a_keyed_answer_is_stored_with_the_event_or_not_at_all(env, monkeypatch):
    import hub.api.v1 as v1
    who = env.person(caps=("calendar",))
    keyed = {"_headers": {"Idempotency-Key": f"k-{uuid.uuid4().hex[:8]}"}}
    real = v1.complete_in

    def fails_after_the_event_row(unit, *args):
        real(unit, *args)  # the event row and the answer are both written…
        raise RuntimeError("the transaction fails after both writes")  # …and rolled back together

    monkeypatch.setattr(v1, "complete_in", fails_after_the_event_row)
    r = env.post(who, **dict(keyed))
    assert r.status_code == 500
    assert env.events_of(who) == []  # no row without its stored answer
    monkeypatch.setattr(v1, "complete_in", real)
    r = env.post(who, **dict(keyed))  # the key was given back: the retry books
    assert r.status_code == 201, r.json
    assert [e.id for e in env.events_of(who)] == [r.json["id"]]
    again = env.post(who, **dict(keyed))
    assert again.status_code == 201 and again.json == r.json and again.headers["Idempotent-Replayed"] == "true"
