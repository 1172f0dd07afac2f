"""POST /v1/availability for N participants (default 20) split over Google and Microsoft, with
the sandbox adding a fixed latency to every provider call: the endpoint's latency as a multiple
of one provider call measured in the same run (targets: 20-way ≤ 1.2x, 100-way ≤ 1.5x — calls
run concurrently; at 0 ms latency, 100 participants under 100 ms).

Also printed: the CPU time of this process (the hub, plus the small test client) per request,
which other load on a shared machine barely changes, unlike the wall-clock figures; the
sandbox runs in its own process and is not counted.

Also printed: the sandbox's own CPU per fan-out (its own process). At zero latency the sandbox
needs about as much CPU as the hub, so on a 2-core machine the two together set the floor.

Run: python bench/availability_endpoint.py [latency_ms] [repeats] [participants]
     HUB_PROVIDER_CONCURRENCY=n  the hub's pool (default: max(32, participants), one round trip)
     BENCH_KEEP_ALIVE=0          serve the sandbox on werkzeug's server, which closes every
                                 connection after one answer (default 1: gunicorn's threaded
                                 worker, which keeps connections open as Google's and
                                 Microsoft's front ends do, so a warm hub's calls pay no connect;
                                 as bench/profile_availability.py)
"""
from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import SANDBOX_PIDS, live_stack, process_cpu  # noqa: E402
from tests.e2e.support import Api, Sandbox, connect  # noqa: E402


def setup(api: Api, sandbox: Sandbox, count: int) -> dict[str, Any]:
    """`count` connected people, alternately Google and Microsoft, each with two busy blocks a
    week ahead; the body of an availability request for all of them, read live (the default
    answers fresh participants from the busy cache, and this measures the provider fan-out)."""
    day = (datetime.now(timezone.utc) + timedelta(days=7)).replace(hour=0, minute=0, second=0, microsecond=0)
    users = []
    for i in range(count):
        provider = "google" if i % 2 == 0 else "microsoft"
        email = f"p{i}.{uuid.uuid4().hex[:6]}@example.com"
        sandbox.account(provider, email, timezone="UTC")
        for h in (10, 14):
            sandbox.busy(provider, email, (day + timedelta(hours=h + i % 3)).isoformat(),
                         (day + timedelta(hours=h + i % 3, minutes=30)).isoformat())
        api.put(f"/v1/users/p{i}", json={"email": email, "timezone": "UTC"})
        assert connect(api, f"p{i}", provider, email).status == "connected"
        users.append(f"p{i}")
    return {"participants": [{"user_id": u} for u in users], "start": day.isoformat(),
            "end": (day + timedelta(days=5)).isoformat(), "duration_minutes": 30, "interval_minutes": 15,
            "consistency": "live"}


def main(latency_ms: int, repeats: int, count: int) -> None:
    # Enough pool threads and provider slots for every participant at once (HUB_PROVIDER_CONCURRENCY).
    # Generous limits: setting up 100 connections is more than a minute's connect links.
    limits = {"rate_limit_connect_links": "100000/minute", "rate_limit_api": "100000/minute"}
    keep_alive = os.environ.get("BENCH_KEEP_ALIVE", "1") != "0"
    concurrency = int(os.environ.get("HUB_PROVIDER_CONCURRENCY", max(32, count)))
    with live_stack(separate_sandbox=True, keep_alive=keep_alive, provider_concurrency=concurrency,
                    **limits) as (app, url, sandbox_url, key):
        api, sandbox = Api(url, key), Sandbox(sandbox_url)
        body = setup(api, sandbox, count)
        users = [p["user_id"] for p in body["participants"]]
        if latency_ms:
            for provider in ("google", "microsoft"):
                sandbox.fault(provider, "latency", params={"ms": latency_ms})
        # Warm, under the latency: with every call in flight at once the hub's pools grow to the
        # fan-out's width (a Google service object, ~1.4 ms of CPU each, and a connection per
        # call in flight), once per process; warmed without it they would grow during the first
        # measured request (~70 ms of CPU for 50 Google calls) that a running hub has long paid.
        assert api.post("/v1/availability", json=body).status_code == 200
        # One provider call, measured through the hub with a single participant of each kind.
        single = []
        cpu_start = time.process_time()
        for u in users[:2] * repeats:
            start = time.perf_counter()
            r = api.post("/v1/freebusy", json={"users": [u], "start": body["start"], "end": body["end"],
                                                   "consistency": "live"})
            single.append(time.perf_counter() - start)
            assert r.status_code == 200
        cpu_one = (time.process_time() - cpu_start) / len(single)
        full = []
        sandbox_pid = SANDBOX_PIDS[sandbox_url]
        sandbox_start = process_cpu(sandbox_pid)
        cpu_start = time.process_time()
        for _ in range(repeats):
            start = time.perf_counter()
            r = api.post("/v1/availability", json=body)
            full.append(time.perf_counter() - start)
            assert r.status_code == 200 and r.json()["complete"], r.text
            assert all(p["source"] == "live" for p in r.json()["participants"].values()), r.text
        cpu_all = (time.process_time() - cpu_start) / len(full)
        sandbox_all = (process_cpu(sandbox_pid) - sandbox_start) / len(full)
        one, all_ = statistics.median(single), statistics.median(full)
        print(f"sandbox latency {latency_ms} ms per call; slots found: {len(r.json()['slots'])}")
        print(f"one participant (one provider call) via /v1/freebusy: median {one * 1000:.0f} ms")
        print(f"{count} participants ({(count + 1) // 2} Google + {count // 2} Microsoft) /v1/availability: "
              f"median {all_ * 1000:.0f} ms")
        print(f"ratio: {all_ / one:.2f}x one call (sequential would be ~{count}x)")
        print(f"hub CPU per request: one participant {cpu_one * 1000:.1f} ms, {count} participants "
              f"{cpu_all * 1000:.1f} ms ({cpu_all * 1000 / count:.2f} ms per participant; load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
        print(f"sandbox CPU per {count}-participant request: {sandbox_all * 1000:.0f} ms "
              f"({'keep-alive' if keep_alive else 'a connection per call'}; its own process, on the other core)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 150, int(sys.argv[2]) if len(sys.argv) > 2 else 5,
         int(sys.argv[3]) if len(sys.argv) > 3 else 20)
