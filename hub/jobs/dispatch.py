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

from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterator, Protocol

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from hub.logs import get_logger

if TYPE_CHECKING:  # pragma: no cover
    from hub.storage.db import Database

log = get_logger(__name__)

DISPATCHER = "hub.jobs.dispatcher"
_PENDING = "hub.jobs.after_commit"


class Dispatcher(Protocol):
    """Where a runner takes work: `enqueue` asks for `name(payload)` to run at `at` (now
    when None). It may run more than once: every job is idempotent against its record."""

    def enqueue(self, name: str, payload: dict[str, Any], at: datetime | None = None) -> None: ...


class Unit(Protocol):
    """Where a record is written and its message queued until the commit: an ORM `Session`, or
    a `Transaction` on a plain connection."""

    @property
    def info(self) -> dict[Any, Any]: ...
    def execute(self, statement: Any, params: Any = None) -> Any: ...
    def flush(self) -> None: ...
    def get_bind(self) -> Any: ...


class Transaction:
    """A transaction on a plain connection that queues work as a `Session` does (`info`), for
    a hot path that writes a few rows with Core statements: no session to open, no unit of
    work to flush, no ORM layer per statement. Made by `transaction`."""

    def __init__(self, connection: Connection, info: dict[Any, Any]) -> None:
        self.connection = connection
        self.info = info

    def execute(self, statement: Any, params: Any = None) -> Any:
        return self.connection.execute(statement, params)

    def flush(self) -> None:
        """Nothing is pending outside the statements already executed."""

    def get_bind(self) -> Connection:
        return self.connection


@contextmanager
def transaction(db: Database) -> Iterator[Transaction]:
    """`Database.write` with the jobs' hand-off: commits when the block ends cleanly (then
    sends what was queued, as a session's commit does), rolls back and sends nothing otherwise."""
    with db.write() as conn:
        tx = Transaction(conn, dict(db.session_info))
        yield tx
    _hand_over(tx.info)


def after_commit(session: Unit, name: str, payload: dict[str, Any], at: datetime | None = None) -> None:
    """Enqueue `name(payload)` when `session`'s transaction commits (dropped on rollback)."""
    session.info.setdefault(_PENDING, []).append((name, payload, at))


# Listening on the Session class, once per process: a listener added to and removed from each
# session that queues work cost more than the rest of queuing it (SQLAlchemy's event registry
# per instance). A session with nothing pending passes through both in a dict lookup.
@event.listens_for(Session, "after_commit")
def _send(session: Session) -> None:
    _hand_over(session.info)


def _hand_over(info: dict[Any, Any]) -> None:
    pending = info.pop(_PENDING, None)
    if not pending:
        return
    dispatcher: Dispatcher | None = info.get(DISPATCHER)
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
