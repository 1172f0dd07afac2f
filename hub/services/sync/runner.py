"""One sync of one connection into the busy cache (job records.RUN).

Incremental with the stored cursor; a full sync of the rolling window when there is no cursor,
when the window moved (once a day) or when the provider no longer accepts the cursor
(FULL_SYNC_REQUIRED: the connection's cache is wiped and rebuilt). One sync per connection at a
time, across processes: a second one finds the lock taken and comes back shortly.

`dirty_since` (set by a notification) is cleared only when no notification arrived after this
sync started; otherwise the sync queues the next one, so a change made during a sync is never
lost behind it.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Iterator

from sqlalchemy import func, select

from hub import jobs
from hub.logs import get_logger
from hub.services import busy_cache
from hub.services.sync import changes
from hub.services.sync.adapters import adapter, call
from hub.services.sync.channels import ACTIVE, enabled_provider
from hub.services.sync.records import RUN, error_record, window, with_error
from hub.storage.models import Connection, SyncChannel, SyncState
from oauth.tokens import ConnectionUnusable
from providers.base import FULL_SYNC_REQUIRED, ProviderError, SyncBatch, SyncedEvent

if TYPE_CHECKING:  # pragma: no cover
    from hub.container import Hub

log = get_logger(__name__)

DEFAULT_MAX_AGE = 300  # HUB_CACHE_MAX_AGE_SECONDS when the setting is absent
BUSY_RETRY = timedelta(seconds=1)  # another sync of the same connection is running
LOCK_LEASE = 300.0  # seconds: longer than any sync runs; a dead worker's lock runs out

_local_guard = threading.Lock()
_local: dict[str, threading.Lock] = {}


def settings_window(hub: Hub, now: datetime) -> tuple[datetime, datetime]:
    return window(now, int(getattr(hub.settings, "sync_window_days_behind", 1)),
                  int(getattr(hub.settings, "sync_window_days_ahead", 62)))


def max_age(hub: Hub) -> timedelta:
    return timedelta(seconds=float(getattr(hub.settings, "cache_max_age_seconds", DEFAULT_MAX_AGE)))


def run(hub: Hub, connection_id: str, full: bool = False) -> str:
    """Sync the connection; returns what happened (`synced`, `full`, `busy`, `skipped`)."""
    now = hub.clock()
    with hub.db.session() as session:
        conn = session.get(Connection, connection_id)
        if conn is None or conn.status != "active" or not enabled_provider(conn.provider):
            return "skipped"
        tenant_id, provider = conn.tenant_id, conn.provider
        state = _state(session, conn)
        cursor = state.cursor
        start, end = settings_window(hub, now)
        full = full or cursor is None or state.window_start != start or state.window_end != end
    with _lock(hub, connection_id) as held:
        if not held:
            with hub.db.session() as session:
                jobs.schedule(session, RUN, {"connection_id": connection_id, "full": full},
                              at=now + BUSY_RETRY, key=f"{RUN}:{connection_id}:busy:{now.isoformat()}")
            return "busy"
        started = hub.clock()
        read_from = datetime.now(timezone.utc)  # real time, as Event.updated_at is written
        try:
            batch = _fetch(hub, connection_id, provider, None if full else cursor, start, end)
        except ProviderError as err:
            if full or err.cause != FULL_SYNC_REQUIRED:
                _record_error(hub, connection_id, err)
                if isinstance(err, ConnectionUnusable):
                    return "skipped"  # the person must reconnect; nothing to retry until then
                raise
            log.info("sync_full_required", connection_id=connection_id, provider=provider)
            full = True
            try:
                batch = _fetch(hub, connection_id, provider, None, start, end)
            except ProviderError as again:
                _record_error(hub, connection_id, again, drop_cursor=True)
                raise
        try:
            confirmed = _confirm_removals(hub, connection_id, provider, batch, (start, end))
        except ProviderError as err:
            _record_error(hub, connection_id, err)
            raise
        _store(hub, tenant_id, connection_id, batch, start, end, started, read_from, confirmed)
    return "full" if batch.full else "synced"


def _confirm_removals(hub: Hub, connection_id: str, provider: str, batch: SyncBatch,
                      window: tuple[datetime, datetime]) -> dict[str, SyncedEvent]:
    """The hub's events this batch would cancel, read one by one at the provider: gone from
    the window may mean moved out of it (changes.apply). Rare, so the reads are cheap; read
    before the storing transaction so no provider call holds it open."""
    with hub.db.session() as session:
        event_ids = changes.removals(session, connection_id, batch, window)
    if not event_ids:
        return {}
    sync = adapter(hub, provider)

    def read(event_id: str) -> SyncedEvent:
        return call(hub, connection_id, lambda token: sync.read_event(token, event_id))

    return {event_id: read(event_id) for event_id in event_ids}


def _fetch(hub: Hub, connection_id: str, provider: str, cursor: str | None, start: datetime,
           end: datetime) -> SyncBatch:
    sync = adapter(hub, provider)
    return call(hub, connection_id, lambda token: sync.sync(token, cursor, start, end))


def _store(hub: Hub, tenant_id: str, connection_id: str, batch: SyncBatch, start: datetime, end: datetime,
           started: datetime, read_from: datetime, confirmed: dict[str, SyncedEvent]) -> None:
    now = hub.clock()
    with hub.db.session() as session:
        state = session.get(SyncState, connection_id, with_for_update=True)
        if state is None or session.get(Connection, connection_id) is None:
            return  # disconnected while syncing
        if batch.full:
            busy_cache.replace_window(session, tenant_id, connection_id, batch.events, now)
        else:
            busy_cache.apply(session, tenant_id, connection_id, batch.events, now)
        applied = changes.apply(hub, session, connection_id, batch, (start, end), read_from, confirmed)
        # A deferred row is reconciled by the next sync, which must then list it again.
        state.cursor = None if applied.deferred else batch.cursor
        state.window_start, state.window_end = start, end
        state.last_synced_at = now
        if batch.full:
            state.last_full_sync_at = now
        state.errors = []
        latest: Any = session.execute(select(func.max(SyncChannel.last_notice_at)).where(
            SyncChannel.connection_id == connection_id)).scalar()
        if latest is not None and _aware(latest) > started:
            # A notification came while this sync ran: what it announced may be missing here.
            jobs.schedule(session, RUN, {"connection_id": connection_id},
                          key=f"{RUN}:{connection_id}:again:{_aware(latest).isoformat()}")
        else:
            state.dirty_since = None
    log.info("sync_done", connection_id=connection_id, full=batch.full, events=len(batch.events))


def _aware(value: datetime) -> datetime:
    # func.max bypasses the column type on SQLite: the value may come back naive (it is UTC).
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _state(session: Any, conn: Connection) -> SyncState:
    state: SyncState | None = session.get(SyncState, conn.id)
    if state is None:
        state = SyncState(connection_id=conn.id, tenant_id=conn.tenant_id, provider=conn.provider, errors=[])
        session.add(state)
        session.flush()
    return state


def _record_error(hub: Hub, connection_id: str, err: ProviderError, drop_cursor: bool = False) -> None:
    with hub.db.session() as session:
        state = session.get(SyncState, connection_id)
        if state is None:
            return
        state.errors = with_error(state.errors, error_record(err, hub.clock()))
        if drop_cursor or err.cause == FULL_SYNC_REQUIRED:
            state.cursor = None  # refused: the next run starts with a full sync
    log.warning("sync_failed", connection_id=connection_id, kind=err.kind.value, cause=err.cause)


@contextmanager
def _lock(hub: Hub, connection_id: str) -> Iterator[bool]:
    """This process's lock, and the shared one (Redis) when several processes run jobs."""
    with _local_guard:
        local = _local.setdefault(connection_id, threading.Lock())
    if not local.acquire(blocking=False):
        yield False
        return
    place = None
    try:
        key = f"sync:{connection_id}"
        if hub.limits.shared:
            place = hub.limits.acquire(key, 1, LOCK_LEASE)
            if place is None:
                yield False
                return
        yield True
    finally:
        if place is not None:
            hub.limits.release(f"sync:{connection_id}", place)
        local.release()


def sweep(hub: Hub) -> None:
    """Periodic safety resync: every connection with a channel is synced again well within
    the cache's maximum age (so free/busy keeps answering from it), the window rolls forward
    once a day, and a connection left dirty by a lost job is caught up."""
    now = hub.clock()
    stale = now - max_age(hub) / 2
    bucket = now.replace(second=(now.second // 15) * 15, microsecond=0).isoformat()
    start, end = settings_window(hub, now)
    with hub.db.session() as session:
        rows = session.execute(
            select(SyncState.connection_id, SyncState.last_synced_at, SyncState.dirty_since, SyncState.window_start,
                   SyncState.window_end)
            .join(Connection, Connection.id == SyncState.connection_id)
            .where(Connection.status == "active",
                   SyncState.connection_id.in_(select(SyncChannel.connection_id).where(SyncChannel.status == ACTIVE)))
        ).all()
        for row in rows:
            due = (row.last_synced_at is None or row.last_synced_at <= stale or row.window_start != start
                   or row.window_end != end or (row.dirty_since is not None and row.dirty_since <= now - timedelta(seconds=30)))
            if due:
                jobs.schedule(session, RUN, {"connection_id": row.connection_id},
                              key=f"{RUN}:{row.connection_id}:sweep:{bucket}")
