"""webhooks/zoom_events.py on a real database, called directly: which Zoom events are kept
against which hub event, what each row says, what counts as the same event twice, and what
app_deauthorized does to the Zoom connections of that Zoom user."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from hub.storage.models import Connection, Event, Tenant, User, ZoomWebhookEvent
from providers.base import ErrorKind
from webhooks import zoom_events

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)


def clock() -> datetime:
    return NOW


class World:
    """A tenant with one organizer, Zoom connections and hub events holding Zoom meetings."""

    def __init__(self, db) -> None:
        self.db = db
        with db.session() as s:
            tenant = Tenant(name=f"zoom-{uuid.uuid4().hex[:8]}")
            s.add(tenant)
            s.flush()
            user = User(tenant_id=tenant.id, external_id="org", email="org@example.com")
            s.add(user)
            s.flush()
            self.tenant_id, self.user_id = tenant.id, user.id

    def user(self) -> str:
        with self.db.session() as s:
            user = User(tenant_id=self.tenant_id, external_id=uuid.uuid4().hex, email="other@example.com")
            s.add(user)
            s.flush()
            return user.id

    def connection(self, account: str | None = None, provider: str = "zoom", status: str = "active",
                   user_id: str | None = None) -> str:
        with self.db.session() as s:
            conn = Connection(tenant_id=self.tenant_id, user_id=user_id or self.user_id, provider=provider,
                              provider_account_id=account or f"zu-{uuid.uuid4().hex[:8]}", status=status,
                              access_token_enc="enc-a", refresh_token_enc="enc-r",
                              access_expires_at=NOW + timedelta(hours=1))
            s.add(conn)
            s.flush()
            return conn.id

    def account(self, connection_id: str) -> str:
        with self.db.session() as s:
            return s.get(Connection, connection_id).provider_account_id

    def event(self, meeting_id: str, conference_connection_id: str | None, created_at: datetime = NOW) -> str:
        with self.db.session() as s:
            ev = Event(tenant_id=self.tenant_id, organizer_id=self.user_id, connection_id="con_cal",
                       conference_connection_id=conference_connection_id, title="Interview", start=NOW,
                       end=NOW + timedelta(hours=1), calendar_provider="google", provider_event_id="g1",
                       conferencing={"provider": "zoom", "meeting_id": meeting_id}, created_at=created_at)
            s.add(ev)
            s.flush()
            return ev.id

    def rows(self, meeting_id: str) -> list[ZoomWebhookEvent]:
        with self.db.session() as s:
            rows = s.execute(select(ZoomWebhookEvent).where(ZoomWebhookEvent.meeting_id == meeting_id)
                             .order_by(ZoomWebhookEvent.id)).scalars().all()
            s.expunge_all()
            return list(rows)


@pytest.fixture
def world(database) -> World:
    return World(database)


def meeting_id() -> str:
    return str(uuid.uuid4().int % 10**11)


def body(event: str, meeting: dict, event_ts=None, account_id="acc-1") -> dict:
    out = {"event": event, "payload": {"account_id": account_id, "object": meeting}}
    if event_ts is not None:
        out["event_ts"] = event_ts
    return out


def test_a_join_is_recorded_against_the_hub_event_with_who_and_when(world):
    conn = world.connection()
    mid = meeting_id()
    event_id = world.event(mid, conn)
    participant = {"participant_uuid": "p-uuid", "id": "p-id", "user_id": "p-user", "user_name": "Grace Hopper",
                   "email": "grace@example.com", "customer_key": "ck-1", "join_time": "2026-03-02T13:02:00Z"}
    meeting = {"id": int(mid), "uuid": "inst==", "host_id": world.account(conn), "participant": participant}
    out = zoom_events.handle(world.db, body("meeting.participant_joined", meeting, event_ts=1), clock)
    assert out == zoom_events.Outcome("recorded", event_id)
    [row] = world.rows(mid)
    assert (row.event_type, row.occurred_at.replace(tzinfo=timezone.utc), row.received_at.replace(tzinfo=timezone.utc)) \
        == ("meeting.participant_joined", datetime(2026, 3, 2, 13, 2, tzinfo=timezone.utc), NOW)
    assert (row.zoom_account_id, row.zoom_user_id, row.meeting_id, row.meeting_uuid) == (
        "acc-1", world.account(conn), mid, "inst==")
    assert (row.tenant_id, row.event_id) == (world.tenant_id, event_id)
    assert (row.participant_id, row.participant_name, row.participant_email, row.participant_key) == (
        "p-uuid", "Grace Hopper", "grace@example.com", "ck-1")
    assert zoom_events.activity(world.db, event_id) == [
        {"type": "meeting.participant_joined", "at": row.occurred_at, "participant": "Grace Hopper",
         "email": "grace@example.com"}]


@pytest.mark.parametrize("given, expected", [
    ({"participant_uuid": "a", "id": "b", "user_id": "c", "user_name": "d"}, "a"),
    ({"id": "b", "user_id": "c", "user_name": "d"}, "b"),
    ({"user_id": "c", "user_name": "d"}, "c"),
    ({"user_name": "d"}, "d"),
    ({}, None),
])
def test_the_participant_is_named_by_the_most_stable_id_zoom_gives(world, given, expected):
    conn = world.connection()
    mid = meeting_id()
    world.event(mid, conn)
    meeting = {"id": mid, "participant": {**given, "email": "", "join_time": "2026-03-02T13:02:00Z"}}
    assert zoom_events.handle(world.db, body("meeting.participant_joined", meeting), clock).status == "recorded"
    [row] = world.rows(mid)
    assert row.participant_id == expected
    assert row.participant_email is None  # guests often come with "" for an email
    assert row.participant_key is None and row.meeting_uuid is None


@pytest.mark.parametrize("event, meeting, expected", [
    ("meeting.participant_joined", {"participant": {"join_time": "2026-03-02T13:01:00Z",
                                                    "leave_time": "2026-03-02T13:09:00Z"},
                                    "start_time": "2026-03-02T13:00:00Z"}, "13:01"),
    ("meeting.participant_left", {"participant": {"join_time": "2026-03-02T13:01:00Z",
                                                  "leave_time": "2026-03-02T13:09:00Z"},
                                  "start_time": "2026-03-02T13:00:00Z"}, "13:09"),
    ("meeting.started", {"start_time": "2026-03-02T13:00:00Z", "end_time": "2026-03-02T14:00:00Z",
                         "participant": {"join_time": "2026-03-02T13:01:00Z"}}, "13:00"),
    ("meeting.ended", {"start_time": "2026-03-02T13:00:00Z", "end_time": "2026-03-02T14:00:00Z",
                       "participant": {"leave_time": "2026-03-02T13:09:00Z"}}, "14:00"),
])
def test_each_kind_of_event_takes_its_own_time(world, event, meeting, expected):
    conn = world.connection()
    mid = meeting_id()
    world.event(mid, conn)
    assert zoom_events.handle(world.db, body(event, {"id": mid, **meeting}, event_ts=1), clock).status == "recorded"
    [row] = world.rows(mid)
    assert row.occurred_at.strftime("%H:%M") == expected


@pytest.mark.parametrize("event_ts, expected", [
    (1772456400000, datetime(2026, 3, 2, 13, 0, tzinfo=timezone.utc)),  # Zoom's event_ts: milliseconds
    ("1772456400000", datetime(2026, 3, 2, 13, 0, tzinfo=timezone.utc)),
    (None, NOW), ("soon", NOW), ([1], NOW), (10**30, NOW),  # nothing usable: when the hub heard of it
])
def test_without_a_time_in_the_payload_the_event_ts_then_the_clock_is_used(world, event_ts, expected):
    conn = world.connection()
    mid = meeting_id()
    world.event(mid, conn)
    meeting = {"id": mid, "participant": {"user_name": "Ada"}}
    zoom_events.handle(world.db, body("meeting.participant_joined", meeting, event_ts=event_ts), clock)
    [row] = world.rows(mid)
    assert row.occurred_at.replace(tzinfo=timezone.utc) == expected


def test_a_repeat_is_a_duplicate_and_other_moments_are_not(world):
    conn = world.connection()
    mid = meeting_id()
    event_id = world.event(mid, conn)

    def joined(at: str, uuid_: str = "inst-1", who: str = "p1") -> zoom_events.Outcome:
        meeting = {"id": mid, "uuid": uuid_, "participant": {"participant_uuid": who, "join_time": at}}
        return zoom_events.handle(world.db, body("meeting.participant_joined", meeting), clock)

    assert joined("2026-03-02T13:01:00Z") == zoom_events.Outcome("recorded", event_id)
    assert joined("2026-03-02T13:01:00Z") == zoom_events.Outcome("duplicate", event_id)  # Zoom's retry
    assert joined("2026-03-02T13:20:00Z").status == "recorded"  # rejoined later
    assert joined("2026-03-02T13:01:00Z", who="p2").status == "recorded"  # someone else
    assert joined("2026-03-02T13:01:00Z", uuid_="inst-2").status == "recorded"  # the next instance
    left = {"id": mid, "uuid": "inst-1", "participant": {"participant_uuid": "p1",
                                                         "leave_time": "2026-03-02T13:01:00Z"}}
    assert zoom_events.handle(world.db, body("meeting.participant_left", left), clock).status == "recorded"
    assert len(world.rows(mid)) == 5


def test_a_meeting_starts_once_per_instance(world):
    conn = world.connection()
    mid = meeting_id()
    world.event(mid, conn)
    first = {"id": mid, "uuid": "inst-1", "start_time": "2026-03-02T13:00:00Z"}
    again = {"id": mid, "uuid": "inst-1", "start_time": "2026-03-02T13:00:05Z"}  # Zoom's second report of it
    assert zoom_events.handle(world.db, body("meeting.started", first), clock).status == "recorded"
    assert zoom_events.handle(world.db, body("meeting.started", again), clock).status == "duplicate"
    without_uuid = {"id": mid, "start_time": "2026-03-02T13:00:00Z"}  # the meeting id stands in for it
    assert zoom_events.handle(world.db, body("meeting.started", without_uuid), clock).status == "recorded"
    assert zoom_events.handle(world.db, body("meeting.started", without_uuid), clock).status == "duplicate"


def size(column: str) -> int:
    return ZoomWebhookEvent.__table__.c[column].type.length


def test_oversized_values_are_cut_to_their_columns(world):
    """PostgreSQL refuses a value longer than its column; the 500 would make Zoom send the
    event again and again. What Zoom sends is kept, cut to fit."""
    conn = world.connection()
    mid = meeting_id()
    world.event(mid, conn)
    long = {name: name[0].upper() * 400 for name in ("user_name", "email", "customer_key", "uuid", "account_id")}
    meeting = {"id": mid, "uuid": long["uuid"], "participant": {
        "user_name": long["user_name"], "email": long["email"], "customer_key": long["customer_key"],
        "join_time": "2026-03-02T13:01:00Z"}}
    sent = body("meeting.participant_joined", meeting, account_id=long["account_id"])
    assert zoom_events.handle(world.db, sent, clock).status == "recorded"
    [row] = world.rows(mid)
    stored = {"participant_name": (row.participant_name, long["user_name"]),
              "participant_id": (row.participant_id, long["user_name"]),  # no id given: the name stands in
              "participant_email": (row.participant_email, long["email"]),
              "participant_key": (row.participant_key, long["customer_key"]),
              "meeting_uuid": (row.meeting_uuid, long["uuid"]), "zoom_account_id": (row.zoom_account_id, long["account_id"]),
              "dedupe_key": (row.dedupe_key, None)}
    for column, (value, given) in stored.items():
        assert len(value) == size(column), column
        assert given is None or value == given[:size(column)], column


def test_an_oversized_zoom_user_id_still_ends_its_connections(world):
    account = "u" * 240  # longer than zoom_user_id holds: the connection is still found by all of it
    active = world.connection(account)
    sent = {"event": "app_deauthorized", "payload": {"user_id": account, "deauthorization_time": "2026-03-02T11:00:00Z"}}
    assert zoom_events.handle(world.db, sent, clock).status == "recorded"
    assert zoom_events.handle(world.db, sent, clock).status == "duplicate"
    with world.db.session() as s:
        assert s.get(Connection, active).status == "needs_reauth"
        [row] = s.execute(select(ZoomWebhookEvent).where(ZoomWebhookEvent.event_type == "app_deauthorized",
                                                         ZoomWebhookEvent.zoom_user_id == account[:size("zoom_user_id")])
                          ).scalars().all()
        assert len(row.dedupe_key) == size("dedupe_key")


@pytest.mark.parametrize("case", ["no_meeting_id", "not_the_hubs", "other_host", "no_conference_connection",
                                  "no_conference_connection_no_host", "host_of_another_provider",
                                  "unknown_event", "payload_not_an_object", "no_event"])
def test_what_is_not_about_a_hub_meeting_is_ignored(world, case):
    conn = world.connection(provider="google" if case == "host_of_another_provider" else "zoom")
    mid = meeting_id()
    world.event(mid, None if case.startswith("no_conference_connection") else conn)
    meeting: dict = {"id": mid, "host_id": world.account(conn), "participant": {"user_name": "Ada"}}
    if case == "no_conference_connection_no_host":
        del meeting["host_id"]
    event = "meeting.participant_joined"
    if case == "no_meeting_id":
        meeting["id"] = ""
    elif case == "not_the_hubs":
        meeting["id"] = meeting_id()
    elif case == "other_host":
        meeting["host_id"] = world.account(world.connection())  # a Zoom user of the hub, not this meeting's host
    elif case == "unknown_event":
        event = "meeting.participant_admitted"
    sent = body(event, meeting)
    if case == "payload_not_an_object":
        sent["payload"] = ["object", meeting]
    elif case == "no_event":
        del sent["event"]
    assert zoom_events.handle(world.db, sent, clock) == zoom_events.Outcome("ignored")
    assert world.rows(mid) == []


def test_the_host_picks_the_hub_event_and_the_newest_one_wins(world):
    first, second = world.connection(), world.connection()
    mid = meeting_id()
    older = world.event(mid, first, created_at=NOW - timedelta(days=2))
    mine = world.event(mid, second, created_at=NOW - timedelta(days=1))
    newest = world.event(mid, first, created_at=NOW)
    meeting = {"id": mid, "host_id": world.account(second), "participant": {"user_name": "Ada"}}
    assert zoom_events.handle(world.db, body("meeting.participant_joined", meeting, 1), clock).event_id == mine
    meeting = {"id": mid, "participant": {"user_name": "Bea"}}  # no host named: the newest
    assert zoom_events.handle(world.db, body("meeting.participant_joined", meeting, 1), clock).event_id == newest
    assert older not in {r.event_id for r in world.rows(mid)}


def test_deauthorization_stops_every_connection_of_that_zoom_user(world):
    account = f"zu-{uuid.uuid4().hex[:8]}"
    broken = world.connection(account, status="needs_reauth", user_id=world.user())  # the same Zoom user, twice
    active = world.connection(account)
    other_user = world.connection()
    other_provider = world.connection(account, provider="google")
    heard = []
    sent = {"event": "app_deauthorized", "event_ts": 1,
            "payload": {"account_id": "acc-9", "user_id": account, "deauthorization_time": "2026-03-02T11:00:00Z"}}
    out = zoom_events.handle(world.db, sent, clock, lambda s, c, old, err: heard.append((c.id, old, err)))
    assert out == zoom_events.Outcome("recorded")
    with world.db.session() as s:
        conns = {cid: s.get(Connection, cid) for cid in (active, broken, other_user, other_provider)}
        for cid in (active, broken):  # dead at Zoom: dropped, as Zoom's data rules ask
            assert (conns[cid].access_token_enc, conns[cid].refresh_token_enc, conns[cid].access_expires_at) == (
                None, None, None)
        for cid in (other_user, other_provider):
            assert (conns[cid].status, conns[cid].access_token_enc) == ("active", "enc-a")
        assert conns[active].status == "needs_reauth"
        assert conns[active].last_error == {"kind": "auth_revoked", "cause": "zoom_token_revoked",
                                            "message": conns[active].last_error["message"],
                                            "provider_code": "app_deauthorized", "at": NOW.isoformat()}
        assert "Reconnect Zoom" in conns[active].last_error["message"]
        assert conns[broken].last_error is None  # already broken: its record stands
        row = s.execute(select(ZoomWebhookEvent).where(ZoomWebhookEvent.zoom_user_id == account)).scalar_one()
        assert (row.event_type, row.zoom_account_id, row.occurred_at.replace(tzinfo=timezone.utc)) == (
            "app_deauthorized", "acc-9", datetime(2026, 3, 2, 11, 0, tzinfo=timezone.utc))
    [(cid, old, err)] = heard  # only the change of status is announced
    assert (cid, old, err.kind, err.cause, err.provider) == (active, "active", ErrorKind.AUTH_REVOKED,
                                                            "zoom_token_revoked", "zoom")
    assert zoom_events.handle(world.db, sent, clock, heard.append) == zoom_events.Outcome("duplicate")
    assert len(heard) == 1


@pytest.mark.parametrize("event_ts, expected", [(None, NOW), (1772456400000, datetime(2026, 3, 2, 13, 0, tzinfo=timezone.utc))])
def test_deauthorization_without_a_listener_or_a_time(world, event_ts, expected):
    account = f"zu-{uuid.uuid4().hex[:8]}"
    active = world.connection(account)
    sent = {"event": "app_deauthorized", "payload": {"user_id": account}, "event_ts": event_ts}
    assert zoom_events.handle(world.db, sent, clock).status == "recorded"
    with world.db.session() as s:
        assert s.get(Connection, active).status == "needs_reauth"
        row = s.execute(select(ZoomWebhookEvent).where(ZoomWebhookEvent.zoom_user_id == account)).scalar_one()
        assert (row.occurred_at.replace(tzinfo=timezone.utc), row.zoom_account_id) == (expected, None)
        assert row.received_at.replace(tzinfo=timezone.utc) == NOW  # the hub's clock, not the database's


@pytest.mark.parametrize("payload", [{}, {"user_id": ""}, {"user_id": None}])
def test_deauthorization_naming_nobody_is_ignored(world, payload):
    assert zoom_events.handle(world.db, {"event": "app_deauthorized", "payload": payload}, clock) == \
        zoom_events.Outcome("ignored")


def test_activity_lists_a_meeting_oldest_first(world):
    conn = world.connection()
    mid = meeting_id()
    event_id = world.event(mid, conn)
    for name, at in [("Late", "2026-03-02T13:30:00Z"), ("Early", "2026-03-02T13:00:00Z"),
                     ("Same", "2026-03-02T13:30:00Z")]:
        meeting = {"id": mid, "participant": {"user_name": name, "join_time": at}}
        zoom_events.handle(world.db, body("meeting.participant_joined", meeting), clock)
    assert [a["participant"] for a in zoom_events.activity(world.db, event_id)] == ["Early", "Late", "Same"]
    assert zoom_events.activity(world.db, "evt_none") == []
