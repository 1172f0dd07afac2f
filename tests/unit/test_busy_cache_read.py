"""The busy cache's read path with a hand-written fake calendar: a fresh participant costs the
same few statements whatever their number, writes nothing and never reaches the calendar; and
for any calendar the cached answer is the live one (free/busy blocks and availability slots)."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from hub.storage.models import Connection
from providers.base import BusyBlock
from tests.busy_cache_support import Cached, fill_cache
from tests.conftest import own_database
from tests.sql_count import request_statements
from tests.unit.test_services_with_fakes import NOW, WORKDAY, env  # noqa: F401  (env is a fixture)

WINDOW = (NOW - timedelta(days=1), NOW + timedelta(days=30))


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    """This module's own database (it overrides the session's for `env`): the session's live hub
    runs sync jobs and sweeps, which would take the sync rows these tests write."""
    with own_database(tmp_path_factory, "busy-cache-read") as url:
        yield url
DAY0 = datetime.fromisoformat(WORKDAY["start"])


def _hub(client):
    return client.application.extensions["hub"]


def _connection(client, email: str) -> str:
    with _hub(client).db.session() as s:
        return s.execute(select(Connection.id).where(Connection.account_email == email)).scalar_one()


class CountingCalendar:
    """Wraps the fake: how many calendar reads were made."""

    def __init__(self, fake) -> None:
        self.fake = fake
        self.calls = 0
        fake_free_busy = fake.free_busy

        def free_busy(*args, **kw):
            self.calls += 1
            return fake_free_busy(*args, **kw)
        fake.free_busy = free_busy


def test_fresh_participants_cost_one_statement_for_any_number_and_write_nothing(env):  # noqa: F811
    client, headers, fake, person = env
    hub = _hub(client)
    counter = CountingCalendar(fake)
    ids = [f"c{i}" for i in range(12)]
    for uid in ids:
        email = person(uid)
        fill_cache(hub.db, _connection(client, email), [Cached(DAY0 + timedelta(hours=1), DAY0 + timedelta(hours=2))],
                   synced_at=NOW - timedelta(minutes=1), window=WINDOW)
    def run(users: list[str]) -> list[str]:
        statements.clear()
        r = client.post("/v1/freebusy", headers=headers, json={"users": users, **WORKDAY})
        assert r.status_code == 200, r.json
        assert {u["source"] for u in r.json["users"].values()} == {"cache"}
        assert all(u["busy"] == [{"start": "2026-03-02T10:00:00Z", "end": "2026-03-02T11:00:00Z", "status": "busy"}]
                   for u in r.json["users"].values())
        return list(statements)

    with request_statements(hub.db.engine) as statements:
        one, many = run(ids[:1]), run(ids)
    # the API key, users with their connections, fresh caches with their blocks: the same for 1 and 12
    assert len(one) == len(many) <= 3, (one, many)
    assert sum("cached_events" in s for s in many) == 1 and sum("sync_states" in s for s in many) == 1
    assert not any(s.lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE")) for s in many)
    assert counter.calls == 0


def test_live_consistency_and_stale_cache_reach_the_calendar(env):  # noqa: F811
    client, headers, fake, person = env
    hub = _hub(client)
    counter = CountingCalendar(fake)
    fresh, stale = person("fresh"), person("stale")
    for email, synced in ((fresh, NOW), (stale, NOW - timedelta(seconds=hub.settings.cache_max_age_seconds + 1))):
        fill_cache(hub.db, _connection(client, email), [], synced_at=synced, window=WINDOW)
    fake.busy[stale] = [BusyBlock(DAY0, DAY0 + timedelta(hours=1))]
    r = client.post("/v1/freebusy", headers=headers, json={"users": ["fresh", "stale"], **WORKDAY})
    got = r.json["users"]
    assert (got["fresh"]["source"], got["fresh"]["fresh_as_of"]) == ("cache", "2026-03-01T12:00:00Z")
    assert (got["stale"]["source"], got["stale"]["fresh_as_of"]) == ("live", "2026-03-01T12:00:00Z")
    assert got["stale"]["busy"] == [{"start": "2026-03-02T09:00:00Z", "end": "2026-03-02T10:00:00Z", "status": "busy"}]
    assert counter.calls == 1
    r = client.post("/v1/freebusy", headers=headers, json={"users": ["fresh", "stale"], "consistency": "live", **WORKDAY})
    assert {u["source"] for u in r.json["users"].values()} == {"live"} and counter.calls == 3
    bad = client.post("/v1/freebusy", headers=headers, json={"users": ["fresh"], "consistency": "eventual", **WORKDAY})
    assert bad.status_code == 422 and bad.json["errors"][0]["field"] == "consistency"
    bad = client.post("/v1/availability", headers=headers,
                      json={"participants": [{"user_id": "fresh"}], "consistency": None, **WORKDAY})
    assert bad.status_code == 422 and bad.json["errors"][0]["field"] == "consistency"


def test_a_connection_needing_reauthorization_is_never_answered_from_its_cache(env):  # noqa: F811
    client, headers, fake, person = env
    hub = _hub(client)
    conn_id = _connection(client, person("lapsed"))
    fill_cache(hub.db, conn_id, [], synced_at=NOW, window=WINDOW)
    with hub.db.session() as s:
        s.get(Connection, conn_id).status = "needs_reauth"
    got = client.post("/v1/freebusy", headers=headers, json={"users": ["lapsed"], **WORKDAY}).json["users"]["lapsed"]
    assert (got["status"], got["source"], got["fresh_as_of"]) == ("error", "live", None)


# Minutes into the workday, so generated events straddle the window's edges and each other.
_minute = st.integers(min_value=-120, max_value=600)
_event = st.tuples(_minute, st.integers(min_value=1, max_value=240), st.sampled_from(["busy", "tentative", "oof", "free"]),
                   st.sampled_from([0, 0, 0, 17]))  # now and then a sub-minute edge


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calendars=st.lists(st.lists(_event, max_size=12), min_size=1, max_size=3))
def test_cached_answer_equals_live_answer_for_any_calendar(env, calendars):  # noqa: F811
    """The same events, once as the provider reports them (free time left out) and once as the
    sync stored them (every event, unmerged, `free` included): free/busy blocks and
    availability slots agree."""
    client, headers, fake, person = env
    hub = _hub(client)
    users = []
    for n, events in enumerate(calendars):
        uid = f"p{n}-{uuid.uuid4().hex[:8]}"  # a new user each example (the fixture lives across them)
        email = person(uid, working_hours={"timezone": "UTC", "weekly": {"mon": [["09:00", "17:00"]]}})
        blocks = [Cached(DAY0 + timedelta(minutes=m, seconds=s), DAY0 + timedelta(minutes=m + d, seconds=s), show)
                  for m, d, show, s in events]
        fake.busy[email] = [BusyBlock(b.start, b.end, b.show_as) for b in blocks if b.show_as != "free"]
        fill_cache(hub.db, _connection(client, email), blocks, synced_at=NOW, window=WINDOW)
        users.append(uid)

    def ask(path: str, body: dict, consistency: str) -> dict:
        r = client.post(path, headers=headers, json={**body, **WORKDAY, "consistency": consistency})
        assert r.status_code == 200, r.json
        return r.json

    fb = {c: ask("/v1/freebusy", {"users": users}, c) for c in ("cached", "live")}
    for uid in users:
        assert fb["cached"]["users"][uid]["source"] == "cache" and fb["live"]["users"][uid]["source"] == "live"
        assert fb["cached"]["users"][uid]["busy"] == fb["live"]["users"][uid]["busy"]
    body = {"participants": [{"user_id": u} for u in users], "duration_minutes": 30, "interval_minutes": 15,
            "buffer_before_minutes": 5}
    av = {c: ask("/v1/availability", body, c) for c in ("cached", "live")}
    assert av["cached"]["slots"] == av["live"]["slots"] and av["cached"]["complete"] is True
    assert {p["source"] for p in av["cached"]["participants"].values()} == {"cache"}


def _second_calendar(client, user_external_id: str, tenant_key_headers: dict[str, str] | None = None) -> str:
    """Another calendar connection for the user (connected later, so it is the one read)."""
    from hub.storage.models import User
    from oauth.flows import Grant

    hub = _hub(client)
    email = f"{user_external_id}.second.{uuid.uuid4().hex[:6]}@example.com"
    with hub.db.session() as s:
        user = s.query(User).filter_by(external_id=user_external_id).order_by(User.created_at.desc()).first()
        conn = Connection(tenant_id=user.tenant_id, user_id=user.id, provider="google", provider_account_id=email,
                          account_email=email, capabilities=["calendar"], scopes=[],
                          connected_at=datetime.now(timezone.utc) + timedelta(days=1))
        s.add(conn)
        s.flush()
        hub.tokens.store_grant(conn, Grant("tok2", "ref2", NOW + timedelta(hours=1), ()))
        return conn.id


def test_the_cache_answers_for_this_tenants_user_and_their_chosen_calendar_only(env):  # noqa: F811
    """Free/busy reads users and every fresh cache of their connections in one statement: the
    answer must still be the cache of the calendar the live path would read (the newest), and
    a user id another tenant also uses must never bring that tenant's cache along."""
    from hub.services.directory import create_api_key

    client, headers, fake, person = env
    hub = _hub(client)
    first = _connection(client, person("twin"))
    fill_cache(hub.db, first, [Cached(DAY0 + timedelta(hours=1), DAY0 + timedelta(hours=2))],
               synced_at=NOW - timedelta(minutes=1), window=WINDOW)
    newest = _second_calendar(client, "twin")
    fill_cache(hub.db, newest, [Cached(DAY0 + timedelta(hours=3), DAY0 + timedelta(hours=4))],
               synced_at=NOW - timedelta(minutes=2), window=WINDOW)
    # the same user id in another tenant, with its own fresh cache
    _, other_key = create_api_key(hub.db, f"other-{uuid.uuid4().hex[:8]}")
    other = {"Authorization": f"Bearer {other_key}"}
    email = f"twin.other.{uuid.uuid4().hex[:6]}@example.com"
    assert client.put("/v1/users/twin", json={"email": email}, headers=other).status_code in (200, 201)
    theirs = _second_calendar(client, "twin")
    fill_cache(hub.db, theirs, [Cached(DAY0 + timedelta(hours=5), DAY0 + timedelta(hours=6))],
               synced_at=NOW - timedelta(minutes=3), window=WINDOW)

    ours = client.post("/v1/freebusy", headers=headers, json={"users": ["twin"], **WORKDAY}).json["users"]["twin"]
    assert (ours["source"], ours["fresh_as_of"]) == ("cache", "2026-03-01T11:58:00Z")
    assert ours["busy"] == [{"start": "2026-03-02T12:00:00Z", "end": "2026-03-02T13:00:00Z", "status": "busy"}]
    got = client.post("/v1/freebusy", headers=other, json={"users": ["twin"], **WORKDAY}).json["users"]["twin"]
    assert (got["source"], got["fresh_as_of"]) == ("cache", "2026-03-01T11:57:00Z")
    assert got["busy"] == [{"start": "2026-03-02T14:00:00Z", "end": "2026-03-02T15:00:00Z", "status": "busy"}]
