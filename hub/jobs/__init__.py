"""Background work: one declaration of the hub's jobs (catalog.py) and two runners for it —
Celery workers on Redis when `HUB_BROKER_URL` is set (celery_app.py), this process's threads
when it is not (inprocess.py). The database is the record of every job; the broker may be lost.

Services queue work inside their own transaction:

    from hub import jobs
    jobs.schedule(session, "holds.release", {"hold_id": h}, at=expires_at, key=f"holds.release:{h}")

and it reaches a worker after the commit (dispatch.py). `runner_for(hub)` picks the runner.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from hub.jobs.dispatch import Transaction, Unit, after_commit, transaction
from hub.jobs.store import schedule

if TYPE_CHECKING:
    from hub.container import Hub
    from hub.jobs.runtime import Runner

__all__ = ["Transaction", "Unit", "after_commit", "runner_for", "schedule", "transaction"]


def runner_for(hub: Hub) -> Runner:
    """Celery when a broker is configured (this process only enqueues), else in-process."""
    if hub.settings.broker_url:
        from hub.jobs.celery_app import CeleryDispatcher, make_celery
        settings = hub.settings
        return CeleryDispatcher(make_celery(lambda: settings), clock=lambda: hub.clock())
    from hub.jobs.inprocess import InProcessRunner
    return InProcessRunner(hub)
