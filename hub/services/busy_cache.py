"""The busy cache: what incremental sync (hub/services/sync) learnt of each calendar, kept in
`cached_events` per connection for a rolling window, and the rule that says when it may answer
instead of the provider.

Write side (the sync service, inside its own transaction): `replace_window` after a full sync,
`apply` after an incremental one. Read side (free/busy, availability): `freshness` says which
connections may be answered from the cache for a range; `fresh_busy_select` is the statement
that reads each fresh connection with its blocks (free/busy puts it under its users' read, one
statement for any number of participants) and `add_block` collects its rows — plain reads (a
pooled connection from `Database.read()` or a session): the read path writes nothing.

A connection is fresh for [start, end) when its push channel is active and not expired, its
last sync finished within `max_age`, no notification is waiting for a sync (`dirty_since`),
and the range lies inside the synced window. Anything else is answered live.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (BindParameter, Connection, Select, String, bindparam, delete, exists, insert,
                        select, type_coerce)
from sqlalchemy.orm import Session

from hub.storage.fast_read import utc
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


# The read side's statements are built once and bound per call (building a SQLAlchemy
# expression costs more CPU than SQLite takes to run it). The freshness rule is written once
# and shared by `freshness` and `fresh_busy_select`.
_IDS: BindParameter[list[str]] = bindparam("connection_ids", expanding=True)
# Typed by the columns they are compared with (UTC datetimes).
_NOW: BindParameter[datetime] = bindparam("now")
_OLDEST: BindParameter[datetime] = bindparam("oldest")
_START: BindParameter[datetime] = bindparam("start")
_END: BindParameter[datetime] = bindparam("end")
# EXISTS, not a join: a second active channel (a renewal overlapping) must not double the rows.
_CHANNEL_OPEN = exists().where(SyncChannel.connection_id == SyncState.connection_id, SyncChannel.status == "active",
                               SyncChannel.expires_at > _NOW)
_FRESH = (SyncState.dirty_since.is_(None), SyncState.last_synced_at >= _OLDEST,
          SyncState.window_start <= _START, SyncState.window_end >= _END, _CHANNEL_OPEN)
_FRESHNESS = select(SyncState.connection_id, SyncState.last_synced_at).where(SyncState.connection_id.in_(_IDS),
                                                                             *_FRESH)
# The blocking values as parameters with their value fixed: no expanding parameter on the hot
# path (hub/storage/in_list.py says why).
_BLOCKING_PARAMS = [bindparam(f"blocking_{i}", value, type_=String) for i, value in enumerate(BLOCKING)]


def fresh_busy_select(*scope: Any, leading: tuple[Any, ...] = ()) -> Select[Any]:
    """Each fresh connection that `scope` selects (criteria on `SyncState.connection_id`, or on
    other tables joined to it by the criteria themselves), once with no event columns (so an
    empty calendar is still answered), then once per blocking event overlapping the range,
    unmerged, with event ids; after the `leading` columns, so that free/busy reads its users and
    their cached busy time in one statement by putting this under its users' read
    (hub/services/freebusy.py). The times come back undecoded (see `utc`): SQLAlchemy's SQLite
    datetime parsing was most of a cached availability's CPU."""
    return (
        select(*leading, SyncState.connection_id, type_coerce(SyncState.last_synced_at, String).label("synced"),
               CachedEvent.event_id, type_coerce(CachedEvent.start, String).label("start"),
               type_coerce(CachedEvent.end, String).label("end"), CachedEvent.show_as)
        .select_from(SyncState)
        .outerjoin(CachedEvent, (CachedEvent.connection_id == SyncState.connection_id) & (CachedEvent.start < _END)
                   & (CachedEvent.end > _START) & CachedEvent.show_as.in_(_BLOCKING_PARAMS))
        .where(*_FRESH, *scope))


def window_params(start: datetime, end: datetime, now: datetime, max_age: timedelta) -> dict[str, Any]:
    """The parameters `fresh_busy_select` needs besides its scope's."""
    return {"start": start, "end": end, "now": now, "oldest": now - max_age}


def add_block(out: dict[str, tuple[Freshness, list[BusyBlock]]], cid: str, synced: str | datetime,
              event_id: str | None, ev_start: str | datetime | None, ev_end: str | datetime | None,
              show_as: str | None) -> None:
    """One row of `fresh_busy_select` into `out`: connection id → (its freshness, its blocks)."""
    entry = out.get(cid)
    if entry is None:
        entry = out[cid] = (Freshness(cid, utc(synced)), [])
    if event_id is not None:
        assert ev_start is not None and ev_end is not None and show_as is not None  # pragma: no mutate
        entry[1].append(BusyBlock(utc(ev_start), utc(ev_end), BLOCKING[show_as], event_id))


def freshness(session: Session | Connection, connection_ids: list[str], start: datetime, end: datetime, now: datetime,
              max_age: timedelta) -> dict[str, Freshness]:
    """The connections that may be answered from the cache for [start, end)."""
    if not connection_ids:
        return {}
    rows = session.execute(_FRESHNESS, {"connection_ids": connection_ids,
                                        **window_params(start, end, now, max_age)}).all()
    return {r.connection_id: Freshness(r.connection_id, r.last_synced_at) for r in rows}


