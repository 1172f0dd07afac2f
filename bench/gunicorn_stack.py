"""The hub under gunicorn exactly as the Procfile runs it, against baselines measured in the
same run: the same free/busy call straight to the sandbox with the SDK, and a bare Flask
endpoint under the same gunicorn flags.

Figures:
1. latency, one request at a time (median): free/busy and event create (Meet), hub vs SDK vs bare
   Flask; hub CPU per request (workers' utime+stime / requests) against bare Flask's;
2. throughput at C connections (req/s and p99): hub free/busy, the sandbox alone, bare Flask;
3. memory (RSS) per worker after start, after 1,000 and after 10,000 mixed requests.

Run: python bench/gunicorn_stack.py [seconds_per_load_run] [connections]   (a few minutes)
     python bench/gunicorn_stack.py --instructions [requests]   (instructions per request, see
     below; ~3 minutes for 100 requests)
     BENCH_HUB_TREE=/path/to/other/checkout: serve the hub from that tree's code instead (a
     before/after comparison: the baselines are this run's either way).

--instructions: the same hub, bare Flask app and requests, counted by valgrind's callgrind
instead of timed — figures load on the machine does not move (CPU seconds do, ±15% between
identical runs). Each gunicorn runs under callgrind with the Procfile's flags but one worker:
a worker is a fork of the same arbiter as any other, and every request on a keep-alive
connection is served whole by the worker that accepted it, so instructions per request do not
depend on the worker; with one, the counted worker is the warmed-up one. (`--timeout 0` too:
the arbiter would kill a worker that boots slower than 30 s, as everything does under callgrind;
the timeout plays no part in serving a request.) Per kind: 30 requests of warm-up, the worker
idle, `callgrind_control --dump` of the worker, N requests one at a time (this process, not
counted), a second dump — its total / N, gunicorn's accept loop, thread hand-off and keep-alive
handling included. The SDK call is counted in a process of its own (bench/google_sdk_calls.py);
the sandbox, the provider, is never counted. Instructions are user space only: the kernel's side
of the sockets (part of the default mode's utime+stime) is in neither side of the ratios.
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
HUB_TREE = Path(os.environ.get("BENCH_HUB_TREE") or ROOT)  # whose hub code gunicorn serves

from datetime import UTC

import requests

from bench import callgrind
from bench.common import connected_bench_user, fill_bench_cache, sandbox_process
from hub.services.directory import create_api_key
from hub.storage.db import Database
from oauth.vault import TokenVault
from tests.e2e.support import Api, Sandbox

PROCFILE_WORKERS, PROCFILE_THREADS = 2, 8
PROCFILE_FLAGS = ["--workers", str(PROCFILE_WORKERS), "--threads", str(PROCFILE_THREADS)]
WINDOW = {"start": "2026-03-02T00:00:00Z", "end": "2026-03-03T00:00:00Z"}
# Every call goes to the provider (the default is the busy cache, which this hub never fills
# unless told to: --instructions fills it for its cached series).
FREEBUSY_BODY = {"users": ["bench"], **WINDOW, "consistency": "live"}
WARM_UP = 30  # requests of each kind before measuring


def event_body(i: int) -> dict:
    return {"organizer": "bench", "title": f"Bench {i}", "start": "2026-03-03T09:00:00Z",
            "end": "2026-03-03T09:30:00Z", "conferencing": "google_meet"}
BARE_APP = '''
from flask import Flask, jsonify, request
def create():
    app = Flask("bare")
    @app.post("/v1/freebusy")
    def fb():
        body = request.get_json()
        return jsonify({"start": body["start"], "end": body["end"], "users": {}})
    @app.get("/healthz")
    def h():
        return jsonify({"ok": True})
    return app
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    def __init__(self, target: str, env: dict[str, str], cwd: str, port: int | None = None, *,
                 workers: int = PROCFILE_WORKERS, prefix: Sequence[str] = (), flags: Sequence[str] = (),
                 patience: float = 1.0) -> None:
        """`prefix`: what gunicorn runs under (valgrind); `flags`: gunicorn's besides the
        Procfile's; `patience`: how many times longer than usual to wait for it."""
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.patience = patience
        self.proc = subprocess.Popen([*prefix, sys.executable, "-m", "gunicorn", "--workers", str(workers),
                                      "--threads", str(PROCFILE_THREADS), *flags, "--bind",
                                      f"127.0.0.1:{self.port}", target], cwd=cwd, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60 * patience
        while time.monotonic() < deadline:
            try:
                if (requests.get(f"{self.url}/healthz", timeout=patience).status_code == 200
                        and len(self.workers()) == workers):
                    break
            except requests.RequestException:
                pass
            time.sleep(0.1)
        for _ in range(4 * workers):  # reach every worker so each starts what the first request starts
            requests.get(f"{self.url}/healthz", timeout=5 * patience)
        time.sleep(3)  # ... and let that warm-up (msgraph's import) finish before measuring

    def workers(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True, check=False)
        return [int(p) for p in out.stdout.split()]

    def cpu_seconds(self) -> float:
        total = 0.0
        for pid in self.workers():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def rss_mb(self) -> list[float]:
        out = []
        for pid in self.workers():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out.append(int(line.split()[1]) / 1024)
        return out

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(20 * self.patience)


def settled(server: Gunicorn, deadline_s: float = 60.0) -> Gunicorn:
    """Wait until the workers are idle (each worker's warm-up imports msgraph on a thread after
    its first request; on a busy machine that outlasts Gunicorn's own 3 s wait and would be
    charged to the first figures)."""
    stop = time.monotonic() + deadline_s
    while time.monotonic() < stop:
        before = server.cpu_seconds()
        time.sleep(1)
        if server.cpu_seconds() - before < 0.03:
            break
    return server


def post(conn: http.client.HTTPConnection, path: str, body: dict, headers: dict[str, str]) -> int:
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json", **headers})
    resp = conn.getresponse()
    resp.read()
    return resp.status


def sequential(url: str, path: str, body_of, headers: dict[str, str], n: int) -> list[float]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    out = []
    for i in range(n):
        start = time.perf_counter()
        status = post(conn, path, body_of(i), headers)
        out.append(time.perf_counter() - start)
        assert status in (200, 201), status
    conn.close()
    return out


def load(url: str, path: str, body: dict, headers: dict[str, str], connections: int, seconds: float
         ) -> tuple[float, float]:
    """C keep-alive connections sending as fast as they are answered: (req/s, p99 ms)."""
    host, port = url.removeprefix("http://").split(":")
    stop = time.perf_counter() + seconds
    latencies: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        mine = []
        while time.perf_counter() < stop:
            start = time.perf_counter()
            status = post(conn, path, body, headers)
            mine.append(time.perf_counter() - start)
            assert status == 200, status
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    return len(latencies) / elapsed, latencies[int(len(latencies) * 0.99) - 1] * 1000


def ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


@dataclass
class Stack:
    """The sandbox, and the hub under gunicorn with the user `bench` connected to Google."""
    tmp: str  # the gunicorns' working directory: the bare app's module, the database
    env: dict[str, str]  # a gunicorn's environment (the bare app's)
    hub_env: dict[str, str]
    sandbox_url: str
    db_url: str
    hub: Gunicorn
    key: str
    email: str
    mem_start: list[float]  # the hub workers' RSS before any request of the bench's

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def access_token(self) -> str:
        """An access token for the calls straight to the sandbox, from the hub's stored grant."""
        return requests.post(f"{self.sandbox_url}/google/token", timeout=10, data={
            "grant_type": "refresh_token", "client_id": "sandbox-google-client",
            "client_secret": "sandbox-google-secret", "refresh_token": _refresh_token(self.db_url, self.hub_env)}
        ).json()["access_token"]


@contextmanager
def stack() -> Iterator[Stack]:
    tmp = tempfile.mkdtemp()
    Path(tmp, "bare_app.py").write_text(BARE_APP)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), tmp])
    if HUB_TREE != ROOT:
        print(f"hub code from {HUB_TREE}")
    with sandbox_process() as sandbox_url:
        db_url = f"sqlite:///{tmp}/bench.sqlite3"
        Database(db_url).upgrade()
        hub_env = {**env, "PYTHONPATH": os.pathsep.join([str(HUB_TREE), tmp]),
                   "HUB_DATABASE_URL": db_url, "HUB_SANDBOX_URL": sandbox_url, "HUB_LOG_LEVEL": "WARNING",
                   "HUB_ENCRYPTION_KEYS": TokenVault.generate_key_spec("bench"), "HUB_WEBHOOK_WORKER": "false",
                   # The limiter still runs (its cost is part of a request's), but never says 429 here.
                   "HUB_RATE_LIMIT_API": "100000000/minute"}
        port = free_port()
        hub_env["HUB_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
        _, key = create_api_key(Database(db_url), "bench")
        hub = Gunicorn("hub.wsgi:create()", hub_env, tmp, port)  # the port the OAuth redirect names
        mem_start = hub.rss_mb()
        email = connected_bench_user(Api(hub.url, key), Sandbox(sandbox_url))
        yield Stack(tmp, env, hub_env, sandbox_url, db_url, hub, key, email, mem_start)


def main(seconds: float, connections: int) -> None:
    with stack() as st:
        hub, sandbox_url, email, auth, fb_body = st.hub, st.sandbox_url, st.email, st.auth, FREEBUSY_BODY
        env, tmp = st.env, st.tmp
        # The same call straight to the sandbox through the SDK, with the hub's stored token.
        from providers.google.calendar import GoogleCalendar
        token = st.access_token()
        sdk = GoogleCalendar(f"{sandbox_url}/google/calendar/v3/")
        from datetime import datetime
        s0, e0 = datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC)
        n = 300
        sequential(hub.url, "/v1/freebusy", lambda i: fb_body, auth, WARM_UP)
        sdk_walls = []
        sdk_cpu0 = time.process_time()  # this process runs only the SDK calls here
        for _ in range(n):
            t = time.perf_counter()
            sdk.free_busy(token, [email], s0, e0)
            sdk_walls.append(time.perf_counter() - t)
        sdk_cpu = (time.process_time() - sdk_cpu0) / n
        cpu0 = settled(hub).cpu_seconds()
        hub_walls = sequential(hub.url, "/v1/freebusy", lambda i: fb_body, auth, n)
        hub_cpu = (hub.cpu_seconds() - cpu0) / n
        from providers.base import EventDraft
        create_walls = []
        create_cpu0 = time.process_time()
        for i in range(n):
            t = time.perf_counter()
            sdk.create_event(token, EventDraft(title=f"sdk {i}", start=s0, end=e0, attendees=(), description=None,
                                               location=None, timezone=None, native_conferencing=True,
                                               send_updates=False, idempotency_handle=uuid.uuid4().hex))
            create_walls.append(time.perf_counter() - t)
        create_cpu = (time.process_time() - create_cpu0) / n
        cpu0 = settled(hub).cpu_seconds()
        ev_walls = sequential(hub.url, "/v1/events", event_body, auth, n)
        # n, not a few dozen: a worker's CPU is counted in 10 ms ticks, ±1 tick over 60 requests
        # of ~2 ms each was ±0.17 ms per request.
        ev_cpu = (hub.cpu_seconds() - cpu0) / n

        bare = Gunicorn("bare_app:create()", env, tmp)
        sequential(bare.url, "/v1/freebusy", lambda i: fb_body, {}, 30)
        cpu0 = settled(bare).cpu_seconds()
        bare_walls = sequential(bare.url, "/v1/freebusy", lambda i: fb_body, {}, n)
        bare_cpu = (bare.cpu_seconds() - cpu0) / n

        print(f"gunicorn {' '.join(PROCFILE_FLAGS)}, one request at a time, median of {n}:")
        print(f"  free/busy via hub {ms(hub_walls):6.2f} ms | SDK → sandbox {ms(sdk_walls):6.2f} ms | bare Flask "
              f"{ms(bare_walls):6.2f} ms | hub/(SDK+bare) {ms(hub_walls) / (ms(sdk_walls) + ms(bare_walls)):.2f}x")
        print(f"  event + Meet via hub {ms(ev_walls):6.2f} ms | SDK create_event {ms(create_walls):6.2f} ms | "
              f"hub/(SDK+bare) {ms(ev_walls) / (ms(create_walls) + ms(bare_walls)):.2f}x")
        print(f"  CPU per request: hub free/busy {hub_cpu * 1000:.2f} ms, hub event {ev_cpu * 1000:.2f} ms, bare Flask "
              f"{bare_cpu * 1000:.2f} ms, SDK free/busy {sdk_cpu * 1000:.2f} ms, SDK create_event {create_cpu * 1000:.2f} ms")
        print(f"  hub CPU / (bare Flask + SDK): free/busy {hub_cpu / (bare_cpu + sdk_cpu):.2f}x, "
              f"event {ev_cpu / (bare_cpu + create_cpu):.2f}x (goal ≤ 2)")

        hub_rps, hub_p99 = load(hub.url, "/v1/freebusy", fb_body, auth, connections, seconds)
        bare_rps, bare_p99 = load(bare.url, "/v1/freebusy", fb_body, {}, connections, seconds)
        raw = {"timeMin": "2026-03-02T00:00:00Z", "timeMax": "2026-03-03T00:00:00Z", "items": [{"id": email}]}
        sb_rps, sb_p99 = load(sandbox_url, "/google/calendar/v3/freeBusy", raw, {"Authorization": f"Bearer {token}"},
                              connections, seconds)
        print(f"throughput at {connections} connections, {seconds:.0f} s each:")
        print(f"  hub free/busy {hub_rps:6.0f} req/s (p99 {hub_p99:5.0f} ms) | sandbox alone {sb_rps:6.0f} req/s "
              f"(p99 {sb_p99:5.0f} ms) | bare Flask {bare_rps:6.0f} req/s (p99 {bare_p99:5.0f} ms)")
        print(f"  hub/sandbox {hub_rps / sb_rps:.2f} | hub/bare {hub_rps / bare_rps:.2f}")
        bare.stop()

        mixed = [("/v1/freebusy", fb_body), ("/v1/availability", {"participants": [{"user_id": "bench"}], **WINDOW})]
        host = hub.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host[0], int(host[1]), timeout=30)
        marks = {}
        done = 0
        for target in (1000, 10000):
            while done < target:
                path, body = mixed[done % 2]
                post(conn, path, body, auth)
                done += 1
            marks[target] = hub.rss_mb()
        conn.close()
        def fmt(xs: list[float]) -> str:
            return ", ".join(f"{x:.0f}" for x in xs)
        print(f"memory per worker (MB RSS): after start {fmt(st.mem_start)} | after 1,000 {fmt(marks[1000])} | "
              f"after 10,000 {fmt(marks[10000])} (mixed free/busy + availability; plus the connect and load runs)")
        hub.stop()


