"""The busy cache against live reads, in one run (issue 12 item 6, issue 17 goal 2).

1. /v1/availability for N participants (default 20, Google and Microsoft alternating) with the
   sandbox adding 150 ms to every provider call: `consistency:"cached"` (every participant
   synced and fresh) against `consistency:"live"` — both medians, their ratio (goal: cached
   < 5% of live), the provider calls the sandbox saw during the cached run (goal 0), and that
   both runs offer the same slots.
2. Free/busy throughput under gunicorn as in the Procfile at C connections (p99 included): the
   hub answering from the cache, a bare Flask endpoint, and the hub reading live (goal: cached
   ≥ 50% of bare Flask). The machinery (gunicorn processes, load generator, bare app) is
   bench/gunicorn_stack.py's.

In (1) the cache is filled the production way: connecting opens a push channel and runs the
full sync (background jobs on). In (2) the gunicorn hub runs no background jobs, so the cache is
written as a finished full sync leaves it (tests/busy_cache_support.py: the store's own write
API), with the event the sandbox holds.

Run: python bench/busy_cache.py [latency_ms] [repeats] [participants] [seconds_per_load_run] [connections]
     BENCH_BASELINE_TREE=dir also runs (2) first for the hub source in dir (another checkout of
     the repository, e.g. `git archive <commit> | tar -x -C dir`): before/after in one run.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from bench.common import live_stack, sandbox_process  # noqa: E402
from bench.gunicorn_stack import (BARE_APP, PROCFILE_FLAGS, Gunicorn, free_port, load,  # noqa: E402
                                  sequential, settled)
from hub.services.directory import create_api_key  # noqa: E402
from hub.storage.db import Database  # noqa: E402
from oauth.vault import TokenVault  # noqa: E402
from tests.busy_cache_support import Cached, fill_cache  # noqa: E402
from tests.e2e.support import Api, Sandbox, connect  # noqa: E402


def _requests_seen(sandbox_url: str) -> int:
    """The id of the newest request the sandbox logged: the difference counts provider calls."""
    entries = requests.get(f"{sandbox_url}/_control/requests", timeout=30).json()
    return entries[-1]["id"] if entries else 0


def _connection_id(api: Api, user_id: str) -> str:
    return api.get(f"/v1/users/{user_id}/connections").json()["connections"][0]["id"]


def _synced(api: Api, connection_id: str, deadline_s: float = 120.0) -> None:
    """Wait for the connection's push channel to be open and its first full sync done."""
    stop = time.monotonic() + deadline_s
    while True:
        body = api.get(f"/v1/connections/{connection_id}/sync").json()
        if (body.get("channel") or {}).get("status") == "active" and body.get("last_synced_at"):
            return
        assert time.monotonic() < stop, f"{connection_id} not synced within {deadline_s:g} s: {body}"
        time.sleep(0.1)


