"""Free/busy's and availability's rules through the real Flask app with a hand-written fake
calendar (tests/unit/test_services_with_fakes.py's `env`): what each participant's error says,
the window limit, which connection is read and for which tenant, the health records a read
leaves, when the busy cache may answer, and how busy blocks are clipped and merged.
"""
from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from hub.services.directory import create_api_key
from hub.services.freebusy import merge_clip
from hub.storage.models import Connection
from providers.base import BusyBlock, ErrorKind, ProviderError
from tests.busy_cache_support import Cached, fill_cache
from tests.conftest import own_database
from tests.unit import test_services_with_fakes as fakes
from tests.unit.test_services_with_fakes import NOW, WORKDAY

env = fakes.env  # the app with a fake calendar, as a fixture of this module

UTC = timezone.utc
DAY0 = datetime.fromisoformat(WORKDAY["start"])
WINDOW = (NOW - timedelta(days=1), NOW + timedelta(days=30))


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    """This module's own database: the busy-cache tests write sync rows that another test's hub
    (its sync jobs and sweeps) must not take."""
    with own_database(tmp_path_factory, "freebusy-rules") as url:
        yield url


def _hub(client):
    return client.application.extensions["hub"]


def _connection(client, email: str) -> Connection:
    with _hub(client).db.session() as s:
        conn = s.query(Connection).filter_by(account_email=email).one()
        s.expunge(conn)
        return conn


def _aware(at: datetime | None) -> datetime | None:
    """SQLite hands back naive UTC times."""
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def _freebusy(client, headers, users: list[str], **extra) -> dict:
    r = client.post("/v1/freebusy", headers=headers, json={"users": users, **WORKDAY, **extra})
    assert r.status_code == 200, r.json
    return r.json["users"]


def _calls(client, outcome: str) -> float:
    return _hub(client).metrics.registry.get_sample_value(
        "hub_provider_calls_total", {"provider": "google", "outcome": outcome}) or 0.0


# --- what each participant's outcome says ------------------------------------------------------

def test_each_failure_is_reported_in_place_with_its_own_kind_cause_and_message(env):
    client, headers, fake, person = env
    person("ok1")
    person("unlinked", connected=False)
    down = person("down1")
    fake.busy[down] = ProviderError(ErrorKind.PROVIDER_DOWN, "google is down", provider="google",
                                    cause="provider_unavailable")
    answer = fake.free_busy
    broken = person("broken1")

    def free_busy(token, emails, start, end):
        if emails == [broken]:
            raise RuntimeError("a bug in the adapter")
        return answer(token, emails, start, end)

    fake.free_busy = free_busy
    ok_before, down_before = _calls(client, "ok"), _calls(client, "provider_down")
    users = _freebusy(client, headers, ["ok1", "nobody1", "unlinked", "down1", "broken1"])
    assert list(users) == ["ok1", "nobody1", "unlinked", "down1", "broken1"]  # as asked
    assert users["ok1"] == {"status": "ok", "error": None, "source": "live", "fresh_as_of": "2026-03-01T12:00:00Z",
                            "busy": []}
    failed = {"status": "error", "source": "live", "fresh_as_of": None, "busy": []}
    assert users["nobody1"] == {**failed, "error": {
        "kind": "not_found", "cause": "user_not_found", "message": "no user 'nobody1' exists for this API key"}}
    assert users["unlinked"] == {**failed, "error": {
        "kind": "not_found", "cause": "calendar_not_connected", "message": "this user has not connected a calendar"}}
    # no retry_after key at all when the provider did not say when to come back
    assert users["down1"] == {**failed, "error": {
        "kind": "provider_down", "cause": "provider_unavailable", "message": "google is down"}}
    assert users["broken1"] == {**failed, "error": {
        "kind": "unknown", "cause": None, "message": "reading the calendar failed (RuntimeError)"}}
    # every provider call is counted by its outcome (the adapter bug raised past the counter)
    assert (_calls(client, "ok") - ok_before, _calls(client, "provider_down") - down_before) == (1, 1)


