"""What the background work looks like now: `/metrics` gauges and the `hub jobs` command.

Both read the records (the `jobs` table and the webhook outbox), not the broker, so they show
every process's work, whichever runner ran it. Kinds: `job` (a `jobs` row) and `webhook` (an
outbox row). States: `due` (waiting for a worker), `running` (held by a worker's lease),
`scheduled` (later), and the end states (`done`/`delivered`, `failed`, `cancelled`).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select, update

from hub.jobs import store
from hub.jobs.dispatch import after_commit
from hub.logs import get_logger
from hub.storage.models import Job, WebhookDelivery

if TYPE_CHECKING:
    from hub.container import Hub
    from hub.storage.db import Database

log = get_logger(__name__)
D = WebhookDelivery


@dataclass(frozen=True)
class JobRow:
    id: str
    kind: str
    name: str
    state: str
    due_at: datetime
    attempts: int
    last_error: str | None


def state_of(status: str, due_at: datetime, locked_until: datetime | None, now: datetime) -> str:
    if status != "pending":
        return status
    if locked_until is not None and locked_until > now:
        return "running"
    return "due" if due_at <= now else "scheduled"


def list_jobs(db: Database, now: datetime, states: set[str], limit: int = 100) -> list[JobRow]:
    """Jobs and webhook deliveries in `states`, oldest due first."""
    rows: list[JobRow] = []
    with db.session() as session:
        for job in session.execute(select(Job).where(_status_filter(Job.status, states))
                                   .order_by(Job.run_at).limit(limit)).scalars():
            rows.append(JobRow(job.id, "job", job.name, state_of(job.status, job.run_at, job.locked_until, now),
                               job.run_at, job.attempts, job.last_error))
        for d in session.execute(select(D).where(_status_filter(D.status, states))
                                 .order_by(D.next_attempt_at).limit(limit)).scalars():
            rows.append(JobRow(d.id, "webhook", f"webhooks.deliver {d.event_type}",
                               state_of(d.status, d.next_attempt_at, d.locked_until, now), d.next_attempt_at,
                               d.attempts, d.last_error))
    wanted = states | ({"delivered"} if "done" in states else set())
    return sorted((r for r in rows if r.state in wanted), key=lambda r: r.due_at)[:limit]


def _status_filter(column: Any, states: set[str]) -> Any:
    statuses = {"pending"} if states & {"due", "running", "scheduled"} else set()
    statuses |= states - {"due", "running", "scheduled"}
    if "done" in statuses:
        statuses.add("delivered")
    return column.in_(statuses)


class NotRetryable(Exception):
    pass


def retry(db: Database, ident: str, now: datetime) -> str:
    """Make a failed (or waiting) job or delivery due now with a fresh set of attempts; it is
    enqueued after the commit (and swept if that message is lost). Returns its kind."""
    with db.session() as session:
        if ident.startswith("job_"):
            job = session.get(Job, ident, with_for_update=True)
            if job is None or job.status == store.DONE:
                raise NotRetryable("no such job" if job is None else "this job is done")
            job.status, job.run_at, job.attempts, job.locked_until, job.finished_at = store.PENDING, now, 0, None, None
            after_commit(session, store.RUN, {"job_id": ident})
            return "job"
        delivery = session.get(D, ident, with_for_update=True)
        if delivery is None or delivery.status in ("delivered", "cancelled"):
            raise NotRetryable("no such delivery" if delivery is None else f"this delivery is {delivery.status}")
        session.execute(update(D).where(D.id == ident).values(status="pending", next_attempt_at=now, attempts=0,
                                                                locked_until=None)
                        .execution_options(synchronize_session=False))
        after_commit(session, "webhooks.deliver", {"delivery_id": ident})
        return "webhook"


class JobsCollector:
    """Prometheus collector: queue depth, records by kind and state, age of the oldest due one.
    Queried at scrape time; a failing query leaves the gauges out rather than failing /metrics."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def describe(self) -> list[Any]:
        return []  # collected lazily: no database query at registration

    def collect(self) -> Iterator[Any]:
        depth = GaugeMetricFamily("hub_jobs_queue_depth", "Messages waiting in the job queue (broker or in-process)")
        try:
            value = self.hub.jobs.queue_depth()
            if value is not None:
                depth.add_metric([], value)
        except Exception as exc:  # noqa: BLE001 - a broker outage must not break /metrics
            log.warning("jobs_queue_depth_unavailable", error=type(exc).__name__)
        yield depth
        try:
            counts, oldest = self._records(self.hub.clock())
        except Exception as exc:  # noqa: BLE001 - a database outage must not break /metrics
            log.warning("jobs_records_unavailable", error=type(exc).__name__)
            return
        records = GaugeMetricFamily("hub_jobs", "Background job records by kind and state", labels=["kind", "state"])
        for (kind, state), n in sorted(counts.items()):
            records.add_metric([kind, state], n)
        yield records
        age = GaugeMetricFamily("hub_jobs_oldest_due_age_seconds", "How long the oldest due job has waited",
                                labels=["kind"])
        for kind, seconds in sorted(oldest.items()):
            age.add_metric([kind], seconds)
        yield age

    def _records(self, now: datetime) -> tuple[dict[tuple[str, str], int], dict[str, float]]:
        counts: dict[tuple[str, str], int] = {}
        oldest: dict[str, float] = {}
        with self.hub.db.session() as session:
            for kind, model, due_at in (("job", Job, Job.run_at), ("webhook", D, D.next_attempt_at)):
                status, locked_until = model.status, model.locked_until  # type: ignore[attr-defined]
                for name, n in session.execute(select(status, func.count()).where(status != "pending")
                                               .group_by(status)):
                    counts[(kind, name)] = n
                pending = status == "pending"
                free = locked_until.is_(None) | (locked_until <= now)
                counts[(kind, "running")] = session.execute(
                    select(func.count()).where(pending, locked_until > now)).scalar_one()
                counts[(kind, "due")] = session.execute(
                    select(func.count()).where(pending, due_at <= now, free)).scalar_one()
                first = session.execute(select(func.min(due_at)).where(pending, due_at <= now, free)).scalar_one()
                oldest[kind] = max(0.0, (now - _aware(first)).total_seconds()) if first is not None else 0.0
        return counts, oldest


def _aware(value: datetime) -> datetime:
    # func.min() over SQLite returns the stored text's naive datetime.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
