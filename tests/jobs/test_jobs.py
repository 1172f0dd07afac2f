"""Background jobs on both runners: Celery workers (separate processes, Redis, PostgreSQL) and
the in-process runner (SQLite). The database is the record: duplicate messages, a flushed
queue and a worker killed mid-delivery cost neither a delivery nor a double one."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from hub.jobs import schedule
from hub.storage.models import IdempotencyRecord, Job, WebhookDelivery
from tests.jobs.support import wait_until


def rows(rig, tenant_id: str) -> list[WebhookDelivery]:
    with rig.hub.db.session() as session:
        return list(session.execute(select(WebhookDelivery).where(WebhookDelivery.tenant_id == tenant_id)).scalars())


def all_delivered(rig, tenant_id: str, n: int) -> bool:
    found = rows(rig, tenant_id)
    return len(found) == n and all(r.status == "delivered" for r in found)


def test_a_lost_queue_loses_nothing(rig, receiver, unique):
    rig.workers(0)
    tenant_id = rig.tenant_endpoint(receiver.url, unique)
    rig.announce(tenant_id, 10, overdue=True)
    assert rig.queued() == 10  # one message per committed delivery, waiting for a worker
    rig.lose_queue()  # FLUSHDB on Redis; a restart in-process
    assert rig.queued() == 0
    rig.workers(2)
    rig.sweep()
    wait_until(lambda: all_delivered(rig, tenant_id, 10), what="the sweep to recover every delivery")
    assert receiver.count() == 10 and len(receiver.distinct()) == 10
    assert {r.message_id for r in rows(rig, tenant_id)} == receiver.distinct()
    assert all(r.attempts == 1 for r in rows(rig, tenant_id))


def test_two_workers_never_run_one_delivery_twice(rig, receiver, unique):
    rig.workers(2)
    tenant_id = rig.tenant_endpoint(receiver.url, unique)
    before = rig.finished("webhooks.deliver")
    rig.announce(tenant_id, 20)  # each enqueued once after its commit…
    for row in rows(rig, tenant_id):  # …and twice more, racing the first
        rig.duplicate("webhooks.deliver", {"delivery_id": row.id})
        rig.duplicate("webhooks.deliver", {"delivery_id": row.id})
    expected = 60 if rig.name == "celery" else 40  # in-process, a runner's own queue dedupes
    wait_until(lambda: rig.finished("webhooks.deliver") - before >= expected, what="every message to be handled")
    assert all_delivered(rig, tenant_id, 20)
    assert receiver.count() == 20 and len(receiver.distinct()) == 20
    assert all(r.attempts == 1 for r in rows(rig, tenant_id))


def test_worker_killed_mid_delivery_delivers_later_once_per_id(rig, receiver, unique):
    if rig.name != "celery":
        pytest.skip("a thread cannot be killed -9; a restart in-process is test_a_lost_queue_loses_nothing")
    rig.workers(2)
    seen = {w.name: w.received_jobs() for w in rig.running}
    receiver.hold.clear()  # the receiver hangs: the delivery is in flight when the worker dies
    tenant_id = rig.tenant_endpoint(receiver.url, unique)
    rig.announce(tenant_id, 1, overdue=True)
    assert receiver.arrived.wait(20)
    busy = next(w for w in rig.running if w.received_jobs() > seen[w.name])
    busy.kill()
    rig.running.remove(busy)
    (row,) = rows(rig, tenant_id)
    assert row.status == "pending" and row.locked_until is not None  # the dead worker's lease
    # Time passes: the lease runs out (it outlasts any live attempt, ~45 s).
    with rig.hub.db.session() as session:
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id == row.id)
                        .values(locked_until=datetime.now(UTC) - timedelta(seconds=1)))
    receiver.hold.set()
    rig.sweep()
    wait_until(lambda: all_delivered(rig, tenant_id, 1), what="the surviving worker to deliver")
    assert receiver.distinct() == {row.message_id}  # the receiver's dedupe sees one message
    assert receiver.count() == 2  # the cut-off attempt and the delivery


def test_scheduled_jobs_run_once_each_after_their_time(rig, unique):
    rig.workers(2)
    long_ago = datetime.now(UTC) - timedelta(days=30)
    with rig.hub.db.session() as session:
        tenant_id = rig.tenant_endpoint("http://127.0.0.1:9/unused", unique)
        session.add(IdempotencyRecord(tenant_id=tenant_id, key=f"old-{unique}", request_hash="x", state="done",
                                      created_at=long_ago))
    at = datetime.now(UTC) + timedelta(seconds=1)
    ids = []
    with rig.hub.db.session() as session:
        for i in range(4):
            ids.append(schedule(session, "idempotency.sweep", {}, at=at, key=f"sweep-{unique}-{i}"))
        assert schedule(session, "idempotency.sweep", {}, at=at, key=f"sweep-{unique}-0") is None  # one per key
    for job_id in ids:
        rig.duplicate("jobs.run", {"job_id": job_id})

    def done() -> list[Job] | None:
        with rig.hub.db.session() as session:
            jobs = list(session.execute(select(Job).where(Job.id.in_(ids))).scalars())
        return jobs if all(j.status == "done" for j in jobs) else None

    wait_until(done, what="the scheduled jobs to run")
    for job in done() or []:
        assert job.attempts == 1 and job.finished_at is not None and job.finished_at >= job.run_at
    with rig.hub.db.session() as session:
        assert session.execute(select(IdempotencyRecord).where(IdempotencyRecord.key == f"old-{unique}")).first() is None
