"""Zoom webhook verification, on the raw bytes only — nothing here parses JSON.

Zoom signs every delivery: ``x-zm-signature: v0=<hex HMAC-SHA256(secret, "v0:{ts}:{raw body}")>``
with ``x-zm-request-timestamp: {ts}`` (seconds). The endpoint's validation challenge is answered
with ``encryptedToken = hex HMAC-SHA256(secret, plainToken)``.
https://developers.zoom.us/docs/api/webhooks/#verify-webhook-events
"""
from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
from collections import OrderedDict

WINDOW_SECONDS = 300  # older or newer than this is refused: a captured request goes stale
# ASCII digits only, and few of them: str.isdigit() accepts "²" (int() then fails) and int() of
# 4,300+ digits raises — both were unauthenticated 500s.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def canonical(given: str) -> str:
    """The form a signature is verified and remembered in: `"v0=ab…"` and `" v0=ab…\t"` are one
    delivery, so whitespace cannot make a replay look new."""
    return given.strip()


def signature(secret: str, timestamp: str, raw: bytes) -> str:
    message = b"v0:" + timestamp.encode("ascii") + b":" + raw  # pragma: no mutate (codec names ignore case)
    return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def encrypted_token(secret: str, plain_token: str) -> str:
    return hmac.new(secret.encode(), plain_token.encode(), hashlib.sha256).hexdigest()


def refusal(secret: str, timestamp: str | None, given: str | None, raw: bytes, now: float,
            window: int = WINDOW_SECONDS) -> str | None:
    """Why this delivery must be refused (``missing_signature``, ``stale_timestamp``,
    ``bad_signature``), or None when it is Zoom's. The timestamp is checked before the HMAC is
    computed so a flood of stale junk costs nothing; the comparison is constant-time."""
    if not timestamp or not given:
        return "missing_signature"
    if not _TIMESTAMP.fullmatch(timestamp) or abs(now - int(timestamp)) > window:
        return "stale_timestamp"
    if not hmac.compare_digest(signature(secret, timestamp, raw).encode(), canonical(given).encode()):
        return "bad_signature"
    return None


class ReplayGuard:
    """Signatures seen within the window, so the same signed request delivered twice is
    acknowledged without being parsed or acted on. Per process: across workers a repeat gets
    through this check but the recorder's dedupe key still makes it change nothing."""

    def __init__(self, window: int = WINDOW_SECONDS, limit: int = 100_000,
                 clock=time.time) -> None:
        self.window = window
        self.limit = limit
        self.clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, sig: str) -> bool:
        now = self.clock()
        with self._lock:
            while self._seen and (next(iter(self._seen.values())) < now - self.window
                                  or len(self._seen) >= self.limit):
                self._seen.popitem(last=False)  # pragma: no mutate (None is as false: the oldest goes)
            if sig in self._seen:
                return False
            self._seen[sig] = now
            return True
