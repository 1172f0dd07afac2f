"""The sync status of one connection, as GET /v1/connections/{id}/sync and diagnostics show it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.storage.models import SyncChannel, SyncState

# Row statuses → what the contract shows: a channel is active, expired, or failed.
_SHOWN = {"active": "active", "stopping": "expired", "stopped": "expired", "expired": "expired", "failed": "failed"}


@dataclass(frozen=True)
class SyncStatus:
    channel_status: str | None  # active | expired | failed; None: no channel was ever opened
    channel_expires_at: datetime | None
    channel_error: dict[str, Any] | None
    last_synced_at: datetime | None
    window_start: datetime | None
    window_end: datetime | None
    errors: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        channel: dict[str, Any] | None = None if self.channel_status is None else {
            "status": self.channel_status, "expires_at": self.channel_expires_at}
        if channel is not None and self.channel_error:
            channel["last_error"] = self.channel_error
        window = None if self.window_start is None or self.window_end is None else {
            "start": self.window_start, "end": self.window_end}
        return {"channel": channel, "last_synced_at": self.last_synced_at, "window": window, "errors": self.errors}


def of(session: Session, connection_id: str, now: datetime) -> SyncStatus:
    # The newest channel that is not a replaced one says how the connection is pushed now.
    rows = list(session.execute(select(SyncChannel).where(SyncChannel.connection_id == connection_id)
                                .order_by(SyncChannel.created_at.desc())).scalars())
    current = next((r for r in rows if r.status == "active"), None) or next(
        (r for r in rows if r.status == "failed"), None) or (rows[0] if rows else None)
    state = session.get(SyncState, connection_id)
    status = None
    if current is not None:
        status = _SHOWN.get(current.status, "failed")
        if status == "active" and current.expires_at is not None and current.expires_at <= now:
            status = "expired"
    errors = [_error_out(e) for e in (state.errors if state is not None else []) or []]
    return SyncStatus(status, current.expires_at if current else None,
                      _error_out(current.last_error) if current is not None and current.last_error else None,
                      state.last_synced_at if state else None, state.window_start if state else None,
                      state.window_end if state else None, errors)


def _error_out(record: dict[str, Any]) -> dict[str, Any]:
    at = record.get("at")
    if isinstance(at, str):
        try:
            at = datetime.fromisoformat(at)
        except ValueError:
            pass
    return {"at": at, "kind": record.get("kind"), "cause": record.get("cause"), "message": record.get("message")}
