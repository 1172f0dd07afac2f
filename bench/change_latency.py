"""Seconds from a change at the provider to the backend's `event.updated`: a person moves an
event in their calendar (PATCH /_control/events/{id} on the sandbox, which pushes to the hub as
the provider would), the hub verifies the notification, syncs incrementally in a background job
and delivers the webhook to a receiver on loopback. p50/p99 over N changes per provider.

The baseline, measured in the same run, is the provider round trip the change itself costs (the
control PATCH's own answer time): the figure is how many of those the whole path takes. The
sandbox runs in its own process, the hub runs its jobs on its own threads (no broker), SQLite.

Run: python bench/change_latency.py [N]
"""
from __future__ import annotations

import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import live_stack  # noqa: E402
from tests.e2e.support import Api, Sandbox  # noqa: E402
from tests.e2e.sync_support import Backend, connected_person, event_body, rfc3339, synced  # noqa: E402

DEADLINE = 30.0


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))]


def measure(api: Api, sandbox: Sandbox, backend: Backend, provider: str, n: int) -> tuple[list[float], list[float]]:
    person = connected_person(api, sandbox, provider)
    synced(api, person)
    event = api.post("/v1/events", json=event_body(person, hours_ahead=72)).json()
    base = datetime.fromisoformat(event["start"].replace("Z", "+00:00"))
    latencies, round_trips = [], []
    for i in range(1, n + 1):
        moved = base + timedelta(minutes=5 * i)
        started = time.monotonic()
        r = sandbox.http.patch(f"{sandbox.base}/_control/events/{event['calendar']['event_id']}",
                               json={"start": rfc3339(moved), "end": rfc3339(moved + timedelta(hours=1))}, timeout=10)
        round_trips.append(time.monotonic() - started)
        assert r.status_code == 200, r.text
        want = rfc3339(moved)
        while True:
            got = [b for b in backend.of("event.updated", event["id"]) if b["data"]["start"] == want]
            if got:
                latencies.append(got[0]["received_at"] - started)
                break
            assert time.monotonic() - started < DEADLINE, f"{provider}: no event.updated for change {i}"
            time.sleep(0.002)  # polling the receiver's memory; the receipt time is stamped on arrival
    return latencies, round_trips


def main(n: int) -> None:
    with live_stack(separate_sandbox=True, webhook_worker=True, webhook_allow_private_urls=True) as (app, url,
                                                                                                   sandbox_url, key):
        api, sandbox, backend = Api(url, key), Sandbox(sandbox_url), Backend()
        r = api.post("/v1/webhook-endpoints", json={"url": backend.url, "events": ["event.updated"]})
        assert r.status_code == 201, r.text
        print(f"change → event.updated over {n} changes per provider (sandbox in its own process)")
        for provider in ("google", "microsoft"):
            latencies, round_trips = measure(api, sandbox, backend, provider, n)
            trip = statistics.median(round_trips)
            p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
            print(f"  {provider:<10} p50 {p50:.3f} s  p99 {p99:.3f} s  max {max(latencies):.3f} s"
                  f"   (baseline: the change's own round trip {trip * 1000:.1f} ms; p50 = {p50 / trip:.1f}x)")
        backend.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
