"""Microsoft Teams events: what a user pays first, and what the hub adds per Graph call.

1. `hub demo` started fresh as a subprocess; as soon as /readyz answers, a person connects
   Microsoft and the backend creates ten Teams events: the first vs the tenth (the
   msgraph-sdk first-deserialisation cost must have been paid by the start-up warm-up).
2. The same first-vs-later comparison inside fresh child processes that use the adapter
   directly, with and without `warm()`, to show what the warm-up takes off the first call.
3. Per call, in one process: the sandbox's own time (a plain HTTP request to the emulator), the
   adapter (msgraph-sdk on its event-loop thread) and the hub API on top, for getSchedule and a
   Teams event; medians over N.

Run: python bench/microsoft_teams.py [N]
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from bench.common import TimedAdapter, live_stack, median_ms  # noqa: E402
from tests.e2e.support import Api, Sandbox, connect, free_port_pair  # noqa: E402

KEY = "hub_live_bench_teams"
T0 = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)


def teams_event(i: int) -> dict:
    start = T0 + timedelta(days=1, minutes=30 * i)
    return {"organizer": "megan", "title": f"Interview {i}", "start": start.isoformat(),
            "end": (start + timedelta(minutes=30)).isoformat(), "conferencing": "teams",
            "attendees": [{"email": f"cand{i}@candidates.example"}]}


# -- 1. hub demo, fresh process ---------------------------------------------------------------------
def demo_first_vs_tenth() -> None:
    port = free_port_pair()  # the demo takes PORT and PORT+1
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "hub.cli", "demo", "--port", str(port)], cwd=tmp,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, "HUB_DEMO_API_KEY": KEY, "PYTHONPATH": str(ROOT)})
        try:
            hub, sandbox_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"
            while True:
                try:
                    if requests.get(f"{hub}/readyz", timeout=0.5).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.perf_counter() - started > 60:
                    raise RuntimeError("hub demo did not start")
                time.sleep(0.02)
            ready = time.perf_counter() - started
            api, sandbox = Api(hub, KEY), Sandbox(sandbox_url)
            sandbox.account("microsoft", "megan@contoso.example", name="Megan Bowen")
            api.put("/v1/users/megan", json={"email": "megan@contoso.example"})
            t = time.perf_counter()
            assert connect(api, "megan", "microsoft", "megan@contoso.example").status == "connected"
            connected = time.perf_counter() - t
            walls = []
            for i in range(10):
                t = time.perf_counter()
                r = api.post("/v1/events", json=teams_event(i))
                walls.append(time.perf_counter() - t)
                assert r.status_code == 201 and r.json()["conferencing"]["provider"] == "teams", r.text
            # A second person a few seconds later, when a human would have clicked through consent.
            time.sleep(max(0.0, 8 - (time.perf_counter() - started - ready)))
            sandbox.account("microsoft", "adele@contoso.example")
            api.put("/v1/users/adele", json={"email": "adele@contoso.example"})
            t = time.perf_counter()
            assert connect(api, "adele", "microsoft", "adele@contoso.example").status == "connected"
            later = time.perf_counter() - t
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"[1] hub demo ready after {ready * 1000:.0f} ms; Microsoft connected (msal + 2 Graph probes) "
          f"in {connected * 1000:.0f} ms")
    print(f"    Teams event #1 {walls[0] * 1000:7.1f} ms | #10 {walls[9] * 1000:7.1f} ms | "
          f"median #2-#10 {median_ms(walls[1:]):.1f} ms")
    print(f"    a second person connecting ~8 s after start-up: {later * 1000:.0f} ms")


# -- 2. adapter in fresh child processes, with and without warm() -------------------------------------
CHILD = r"""
import json, sys, time, logging
logging.getLogger("werkzeug").setLevel(logging.ERROR)
sys.path.insert(0, sys.argv[1])
from datetime import datetime, timedelta, timezone
from providers.sandbox import create_sandbox_app, serve
from tests.contract.support import calendar_under_test
from providers.base import EventDraft
running = serve(create_sandbox_app(), "127.0.0.1", 0)
cal = calendar_under_test("microsoft", running.base_url)
warm = 0.0
if sys.argv[2] == "warm":
    t = time.perf_counter(); cal.adapter.warm(); warm = time.perf_counter() - t
