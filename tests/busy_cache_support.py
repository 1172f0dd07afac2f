"""Putting a connection's busy cache in a known state for read-path tests and benchmarks.

The rows are written through the store's own write API (`busy_cache.replace_window`) plus the
`SyncState` and `SyncChannel` rows the sync service keeps, exactly what a finished full sync
leaves behind — so the read path is tested against the shapes it meets in production without
waiting on a push channel. Each knob makes one of the freshness conditions fail on purpose.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete

from hub.services import busy_cache
from hub.storage.db import Database
from hub.storage.models import Connection, SyncChannel, SyncState
from providers.base import SyncedEvent


@dataclass(frozen=True)
class Cached:
    """One event as a sync stored it."""

    start: datetime
    end: datetime
    show_as: str = "busy"  # busy | tentative | oof | free
    event_id: str | None = None


def fill_cache(db: Database, connection_id: str, events: list[Cached], *, synced_at: datetime,
               window: tuple[datetime, datetime], channel: str | None = "active",
               channel_expires_at: datetime | None = None, dirty_since: datetime | None = None) -> None:
    """Replace the connection's cache and sync state. `channel=None`: no push channel at all;
    `channel_expires_at` defaults to a week after `synced_at` (Google's channel lifetime)."""
    with db.session() as session:
        conn = session.get(Connection, connection_id)
        assert conn is not None, connection_id
        session.execute(delete(SyncChannel).where(SyncChannel.connection_id == connection_id))
        state = session.get(SyncState, connection_id) or SyncState(
            connection_id=connection_id, tenant_id=conn.tenant_id, provider=conn.provider)
        state.window_start, state.window_end = window
        state.last_synced_at = state.last_full_sync_at = synced_at
        state.dirty_since = dirty_since
        state.cursor = "cursor-1"
        session.add(state)
        if channel is not None:
            session.add(SyncChannel(
                tenant_id=conn.tenant_id, connection_id=connection_id, provider=conn.provider,
                external_id=f"ch-{connection_id}", secret_hash=hashlib.sha256(connection_id.encode()).hexdigest(),
                status=channel, expires_at=channel_expires_at or synced_at + timedelta(days=7)))
        busy_cache.replace_window(session, conn.tenant_id, connection_id, [
            SyncedEvent(e.event_id or f"ev{i}", start=e.start, end=e.end, show_as=e.show_as)
            for i, e in enumerate(events)], synced_at)
