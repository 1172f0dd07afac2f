"""Background jobs on Celery: enqueue-to-start latency (p50/p99) and deliveries per second with
one and two workers against a local receiver, each as a ratio to a bare Celery no-op task
(bench/celery_noop.py) measured in the same run on the same Redis.

Hub latency is commit → the webhook's first byte at the receiver (the message is sent after the
commit; the worker claims the row, decrypts the secret, signs, POSTs). No-op latency is send →
the task's first line. Workers are `celery worker --pool=solo` processes, one job at a time.

Needs Redis on 127.0.0.1:6379 (uses DB 8 and flushes it) and PostgreSQL on 127.0.0.1:5432.

    python bench/jobs.py [--samples 60] [--burst 150]
"""
from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis
from celery import Celery  # type: ignore[import-untyped]

from hub.app import build_hub
from hub.config import Settings
from hub.services.directory import create_api_key
from oauth.vault import TokenVault
from tests.conftest import fresh_postgres
from tests.jobs.support import CeleryWorker, Receiver, wait_until
from webhooks.outbound.endpoints import create_endpoint
from webhooks.outbound.outbox import enqueue

BROKER = "redis://127.0.0.1:6379/8"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
STARTS = "bench:noop:starts"


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


class Noop:
    def __init__(self, r: redis.Redis) -> None:
        self.redis = r
        self.app = Celery("bench-noop-client", broker=BROKER, set_as_current=False)

    def send(self) -> None:
        self.app.send_task("bench.noop", args=(time.time(),), queue="bench-noop")

    def take(self, n: int) -> list[tuple[float, float]]:
        out = []
        for _ in range(n):
            item = self.redis.blpop([STARTS], timeout=30)
            if item is None:
                raise SystemExit("the no-op worker did not answer")
            raw = item[1]
            sent, started = (raw.decode() if isinstance(raw, bytes) else str(raw)).split()
            out.append((float(sent), float(started)))
        return out

    def latency(self, samples: int) -> list[float]:
        result = []
        for _ in range(samples):
            self.send()
            (sent, started), = self.take(1)
            result.append(started - sent)
        return result

    def rate(self, burst: int) -> float:
        first = time.time()
        for _ in range(burst):
            self.send()
        last = max(started for _, started in self.take(burst))
        return burst / (last - first)


class Hub:
    def __init__(self, hub, tenant_id: str, receiver: Receiver) -> None:
        self.hub, self.tenant_id, self.receiver = hub, tenant_id, receiver

    def announce(self, n: int) -> float:
        now = datetime.now(UTC)
        with self.hub.db.session() as session:
            for i in range(n):
                enqueue(session, self.tenant_id, "event.created", {"i": i}, now=now)
            committed = time.time()  # the messages leave as this block commits
        return committed

    def latency(self, samples: int) -> list[float]:
        result = []
        for _ in range(samples):
            before = self.receiver.count()
            committed = self.announce(1)
            wait_until(functools.partial(self.arrived_after, before), 30, "a delivery")
            result.append(self.receiver.arrivals[before] - committed)
        return result

    def arrived_after(self, seen: int) -> bool:
        return self.receiver.count() > seen

    def rate(self, burst: int) -> float:
        before = self.receiver.count()
        first = self.announce(burst)
        wait_until(lambda: self.receiver.count() >= before + burst, 120, "the burst")
        return burst / (max(self.receiver.arrivals[before:]) - first)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--burst", type=int, default=150)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    r = redis.Redis.from_url(BROKER)
    r.flushdb()
    keys = TokenVault.generate_key_spec("bench")
    workdir = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    receiver = Receiver()
    workers: list[CeleryWorker] = []
    with fresh_postgres(os.environ.get("HUB_TEST_DATABASE_URL") or POSTGRES) as url:
        env = {"HUB_DATABASE_URL": url, "HUB_BROKER_URL": BROKER, "HUB_ENCRYPTION_KEYS": keys,
               "HUB_LOG_LEVEL": "WARNING", "HUB_LOG_JSON": "false", "HUB_WEBHOOK_ALLOW_PRIVATE_URLS": "true"}
        hub = build_hub(Settings(database_url=url, broker_url=BROKER, encryption_keys=keys, log_level="WARNING",
                                 webhook_allow_private_urls=True))
        tenant_id, _ = create_api_key(hub.db, "bench")
        create_endpoint(hub.db, hub.vault, tenant_id, receiver.url, ["*"], datetime.now(UTC), allow_private=True)
        noop, jobs = Noop(r), Hub(hub, tenant_id, receiver)
        rows = []
        try:
            for count in (1, 2):
                while len(workers) < 2 * count:  # one no-op worker and one hub worker more
                    n = len(workers)
                    app = "bench.celery_noop" if n % 2 == 0 else "hub.jobs.celery_app"
                    workers.append(CeleryWorker(f"b{n}", {**env, "PYTHONPATH": str(Path.cwd())}, workdir, app))
                for w in workers:
                    w.wait_ready(60)
                noop.rate(10 * count)  # warm every worker (imports, the hub's first build)
                jobs.rate(10 * count)
                if count == 1:
                    noop_lat, hub_lat = noop.latency(args.samples), jobs.latency(args.samples)
                    rows.append(("enqueue→start p50 (ms)", pct(noop_lat, 50), pct(hub_lat, 50)))
                    rows.append(("enqueue→start p99 (ms)", pct(noop_lat, 99), pct(hub_lat, 99)))
                rows.append((f"jobs/s, {count} worker{'s' if count > 1 else ''}", noop.rate(args.burst),
                             jobs.rate(args.burst)))
        finally:
            for w in workers:
                w.stop()
            hub.close()
            receiver.close()
            r.flushdb()
    print(f"{'':28} {'celery no-op':>14} {'hub delivery':>14} {'ratio':>8}")
    for name, base, ours in rows:
        print(f"{name:28} {base:14.1f} {ours:14.1f} {ours / base:8.2f}")
    print(f"(latency over {args.samples} sequential jobs on one worker; rates over bursts of {args.burst})")


if __name__ == "__main__":
    main()
