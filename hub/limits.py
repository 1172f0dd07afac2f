"""Provider limits shared by every process of a hub: a provider's Retry-After for an account,
and a cap on concurrent requests per account (Graph: 4 per mailbox).

Two stores behind one interface: `LocalLimits` (this process; what a single process or the demo
needs) and `RedisLimits` (every process on one Redis, when `HUB_BROKER_URL` is set). Keys are
opaque strings chosen by the caller (hub/limited.py: provider + a digest of the access token,
so no token is ever stored). A Redis outage fails open: the limits are a courtesy to providers,
and the hub's own per-process gates still apply.
"""
from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from hub.logs import get_logger

log = get_logger(__name__)


class Limits(Protocol):
    def closed(self, key: str) -> tuple[float, str | None]:
        """Seconds `key` stays closed (0 when open) and why (the cause given to `close`)."""
        ...

    def close(self, key: str, seconds: float, cause: str) -> None:
        """Close `key` for `seconds` (never shortening a longer closure)."""
        ...

    def acquire(self, key: str, limit: int, lease: float) -> str | None:
        """One of `limit` places for `key`, held at most `lease` seconds; None when all are taken."""
        ...

    def release(self, key: str, place: str) -> None: ...

    @property
    def shared(self) -> bool:
        """True when other processes see the same places (else they are this process's alone)."""
        ...


class LocalLimits:
    shared = False

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._closed: dict[str, tuple[float, str]] = {}

    def closed(self, key: str) -> tuple[float, str | None]:
        if key not in self._closed:
            # Asked before every provider call, and almost every account is open: no lock and
            # no clock for an account never closed (or already forgotten). A closure being
            # written at this instant by another thread is not missed by more than the lock
            # would order it anyway.
            return 0.0, None
        with self._lock:
            until, cause = self._closed.get(key, (0.0, None))
            left = until - self.clock()
            if left <= 0:
                self._closed.pop(key, None)
                return 0.0, None
            return left, cause

    def close(self, key: str, seconds: float, cause: str) -> None:
        with self._lock:
            now = self.clock()
            for stale in [k for k, (until, _) in self._closed.items() if until <= now]:
                del self._closed[stale]
            until = now + seconds
            if until > self._closed.get(key, (0.0, ""))[0]:
                self._closed[key] = (until, cause)

    def acquire(self, key: str, limit: int, lease: float) -> str | None:
        return "local"  # one process: the adapters' own gates (e.g. Graph's MailboxGate) bound it

    def release(self, key: str, place: str) -> None:
        return None


_CLOSE = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
end
return 1
"""
# Places are members of a sorted set scored by their lease's end, on Redis's clock (processes'
# clocks may differ): expired places of dead processes fall out on the next acquire.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""


class RedisLimits:
    shared = True

    def __init__(self, client: Any, prefix: str = "hub:limits:") -> None:
        import redis
        self.redis = client
        self.prefix = prefix
        self._errors = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
        self._close = client.register_script(_CLOSE)
        self._acquire = client.register_script(_ACQUIRE)

    @classmethod
    def from_url(cls, url: str) -> RedisLimits:
        import redis
        return cls(redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2))

    def closed(self, key: str) -> tuple[float, str | None]:
        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.get(self.prefix + "closed:" + key)
            pipe.pttl(self.prefix + "closed:" + key)
            cause, ttl = pipe.execute()
        except self._errors as exc:
            log.warning("limits_unavailable", error=type(exc).__name__)
            return 0.0, None
        if cause is None or ttl is None or ttl <= 0:
            return 0.0, None
        return ttl / 1000, cause.decode() if isinstance(cause, bytes) else str(cause)

    def close(self, key: str, seconds: float, cause: str) -> None:
        try:
            self._close(keys=[self.prefix + "closed:" + key], args=[max(1, int(seconds * 1000)), cause])
        except self._errors as exc:
            log.warning("limits_unavailable", error=type(exc).__name__)

    def acquire(self, key: str, limit: int, lease: float) -> str | None:
        place = secrets.token_hex(8)
        try:
            got = self._acquire(keys=[self.prefix + "places:" + key], args=[limit, max(1, int(lease * 1000)), place])
        except self._errors as exc:
            log.warning("limits_unavailable", error=type(exc).__name__)
            return place  # fail open
        return place if got else None

    def release(self, key: str, place: str) -> None:
        try:
            self.redis.zrem(self.prefix + "places:" + key, place)
        except self._errors as exc:
            log.warning("limits_unavailable", error=type(exc).__name__)
