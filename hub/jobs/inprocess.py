"""The in-process runner: the catalog's jobs on this process's threads, with no broker.

Used when `HUB_BROKER_URL` is unset (the demo, one process, SQLite). Work waits in a heap by
due time; a scheduler thread hands what is due to a small thread pool and re-arms each
periodic job every N. Nothing here is durable, and nothing needs to be: the database is the
record, and the sweeps find whatever a restart dropped. Several processes may each run one
(e.g. gunicorn workers on PostgreSQL): jobs claim their rows, so none runs twice.
"""
from __future__ import annotations

import heapq
import itertools
import json
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hub.jobs.catalog import JOBS, JobSpec
from hub.jobs.runtime import execute

if TYPE_CHECKING:
    from hub.container import Hub

# Periodic jobs start shortly after the process does, not all in its first instant.
FIRST_PERIODIC_RUN = 1.0


class InProcessRunner:
    def __init__(self, hub: Hub, catalog: Mapping[str, JobSpec] = JOBS, *, threads: int = 4) -> None:
        self.hub = hub
        self.catalog = catalog
        self.threads = threads
        self._heap: list[tuple[float, int, str, dict[str, Any]]] = []
        self._queued: set[str] = set()  # one entry per identical job: duplicates add nothing
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None

    def enqueue(self, name: str, payload: dict[str, Any], at: datetime | None = None) -> None:
        delay = 0.0 if at is None else max(0.0, (at - self.hub.clock()).total_seconds())
        self._push(time.monotonic() + delay, name, payload)

    def _push(self, due: float, name: str, payload: dict[str, Any]) -> None:
        ident = _identity(name, payload)
        with self._wake:
            if ident in self._queued:
                return
            self._queued.add(ident)
            heapq.heappush(self._heap, (due, next(self._order), name, payload))
            self._wake.notify()

    def queue_depth(self) -> int | None:
        with self._wake:
            return len(self._heap)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def start(self) -> None:
        with self._wake:
            if self.running:
                return
            self._stop.clear()
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="job")
            first = time.monotonic() + FIRST_PERIODIC_RUN
            for spec in self.catalog.values():
                if spec.every is not None:
                    heapq.heappush(self._heap, (first, next(self._order), spec.name, {}))
                    self._queued.add(_identity(spec.name, {}))
            self._thread = threading.Thread(target=self._loop, name="jobs-scheduler", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 20.0) -> None:
        """Stop handing out work and wait for jobs in flight (each ends by its own timeouts)."""
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        thread, pool = self._thread, self._pool
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._wake:
                wait = self._heap[0][0] - time.monotonic() if self._heap else None
                if wait is None or wait > 0:
                    self._wake.wait(wait)
                    continue
                _, _, name, payload = heapq.heappop(self._heap)
                self._queued.discard(_identity(name, payload))
            spec = self.catalog.get(name)
            if spec is not None and spec.every is not None:
                self._push(time.monotonic() + spec.every.total_seconds(), name, payload)
            try:
                assert self._pool is not None
                self._pool.submit(execute, self.hub, self.catalog, name, payload)
            except RuntimeError:  # stopped meanwhile: the record stays due for the next process
                return


def _identity(name: str, payload: dict[str, Any]) -> str:
    return name + json.dumps(payload, sort_keys=True, default=str)