def test_a_calendar_that_does_not_answer_in_time_is_reported_as_unavailable(env):
    client, headers, fake, person = env
    hub = _hub(client)
    hub.settings = hub.settings.with_overrides(provider_timeout_seconds=0.2)  # the fan-out waits 1.2 s
    slow = person("slow1")
    person("fast1")
    release = threading.Event()
    answer = fake.free_busy

    def free_busy(token, emails, start, end):
        if emails == [slow]:
            release.wait(30)
        return answer(token, emails, start, end)

    fake.free_busy = free_busy
    try:
        users = _freebusy(client, headers, ["slow1", "fast1"])
    finally:
        release.set()
    assert users["fast1"]["status"] == "ok"
    assert users["slow1"]["error"] == {"kind": "provider_down", "cause": "provider_unavailable",
                                       "message": "the calendar did not answer in time"}
    conn = client.get("/v1/users/slow1/connections", headers=headers).json["connections"][0]
    assert (conn["last_error"]["cause"], conn["last_error"]["kind"]) == ("provider_unavailable", "provider_down")


def test_the_window_may_span_62_days_and_no_more(env):
    client, headers, fake, person = env
    person("w1")
    start = datetime(2026, 3, 2, tzinfo=UTC)
    for path, body in (("/v1/freebusy", {"users": ["w1"]}), ("/v1/availability", {"participants": [{"user_id": "w1"}]})):
        fits = client.post(path, headers=headers, json={
            **body, "start": start.isoformat(), "end": (start + timedelta(days=62)).isoformat()})
        assert fits.status_code == 200, fits.json
        late = client.post(path, headers=headers, json={
            **body, "start": start.isoformat(), "end": (start + timedelta(days=62, seconds=1)).isoformat()})
        assert late.status_code == 422, late.json
        assert (late.json["code"], late.json["title"], late.json["detail"]) == (
            "window_too_long", "The window is too long", "Free/busy windows may span at most 62 days; split the request.")
        assert late.json["errors"] == [{"field": "end", "message": "at most 62 days after start"}]


def test_busy_blocks_are_clipped_to_the_window(env):
    client, headers, fake, person = env
    email = person("clip1")
    fake.busy[email] = [BusyBlock(DAY0 - timedelta(hours=2), DAY0 + timedelta(hours=1)),
                        BusyBlock(DAY0 + timedelta(hours=7), DAY0 + timedelta(hours=9), "tentative")]
    users = _freebusy(client, headers, ["clip1"])
    assert users["clip1"]["busy"] == [
        {"start": "2026-03-02T09:00:00Z", "end": "2026-03-02T10:00:00Z", "status": "busy"},
        {"start": "2026-03-02T16:00:00Z", "end": "2026-03-02T17:00:00Z", "status": "tentative"}]


# --- which calendar is read, for whom ----------------------------------------------------------

def test_another_tenants_user_of_the_same_id_is_not_found(env):
    client, headers, fake, person = env
    email = person("twin")
    fake.busy[email] = [BusyBlock(DAY0, DAY0 + timedelta(hours=1))]
    _, other_key = create_api_key(_hub(client).db, f"other-{uuid.uuid4().hex[:8]}")
    other = {"Authorization": f"Bearer {other_key}"}
    assert _freebusy(client, other, ["twin"])["twin"]["error"]["cause"] == "user_not_found"
    # the same id made in the other tenant, without a calendar: never the first tenant's connection
    assert client.put("/v1/users/twin", headers=other, json={"email": "twin@other.example"}).status_code == 201
    assert _freebusy(client, other, ["twin"])["twin"]["error"]["cause"] == "calendar_not_connected"
    assert _freebusy(client, headers, ["twin"])["twin"]["busy"] != []


