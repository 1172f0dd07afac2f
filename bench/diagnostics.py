"""A full user diagnosis (GET /v1/diagnostics/users/{id}) with one connection per provider in the
tree (Google, Microsoft, Zoom), against the sandbox with a latency fault on every provider call.

The unit is one provider round trip measured in the same run (a single Google calendars.get
through the adapter, latency included). A diagnosis has two probe levels — refresh every grant,
then every read-only probe — each run concurrently, so the target is about 2 round trips
however many connections and probes there are; run one after another, the same calls would
cost one round trip each.

Run: python bench/diagnostics.py [N] [latency_ms]
"""
from __future__ import annotations

import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import live_stack, median_ms, p95_ms  # noqa: E402
from providers.registry import PROVIDERS  # noqa: E402
from tests.e2e.support import Api, Sandbox, connect  # noqa: E402

LEVELS = 2  # refresh, then probes (hub/services/diagnostics/probing.py)


def measure(n: int, latency_ms: int) -> None:
    providers = sorted(PROVIDERS)
    with live_stack(webhook_worker=False) as (app, url, sandbox_url, key):
        hub = app.extensions["hub"]
        api, sandbox = Api(url, key), Sandbox(sandbox_url)
        tag = uuid.uuid4().hex[:6]
        api.put("/v1/users/bench", json={"email": f"bench.{tag}@example.com"})
        emails = {}
        for provider in providers:
            emails[provider] = f"bench.{provider}.{tag}@example.com"
            sandbox.account(provider, emails[provider])
            result = connect(api, "bench", provider, emails[provider])
            assert result.status == "connected", result
        warm = api.get("/v1/diagnostics/users/bench")  # msgraph's first answer imports its models
        assert warm.status_code == 200 and warm.json()["healthy"], warm.text
        for provider, email in emails.items():
            sandbox.fault(provider, "latency", email, params={"ms": latency_ms})

        # One provider round trip, the unit: a single read through the Google adapter.
        google_conn = next(c for c in warm.json()["connections"] if c["provider"] == "google")
        token = hub.tokens.access_token(google_conn["id"])
        calendar = hub.calendar("google")
        trips = []
        for _ in range(max(5, n // 4)):
            start = time.perf_counter()
            calendar.conferencing_allowed(token)
            trips.append(time.perf_counter() - start)
        trip_ms = median_ms(trips)

        mark = max((e["id"] for e in sandbox.requests_log("")), default=0)
        walls, inside = [], []
        for _ in range(n):
            start = time.perf_counter()
            r = api.get("/v1/diagnostics/users/bench")
            walls.append(time.perf_counter() - start)
            assert r.status_code == 200 and r.json()["healthy"], r.text
            inside.append(r.json()["elapsed_ms"] / 1000)
        calls = sum(1 for e in sandbox.requests_log("") if e["id"] > mark) / n
        checks = len(r.json()["checks"])

        wall_ms = median_ms(walls)
        print(f"providers: {', '.join(providers)} ({len(providers)} connections, {checks} checks), "
              f"latency fault {latency_ms} ms per call, {n} diagnoses")
        print(f"one provider round trip           {trip_ms:8.1f} ms   (median)")
        print(f"provider calls per diagnosis      {calls:8.1f}")
        print(f"diagnosis, wall (HTTP)            {wall_ms:8.1f} ms   median, p95 {p95_ms(walls):.1f} ms "
              f"= {wall_ms / trip_ms:.2f} round trips")
        print(f"diagnosis, inside the service     {median_ms(inside):8.1f} ms   "
              f"= {median_ms(inside) / trip_ms:.2f} round trips (target ≈ {LEVELS}: one per probe level)")
        print(f"the same calls one after another ≈ {calls * trip_ms:8.1f} ms   = {calls:.0f} round trips "
              f"→ concurrency saves {calls * trip_ms / wall_ms:.1f}x")
        print(f"spread: stdev {statistics.pstdev(walls) * 1000:.1f} ms")


if __name__ == "__main__":
    measure(int(sys.argv[1]) if len(sys.argv) > 1 else 20, int(sys.argv[2]) if len(sys.argv) > 2 else 100)
