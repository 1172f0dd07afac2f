"""Small shared pieces: channel secrets, error records, the rolling window, job names."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from providers.base import ProviderError

# Job names (hub/jobs/catalog.py declares them).
OPEN = "sync.open"  # {connection_id, replacing?, resync?}: open (or recreate) the push channel
RENEW = "sync.renew"  # {channel_id}: extend before expiry (Graph PATCH; Google: new channel + stop)
STOP = "sync.stop"  # {channel_id}: stop a replaced channel at the provider
RUN = "sync.run"  # {connection_id, full?}: one sync into the busy cache

ERRORS_KEPT = 5  # SyncState.errors keeps the newest few failures


class ForeignCredentials(RuntimeError):
    """This hub's keys cannot open the connection's stored tokens. In production every process
    shares the keys, so that is a key removed too early — which the next API use reports (and
    marks) with its cause; a background job must not be the one to declare the connection dead,
    so it fails and is retried instead. (Several test hubs share one database with different
    keys: each leaves the others' connections alone.)"""


def new_secret() -> str:
    # 43 URL-safe characters: inside Google's token and Graph's clientState (≤ 128) limits.
    return secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str | None, stored_hash: str) -> bool:
    """Constant time, so a forger learns nothing from how long a refusal took."""
    return hmac.compare_digest(secret_hash(secret or ""), stored_hash or "")


def error_record(err: Exception, at: datetime) -> dict[str, Any]:
    """What is stored and shown of a failure: never a token (ProviderError messages are written
    for people; anything else is named by its type only)."""
    if isinstance(err, ProviderError):
        return {"at": at.isoformat(), "kind": err.kind.value, "cause": err.cause or err.kind.value,
                "message": err.message}
    return {"at": at.isoformat(), "kind": "unknown", "cause": "internal_error", "message": type(err).__name__}


def with_error(errors: list[Any] | None, record: dict[str, Any]) -> list[Any]:
    return [*(errors or []), record][-ERRORS_KEPT:]


def window(now: datetime, days_behind: int, days_ahead: int) -> tuple[datetime, datetime]:
    """The rolling window, on whole UTC days: it moves once a day, and that move is a full sync
    (a cursor keeps reporting changes for the window it was started on)."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=days_behind), day + timedelta(days=days_ahead + 1)


def renew_lead(lifetime: timedelta) -> timedelta:
    """How long before expiry a channel is renewed: a quarter of its life, between 10 minutes
    and a day (a week-long Google channel is renewed a day early; retries fit in that day)."""
    return min(timedelta(days=1), max(timedelta(minutes=10), lifetime / 4))
