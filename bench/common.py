"""Shared by the benchmarks: a live sandbox + hub on loopback, and small statistics helpers."""
from __future__ import annotations

import logging
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
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


@contextmanager
def sandbox_process():
    """The sandbox in its own process, as in a real deployment: in-process it would compete with
    the hub for the GIL and inflate the hub's latency figures."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "hub.cli", "sandbox", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
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
def live_stack(database_url: str | None = None, separate_sandbox: bool = False, **settings: Any):
    """Sandbox and hub on free ports, the hub on a fresh SQLite file unless told otherwise."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if separate_sandbox:
        with sandbox_process() as url, _hub_on(url, database_url, settings) as stack:
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
