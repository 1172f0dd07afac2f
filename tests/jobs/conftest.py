"""Two rigs for the same job tests: Celery (real `celery worker` processes, Redis, PostgreSQL)
and the in-process runner (threads of this process, SQLite). Each gives a `hub` to enqueue
with, `workers(n)` to have exactly n workers running, and `lose_queue()`."""
from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from hub.app import build_hub
from hub.config import Settings
from hub.container import Hub
from hub.jobs.catalog import JOBS
from hub.jobs.runtime import execute
from hub.services.directory import create_api_key
from hub.storage.db import Database
from oauth.vault import TokenVault
from tests.conftest import fresh_postgres
from tests.jobs.support import CeleryWorker, Receiver
from webhooks.outbound.endpoints import create_endpoint
from webhooks.outbound.outbox import enqueue

REDIS = "redis://127.0.0.1:6379"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def redis_db() -> int:
    """DB 5 for these tests (6 for a second xdist worker, …): flushing it touches nobody else."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return 5 + int(worker[2:] or 0)


def reachable_redis(url: str) -> bool:
    import redis
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.exceptions.ConnectionError:
        return False


def reachable_postgres(url: str) -> bool:
    from sqlalchemy.exc import OperationalError
    engine = create_engine(make_url(url), connect_args={"connect_timeout": 2})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except OperationalError:
        return False
    finally:
        engine.dispose()


class Rig:
    name: str
    hub: Hub

    def workers(self, n: int) -> None: ...

    def lose_queue(self) -> None: ...

    def duplicate(self, name: str, payload: dict) -> None:
        """Send `name(payload)` again to the workers, as a redelivery or an overlapping sweep would."""

    def finished(self, name: str) -> int:
        """Jobs the workers have finished so far (`name`'s where the runner can tell)."""
        return 0

    def queued(self) -> int:
        return self.hub.jobs.queue_depth() or 0

    def sweep(self) -> None:
        """What the scheduler does every 15 s: enqueue the webhook sweep."""
        self.hub.jobs.enqueue("webhooks.sweep", {})

    def tenant_endpoint(self, url: str, unique: str) -> str:
        tenant_id, _ = create_api_key(self.hub.db, f"jobs-{unique}")
        # The receivers are on loopback: allowed here, as `hub demo` allows them.
        create_endpoint(self.hub.db, self.hub.vault, tenant_id, url, ["*"], datetime.now(UTC), allow_private=True)
        return tenant_id

    def announce(self, tenant_id: str, n: int, overdue: bool = False) -> None:
        """n events, one committed transaction each (as services do); `overdue` dates them a
        minute back, past the sweep's grace."""
        now = datetime.now(UTC) - (timedelta(minutes=1) if overdue else timedelta(0))
        for i in range(n):
            with self.hub.db.session() as session:
                enqueue(session, tenant_id, "event.created", {"i": i}, now=now)


class CeleryRig(Rig):
    name = "celery"

    def __init__(self, database_url: str, broker_url: str, keys: str, workdir: Path) -> None:
        self.env = {"HUB_DATABASE_URL": database_url, "HUB_BROKER_URL": broker_url, "HUB_ENCRYPTION_KEYS": keys,
                    "HUB_LOG_JSON": "false", "HUB_WEBHOOK_ALLOW_PRIVATE_URLS": "true"}
        self.broker_url = broker_url
        self.workdir = workdir
        self.running: list[CeleryWorker] = []
        self.count = 0
        self.hub = build_hub(Settings(database_url=database_url, broker_url=broker_url, encryption_keys=keys,
                                      webhook_allow_private_urls=True,
                                      log_json=False))

    def workers(self, n: int) -> None:
        while len(self.running) > n:
            self.running.pop().stop()
        started = []
        while len(self.running) < n:
            self.count += 1
            worker = CeleryWorker(f"w{self.count}", self.env, self.workdir)
            self.running.append(worker)
            started.append(worker)
        for worker in started:
            worker.wait_ready()

    def lose_queue(self) -> None:
        import redis
        redis.Redis.from_url(self.broker_url).flushdb()

    def duplicate(self, name: str, payload: dict) -> None:
        self.hub.jobs.enqueue(name, payload)

    def finished(self, name: str) -> int:
        # Only this test's messages reach the workers (no beat here), so every job counts.
        return sum(w.finished_jobs() for w in self.running)

    def close(self) -> None:
        self.workers(0)
        self.hub.close()


class InProcessRig(Rig):
    """Worker i is hub i of this process, its runner started; hub 0 is also the one tests use."""

    name = "inprocess"

    def __init__(self, database_url: str, keys: str) -> None:
        settings = Settings(database_url=database_url, encryption_keys=keys, log_json=False,
                            webhook_allow_private_urls=True)
        self.hubs = [build_hub(settings), build_hub(settings)]
        self.hub = self.hubs[0]

    def workers(self, n: int) -> None:
        for i, hub in enumerate(self.hubs):
            if i < n:
                hub.jobs.start()
            elif hub.jobs.running:
                hub.jobs.stop()

    def lose_queue(self) -> None:
        """A restart: the runner's queue is gone, the database is not."""
        from hub.jobs.dispatch import DISPATCHER
        from hub.jobs.inprocess import InProcessRunner
        was_running = self.hub.jobs.running
        self.hub.jobs.stop()
        self.hub.jobs = InProcessRunner(self.hub)
        self.hub.db.session_info[DISPATCHER] = self.hub.jobs
        if was_running:
            self.hub.jobs.start()

    def duplicate(self, name: str, payload: dict) -> None:
        self.hubs[1].jobs.enqueue(name, payload)  # hub 0's own queue already holds it once

    def finished(self, name: str) -> int:
        total = 0
        for hub in self.hubs:
            for metric in hub.metrics.jobs.collect():
                total += sum(int(s.value) for s in metric.samples
                             if s.name.endswith("_total") and s.labels["job"] == name)
        return total

    def close(self) -> None:
        for hub in self.hubs:
            hub.close()


@pytest.fixture(scope="module", params=["celery", "inprocess"])
def rig(request, tmp_path_factory) -> Iterator[Rig]:
    keys = TokenVault.generate_key_spec("jobs")
    if request.param == "celery":
        broker = f"{REDIS}/{redis_db()}"
        if not reachable_redis(broker):
            pytest.skip("Redis is not reachable on 127.0.0.1:6379 (.ci/run starts it)")
        admin = os.environ.get("HUB_TEST_DATABASE_URL") or ""
        admin = admin if admin.startswith("postgresql") else POSTGRES
        if not reachable_postgres(admin):
            pytest.skip("PostgreSQL is not reachable (.ci/run starts it)")
        import redis
        redis.Redis.from_url(broker).flushdb()
        with fresh_postgres(admin) as url:
            celery_rig = CeleryRig(url, broker, keys, tmp_path_factory.mktemp("workers"))
            try:
                yield celery_rig
            finally:
                celery_rig.close()
        return
    path = tmp_path_factory.mktemp("jobs") / "hub.sqlite3"
    Database(f"sqlite:///{path}").upgrade()
    in_process = InProcessRig(f"sqlite:///{path}", keys)
    try:
        yield in_process
    finally:
        in_process.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def run_now(hub: Hub, name: str) -> str:
    """Run one job of the catalog here, as a worker would."""
    return execute(hub, JOBS, name, {})
