"""The busy cache: what incremental sync (hub/services/sync) learnt of each calendar, kept in
`cached_events` per connection for a rolling window, and the rule that says when it may answer
instead of the provider.

Write side (the sync service, inside its own transaction): `replace_window` after a full sync,
`apply` after an incremental one. Read side (free/busy, availability): `freshness` says which
connections may be answered from the cache for a range, `busy` reads their blocks — two
statements for any number of participants, both plain reads (a pooled connection from
`Database.read()` or a session): the read path writes nothing.

A connection is fresh for [start, end) when its push channel is active and not expired, its
last sync finished within `max_age`, no notification is waiting for a sync (`dirty_since`),
and the range lies inside the synced window. Anything else is answered live.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.orm import Session

from hub.storage.models import CachedEvent, SyncChannel, SyncState
from providers.base import BusyBlock, SyncedEvent

# show_as values that block time, with the status free/busy reports for them.
BLOCKING = {"busy": "busy", "tentative": "tentative", "oof": "oof"}


@dataclass(frozen=True)
class Freshness:
    connection_id: str
    fresh_as_of: datetime  # the end of the last sync: the cache knows the calendar as of then


def _row(tenant_id: str, connection_id: str, event: SyncedEvent, now: datetime) -> dict[str, Any]:
    return {"tenant_id": tenant_id, "connection_id": connection_id, "event_id": event.event_id,
            "start": event.start, "end": event.end, "show_as": event.show_as, "title": event.title,
            "attendees": [{"email": a.email, "response_status": a.response_status} for a in event.attendees],
            "synced_at": now}


def _keep(event: SyncedEvent) -> bool:
    return not event.cancelled and event.start is not None and event.end is not None and event.end > event.start


def replace_window(session: Session, tenant_id: str, connection_id: str, events: Iterable[SyncedEvent],
                   now: datetime) -> None:
    """After a full sync: the window's events are exactly `events`."""
    session.execute(delete(CachedEvent).where(CachedEvent.connection_id == connection_id))
    rows = [_row(tenant_id, connection_id, e, now) for e in events if _keep(e)]
    if rows:
        session.execute(insert(CachedEvent), rows)


def apply(session: Session, tenant_id: str, connection_id: str, events: Iterable[SyncedEvent],
          now: datetime) -> None:
    """After an incremental sync: changed events replace their row, cancelled ones go."""
    changed = list(events)
    if not changed:
        return
    ids = [e.event_id for e in changed]
    session.execute(delete(CachedEvent).where(CachedEvent.connection_id == connection_id,
                                              CachedEvent.event_id.in_(ids)))
    rows = [_row(tenant_id, connection_id, e, now) for e in changed if _keep(e)]
    if rows:
        session.execute(insert(CachedEvent), rows)


def cached_event(session: Session, connection_id: str, event_id: str) -> CachedEvent | None:
    return session.get(CachedEvent, (connection_id, event_id))


def freshness(session: Session | Connection, connection_ids: list[str], start: datetime, end: datetime, now: datetime,
              max_age: timedelta) -> dict[str, Freshness]:
    """The connections that may be answered from the cache for [start, end)."""
    if not connection_ids:
        return {}
    rows = session.execute(
        select(SyncState.connection_id, SyncState.last_synced_at)
        .join(SyncChannel, (SyncChannel.connection_id == SyncState.connection_id) & (SyncChannel.status == "active"))
        .where(SyncState.connection_id.in_(connection_ids),
               SyncState.dirty_since.is_(None),
               SyncState.last_synced_at >= now - max_age,
               SyncState.window_start <= start, SyncState.window_end >= end,
               SyncChannel.expires_at > now)
    ).all()
    return {r.connection_id: Freshness(r.connection_id, r.last_synced_at) for r in rows}


def busy(session: Session | Connection, connection_ids: list[str], start: datetime, end: datetime
         ) -> dict[str, list[BusyBlock]]:
    """Blocking events of each connection overlapping [start, end), unmerged, with event ids."""
    out: dict[str, list[BusyBlock]] = {c: [] for c in connection_ids}
    if not connection_ids:
        return out
    rows = session.execute(
        select(CachedEvent.connection_id, CachedEvent.event_id, CachedEvent.start, CachedEvent.end,
               CachedEvent.show_as)
        .where(CachedEvent.connection_id.in_(connection_ids), CachedEvent.start < end, CachedEvent.end > start,
               CachedEvent.show_as.in_(list(BLOCKING)))
        .order_by(CachedEvent.connection_id, CachedEvent.start)
    ).all()
    for r in rows:
        out[r.connection_id].append(BusyBlock(r.start, r.end, BLOCKING[r.show_as], event_id=r.event_id))
    return out
