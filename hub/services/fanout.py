"""Many provider calls at once under one deadline: the latency of a fan-out is its slowest
call, capped once for the whole level — never one full timeout per call in turn."""
from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from concurrent.futures import Executor, wait
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class Timeout(Exception):
    """The call did not finish within the deadline."""


def run_level(executor: Executor, calls: Mapping[K, Callable[[], T]], timeout: float) -> dict[K, T | BaseException]:
    """Run every call on the pool; each result is its value or the exception it raised (a call
    still running at the deadline is `Timeout()` and is cancelled if it has not started)."""
    futures = {key: executor.submit(call) for key, call in calls.items()}
    wait(futures.values(), timeout=timeout)
    out: dict[K, T | BaseException] = {}
    for key, future in futures.items():
        if not future.done():
            future.cancel()
            out[key] = Timeout()
        elif (error := future.exception()) is not None:
            out[key] = error
        else:
            out[key] = future.result()
    return out