t0 = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
out = []
for i in range(10):
    draft = EventDraft(title=f"x{i}", start=t0 + timedelta(hours=i), end=t0 + timedelta(hours=i, minutes=30),
                       native_conferencing=True, idempotency_handle=f"h{i}")
    t = time.perf_counter(); cal.adapter.create_event(cal.token, draft); out.append(time.perf_counter() - t)
print(json.dumps({"warm": warm, "calls": out}))
running.shutdown()
"""


def adapter_cold_vs_warm() -> None:
    for mode in ("cold", "warm"):
        done = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), mode], capture_output=True, text=True,
                              timeout=120, cwd=ROOT)
        data = json.loads(done.stdout.strip().splitlines()[-1])
        calls = data["calls"]
        extra = f" (warm() itself {data['warm'] * 1000:.0f} ms, off the request path)" if mode == "warm" else ""
        print(f"[2] adapter, {mode:<4}: first Teams event {calls[0] * 1000:7.1f} ms | tenth {calls[9] * 1000:5.1f} ms"
              f"{extra}")


# -- 3. per-call layers ---------------------------------------------------------------------------------
def layers(n: int) -> None:
    with live_stack() as (app, url, sandbox_url, key):
        hub = app.extensions["hub"]
        hub.calendar("microsoft").warm()
        api, sandbox = Api(url, key), Sandbox(sandbox_url)
        email = f"bench.{uuid.uuid4().hex[:6]}@contoso.example"
        sandbox.account("microsoft", email)
        sandbox.busy("microsoft", email, "2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z", status="tentative")
        api.put("/v1/users/megan", json={"email": email})
        assert connect(api, "megan", "microsoft", email).status == "connected"
        timed = TimedAdapter(hub.calendar("microsoft"))
        hub.use("calendar", "microsoft", timed)
        token = next(r["headers"]["Authorization"] for r in reversed(sandbox.requests_log("microsoft", "/microsoft/v1.0")))
        raw = requests.Session()
        raw.trust_env = False
        raw.headers.update({"Authorization": token, "Prefer": 'outlook.timezone="UTC"'})
        graph = f"{sandbox_url}/microsoft/v1.0"
        schedule = {"Schedules": [email], "AvailabilityViewInterval": 30,
                    "StartTime": {"dateTime": "2026-03-02T00:00:00", "timeZone": "UTC"},
                    "EndTime": {"dateTime": "2026-03-03T00:00:00", "timeZone": "UTC"}}
        fb_body = {"users": ["megan"], "start": "2026-03-02T00:00:00Z", "end": "2026-03-03T00:00:00Z"}

        def series(send) -> tuple[list[float], list[float]]:
            send(-1)
            timed.take()
            walls, inside = [], []
            for i in range(n):
                t = time.perf_counter()
                r = send(i)
                walls.append(time.perf_counter() - t)
                inside.append(timed.take())
                assert r.status_code in (200, 201), r.text
            return walls, inside

        def report(label: str, sandbox_own: list[float], adapter: list[float], hub_walls: list[float]) -> None:
            overhead = [w - a for w, a in zip(hub_walls, adapter)]
            print(f"[3] {label:<13} sandbox own {median_ms(sandbox_own):6.2f} ms | adapter (msgraph-sdk) "
                  f"{median_ms(adapter):6.2f} ms (+{median_ms(adapter) - median_ms(sandbox_own):5.2f} over the sandbox) | "
                  f"hub API {median_ms(hub_walls):6.2f} ms (+{median_ms(overhead):5.2f} over the adapter)")

        own, _ = series(lambda i: raw.post(f"{graph}/me/calendar/getSchedule", json=schedule))
        walls, inside = series(lambda i: api.post("/v1/freebusy", json=fb_body))
        report("getSchedule", own, inside, walls)

        def raw_event(i: int):
            body = {"subject": f"raw {i}", "isOnlineMeeting": True, "onlineMeetingProvider": "teamsForBusiness",
                    "start": {"dateTime": "2026-03-04T09:00:00", "timeZone": "UTC"},
                    "end": {"dateTime": "2026-03-04T09:30:00", "timeZone": "UTC"}, "transactionId": uuid.uuid4().hex}
            return raw.post(f"{graph}/me/events", json=body)

        own, _ = series(raw_event)
        walls, inside = series(lambda i: api.post("/v1/events", json=teams_event(i + 100),
                                                  headers={"Idempotency-Key": uuid.uuid4().hex}))
        report("Teams event", own, inside, walls)


if __name__ == "__main__":
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    demo_first_vs_tenth()
    adapter_cold_vs_warm()
    layers(runs)
