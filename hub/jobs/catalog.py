"""Every background job of the hub, declared in one place; both runners execute these.

A job is `run(hub, payload)` plus, for periodic ones, `every`: the scheduler (Celery beat, or
the in-process runner's clock) enqueues it every N. Jobs are idempotent against the database,
which is the record of all work; the broker only carries pointers to it, so any job may run
twice, late, or after a restart, and does the right thing:

- `webhooks.deliver {delivery_id}`: one attempt at one outbox row (claimed with a lease; a
  duplicate message finds it delivered or held and does nothing). Retries follow the ~3-day
  schedule in webhooks/outbound/schedule.py: the next attempt is enqueued for its time.
- `webhooks.sweep` (every 15 s): hands out again every delivery due for a while and not held,
  whatever happened to its message (Redis flushed, worker killed, web process restarted).
- `jobs.run {job_id}`: one attempt at one `jobs` row (store.py), the record behind "run now"
  and "run at a time" (`hub.jobs.schedule(session, name, payload, at=…, key=…)`); its `name`
  is looked up here. `jobs.sweep` (every 15 s) is its safety net.
- `idempotency.sweep` (every 10 min): forgets Idempotency-Keys past their retention.
- `attendance.evaluate` (every 15 s): attendance deadlines that have passed (hub/services/attendance.py).
- `connections.retire {job, provider, channels, sealed tokens…}`: after a disconnect, stop the
  connection's push channels at the provider, then revoke its grant (hub/services/disconnect.py).
- `sync.open {connection_id}`, `sync.renew {channel_id}`, `sync.stop {channel_id}`, `sync.run
  {connection_id}`: push channels and incremental sync (hub/services/sync); `sync.sweep` (every
  15 s) renews what is due, retries failed channels and resyncs connections getting stale.

The sync, scheduling-request and attendance work adds its jobs to `JOBS` below: a periodic
one (`every=`) for renewals and resyncs, a `schedule(…, at=…, key=…)` job for expiries.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from hub.jobs import store
from hub.logs import get_logger

if TYPE_CHECKING:
    from hub.container import Hub

log = get_logger(__name__)

SWEEP_EVERY = timedelta(seconds=15)
# The sweep leaves alone what became due in the last two sweeps: its own message is normally
# on its way, and a large backlog must not be enqueued again every 15 s.
SWEEP_GRACE = 2 * SWEEP_EVERY
# A job's lease: longer than any job of the catalog runs, so a live worker never loses its row.
LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class JobSpec:
    name: str
    run: Callable[[Hub, dict[str, Any]], None]
    every: timedelta | None = None  # periodic: enqueued by the scheduler every N


def deliver_webhook(hub: Hub, payload: dict[str, Any]) -> None:
    next_attempt = hub.webhooks.deliver(payload["delivery_id"])
    if next_attempt is not None:
        hub.jobs.enqueue("webhooks.deliver", payload, next_attempt)


def sweep_webhooks(hub: Hub, payload: dict[str, Any]) -> None:
    now = hub.clock()
    for delivery_id in hub.webhooks.due_ids(now, due_before=now - SWEEP_GRACE):
        hub.jobs.enqueue("webhooks.deliver", {"delivery_id": delivery_id})


def run_stored_job(hub: Hub, payload: dict[str, Any]) -> None:
    claimed = store.claim(hub.db, payload["job_id"], hub.clock(), LEASE)
    if claimed is None:
        return  # done, held by another worker, or not due yet: this message was a duplicate
    spec = hub.jobs.catalog.get(claimed.name)
    try:
        if spec is None:
            raise LookupError(f"no job named {claimed.name!r} is declared")
        spec.run(hub, claimed.payload)
    except Exception as exc:
        retry_at = store.fail(hub.db, claimed, hub.clock(), f"{type(exc).__name__}: {exc}")
        if retry_at is not None:
            hub.jobs.enqueue(store.RUN, payload, retry_at)
        else:
            # The row says `failed`; this says so where people look (the type only: a message
            # may quote a provider's answer).
            log.error("job_gave_up", job=claimed.name, job_id=claimed.id, attempts=claimed.attempt,
                      error=type(exc).__name__)
        raise
    store.finish(hub.db, claimed, hub.clock())


def sweep_jobs(hub: Hub, payload: dict[str, Any]) -> None:
    now = hub.clock()
    with hub.db.session() as session:
        due = store.due_ids(session, now, due_before=now - SWEEP_GRACE)
    for job_id in due:
        hub.jobs.enqueue(store.RUN, {"job_id": job_id})


def sweep_idempotency(hub: Hub, payload: dict[str, Any]) -> None:
    from hub.services.idempotency import (
        expire,  # services import the container, which imports this
    )
    expire(hub.db, timedelta(hours=hub.settings.idempotency_ttl_hours), hub.clock())


def evaluate_attendance(hub: Hub, payload: dict[str, Any]) -> None:
    """Every attendance deadline that has passed (`attendance_checks.due_at`): idempotent, each
    webhook goes out once however many runners reach the same conclusion."""
    if not hub.settings.attendance_timer:
        return
    from hub.services.attendance import AttendanceService  # services import the container
    AttendanceService(hub.db, hub.attendance, hub.tokens.call, lambda: hub.clock()).evaluate_due()


def _scheduling(hub: Hub) -> Any:
    from hub.wiring import Services  # services import the container, which imports this
    return Services.build(hub).scheduling


def expire_scheduling_request(hub: Hub, payload: dict[str, Any]) -> None:
    """Scheduled at the request's `expires_at` (key: request + time, so an edited `expires_at`
    adds a job and the old one finds the request not due and does nothing)."""
    _scheduling(hub).expire(payload["request_id"])


def sweep_scheduling(hub: Hub, payload: dict[str, Any]) -> None:
    """Safety net: requests past `expires_at` whose job was lost, and every hold removal that
    is due for a retry (a hold is never forgotten)."""
    service = _scheduling(hub)
    service.expire_due()
    service.release_pending_holds()


def retire_connection(hub: Hub, payload: dict[str, Any]) -> None:
    """Queued by a disconnect, in its transaction: stop the push channels, then revoke."""
    from hub.services import disconnect  # services import the container, which imports this
    disconnect.retire(hub, payload)


def _sync(name: str) -> Any:
    from hub.services.sync import channels, runner  # services import the container, which imports this
    return {"channels": channels, "runner": runner}[name]


def open_sync_channel(hub: Hub, payload: dict[str, Any]) -> None:
    """On connect (and to recreate a channel the provider removed): open the push channel and
    run a full sync (hub/services/sync/channels.py)."""
    _sync("channels").open_channel(hub, payload["connection_id"], payload.get("replacing"),
                                   bool(payload.get("resync", True)))


def renew_sync_channel(hub: Hub, payload: dict[str, Any]) -> None:
    """Scheduled before the channel expires (key: channel + expiry: one per period)."""
    _sync("channels").renew(hub, payload["channel_id"])


def stop_sync_channel(hub: Hub, payload: dict[str, Any]) -> None:
    _sync("channels").stop(hub, payload["channel_id"])


def run_sync(hub: Hub, payload: dict[str, Any]) -> None:
    """One sync of a connection into the busy cache; queued by notifications (one per burst)
    and by the hub's own writes. With sync switched off (HUB_SYNC_ENABLED=false) a queued run
    does nothing: the connection stays marked behind and is read live."""
    if not getattr(hub.settings, "sync_enabled", True):
        return
    _sync("runner").run(hub, payload["connection_id"], bool(payload.get("full")))


def sweep_sync(hub: Hub, payload: dict[str, Any]) -> None:
    """Safety net: renewals and channels whose jobs were lost, failed channels again, and a
    resync of every pushed connection well within HUB_CACHE_MAX_AGE_SECONDS."""
    if not getattr(hub.settings, "sync_enabled", True):
        return
    _sync("channels").sweep(hub)
    _sync("runner").sweep(hub)


def _catalog(*specs: JobSpec) -> Mapping[str, JobSpec]:
    return {spec.name: spec for spec in specs}


JOBS: Mapping[str, JobSpec] = _catalog(
    JobSpec("webhooks.deliver", deliver_webhook),
    JobSpec("webhooks.sweep", sweep_webhooks, every=SWEEP_EVERY),
    JobSpec(store.RUN, run_stored_job),
    JobSpec("jobs.sweep", sweep_jobs, every=SWEEP_EVERY),
    JobSpec("idempotency.sweep", sweep_idempotency, every=timedelta(minutes=10)),
    # Deadlines sit at start + late/grace minutes: a 15 s tick keeps every notice within
    # seconds of its moment (Karat calls a candidate 2-5 minutes in).
    JobSpec("attendance.evaluate", evaluate_attendance, every=SWEEP_EVERY),
    JobSpec("scheduling.expire", expire_scheduling_request),
    JobSpec("scheduling.sweep", sweep_scheduling, every=timedelta(minutes=1)),
    JobSpec("connections.retire", retire_connection),
    JobSpec("sync.open", open_sync_channel),
    JobSpec("sync.renew", renew_sync_channel),
    JobSpec("sync.stop", stop_sync_channel),
    JobSpec("sync.run", run_sync),
    JobSpec("sync.sweep", sweep_sync, every=SWEEP_EVERY),
)


def periodic(catalog: Mapping[str, JobSpec] = JOBS) -> list[JobSpec]:
    return [spec for spec in catalog.values() if spec.every is not None]
