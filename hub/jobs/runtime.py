"""Running one job: the same function whichever runner (Celery worker or in-process) calls it."""
from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from hub.jobs.catalog import JobSpec
from hub.logs import get_logger

if TYPE_CHECKING:
    from hub.container import Hub

log = get_logger(__name__)


class Runner(Protocol):
    """What the hub holds as `hub.jobs`: it takes work (`enqueue`, see dispatch.Dispatcher) and,
    for the in-process runner, runs it on this process's threads once started."""

    catalog: Mapping[str, JobSpec]

    def enqueue(self, name: str, payload: dict[str, Any], at: datetime | None = None) -> None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    @property
    def running(self) -> bool: ...

    def queue_depth(self) -> int | None: ...


def execute(hub: Hub, catalog: Mapping[str, JobSpec], name: str, payload: dict[str, Any]) -> str:
    """Run `name(payload)`; returns the outcome (`ok`, `failed`, `unknown`). A failure is
    logged and counted here and recorded on the job's row by the job itself; it is not raised,
    because the row — not the broker's message — decides whether and when it runs again."""
    spec = catalog.get(name)
    if spec is None:
        log.error("job_unknown", job=name)
        hub.metrics.jobs.labels(name, "unknown").inc()
        return "unknown"
    started = time.perf_counter()
    outcome = "ok"
    try:
        spec.run(hub, payload)
    except Exception as exc:  # noqa: BLE001 - reported (log, metric, the job's row), never lost
        outcome = "failed"
        # The type only: a message may quote a URL or a provider's answer.
        log.warning("job_failed", job=name, error=type(exc).__name__)
    hub.metrics.jobs.labels(name, outcome).inc()
    hub.metrics.job_seconds.labels(name).observe(time.perf_counter() - started)
    return outcome
