"""Hand work to the broker only after the transaction that recorded it has committed.

A job's record (a `jobs` row, a webhook outbox row) is written in the caller's transaction;
the message that tells a worker to run it is sent from SQLAlchemy's `after_commit` hook, so a
worker never looks for a row that is not there yet, and a rolled-back transaction sends
nothing. If the send fails or the process dies in between, nothing is lost: the periodic
sweep finds every due record that is not done and enqueues it again.

The dispatcher comes from the session's `info` (the composition root puts it in
`Database.session_info`); sessions without one (scripts, some tests) just leave the work to
the sweep.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session

from hub.logs import get_logger

log = get_logger(__name__)

DISPATCHER = "hub.jobs.dispatcher"
_PENDING = "hub.jobs.after_commit"


class Dispatcher(Protocol):
    """Where a runner takes work: `enqueue` asks for `name(payload)` to run at `at` (now
    when None). It may run more than once: every job is idempotent against its record."""

    def enqueue(self, name: str, payload: dict[str, Any], at: datetime | None = None) -> None: ...


def after_commit(session: Session, name: str, payload: dict[str, Any], at: datetime | None = None) -> None:
    """Enqueue `name(payload)` when `session`'s transaction commits (dropped on rollback)."""
    session.info.setdefault(_PENDING, []).append((name, payload, at))


# Listening on the Session class, once per process: a listener added to and removed from each
# session that queues work cost more than the rest of queuing it (SQLAlchemy's event registry
# per instance). A session with nothing pending passes through both in a dict lookup.
@event.listens_for(Session, "after_commit")
def _send(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    dispatcher: Dispatcher | None = session.info.get(DISPATCHER)  # type: ignore[assignment]
    if dispatcher is None:
        return
    for name, payload, at in pending:
        try:
            dispatcher.enqueue(name, payload, at)
        except Exception as exc:  # noqa: BLE001 - the record is committed; the sweep enqueues it again
            log.warning("job_enqueue_failed", job=name, error=type(exc).__name__)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)
