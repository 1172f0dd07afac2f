"""Rate-limit counters in this process's memory without a thread per request.

`limits`' MemoryStorage (what `memory://` means to Flask-Limiter) starts a `threading.Timer`
whenever its previous one has finished — on a busy hub, one new thread every ~10 ms per
process, paid on the request path, only to drop expired counters (every read already ignores
them). This storage sweeps them on the requesting thread instead, at most once every
`SWEEP_SECONDS`, which keeps memory bounded the same way.

Importing this module registers the `hub-memory://` scheme with `limits` (its documented way
to add a storage); hub/rate_limits.py imports it only when the counters live in memory.
"""
from __future__ import annotations

import threading
import time
from typing import Any

from limits.storage import MemoryStorage

SCHEME = "hub-memory"
SWEEP_SECONDS = 5.0


class SweptMemoryStorage(MemoryStorage):
    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.clock = time.monotonic
        self._next_sweep = self.clock() + SWEEP_SECONDS
        self._sweeping = threading.Lock()

    # MemoryStorage calls `self.__schedule_expiry()` on every hit (name-mangled to this name);
    # tests/security/test_rate_limits.py checks that no thread starts per hit, so a renamed
    # hook in a new `limits` release is noticed.
    def _MemoryStorage__schedule_expiry(self) -> None:
        now = self.clock()
        if now < self._next_sweep or not self._sweeping.acquire(blocking=False):
            return
        try:
            self._next_sweep = now + SWEEP_SECONDS
            self.sweep()
        finally:
            self._sweeping.release()

    def sweep(self) -> None:
        """Drop expired counters and moving-window entries (the base class's timer body)."""
        self._MemoryStorage__expire_events()  # type: ignore[attr-defined]