def availability_figures(latency_ms: int, repeats: int, count: int) -> None:
    # Background jobs on (webhook_worker): connecting opens each calendar's push channel and runs
    # its full sync, which fills the busy cache the way production does.
    with live_stack(separate_sandbox=True, provider_concurrency=max(32, count), webhook_worker=True
                    ) as (app, url, sandbox_url, key):
        api, sandbox = Api(url, key), Sandbox(sandbox_url)
        day = (datetime.now(UTC) + timedelta(days=7)).replace(hour=0, minute=0, second=0, microsecond=0)
        connections = []
        for i in range(count):
            provider = "google" if i % 2 == 0 else "microsoft"
            email = f"c{i}.{uuid.uuid4().hex[:6]}@example.com"
            sandbox.account(provider, email, timezone="UTC")
            events = [Cached(day + timedelta(days=d, hours=h + i % 3), day + timedelta(days=d, hours=h + i % 3, minutes=30))
                      for d in range(5) for h in (10, 14)]
            for e in events:
                sandbox.busy(provider, email, e.start.isoformat(), e.end.isoformat())
            api.put(f"/v1/users/c{i}", json={"email": email, "timezone": "UTC"})
            assert connect(api, f"c{i}", provider, email).status == "connected"
            connections.append(_connection_id(api, f"c{i}"))
        for conn_id in connections:
            _synced(api, conn_id)

        body = {"participants": [{"user_id": f"c{i}"} for i in range(count)], "start": day.isoformat(),
                "end": (day + timedelta(days=5)).isoformat(), "duration_minutes": 30, "interval_minutes": 15}
        for consistency in ("cached", "live"):  # warm both paths
            assert api.post("/v1/availability", json={**body, "consistency": consistency}).status_code == 200
        for provider in ("google", "microsoft"):
            sandbox.fault(provider, "latency", params={"ms": latency_ms})

        def timed(consistency: str) -> tuple[list[float], dict]:
            out = []
            for _ in range(repeats):
                start = time.perf_counter()
                r = api.post("/v1/availability", json={**body, "consistency": consistency})
                out.append(time.perf_counter() - start)
                assert r.status_code == 200 and r.json()["complete"], r.text
            return out, r.json()

        mark = _requests_seen(sandbox_url)
        cached, cached_answer = timed("cached")
        calls_cached = _requests_seen(sandbox_url) - mark
        mark = _requests_seen(sandbox_url)
        live, live_answer = timed("live")
        calls_live = _requests_seen(sandbox_url) - mark
        requests.delete(f"{sandbox_url}/_control/faults", timeout=10)
        sources = {p["source"] for p in cached_answer["participants"].values()}
        assert sources == {"cache"}, sources
        assert cached_answer["slots"] == live_answer["slots"], "cached and live slots differ"
        c_ms, l_ms = statistics.median(cached) * 1000, statistics.median(live) * 1000
        print(f"/v1/availability, {count} participants ({(count + 1) // 2} Google + {count // 2} Microsoft), "
              f"sandbox latency {latency_ms} ms per call, {repeats} runs each, dev server:")
        print(f"  cached median {c_ms:7.1f} ms | live median {l_ms:7.1f} ms | cached/live {c_ms / l_ms:.1%} "
              f"(goal < 5%) | same slots: yes ({len(live_answer['slots'])})")
        print(f"  provider calls seen by the sandbox: cached run {calls_cached} (goal 0), "
              f"live run {calls_live} ({calls_live / repeats:.0f} per request)")