def test_the_newest_working_calendar_connection_is_read(env):
    client, headers, fake, person = env
    hub = _hub(client)
    email = person("multi")
    first = _connection(client, email)
    calls: list[str] = []
    answer = fake.free_busy

    def free_busy(token, emails, start, end):
        calls.extend(emails)
        return answer(token, emails, start, end)

    fake.free_busy = free_busy
    with hub.db.session() as s:  # a newer Zoom connection offers no calendar; a newer broken calendar one
        for account, caps, status, minutes in (("zoom@example.com", ["zoom"], "active", 10),
                                               ("old@example.com", ["calendar"], "needs_reauth", 20)):
            s.add(Connection(tenant_id=first.tenant_id, user_id=first.user_id, provider="google",
                             provider_account_id=account, account_email=account, capabilities=caps,
                             status=status, connected_at=first.connected_at + timedelta(minutes=minutes)))
    assert _freebusy(client, headers, ["multi"])["multi"]["status"] == "ok"
    assert calls == [email]
    with hub.db.session() as s:  # once the only calendar connection left is broken, that one is reported
        s.get(Connection, first.id).capabilities = ["google_meet"]
    got = _freebusy(client, headers, ["multi"])["multi"]
    assert got["status"] == "error" and got["error"]["cause"] != "calendar_not_connected"
    assert calls == [email]


# --- health records a read leaves --------------------------------------------------------------

def test_a_read_keeps_last_use_to_the_minute_and_clears_a_healed_error(env):
    client, headers, fake, person = env
    hub = _hub(client)
    email = person("health1")
    conn_id = _connection(client, email).id
    _freebusy(client, headers, ["health1"])
    assert _aware(_connection(client, email).last_used_at) == NOW
    for later, expected in ((timedelta(seconds=59), NOW), (timedelta(seconds=60), NOW + timedelta(seconds=60))):
        hub.clock = lambda later=later: NOW + later
        _freebusy(client, headers, ["health1"])
        assert _aware(_connection(client, email).last_used_at) == expected
    with hub.db.session() as s:
        s.get(Connection, conn_id).last_error = {"cause": "provider_unavailable", "kind": "provider_down"}
    _freebusy(client, headers, ["health1"])  # within the minute: only the error is cleared
    healed = _connection(client, email)
    assert healed.last_error is None and _aware(healed.last_used_at) == NOW + timedelta(seconds=60)


@pytest.mark.parametrize("kind, recorded", [
    (ErrorKind.NOT_FOUND, False), (ErrorKind.INVALID_REQUEST, False), (ErrorKind.CONFLICT, False),
    (ErrorKind.RATE_LIMITED, True), (ErrorKind.PROVIDER_DOWN, True),
])
def test_only_failures_that_say_something_about_the_connection_are_recorded(env, kind, recorded):
    client, headers, fake, person = env
    email = person(f"rec-{kind.value}")
    fake.busy[email] = ProviderError(kind, "no", provider="google", cause="some_cause", provider_code="E1")
    _freebusy(client, headers, [f"rec-{kind.value}"])
    conn = _connection(client, email)
    expected = {"kind": kind.value, "cause": "some_cause", "message": "no", "provider_code": "E1",
                "at": NOW.isoformat()} if recorded else None
    assert conn.last_error == expected and conn.last_used_at is None


def test_a_connection_that_lapsed_during_the_read_keeps_its_reason(env):
    """A refresh elsewhere marks the connection needs_reauth while this read (on the old, still
    valid token) succeeds: clearing the error would hide why it needs reconnecting."""
    client, headers, fake, person = env
    hub = _hub(client)
    email = person("lapse1")
    conn_id = _connection(client, email).id
    with hub.db.session() as s:
        s.get(Connection, conn_id).last_error = {"cause": "old_error"}
    answer = fake.free_busy

    def free_busy(token, emails, start, end):
        with hub.db.session() as s:
            conn = s.get(Connection, conn_id)
            conn.status, conn.last_error = "needs_reauth", {"cause": "token_revoked"}
        return answer(token, emails, start, end)

    fake.free_busy = free_busy
    assert _freebusy(client, headers, ["lapse1"])["lapse1"]["status"] == "ok"
    conn = _connection(client, email)
    assert (conn.status, conn.last_error) == ("needs_reauth", {"cause": "token_revoked"})
    assert conn.last_used_at is not None


# --- the busy cache ----------------------------------------------------------------------------

