"""A webhook receiver and real `celery worker` processes for the background-job tests."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

REPO = Path(__file__).resolve().parents[2]


def wait_until(predicate: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Receiver:
    """A backend's webhook endpoint: records each request's `webhook-id` and answers 204. With
    `hold` cleared, requests wait until it is set (a receiver that hangs mid-delivery)."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.arrivals: list[float] = []  # wall-clock time of each request, for bench/jobs.py
        self.arrived = threading.Event()
        self.hold = threading.Event()
        self.hold.set()
        self._lock = threading.Lock()
        self.server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _app(self, environ, start_response):
        request = Request(environ)
        with self._lock:
            self.ids.append(request.headers.get("webhook-id", ""))
            self.arrivals.append(time.time())
        self.arrived.set()
        self.hold.wait(30)
        return Response(status=204)(environ, start_response)

    def distinct(self) -> set[str]:
        with self._lock:
            return set(self.ids)

    def count(self) -> int:
        with self._lock:
            return len(self.ids)

    def close(self) -> None:
        self.hold.set()
        self.server.shutdown()


class CeleryWorker:
    """`celery -A hub.jobs.celery_app worker` in a subprocess (solo pool: one job at a time, and
    the process that runs the job is the one a kill -9 ends). `app` names another Celery app."""

    def __init__(self, name: str, env: dict[str, str], workdir: Path, app: str = "hub.jobs.celery_app") -> None:
        self.name = name
        self.log = workdir / f"{name}.log"
        self.log.write_text("")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", app, "worker", "--pool=solo",
             "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
             "--loglevel=INFO"],
            cwd=workdir, env={**os.environ, **env, "PYTHONPATH": str(REPO)},
            stdout=self.log.open("a"), stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 30.0) -> None:
        wait_until(lambda: " ready." in self.log.read_text() or self.process.poll() is not None, timeout,
                   f"worker {self.name} to start")
        assert self.process.poll() is None, self.log.read_text()[-3000:]

    def received_jobs(self) -> int:
        return self.log.read_text().count("] received")

    def finished_jobs(self) -> int:
        return self.log.read_text().count("] succeeded")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