def throughput_figures(seconds: float, connections: int, tree: Path = ROOT) -> None:
    """`tree`: the hub source the gunicorn processes import (another checkout: a baseline)."""
    tmp = tempfile.mkdtemp()
    Path(tmp, "bare_app.py").write_text(BARE_APP)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["PYTHONPATH"] = os.pathsep.join([str(tree), tmp])
    with sandbox_process() as sandbox_url:
        db_url = f"sqlite:///{tmp}/bench.sqlite3"
        db = Database(db_url)
        db.upgrade()
        port = free_port()
        hub_env = {**env, "HUB_DATABASE_URL": db_url, "HUB_SANDBOX_URL": sandbox_url, "HUB_LOG_LEVEL": "WARNING",
                   "HUB_ENCRYPTION_KEYS": TokenVault.generate_key_spec("bench"), "HUB_WEBHOOK_WORKER": "false",
                   "HUB_PUBLIC_URL": f"http://127.0.0.1:{port}",
                   # The limiter still runs (its cost is part of a request's), but never says 429 here.
                   "HUB_RATE_LIMIT_API": "100000000/minute"}
        _, key = create_api_key(db, "bench")
        hub = Gunicorn("hub.wsgi:create()", hub_env, tmp, port)  # the port the OAuth redirect names
        api, sandbox = Api(hub.url, key), Sandbox(sandbox_url)
        email = f"bench.{uuid.uuid4().hex[:6]}@example.com"
        sandbox.account("google", email)
        day = datetime(2026, 3, 2, tzinfo=UTC)
        sandbox.busy("google", email, "2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z")
        api.put("/v1/users/bench", json={"email": email})
        assert connect(api, "bench", "google", email).status == "connected"
        conn_id = _connection_id(api, "bench")
        window = (day - timedelta(days=1), day + timedelta(days=62))
        fill_cache(db, conn_id, [Cached(day + timedelta(hours=10), day + timedelta(hours=11))],
                   synced_at=datetime.now(UTC), window=window)
        auth = {"Authorization": f"Bearer {key}"}
        fb = {"users": ["bench"], "start": "2026-03-02T00:00:00Z", "end": "2026-03-03T00:00:00Z"}
        cached_body, live_body = {**fb, "consistency": "cached"}, {**fb, "consistency": "live"}
        answer = api.post("/v1/freebusy", json=cached_body).json()["users"]["bench"]
        assert answer["source"] == "cache" and len(answer["busy"]) == 1, answer
        assert api.post("/v1/freebusy", json=live_body).json()["users"]["bench"]["source"] == "live"

        sequential(hub.url, "/v1/freebusy", lambda i: cached_body, auth, 30)
        cpu0 = settled(hub).cpu_seconds()
        cached_walls = sequential(hub.url, "/v1/freebusy", lambda i: cached_body, auth, 300)
        cached_cpu = (hub.cpu_seconds() - cpu0) / 300
        mark = _requests_seen(sandbox_url)
        cached_rps, cached_p99 = load(hub.url, "/v1/freebusy", cached_body, auth, connections, seconds)
        cached_calls = _requests_seen(sandbox_url) - mark
        live_rps, live_p99 = load(hub.url, "/v1/freebusy", live_body, auth, connections, seconds)
        hub.stop()
        # The same hub without its rate limiter: how much of a cached answer's cost that is.
        unlimited = Gunicorn("hub.wsgi:create()", {**hub_env, "HUB_RATE_LIMIT_ENABLED": "false"}, tmp)
        sequential(unlimited.url, "/v1/freebusy", lambda i: cached_body, auth, 30)
        cpu0 = settled(unlimited).cpu_seconds()
        sequential(unlimited.url, "/v1/freebusy", lambda i: cached_body, auth, 300)
        unlimited_cpu = (unlimited.cpu_seconds() - cpu0) / 300
        unlimited_rps, unlimited_p99 = load(unlimited.url, "/v1/freebusy", cached_body, auth, connections, seconds)
        unlimited.stop()
        bare = Gunicorn("bare_app:create()", env, tmp)
        sequential(bare.url, "/v1/freebusy", lambda i: fb, {}, 30)
        cpu0 = settled(bare).cpu_seconds()
        bare_walls = sequential(bare.url, "/v1/freebusy", lambda i: fb, {}, 300)
        bare_cpu = (bare.cpu_seconds() - cpu0) / 300
        bare_rps, bare_p99 = load(bare.url, "/v1/freebusy", fb, {}, connections, seconds)
        bare.stop()
        print("free/busy from the cache, one request at a time, median of 300 (gunicorn as in the Procfile):")
        print(f"  hub {statistics.median(cached_walls) * 1000:.2f} ms, CPU {cached_cpu * 1000:.2f} ms/request "
              f"({unlimited_cpu * 1000:.2f} ms without the rate limiter) | bare Flask "
              f"{statistics.median(bare_walls) * 1000:.2f} ms, CPU {bare_cpu * 1000:.2f} ms/request")
        print(f"free/busy throughput, gunicorn {' '.join(PROCFILE_FLAGS)}, {connections} connections, {seconds:.0f} s each:")
        print(f"  hub from the cache {cached_rps:6.0f} req/s (p99 {cached_p99:5.0f} ms, provider calls {cached_calls}) | "
              f"bare Flask {bare_rps:6.0f} req/s (p99 {bare_p99:5.0f} ms) | hub live {live_rps:6.0f} req/s "
              f"(p99 {live_p99:5.0f} ms)")
        print(f"  hub from the cache without the rate limiter {unlimited_rps:6.0f} req/s (p99 {unlimited_p99:5.0f} ms)")
        print(f"  cached/bare {cached_rps / bare_rps:.2f} (goal ≥ 0.50; {unlimited_rps / bare_rps:.2f} without the "
              f"limiter) | cached/live {cached_rps / live_rps:.2f}")


if __name__ == "__main__":
    args = sys.argv[1:]
    availability_figures(int(args[0]) if len(args) > 0 else 150, int(args[1]) if len(args) > 1 else 7,
                         int(args[2]) if len(args) > 2 else 20)
    seconds, conns = float(args[3]) if len(args) > 3 else 5.0, int(args[4]) if len(args) > 4 else 64
    baseline = os.environ.get("BENCH_BASELINE_TREE")
    if baseline:  # before/after in one run: e.g. `git archive <commit> | tar -x -C /tmp/base`
        print(f"== baseline: the hub from {baseline} ==")
        throughput_figures(seconds, conns, Path(baseline))
        print("== this tree ==")
    throughput_figures(seconds, conns)
