"""The `jobs` table: the durable record of every job run now, at a time, or once per key.

Other services call `schedule(session, name, payload, at=…, key=…)` inside their own
transaction; the job exists if and only if that transaction commits, and the broker hears
about it after the commit (dispatch.py). A worker runs a job by `claim`ing it (a lease in
`locked_until`, taken in a short transaction with `SKIP LOCKED` on PostgreSQL, re-checked with
`RETURNING` on SQLite), so two workers holding the same message never both run it; a worker
killed mid-job leaves a lease that runs out, and the sweep hands the job out again.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from hub.jobs.dispatch import Unit, after_commit
from hub.storage.db import Database
from hub.storage.models import Job, new_id
from hub.storage.types import utcnow

PENDING, DONE, FAILED = "pending", "done", "failed"
RUN = "jobs.run"  # the runner job that executes one row of this table
# Retries of a failing job: 10 s, 20 s, 40 s … capped at an hour; given up after MAX_ATTEMPTS.
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=10)
MAX_RETRY = timedelta(hours=1)


@dataclass(frozen=True)
class Claimed:
    id: str
    name: str
    payload: dict[str, Any]
    attempt: int  # 1-based


def schedule(session: Unit, name: str, payload: dict[str, Any] | None = None, *,
             at: datetime | None = None, key: str | None = None, job_id: str | None = None) -> str | None:
    """Record job `name(payload)` to run at `at` (now when None), in `session`'s transaction (an
    ORM session or a `Transaction`); it is handed to a worker after the commit. With `key`, at
    most one job ever exists per key (a second call is a no-op and returns None): one release
    per hold, one renewal per channel and period. `job_id`: the row's id chosen by the caller
    (a payload that seals secrets to its own row)."""
    job_id = job_id or new_id("job")
    now = utcnow()
    values = {"id": job_id, "name": name, "payload": payload or {}, "key": key, "status": PENDING,
              "run_at": at or now, "attempts": 0, "created_at": now}
    inserted = session.execute(_insert(session.get_bind().dialect.name),
                               {f"job_{column}": value for column, value in values.items()}).scalar_one_or_none()
    if inserted is None:
        return None
    after_commit(session, RUN, {"job_id": job_id}, at)
    return job_id


_COLUMNS = ("id", "name", "payload", "key", "status", "run_at", "attempts", "created_at")


@functools.cache
def _insert(dialect: str) -> Any:
    """The job INSERT … ON CONFLICT DO NOTHING RETURNING id for a dialect, built once and bound
    per call (event creates and push notices schedule jobs on the request path)."""
    if dialect == "postgresql":
        # Imported here: SQLAlchemy's PostgreSQL dialect costs ~30 ms that a SQLite hub never needs.
        from sqlalchemy.dialects.postgresql import insert as pg_insert
        insert: Any = pg_insert
    else:
        insert = sqlite_insert
    table: Any = Job.__table__  # the table, not the entity: the ORM's bulk-insert path cost more than the INSERT
    return (insert(table).values({c: bindparam(f"job_{c}", type_=table.c[c].type) for c in _COLUMNS})
            .on_conflict_do_nothing().returning(table.c.id))


def claim(db: Database, job_id: str, now: datetime, lease: timedelta) -> Claimed | None:
    """Take `job_id` if it is pending, due and not leased; None when someone else has it, it is
    done, or it is not due yet (a duplicate or early message)."""
    with db.session() as session:
        locked = session.execute(select(Job.id).where(Job.id == job_id, *_due(now))
                                 .with_for_update(skip_locked=True)).scalar_one_or_none()
        if locked is None:
            return None
        row = session.execute(update(Job).where(Job.id == job_id, *_due(now))
                              .values(locked_until=now + lease, attempts=Job.attempts + 1)
                              .returning(Job.name, Job.payload, Job.attempts)
                              .execution_options(synchronize_session=False)).one_or_none()
        if row is None:
            return None
        return Claimed(job_id, row.name, dict(row.payload or {}), row.attempts)


def finish(db: Database, job: Claimed, now: datetime) -> None:
    with db.session() as session:
        session.execute(update(Job).where(Job.id == job.id, Job.status == PENDING)
                        .values(status=DONE, finished_at=now, locked_until=None, last_error=None)
                        .execution_options(synchronize_session=False))


def fail(db: Database, job: Claimed, now: datetime, error: str) -> datetime | None:
    """Record a failed attempt; returns when it runs again, or None when it was given up."""
    retry_at = None if job.attempt >= MAX_ATTEMPTS else now + min(FIRST_RETRY * 2 ** (job.attempt - 1), MAX_RETRY)
    values: dict[str, Any] = {"locked_until": None, "last_error": error[:500]}
    if retry_at is None:
        values.update(status=FAILED, finished_at=now)
    else:
        values.update(run_at=retry_at)
    with db.session() as session:
        session.execute(update(Job).where(Job.id == job.id, Job.status == PENDING).values(**values)
                        .execution_options(synchronize_session=False))
    return retry_at


def due_ids(session: Session, now: datetime, due_before: datetime | None = None, limit: int = 500) -> list[str]:
    """Pending jobs due (before `due_before`, default `now`) that no worker holds at `now`."""
    return list(session.execute(select(Job.id).where(*_due(now), Job.run_at <= (due_before or now))
                                .order_by(Job.run_at).limit(limit)).scalars())


def _due(now: datetime) -> tuple[Any, ...]:
    return (Job.status == PENDING, Job.run_at <= now, or_(Job.locked_until.is_(None), Job.locked_until <= now))