def test_a_fresh_cache_answers_with_its_sync_time_unless_the_cache_is_off(env):
    client, headers, fake, person = env
    hub = _hub(client)
    email = person("cached1")
    synced = NOW - timedelta(seconds=30)
    fill_cache(hub.db, _connection(client, email).id,
               [Cached(DAY0 - timedelta(hours=1), DAY0 + timedelta(hours=1)),
                Cached(DAY0 + timedelta(hours=1), DAY0 + timedelta(hours=2), "tentative"),
                Cached(DAY0 + timedelta(hours=3), DAY0 + timedelta(hours=4), "free")],
               synced_at=synced, window=WINDOW)
    fake.busy[email] = [BusyBlock(DAY0 + timedelta(hours=5), DAY0 + timedelta(hours=6))]
    got = _freebusy(client, headers, ["cached1"])["cached1"]
    assert (got["source"], got["fresh_as_of"], got["error"]) == ("cache", "2026-03-01T11:59:30Z", None)
    # merged and clipped exactly as a live answer: touching blocks join, the stronger status wins
    assert got["busy"] == [{"start": "2026-03-02T09:00:00Z", "end": "2026-03-02T11:00:00Z", "status": "busy"}]
    hub.settings = hub.settings.with_overrides(cache_max_age_seconds=0)  # the cache switched off
    fill_cache(hub.db, _connection(client, email).id, [], synced_at=NOW, window=WINDOW)
    got = _freebusy(client, headers, ["cached1"])["cached1"]
    assert (got["source"], got["fresh_as_of"]) == ("live", "2026-03-01T12:00:00Z")
    assert got["busy"] == [{"start": "2026-03-02T14:00:00Z", "end": "2026-03-02T15:00:00Z", "status": "busy"}]


def test_availability_reads_the_cache_or_live_as_asked(env):
    client, headers, fake, person = env
    hub = _hub(client)
    email = person("avc1", timezone="UTC")
    fill_cache(hub.db, _connection(client, email).id, [Cached(DAY0, DAY0 + timedelta(hours=7))],
               synced_at=NOW, window=WINDOW)
    body = {"participants": [{"user_id": "avc1"}], **WORKDAY, "duration_minutes": 60, "interval_minutes": 60,
            "respect_working_hours": False}
    cached = client.post("/v1/availability", headers=headers, json=body).json
    assert [s["start"] for s in cached["slots"]] == ["2026-03-02T16:00:00Z"]
    assert cached["participants"]["avc1"]["source"] == "cache"
    live = client.post("/v1/availability", headers=headers, json={**body, "consistency": "live"}).json
    assert len(live["slots"]) == 8 and live["participants"]["avc1"]["source"] == "live"


# --- merging -----------------------------------------------------------------------------------

def _b(start: int, end: int, status: str = "busy") -> BusyBlock:
    return BusyBlock(DAY0 + timedelta(hours=start), DAY0 + timedelta(hours=end), status)


def test_merge_clip_joins_touching_and_overlapping_blocks_and_the_stronger_status_wins():
    start, end = DAY0, DAY0 + timedelta(hours=8)
    blocks = [_b(5, 6, "tentative"), _b(0, 1), _b(1, 2, "tentative"),  # unsorted; touching at 1
              _b(3, 4, "oof"), _b(3, 3), _b(3, 5, "workingElsewhere"),  # an unknown status ranks as busy
              _b(-2, 0), _b(8, 9),  # outside the window: ending at its start, starting at its end
              _b(7, 12, "tentative")]
    assert merge_clip(blocks, start, end) == [
        _b(0, 2), _b(3, 6, "oof"), _b(7, 8, "tentative")]
    assert merge_clip([_b(1, 6), _b(2, 3, "tentative")], start, end) == [_b(1, 6)]  # a block inside another
    assert merge_clip([_b(2, 3, "tentative"), _b(2, 4, "tentative")], start, end) == [_b(2, 4, "tentative")]
    assert merge_clip([_b(2, 3, "tentative"), _b(3, 4, "workingElsewhere")], start, end) == [
        _b(2, 4, "workingElsewhere")]
    assert merge_clip([_b(2, 3, "workingElsewhere"), _b(3, 4, "oof")], start, end) == [_b(2, 4, "oof")]
    assert merge_clip([_b(3, 3)], start, end) == []  # an empty block is no busy time
    assert merge_clip([], start, end) == []


