"""Issue 12 item 4 over HTTP against the sandbox: a participant whose busy cache is fresh is
answered from it with no provider call (the sandbox's request log is the witness); a stale
one — old sync, a notification waiting, channel failed, expired or missing, range outside the
synced window — is read live; `consistency:"live"` always asks the provider; booking re-checks
live even when the cache says the time is free.

Two hubs: the session's live hub with push channels and sync on fills the cache the honest way
(connect → channel → full sync; a change in the calendar → push → incremental sync); a quiet
hub with sync off holds exactly what a test writes through the store's own write API
(tests/busy_cache_support.py), with contents that differ from the sandbox's calendar on purpose
wherever the source must show, and no background sync to overwrite them."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import pytest

from hub.services.directory import create_api_key
from tests.busy_cache_support import Cached, fill_cache
from tests.conftest import own_database
from tests.e2e.scheduling_support import at, iso, slot
from tests.e2e.support import Api, connect, start_hub
from tests.e2e.sync_support import Person, synced, wait_for

RANGE = {"start": iso(at(8)), "end": iso(at(18))}
SYNC_WINDOW = (at(0) - timedelta(days=1), at(0) + timedelta(days=30))
CACHED_BUSY = [{"start": iso(at(10)), "end": iso(at(11)), "status": "busy"}]  # what the cache says
LIVE_BUSY = [{"start": iso(at(14)), "end": iso(at(15)), "status": "busy"}]  # what the calendar says


def z(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def quiet_hub(tmp_path_factory, sandbox_url):
    """A hub with push channels and sync off, on its own database (the session's live hub runs
    sync sweeps that would take its rows): its cache holds exactly what a test writes."""
    with own_database(tmp_path_factory, "quiet-hub") as url:
        server, live = start_hub(url, sandbox_url, sync_enabled=False)
        yield live
        server.shutdown()
        live.hub.close()


@pytest.fixture
def qapi(quiet_hub):
    _, key = create_api_key(quiet_hub.hub.db, f"tenant-{uuid.uuid4().hex[:8]}")
    return Api(quiet_hub.url, key)


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_a_synced_calendar_is_answered_from_the_cache_and_follows_changes(api, sandbox, live_hub, provider):
    """The honest way: connect, the hub opens a channel and syncs; free/busy then comes from the
    cache with no provider call; a change in the calendar reaches the cache through the push."""
    tag = uuid.uuid4().hex[:8]
    email = f"synced.{tag}@acme.example"
    sandbox.account(provider, email, timezone="UTC")
    sandbox.busy(provider, email, iso(at(10)), iso(at(11)))
    assert api.put(f"/v1/users/synced-{tag}", json={"email": email, "timezone": "UTC"}).status_code == 201
    result = connect(api, f"synced-{tag}", provider, email)
    assert result.status == "connected", result
    person = Person(f"synced-{tag}", email, provider, result.params["connection_id"])
    status = synced(api, person)
    who = [{"user_id": person.user_id}]

    mark = log_mark(sandbox)
    got = freebusy(api, who)[person.user_id]
    assert (got["source"], got["busy"]) == ("cache", CACHED_BUSY), got
    assert got["fresh_as_of"] >= status["last_synced_at"]  # as of the sync (or a later one)
    assert provider_calls(sandbox, mark, email) == []

    sandbox.busy(provider, email, iso(at(14)), iso(at(15)))  # the person adds a meeting themselves
    both = [*CACHED_BUSY, *LIVE_BUSY]
    followed = wait_for(lambda: (lambda u: u if u["source"] == "cache" and u["busy"] == both else None)(
        freebusy(api, who)[person.user_id]), "the change pushed, synced and answered from the cache")
    assert followed["fresh_as_of"] >= got["fresh_as_of"]
    live = freebusy(api, who, consistency="live")[person.user_id]
    assert (live["source"], live["busy"]) == ("live", both)


@pytest.fixture
def people(qapi, sandbox):
    """make(provider) → a connected hub user: {"user_id","email","provider","connection_id"}."""
    def make(provider: str = "google") -> dict:
        tag = uuid.uuid4().hex[:8]
        email = f"cache.{tag}@acme.example"
        sandbox.account(provider, email, name="Cache Person", timezone="UTC")
        user_id = f"cache-{tag}"
        assert qapi.put(f"/v1/users/{user_id}", json={"email": email, "timezone": "UTC"}).status_code == 201
        result = connect(qapi, user_id, provider, email)
        assert result.status == "connected", result
        return {"user_id": user_id, "email": email, "provider": provider,
                "connection_id": result.params["connection_id"]}
    return make


def log_mark(sandbox) -> int:
    entries = _log(sandbox)
    return entries[-1]["id"] if entries else 0


def _log(sandbox) -> list[dict]:
    r = sandbox.http.get(f"{sandbox.base}/_control/requests", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def provider_calls(sandbox, since: int, email: str | None = None) -> list[dict]:
    """What reached any emulator after `since`; with `email`, the requests about that mailbox
    (Google names it in the freeBusy body, Graph in getSchedule's path or body)."""
    out = [e for e in _log(sandbox) if e["id"] > since]
    if email is not None:
        out = [e for e in out if email in json.dumps([e["path"], e["query"], e["body"]])]
    return out


def calls_with_credentials_of(live, person: dict, entries: list[dict]) -> list[dict]:
    """The entries that carry the person's access or refresh token (in a header or the body)."""
    from hub.storage.models import Connection
    from oauth.tokens import access_binding, refresh_binding
    hub = live.hub
    with hub.db.session() as s:
        conn = s.get(Connection, person["connection_id"])
        secrets = [hub.vault.decrypt(value, bind(conn.id)) for value, bind in
                   ((conn.access_token_enc, access_binding), (conn.refresh_token_enc, refresh_binding)) if value]
    return [e for e in entries if any(secret in json.dumps([e["headers"], e["body"], e["query"]]) for secret in secrets)]


def freebusy(api, users: list[dict], **extra) -> dict:
    r = api.post("/v1/freebusy", json={"users": [u["user_id"] for u in users], **RANGE, **extra})
    assert r.status_code == 200, r.text
    return r.json()["users"]


def filled(live, person: dict, **kw) -> datetime:
    """The cache of `person` says busy 10–11 (tentative 10:30–12 overlapping it, and a `free`
    event that blocks nothing), as a sync that finished `age` ago left it."""
    now = live.hub.clock()
    at_ = now - kw.pop("age", timedelta(seconds=30))
    fill_cache(live.hub.db, person["connection_id"], kw.pop("events", [
        Cached(at(10), at(11)), Cached(at(10, 30), at(11), "tentative"), Cached(at(12), at(13), "free")]),
        synced_at=at_, window=kw.pop("window", SYNC_WINDOW), **kw)
    return at_


def test_fresh_participant_is_answered_from_the_cache_without_a_provider_call(qapi, sandbox, people, quiet_hub):
    ada = people("google")
    sandbox.busy("google", ada["email"], iso(at(14)), iso(at(15)))
    as_of = filled(quiet_hub, ada)

    mark = log_mark(sandbox)
    got = freebusy(qapi, [ada])[ada["user_id"]]
    assert got == {"status": "ok", "error": None, "source": "cache", "fresh_as_of": z(as_of), "busy": CACHED_BUSY}
    # Not a token refresh, not a read: nothing with this person's credentials (the sandbox is
    # shared, and the session's other hub syncs its own connections meanwhile).
    assert calls_with_credentials_of(quiet_hub, ada, provider_calls(sandbox, mark)) == []

    before = quiet_hub.hub.clock()
    live = freebusy(qapi, [ada], consistency="live")[ada["user_id"]]
    assert (live["source"], live["busy"]) == ("live", LIVE_BUSY)
    assert calls_with_credentials_of(quiet_hub, ada, provider_calls(sandbox, mark))  # the filter sees a live read
    assert z(before) <= live["fresh_as_of"] <= z(quiet_hub.hub.clock())
    reads = provider_calls(sandbox, mark, ada["email"])
    assert [(e["method"], e["path"]) for e in reads] == [("POST", "/google/calendar/v3/freeBusy")]


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_stale_caches_are_read_live_next_to_fresh_ones(qapi, sandbox, people, quiet_hub, provider):
    """One request, every way a cache can be stale, beside a fresh participant of each provider."""
    now = quiet_hub.hub.clock()
    max_age = timedelta(seconds=quiet_hub.hub.settings.cache_max_age_seconds)
    stale_kinds = {
        "old_sync": {"age": max_age + timedelta(seconds=5)},
        "notification_waiting": {"dirty_since": now - timedelta(seconds=2)},
        "channel_failed": {"channel": "failed"},
        "channel_expired": {"channel_expires_at": now - timedelta(seconds=1)},
        "no_channel": {"channel": None},
        "range_outside_window": {"window": (SYNC_WINDOW[0], at(12))},  # synced only up to noon
    }
    fresh = {p: people(p) for p in ("google", "microsoft")}
    stale = {kind: people(provider) for kind in stale_kinds}
    for person in [*fresh.values(), *stale.values()]:
        sandbox.busy(person["provider"], person["email"], iso(at(14)), iso(at(15)))
    as_of = {p: filled(quiet_hub, person) for p, person in fresh.items()}
    for kind, person in stale.items():
        filled(quiet_hub, person, **stale_kinds[kind])

    mark = log_mark(sandbox)
    got = freebusy(qapi, [*fresh.values(), *stale.values()])
    for p, person in fresh.items():
        assert got[person["user_id"]]["source"] == "cache", p
        assert got[person["user_id"]]["fresh_as_of"] == z(as_of[p]) and got[person["user_id"]]["busy"] == CACHED_BUSY
        assert provider_calls(sandbox, mark, person["email"]) == [], p
    for kind, person in stale.items():
        entry = got[person["user_id"]]
        assert (entry["status"], entry["source"], entry["busy"]) == ("ok", "live", LIVE_BUSY), kind
        assert entry["fresh_as_of"] >= z(now), kind
        assert provider_calls(sandbox, mark, person["email"]), f"{kind}: the provider was not asked"

    mark = log_mark(sandbox)
    live = freebusy(qapi, list(fresh.values()), consistency="live")
    assert {u["source"] for u in live.values()} == {"live"}
    assert all(u["busy"] == LIVE_BUSY for u in live.values())
    assert all(provider_calls(sandbox, mark, person["email"]) for person in fresh.values())


def test_availability_from_the_cache_agrees_with_live(qapi, sandbox, people, quiet_hub):
    """The same calendars, once synced and once asked: the same slots, and only the live run
    reaches the providers."""
    panel = [people("google"), people("microsoft")]
    shapes = {0: [(9, 0, 60), (9, 30, 90), (13, 0, 15), (16, 45, 30)], 1: [(8, 0, 30), (11, 0, 45), (12, 50, 70)]}
    for n, person in enumerate(panel):
        events = [Cached(at(h, m), at(h, m) + timedelta(minutes=d)) for h, m, d in shapes[n]]
        for e in events:
            sandbox.busy(person["provider"], person["email"], iso(e.start), iso(e.end))
        filled(quiet_hub, person, events=events)
    body = {"participants": [{"user_id": p["user_id"]} for p in panel], **RANGE, "duration_minutes": 30,
            "interval_minutes": 15, "buffer_after_minutes": 5}

    mark = log_mark(sandbox)
    cached = qapi.post("/v1/availability", json=body)
    assert cached.status_code == 200, cached.text
    # The panel's calls only (each carries its person's token): the shared sandbox may meanwhile
    # serve the hub's background work for other tests' people.
    during = provider_calls(sandbox, mark)
    assert not [e for p in panel for e in calls_with_credentials_of(quiet_hub, p, during)], during
    live = qapi.post("/v1/availability", json={**body, "consistency": "live"})
    assert live.status_code == 200, live.text
    assert all(provider_calls(sandbox, mark, p["email"]) for p in panel)
    assert cached.json()["slots"] == live.json()["slots"] and len(live.json()["slots"]) > 3
    assert {p["source"] for p in cached.json()["participants"].values()} == {"cache"}
    assert {p["source"] for p in live.json()["participants"].values()} == {"live"}
    assert qapi.post("/v1/availability", json={**body, "consistency": "eventual"}).status_code == 422


def test_booking_rechecks_live_even_when_the_cache_says_free(qapi, sandbox, people, quiet_hub):
    """The cache says the interviewer is free all day; the calendar says 10:00 and 11:00 are
    taken. Offering and booking believe the calendar."""
    ivy = people("google")
    filled(quiet_hub, ivy, events=[])
    sandbox.busy("google", ivy["email"], iso(at(10)), iso(at(10, 30)))
    assert freebusy(qapi, [ivy])[ivy["user_id"]]["busy"] == []  # the cache, stale in truth, answers reads

    body = {"organizer": ivy["user_id"], "title": "Interview", "duration_minutes": 30, "conferencing": "none",
            "candidates": [{"email": "c@cand.example"}]}
    clash = qapi.post("/v1/scheduling-requests", json={**body, "slots": [slot(10)]})
    assert clash.status_code == 422 and clash.json()["code"] == "slot_busy", clash.text

    r = qapi.post("/v1/scheduling-requests", json={**body, "windows": [slot(11, minutes=60)], "interval_minutes": 30})
    assert r.status_code == 201, r.text
    req = r.json()
    base = f"/v1/scheduling-requests/{req['id']}/candidates/{req['candidates'][0]['id']}"
    sandbox.busy("google", ivy["email"], iso(at(11)), iso(at(11, 30)))  # taken after the offer
    filled(quiet_hub, ivy, events=[])  # … and the cache, just synced, still says free
    mark = log_mark(sandbox)
    taken = qapi.post(base + "/book", json={"start": iso(at(11))})
    assert taken.status_code == 409 and taken.json()["code"] == "slot_unavailable", taken.text
    assert ("GET", "/google/calendar/v3/calendars/primary/events") in [  # the re-check went to Google
        (e["method"], e["path"]) for e in provider_calls(sandbox, mark)]
    ok = qapi.post(base + "/book", json={"start": iso(at(11, 30))})
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_the_hubs_own_writes_are_seen_at_once(qapi, sandbox, people, quiet_hub, provider):
    """Read your writes: right after the hub makes, moves or cancels an event, a cached read
    must not answer from a cache that has not heard of it (here no sync runs at all, so only
    the hub marking the connection behind can make the read go live)."""
    ada = people(provider)
    filled(quiet_hub, ada)
    assert freebusy(qapi, [ada])[ada["user_id"]]["source"] == "cache"

    r = qapi.post("/v1/events", json={"organizer": ada["user_id"], "title": "Made by the hub",
                                      "start": iso(at(14)), "end": iso(at(15)), "conferencing": "none"})
    assert r.status_code == 201, r.text
    got = freebusy(qapi, [ada])[ada["user_id"]]
    assert got["source"] == "live"
    assert {"start": iso(at(14)), "end": iso(at(15)), "status": "busy"} in got["busy"]