def _source(url: str, body: dict, auth: dict[str, str]) -> str:
    """Where the hub answered the user `bench`'s free/busy from: "cache" or "live"."""
    answer = requests.post(f"{url}/v1/freebusy", json=body, headers=auth, timeout=120)
    answer.raise_for_status()
    return answer.json()["users"]["bench"]["source"]


def _count(server: Gunicorn, label: str, path: str, body_of, headers: dict[str, str], n: int) -> None:
    """Warm-up, the worker idle, dump, n requests one at a time, dump (bench/callgrind.py)."""
    (worker,) = server.workers()
    sequential(server.url, path, body_of, headers, WARM_UP)
    settled(server, 600)  # the first requests' background warm-up (providers) runs ~50x slower here
    callgrind.dump(worker, f"before-{label}")
    sequential(server.url, path, body_of, headers, n)
    callgrind.dump(worker, f"after-{label}")


def instructions(n: int) -> None:
    out = tempfile.mkdtemp()
    seed = {"PYTHONHASHSEED": "0"}  # the same dict and set orders in every run

    def counted(target: str, env: dict[str, str], cwd: str, port: int | None = None) -> Gunicorn:
        return Gunicorn(target, {**env, **seed}, cwd, port, workers=1, prefix=callgrind.command(out, forked=True),
                        flags=["--timeout", "0"], patience=30.0)
    began = time.monotonic()
    with stack() as st:
        # The user was connected on an uncounted hub (the OAuth dance under callgrind is only
        # slow); the counted one serves the same database and keeps its port.
        st.hub.stop()
        hub = counted("hub.wsgi:create()", st.hub_env, st.tmp, st.hub.port)
        try:
            cached = {**FREEBUSY_BODY, "consistency": "cached"}
            _count(hub, "live", "/v1/freebusy", lambda i: FREEBUSY_BODY, st.auth, n)
            assert _source(hub.url, FREEBUSY_BODY, st.auth) == "live"
            conn_id = Api(hub.url, st.key).get("/v1/users/bench/connections").json()["connections"][0]["id"]
            # Filled just before its series: the cache is fresh for HUB_CACHE_MAX_AGE_SECONDS
            # (300 s), longer than warm-up and N requests take under callgrind.
            fill_bench_cache(Database(st.db_url), conn_id)
            assert _source(hub.url, cached, st.auth) == "cache"
            _count(hub, "cached", "/v1/freebusy", lambda i: cached, st.auth, n)
            assert _source(hub.url, cached, st.auth) == "cache"
            _count(hub, "event", "/v1/events", event_body, st.auth, n)
        finally:
            hub.stop()
        hub_minutes = (time.monotonic() - began) / 60
        bare = counted("bare_app:create()", st.env, st.tmp)
        try:
            _count(bare, "bare", "/v1/freebusy", lambda i: FREEBUSY_BODY, {}, n)
        finally:
            bare.stop()
        subprocess.run([*callgrind.command(out), sys.executable, str(ROOT / "bench" / "google_sdk_calls.py"),
                        st.sandbox_url, st.access_token(), st.email, str(n), str(WARM_UP)],
                       env={**st.env, **seed}, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    per_request = {label.removeprefix("after-"): total / n for label, total in callgrind.counts(out).items()
                   if label.startswith("after-")}
    bare_i, live, cache, event = (per_request[k] for k in ("bare", "live", "cached", "event"))
    sdk_fb, sdk_create = per_request["sdk-freebusy"], per_request["sdk-create"]
    ad_fb, ad_create = per_request["adapter-freebusy"], per_request["adapter-create"]

    def m(x: float) -> str:
        return f"{x / 1e6:6.3f} M"
    print(f"instructions per request (callgrind): gunicorn --workers 1 --threads {PROCFILE_THREADS}, {n} requests "
          f"one at a time after {WARM_UP} of warm-up; SDK calls in a process of their own")
    print(f"  bare Flask free/busy {m(bare_i)} | SDK freebusy.query {m(sdk_fb)} | SDK events.insert + Meet "
          f"{m(sdk_create)} (through the hub's adapter: {m(ad_fb)}, {m(ad_create)})")
    print(f"  hub free/busy live  {m(live)}   hub/(bare Flask + SDK) {live / (bare_i + sdk_fb):.2f}x (goal ≤ 2)")
    print(f"  hub event + Meet    {m(event)}   hub/(bare Flask + SDK) {event / (bare_i + sdk_create):.2f}x (goal ≤ 2)")
    print(f"  hub free/busy cached {m(cache)}  hub/bare Flask {cache / bare_i:.2f}x")
    print(f"  (against the adapter's calls, as the default mode's CPU figures: free/busy "
          f"{live / (bare_i + ad_fb):.2f}x, event {event / (bare_i + ad_create):.2f}x)")
    if hub_minutes > 50:
        # The hub refreshes its access token 300 s before the sandbox's 3,599 s lifetime ends: a
        # refresh inside a counted series would be charged to its requests.
        print(f"  warning: the hub's series took {hub_minutes:.0f} min from connecting; a token refresh may be counted")


def _refresh_token(db_url: str, env: dict[str, str]) -> str:
    from hub.storage.models import Connection
    from oauth.tokens import refresh_binding
    db = Database(db_url)
    with db.session() as s:
        conn = s.query(Connection).one()
        return TokenVault.from_config(env["HUB_ENCRYPTION_KEYS"]).decrypt(conn.refresh_token_enc, refresh_binding(conn.id))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--instructions"]:
        instructions(int(sys.argv[2]) if len(sys.argv) > 2 else 100)
    else:
        main(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0, int(sys.argv[2]) if len(sys.argv) > 2 else 64)
