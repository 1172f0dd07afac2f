"""Which tenant an API key belongs to, remembered for a few seconds in each process.

Every /v1 request asks; reading the database for it was a tenth of a cached free/busy's CPU.
The bound: a key revoked in the database (`api_keys.revoked_at`) stops working in every process
at most `ttl` after the revocation (`HUB_API_KEY_CACHE_SECONDS`, default 5; 0 reads the
database on every request). Only valid keys are remembered, under their hash: an unknown or
revoked key is looked up every time (and counts as a failed authentication), so guessing can
neither fill this cache nor be answered from it.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from hub.services.directory import hash_key, tenant_for_key_hash
from hub.storage.db import Database

# A tenant has a handful of keys; far more than this many live keys means something is odd,
# and starting over costs one read per key.
MAX_KEYS = 10_000


class ApiKeyCache:
    def __init__(self, db: Database, ttl: timedelta, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._tenants: dict[str, tuple[str, datetime]] = {}  # key hash -> (tenant id, valid until)

    def tenant(self, key: str) -> str | None:
        """The tenant of `key` if it is valid (as of at most `ttl` ago), else None."""
        digest = hash_key(key)
        now = self.clock()
        known = self._tenants.get(digest)
        if known is not None and now < known[1]:
            return known[0]
        tenant = tenant_for_key_hash(self.db, digest)
        with self._lock:
            if tenant is None or self.ttl <= timedelta(0):
                self._tenants.pop(digest, None)
            else:
                if len(self._tenants) >= MAX_KEYS:
                    self._tenants.clear()
                self._tenants[digest] = (tenant, now + self.ttl)
        return tenant
