"""The baseline of bench/jobs.py: a bare Celery app whose task only notes when it started."""
from __future__ import annotations

import os
import time

import redis
from celery import Celery  # type: ignore[import-untyped]

app = Celery("bench-noop", set_as_current=False)
app.add_defaults(lambda: {"broker_url": os.environ["HUB_BROKER_URL"], "task_default_queue": "bench-noop",
                          "task_ignore_result": True, "task_acks_late": True, "worker_prefetch_multiplier": 1,
                          "accept_content": ["json"], "worker_hijack_root_logger": False})
_redis: redis.Redis | None = None


@app.task(name="bench.noop")
def noop(sent_at: float) -> None:
    global _redis
    started = time.time()
    if _redis is None:
        _redis = redis.Redis.from_url(os.environ["HUB_BROKER_URL"])
    _redis.rpush("bench:noop:starts", f"{sent_at} {started}")
