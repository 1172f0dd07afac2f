"""Shared by the benchmarks: a live sandbox + hub on loopback, and small statistics helpers."""
from __future__ import annotations

import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

import requests
from werkzeug.serving import make_server

from hub.app import create_app
from hub.services.directory import create_api_key
from oauth.vault import TokenVault
from providers.sandbox import create_sandbox_app, serve


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def p95_ms(samples: list[float]) -> float:
    return sorted(samples)[int(len(samples) * 0.95) - 1] * 1000


SANDBOX_PIDS: dict[str, int] = {}  # a separate sandbox's URL -> its process id (see process_cpu)


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, every thread) a process and its children — live or reaped —
    have used so far (Linux): a separate sandbox's own cost (gunicorn's is in its worker), to
    print next to the hub's `process_time()`."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return own + sum(process_cpu(int(c)) for c in (children.read_text().split() if children.exists() else ()))


@contextmanager
def sandbox_process(keep_alive: bool = False):
    """The sandbox in its own process, as in a real deployment: in-process it would compete with
    the hub for the GIL and inflate the hub's latency figures.

    `keep_alive`: served by gunicorn's threaded worker, which keeps connections open between
    requests as Google's and Microsoft's front ends do; werkzeug's server (`hub sandbox`) closes
    every connection after one answer, so each provider call also pays a TCP connect and a
    new connection's set-up on both sides."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    if keep_alive:
        # One process (the sandbox's state is in memory); threads for every call in flight at
        # once, each possibly held by injected latency; idle connections wait without a thread.
        command = [sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--workers", "1",
                   "--threads", "256", "--keep-alive", "60", "--worker-connections", "2000",
                   "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
                   "providers.sandbox:create_sandbox_app()"]
    else:
        command = [sys.executable, "-m", "hub.cli", "sandbox", "--port", str(port)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    SANDBOX_PIDS[url] = proc.pid
    try:
        for _ in range(200):
            try:
                if requests.get(f"{url}/_control/providers", timeout=0.5).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def live_stack(database_url: str | None = None, separate_sandbox: bool = False, keep_alive: bool = False,
               **settings: Any):
    """Sandbox and hub on free ports, the hub on a fresh SQLite file unless told otherwise
    (`keep_alive`: a separate sandbox that keeps connections open, see `sandbox_process`)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if separate_sandbox or keep_alive:
        with sandbox_process(keep_alive) as url, _hub_on(url, database_url, settings) as stack:
            yield stack
        return
    sandbox_server, _, sandbox_url = serve(create_sandbox_app(), "127.0.0.1", 0)
    try:
        with _hub_on(sandbox_url, database_url, settings) as stack:
            yield stack
    finally:
        sandbox_server.shutdown()


@contextmanager
def _hub_on(sandbox_url: str, database_url: str | None, settings: dict[str, Any]):
    server = make_server("127.0.0.1", 0, lambda e, s: [], threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"database_url": database_url or f"sqlite:///{tmp}/bench.sqlite3", "auto_migrate": True,
                          "sandbox_url": sandbox_url, "public_url": url, "log_level": "WARNING",
                          "encryption_keys": TokenVault.generate_key_spec("bench"), "webhook_worker": False,
                          **settings})
        server.app = app
        threading.Thread(target=server.serve_forever, daemon=True).start()
        hub = app.extensions["hub"]
        _, key = create_api_key(hub.db, f"bench-{uuid.uuid4().hex[:6]}")
        # The first request starts msgraph's import on a background thread; measuring while it
        # runs would charge ~1 s of someone else's CPU to the first figures.
        requests.get(f"{url}/healthz", timeout=10)
        app.extensions["hub_warm_up"].done.wait(120)
        try:
            yield app, url, sandbox_url, key
        finally:
            server.shutdown()
            hub.close()


def connected_bench_user(api: Any, sandbox: Any) -> str:
    """A Google account with one busy hour on 2026-03-02, connected as the hub's user `bench`
    (tests/e2e/support.py's Api and Sandbox); returns its email."""
    from tests.e2e.support import connect
    email = f"bench.{uuid.uuid4().hex[:6]}@example.com"
    sandbox.account("google", email)
    sandbox.busy("google", email, "2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z")
    api.put("/v1/users/bench", json={"email": email})
    assert connect(api, "bench", "google", email).status == "connected"
    return email


def cached_bench_user(api: Any, sandbox: Any, db: Any) -> str:
    """`connected_bench_user` with its busy hour also in the busy cache, written as a finished
    full sync leaves it (synced now, the window around 2026-03-02): a `consistency:"cached"`
    free/busy of `bench` that day is answered from the cache. Returns the connection's id."""
    connected_bench_user(api, sandbox)
    conn_id: str = api.get("/v1/users/bench/connections").json()["connections"][0]["id"]
    fill_bench_cache(db, conn_id)
    return conn_id


def fill_bench_cache(db: Any, conn_id: str) -> None:
    """The busy cache of `connected_bench_user`'s connection as a full sync finished now leaves
    it (its busy hour, the window around 2026-03-02)."""
    from datetime import UTC, datetime, timedelta

    from tests.busy_cache_support import Cached, fill_cache
    day = datetime(2026, 3, 2, tzinfo=UTC)
    fill_cache(db, conn_id, [Cached(day + timedelta(hours=10), day + timedelta(hours=11))],
               synced_at=datetime.now(UTC), window=(day - timedelta(days=1), day + timedelta(days=62)))


class TimedAdapter:
    """Wraps an adapter and adds up the wall time spent inside its calls (from any thread), so
    the hub's own overhead is a request's wall time minus that. Benchmarks send one request at
    a time, so the total belongs to the request in flight."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self._spent = 0.0

    def take(self) -> float:
        with self._lock:
            spent, self._spent = self._spent, 0.0
        return spent

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if not callable(target):
            return target

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return target(*args, **kwargs)
            finally:
                with self._lock:
                    self._spent += time.perf_counter() - start

        return timed


def timed_total(fn: Callable[[], Any], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out
