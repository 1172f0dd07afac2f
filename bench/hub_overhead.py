"""Hub overhead per free/busy and per event create: wall time minus the time spent inside the
provider adapter's calls (google-api-python-client → sandbox), median over N requests.

Run: python bench/hub_overhead.py [N] [DATABASE_URL]   (a fresh SQLite file by default)
"""
from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests  # noqa: E402

from bench.common import TimedAdapter, connected_bench_user, live_stack, median_ms, p95_ms  # noqa: E402
from tests.e2e.support import Api, Sandbox  # noqa: E402


def measure(n: int, database_url: str | None = None) -> None:
    # The bench sends more than the default 600 API calls a minute; the limiter is not measured here.
    with live_stack(database_url, separate_sandbox=True, rate_limit_api="100000/minute") as (app, url, sandbox_url, key):
        hub = app.extensions["hub"]
        api, sandbox = Api(url, key), Sandbox(sandbox_url)
        connected_bench_user(api, sandbox)
        timed = TimedAdapter(hub.calendar("google"))
        hub.use("calendar", "google", timed)

        def run(label: str, send) -> None:
            send(0)  # warm caches and connections
            timed.take()
            walls, inside = [], []
            for i in range(n):
                start = time.perf_counter()
                resp = send(i + 1)
                walls.append(time.perf_counter() - start)
                inside.append(timed.take())
                assert resp.status_code in (200, 201), resp.text
            overhead = [w - p for w, p in zip(walls, inside)]
            print(f"{label:<22} wall median {median_ms(walls):7.2f} ms | provider {median_ms(inside):7.2f} ms | "
                  f"hub overhead median {median_ms(overhead):6.2f} ms (p95 {p95_ms(overhead):6.2f} ms) | "
                  f"overhead/provider {median_ms(overhead) / max(median_ms(inside), 1e-9):.2f}x")

        body = {"users": ["bench"], "start": "2026-03-02T00:00:00Z", "end": "2026-03-03T00:00:00Z",
                "consistency": "live"}  # the provider call is what this measures around
        run("POST /v1/freebusy", lambda i: api.post("/v1/freebusy", json=body))
        run("POST /v1/events (Meet)", lambda i: api.post("/v1/events", headers={"Idempotency-Key": uuid.uuid4().hex}, json={
            "organizer": "bench", "title": f"Bench {i}", "start": "2026-03-03T09:00:00Z",
            "end": "2026-03-03T09:30:00Z", "conferencing": "google_meet"}))
        # Baseline in the same run: a bare request to the hub that touches nothing but Flask.
        http = requests.Session()
        walls = []
        for _ in range(n):
            start = time.perf_counter()
            http.get(f"{url}/healthz")
            walls.append(time.perf_counter() - start)
        print(f"{'GET /healthz (floor)':<22} wall median {median_ms(walls):7.2f} ms")


if __name__ == "__main__":
    measure(int(sys.argv[1]) if len(sys.argv) > 1 else 200, sys.argv[2] if len(sys.argv) > 2 else None)