# --- availability's options ---------------------------------------------------------------------

def test_availability_applies_working_hours_buffers_notice_and_max_results(env):
    client, headers, fake, person = env
    email = person("opts1", timezone="UTC", working_hours={"timezone": "UTC", "weekly": {"mon": [["09:00", "13:00"]]}})
    fake.busy[email] = [BusyBlock(datetime(2026, 3, 2, 11, tzinfo=UTC), datetime(2026, 3, 2, 11, 30, tzinfo=UTC))]

    def starts(**options) -> list[str]:
        r = client.post("/v1/availability", headers=headers, json={
            "participants": [{"user_id": "opts1"}], "start": "2026-03-02T08:00:00Z", "end": "2026-03-02T14:00:00Z",
            "duration_minutes": 30, "interval_minutes": 30, **options})
        assert r.status_code == 200 and r.json["complete"] is True, r.json
        return [s["start"][11:16] for s in r.json["slots"]]

    half_hours = [f"{h:02d}:{m:02d}" for h in range(8, 14) for m in (0, 30)]
    assert starts() == [t for t in half_hours if "09:00" <= t < "13:00" and t != "11:00"]
    anytime = [t for t in half_hours if t != "11:00"]
    assert starts(respect_working_hours=False) == anytime
    # 30 minutes kept free before each meeting: not straight after the busy block; after it: not
    # straight before it (the window's own edges need no buffer)
    assert starts(respect_working_hours=False, buffer_before_minutes=30) == [t for t in anytime if t != "11:30"]
    assert starts(respect_working_hours=False, buffer_after_minutes=30) == [t for t in anytime if t != "10:30"]
    # the clock says 2026-03-01 12:00Z: 21 hours' notice leaves 09:00 as the first start
    assert starts(respect_working_hours=False, minimum_notice_minutes=21 * 60) == [t for t in anytime if t >= "09:00"]
    assert starts(respect_working_hours=False, max_results=2) == anytime[:2]


def test_default_working_hours_are_in_the_users_own_zone(env):
    client, headers, fake, person = env
    person("nyc1", timezone="America/New_York")  # no working hours of their own: 09:00-17:00 there
    r = client.post("/v1/availability", headers=headers, json={
        "participants": [{"user_id": "nyc1"}], "start": "2026-03-02T12:00:00Z", "end": "2026-03-03T00:00:00Z",
        "duration_minutes": 60, "interval_minutes": 60})
    assert r.status_code == 200, r.json
    # New York is UTC-5 on 2 March
    assert [s["start"][11:16] for s in r.json["slots"]] == [f"{h}:00" for h in range(14, 22)]


def test_an_unreadable_optional_participant_does_not_hide_the_ones_after_it(env):
    client, headers, fake, person = env
    busy = person("req2", timezone="UTC")
    person("opt2", timezone="UTC")
    fake.busy[busy] = [BusyBlock(datetime(2026, 3, 2, 10, tzinfo=UTC), datetime(2026, 3, 2, 11, tzinfo=UTC))]
    r = client.post("/v1/availability", headers=headers, json={
        "participants": [{"user_id": "gone2", "optional": True}, {"user_id": "req2"},
                         {"user_id": "opt2", "optional": True}],
        "start": "2026-03-02T09:00:00Z", "end": "2026-03-02T12:00:00Z", "duration_minutes": 60,
        "interval_minutes": 60})
    assert r.status_code == 200 and r.json["complete"] is True, r.json
    assert [(s["start"][11:16], s["optional_available"]) for s in r.json["slots"]] == [
        ("09:00", ["opt2"]), ("11:00", ["opt2"])]
    assert r.json["participants"]["gone2"]["error"]["cause"] == "user_not_found"


def test_availability_with_only_optional_participants_is_refused_with_the_field(env):
    client, headers, fake, person = env
    person("alone3")
    r = client.post("/v1/availability", headers=headers, json={
        "participants": [{"user_id": "alone3", "optional": True}], **WORKDAY})
    assert r.status_code == 422, r.json
    assert r.json["errors"] == [{"field": "participants",
                                 "message": "at least one participant must be required (optional: false)"}]
