"""POST /v1/availability for 20 participants split over Google and Microsoft, with the sandbox
adding a fixed latency to every provider call: the endpoint's latency as a multiple of one
provider call measured in the same run (target: under 1.5x — calls run concurrently).

Run: python bench/availability_endpoint.py [latency_ms] [repeats]
"""
from __future__ import annotations

import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import live_stack  # noqa: E402
from tests.e2e.support import Api, Sandbox, connect  # noqa: E402


def main(latency_ms: int, repeats: int) -> None:
    with live_stack(separate_sandbox=True) as (app, url, sandbox_url, key):
        api, sandbox = Api(url, key), Sandbox(sandbox_url)
        day = (datetime.now(timezone.utc) + timedelta(days=7)).replace(hour=0, minute=0, second=0, microsecond=0)
        users = []
        for i in range(20):
            provider = "google" if i % 2 == 0 else "microsoft"
            email = f"p{i}.{uuid.uuid4().hex[:6]}@example.com"
            sandbox.account(provider, email, timezone="UTC")
            for h in (10, 14):
                sandbox.busy(provider, email, (day + timedelta(hours=h + i % 3)).isoformat(),
                             (day + timedelta(hours=h + i % 3, minutes=30)).isoformat())
            api.put(f"/v1/users/p{i}", json={"email": email, "timezone": "UTC"})
            assert connect(api, f"p{i}", provider, email).status == "connected"
            users.append(f"p{i}")
        body = {"participants": [{"user_id": u} for u in users], "start": day.isoformat(),
                "end": (day + timedelta(days=5)).isoformat(), "duration_minutes": 30, "interval_minutes": 15}
        assert api.post("/v1/availability", json=body).status_code == 200  # warm
        for provider in ("google", "microsoft"):
            sandbox.fault(provider, "latency", params={"ms": latency_ms})
        # One provider call, measured through the hub with a single participant of each kind.
        single = []
        for u in users[:2] * repeats:
            start = time.perf_counter()
            r = api.post("/v1/freebusy", json={"users": [u], "start": body["start"], "end": body["end"]})
            single.append(time.perf_counter() - start)
            assert r.status_code == 200
        full = []
        for _ in range(repeats):
            start = time.perf_counter()
            r = api.post("/v1/availability", json=body)
            full.append(time.perf_counter() - start)
            assert r.status_code == 200 and r.json()["complete"], r.text
        one, all_ = statistics.median(single), statistics.median(full)
        print(f"sandbox latency {latency_ms} ms per call; slots found: {len(r.json()['slots'])}")
        print(f"one participant (one provider call) via /v1/freebusy: median {one * 1000:.0f} ms")
        print(f"20 participants (10 Google + 10 Microsoft) /v1/availability: median {all_ * 1000:.0f} ms")
        print(f"ratio: {all_ / one:.2f}x one call (sequential would be ~20x)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 150, int(sys.argv[2]) if len(sys.argv) > 2 else 5)
