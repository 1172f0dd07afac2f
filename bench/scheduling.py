"""Scheduling requests against the sandbox, with a fixed latency added to every provider call:

1. creating a request with 10 slots × 3 interviewers (30 holds, placed concurrently, plus the
   live busy check) vs the same number (30) of bare `POST /v1/events` made one after another,
   in the same run;
2. booking latency (live re-check of 3 interviewers + event creation + hold release) vs one
   `POST /v1/freebusy` read of the same 3 people.

Run: python bench/scheduling.py [latency_ms] [repeats]
"""
from __future__ import annotations

import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import live_stack
from tests.e2e.support import Api, Sandbox, connect

SLOTS, PANEL = 10, 3


def main(latency_ms: int, repeats: int) -> None:
    with live_stack(separate_sandbox=True) as (app, url, sandbox_url, key):
        api, sandbox = Api(url, key), Sandbox(sandbox_url)
        users = []
        for i in range(PANEL):
            provider = "google" if i % 2 == 0 else "microsoft"
            email = f"b{i}.{uuid.uuid4().hex[:6]}@example.com"
            sandbox.account(provider, email, timezone="UTC")
            api.put(f"/v1/users/b{i}", json={"email": email, "timezone": "UTC"})
            assert connect(api, f"b{i}", provider, email).status == "connected"
            users.append(f"b{i}")
        for provider in ("google", "microsoft"):
            sandbox.fault(provider, "latency", params={"ms": latency_ms})
        base = (datetime.now(UTC) + timedelta(days=30)).replace(hour=0, minute=0, second=0, microsecond=0)

        def day(n: int) -> datetime:
            return base + timedelta(days=n)

        bare, create, book, read = [], [], [], []
        for r in range(repeats):
            start = time.perf_counter()
            for s in range(SLOTS * PANEL):
                t = day(2 * r) + timedelta(minutes=30 * s)
                resp = api.post("/v1/events", json={"organizer": users[s % PANEL], "title": "Bare", "start": t.isoformat(),
                                                    "end": (t + timedelta(minutes=30)).isoformat(), "conferencing": "none"})
                assert resp.status_code == 201, resp.text
            bare.append(time.perf_counter() - start)

            slots = [{"start": (day(2 * r + 1) + timedelta(hours=s)).isoformat(),
                      "end": (day(2 * r + 1) + timedelta(hours=s, minutes=30)).isoformat()} for s in range(SLOTS)]
            body = {"organizer": users[0], "interviewers": users[1:], "title": "Bench", "duration_minutes": 30,
                    "conferencing": "none", "candidates": [{"email": f"c{k}@cand.example"} for k in range(SLOTS)],
                    "slots": slots}
            start = time.perf_counter()
            resp = api.post("/v1/scheduling-requests", json=body)
            create.append(time.perf_counter() - start)
            assert resp.status_code == 201 and len(resp.json()["holds"]) == SLOTS * PANEL, resp.text
            req = resp.json()

            start = time.perf_counter()
            resp = api.post("/v1/freebusy", json={"users": users, "start": slots[0]["start"], "end": slots[0]["end"]})
            read.append(time.perf_counter() - start)
            assert resp.status_code == 200
            cand = req["candidates"][0]["id"]
            start = time.perf_counter()
            resp = api.post(f"/v1/scheduling-requests/{req['id']}/candidates/{cand}/book",
                            json={"slot_id": req["slots"][0]["id"]})
            book.append(time.perf_counter() - start)
            assert resp.status_code == 200, resp.text

        m = {k: statistics.median(v) for k, v in (("bare", bare), ("create", create), ("book", book), ("read", read))}
        print(f"sandbox latency {latency_ms} ms per provider call; medians of {repeats} runs")
        print(f"{SLOTS * PANEL} bare POST /v1/events, one after another: {m['bare'] * 1000:.0f} ms")
        print(f"POST /v1/scheduling-requests, {SLOTS} slots x {PANEL} interviewers (check + {SLOTS * PANEL} holds): "
              f"{m['create'] * 1000:.0f} ms  -> ratio {m['create'] / m['bare']:.2f}x the bare events")
        print(f"POST /v1/freebusy for the {PANEL} interviewers: {m['read'] * 1000:.0f} ms")
        print(f"book (live re-check + interview + hold release): {m['book'] * 1000:.0f} ms  -> ratio "
              f"{m['book'] / m['read']:.2f}x one free/busy read")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100, int(sys.argv[2]) if len(sys.argv) > 2 else 3)
