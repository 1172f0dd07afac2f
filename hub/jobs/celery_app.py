"""The Celery runner: the catalog's jobs on `celery worker` processes, with Redis as the broker.

    celery -A hub.jobs.celery_app worker      # runs jobs (the Procfile's `worker:`)
    celery -A hub.jobs.celery_app beat        # enqueues the periodic ones (`scheduler:`)

One Celery task, `hub.run(name, payload)`, runs any job of the catalog through the same
`runtime.execute` the in-process runner uses. Messages are acknowledged late and given back
when a worker dies, but nothing depends on that: the database is the record and the sweeps
re-enqueue whatever is due and not done. Web processes only enqueue (`CeleryDispatcher`).

Importing this module builds the Celery app and nothing else: settings are read when Celery
first needs its configuration, and a worker builds its hub (database, vault) on its first job.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from celery import Celery  # type: ignore[import-untyped]

from hub.config import Settings
from hub.jobs.catalog import JOBS, JobSpec, periodic
from hub.jobs.runtime import execute
from hub.jobs.settings import settings_here

if TYPE_CHECKING:
    from hub.container import Hub

TASK = "hub.run"
QUEUE = "hub"
# Redis hands an unacknowledged message to another worker after this long. Jobs run in seconds;
# a message held longer is a dead worker's, and its record is swept anyway.
VISIBILITY_TIMEOUT = 3600
# Later work is not sent with an ETA (a worker would hold it unacknowledged, past the visibility
# timeout): its record is due then, and the sweep enqueues it.
ETA_HORIZON = timedelta(minutes=10)


def celery_config(settings: Settings, catalog: Mapping[str, JobSpec] = JOBS) -> dict[str, Any]:
    return {
        "broker_url": settings.broker_url,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {"visibility_timeout": VISIBILITY_TIMEOUT},
        "task_default_queue": QUEUE,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        # Acknowledge after the job, give the message back when the worker dies, and take one
        # message at a time: a killed worker holds as little as possible.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        # The hub's structured logs go to stderr as they are, not re-logged as Celery warnings.
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
        "enable_utc": True,
        "beat_schedule": {spec.name: {"task": TASK, "schedule": spec.every.total_seconds(),
                                      "args": (spec.name, {})}
                          for spec in periodic(catalog) if spec.every is not None},
    }


def make_celery(settings: Callable[[], Settings], hub: Callable[[], Hub] | None = None,
                catalog: Mapping[str, JobSpec] = JOBS) -> Celery:
    """A Celery app whose configuration comes from `settings()` when first needed; its task runs
    jobs on `hub()` (only workers call it)."""
    app = Celery("hub", set_as_current=False)
    app.add_defaults(lambda: celery_config(settings(), catalog))

    @app.task(name=TASK)
    def run(name: str, payload: dict[str, Any]) -> str:
        if hub is None:
            raise RuntimeError("this Celery app only sends jobs")
        return execute(hub(), catalog, name, payload)

    return app


class CeleryDispatcher:
    """`hub.jobs` in a process with a broker: enqueues, never runs (web processes, the CLI)."""

    def __init__(self, app: Celery, clock: Callable[[], datetime], catalog: Mapping[str, JobSpec] = JOBS) -> None:
        self.app = app
        self.clock = clock
        self.catalog = catalog

    def enqueue(self, name: str, payload: dict[str, Any], at: datetime | None = None) -> None:
        eta = None
        if at is not None:
            ahead = at - self.clock()
            if ahead > ETA_HORIZON:
                return  # the sweep enqueues it when it is due
            if ahead > timedelta(0):
                eta = at
        self.app.send_task(TASK, args=(name, payload), eta=eta, queue=QUEUE)

    def queue_depth(self) -> int | None:
        with self.app.connection_for_read() as conn:
            return int(conn.default_channel.client.llen(QUEUE))

    def start(self) -> None:
        """Nothing runs here: workers run the jobs, beat enqueues the periodic ones."""

    def stop(self) -> None:
        self.app.close()

    @property
    def running(self) -> bool:
        return False


# --- the worker process ---------------------------------------------------------------------
_hub: Hub | None = None
_hub_lock = threading.Lock()


def worker_hub() -> Hub:
    """This worker process's hub, built on its first job (after the fork, for prefork pools)."""
    global _hub
    with _hub_lock:
        if _hub is None:
            from hub.app import build_hub
            from hub.logs import configure
            settings = settings_here()
            configure(settings.log_level, settings.log_json)
            _hub = build_hub(settings)
        return _hub


app = make_celery(settings_here, worker_hub)
