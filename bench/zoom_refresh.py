"""Zoom under load, measured against the sandbox over real HTTP.

1. Refreshes per access-token expiry when 1, 8 and 32 event creations with Zoom hit an access
   token Zoom refuses at the same moment — from threads of one hub, and from that many hub
   processes (each its own engine, like gunicorn workers; PostgreSQL only, since the row lock
   is what serialises processes). The sandbox's request log counts the refresh grants: with
   Zoom's rotation anything above 1 would lose the connection.
2. Event-with-Zoom latency against the sum of the two provider calls (the Zoom meeting, then
   the calendar event) measured inside the adapters: what remains is the hub's own overhead.

Run: python bench/zoom_refresh.py [--rounds N] [--latency-n N] [--database-url postgresql+psycopg://…]
"""
from __future__ import annotations

import argparse
import logging
import multiprocessing
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import TimedAdapter, live_stack, median_ms, p95_ms  # noqa: E402
from tests.e2e.support import Api, Sandbox  # noqa: E402
from tests.e2e.zoom_support import event_body, log_mark, person, refreshes_since  # noqa: E402

LEVELS = (1, 8, 32)


def worker(settings: dict[str, Any], api_key: str, bodies: list[dict], go, done, results) -> None:
    """One hub process: waits at `go` before each round, books one event, reports, repeats."""
    import logging

    from hub.app import create_app

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = create_app(settings)
    client = app.test_client()
    for body in bodies:
        go.wait(timeout=120)
        r = client.post("/v1/events", json=body, headers={"Authorization": f"Bearer {api_key}"})
        results.put(r.status_code)
        done.wait(timeout=120)
    app.extensions["hub"].close()


def per_expiry_threads(api: Api, sandbox: Sandbox, level: int, rounds: int) -> tuple[list[int], list[int]]:
    who = person(api, sandbox)
    counts, statuses = [], []
    with ThreadPoolExecutor(level) as pool:
        for r in range(rounds):
            sandbox.fault("zoom", "expire_access_tokens", who.zoom_email)
            mark = log_mark(sandbox)
            bodies = [event_body(who, title=f"T{level}-{r}-{i}") for i in range(level)]
            statuses += [resp.status_code for resp in pool.map(lambda b: api.post("/v1/events", json=b), bodies)]
            counts.append(refreshes_since(sandbox, mark))
    return counts, statuses


def per_expiry_processes(app, api: Api, sandbox: Sandbox, level: int, rounds: int) -> tuple[list[int], list[int]]:
    who = person(api, sandbox)
    s = app.extensions["hub"].settings
    settings = {k: getattr(s, k) for k in ("database_url", "sandbox_url", "public_url", "encryption_keys",
                                           "refresh_margin_seconds")}
    settings["log_level"] = "WARNING"
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["hub.app", "providers.google.calendar", "providers.zoom.meetings"])
    go, done, results = ctx.Barrier(level + 1), ctx.Barrier(level + 1), ctx.Queue()
    procs = [ctx.Process(target=worker, args=(settings, api.key,
                                              [event_body(who, title=f"P{level}-{r}-{i}") for r in range(rounds)],
                                              go, done, results)) for i in range(level)]
    for p in procs:
        p.start()
    counts, statuses = [], []
    for _ in range(rounds):
        sandbox.fault("zoom", "expire_access_tokens", who.zoom_email)
        mark = log_mark(sandbox)
        go.wait(timeout=300)
        statuses += [results.get(timeout=300) for _ in range(level)]
        counts.append(refreshes_since(sandbox, mark))
        done.wait(timeout=300)
    for p in procs:
        p.join(60)
    return counts, statuses


def report(mode: str, level: int, counts: list[int], statuses: list[int]) -> None:
    ok = statuses.count(201)
    print(f"{mode:<9} {level:>3} concurrent | refreshes per expiry: mean {statistics.mean(counts):.2f} "
          f"min {min(counts)} max {max(counts)} over {len(counts)} expiries | {ok}/{len(statuses)} created")


def latency(app, api: Api, sandbox: Sandbox, n: int) -> None:
    hub = app.extensions["hub"]
    who = person(api, sandbox)
    zoom, calendar = TimedAdapter(hub.conferencing("zoom")), TimedAdapter(hub.calendar("google"))
    hub.use("conferencing", "zoom", zoom)
    hub.use("calendar", "google", calendar)
    walls, zooms, cals = [], [], []
    for i in range(n + 1):
        start = time.perf_counter()
        r = api.post("/v1/events", json=event_body(who, title=f"Latency {i}"),
                     headers={"Idempotency-Key": uuid.uuid4().hex})
        wall = time.perf_counter() - start
        assert r.status_code == 201, r.text
        z, c = zoom.take(), calendar.take()
        if i:  # the first request warms connections and caches
            walls.append(wall), zooms.append(z), cals.append(c)
    inside = [z + c for z, c in zip(zooms, cals)]
    overhead = [w - p for w, p in zip(walls, inside)]
    print(f"event with Zoom, {n} requests: wall median {median_ms(walls):.2f} ms (p95 {p95_ms(walls):.2f}) | "
          f"Zoom create {median_ms(zooms):.2f} ms + calendar insert {median_ms(cals):.2f} ms = "
          f"{median_ms(inside):.2f} ms | hub overhead median {median_ms(overhead):.2f} ms "
          f"(p95 {p95_ms(overhead):.2f} ms)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="expiries per concurrency level")
    parser.add_argument("--latency-n", type=int, default=100)
    parser.add_argument("--database-url", default=None, help="PostgreSQL for the multi-process rows")
    args = parser.parse_args(argv)
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)  # 32 client threads, pool of 10
    with live_stack(args.database_url, refresh_margin_seconds=60) as (app, url, sandbox_url, key):
        api, sandbox = Api(url, key), Sandbox(sandbox_url)
        db = "PostgreSQL" if not app.extensions["hub"].db.is_sqlite else "SQLite"
        print(f"database: {db}")
        for level in LEVELS:
            report("threads", level, *per_expiry_threads(api, sandbox, level, args.rounds))
        if db == "PostgreSQL":
            for level in LEVELS:
                report("processes", level, *per_expiry_processes(app, api, sandbox, level, args.rounds))
        else:
            print("processes: skipped (one refresh across processes needs PostgreSQL's row lock; "
                  "pass --database-url)")
        latency(app, api, sandbox, args.latency_n)


if __name__ == "__main__":
    main()
