"""What an inbound push notification may do — decided without Flask, called by
webhooks/calendar_push.py.

Every notice of a request is verified against the channel the hub opened (its external id is
known, the secret hashes to the stored hash — compared in constant time — and Google's resource
id matches) before anything else happens; one bad notice refuses the whole request and nothing
is done. A verified notice then only writes rows: the connection is marked dirty (its cache is
behind until the sync ran) and one sync job is queued per burst; lifecycle notices queue the
renewal, recreation or resync they ask for. No provider is called here.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Protocol

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from hub import jobs
from hub.jobs import Unit
from hub.services.sync.channels import ACTIVE, STOPPING
from hub.services.sync.records import OPEN, RENEW, RUN, secret_matches
from hub.storage.models import SyncChannel, SyncState
from providers.base import PushNotice

if TYPE_CHECKING:  # pragma: no cover
    from hub.storage.db import Database

# Channels whose notices are acted on; a stopped channel's late notices are acknowledged only
# (Google keeps sending shortly after channels.stop).
ACTING = (ACTIVE, STOPPING)


@dataclass(frozen=True)
class Outcome:
    status: str  # accepted | duplicate | ignored | unknown_channel | secret_mismatch
    acted: int = 0  # notices that led to work

    @property
    def refused(self) -> bool:
        return self.status in ("unknown_channel", "secret_mismatch")


class SeenNotices:
    """Dedupe keys of notices already handled, for `window` seconds, at most `limit` of them
    (oldest dropped first). Per process: a repeat reaching another process only queues a sync
    that finds nothing new — and change webhooks compare against stored rows, so nothing is
    sent twice either way."""

    def __init__(self, window: float = 3600.0, limit: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.window, self.limit, self.clock = window, limit, clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def seen(self, key: str) -> bool:
        with self._lock:
            now = self.clock()
            self._expire(now)
            return key in self._seen

    def remember(self, key: str) -> None:
        with self._lock:
            now = self.clock()
            self._expire(now)
            self._seen[key] = now
            self._seen.move_to_end(key)

    def _expire(self, now: float) -> None:
        while self._seen and (next(iter(self._seen.values())) < now - self.window or len(self._seen) >= self.limit):
            self._seen.popitem(last=False)


def handle(db: Database, provider: str, notices: list[PushNotice], seen: SeenNotices, now: datetime) -> Outcome:
    if not notices:
        return Outcome("ignored")
    with db.session() as session:
        channels: list[SyncChannel] = []
        for notice in notices:
            channel = _channel(session, provider, notice.channel_id)
            if channel is None:
                return Outcome("unknown_channel")
            if not secret_matches(notice.secret, channel.secret_hash) or (
                    channel.resource_id is not None and notice.resource_id != channel.resource_id):
                return Outcome("secret_mismatch")
            channels.append(channel)
        acted = 0
        duplicates = 0
        for notice, channel in zip(notices, channels):
            key = f"{provider}:{notice.channel_id}:{notice.dedupe_key}" if notice.dedupe_key else None
            if key is not None and seen.seen(key):
                duplicates += 1
                continue
            if channel.status in ACTING and _act(session, channel, notice, now):
                acted += 1
            if key is not None:
                seen.remember(key)
    if acted:
        return Outcome("accepted", acted)
    return Outcome("duplicate" if duplicates == len(notices) else "ignored")


def _channel(session: Session, provider: str, external_id: str) -> SyncChannel | None:
    if not external_id:
        return None
    return session.execute(select(SyncChannel).where(
        SyncChannel.provider == provider, SyncChannel.external_id == external_id)
        .order_by(SyncChannel.created_at.desc()).limit(1)).scalar_one_or_none()


def _act(session: Session, channel: SyncChannel, notice: PushNotice, now: datetime) -> bool:
    channel.last_notice_at = now
    stamp = now.isoformat()
    if notice.kind == "changed":
        mark_dirty(session, channel, now)
    elif notice.kind == "missed":  # notices were lost: a (delta) sync catches up
        mark_dirty(session, channel, now, why="missed")
    elif notice.kind == "reauthorize":
        jobs.schedule(session, RENEW, {"channel_id": channel.id}, key=f"{RENEW}:{channel.id}:reauth:{stamp}")
    elif notice.kind == "removed":  # the provider dropped the subscription: a new one, and resync
        jobs.schedule(session, OPEN, {"connection_id": channel.connection_id, "replacing": channel.id,
                                      "resync": True}, key=f"{OPEN}:{channel.connection_id}:removed:{channel.id}")
    else:  # "opened" (Google's first `sync` message): nothing changed yet
        return False
    return True


# Built once (every notice and every write of the hub asks): bound per call. The parameter names
# differ from the columns': an UPDATE takes a parameter named like a column as one more SET.
# On the table, not the entity: no ORM update machinery (nothing loaded needs synchronizing).
STATES: Any = SyncState.__table__
_MARK_DIRTY = (update(STATES)
               .where(STATES.c.connection_id == bindparam("dirty_connection"), STATES.c.dirty_since.is_(None))
               .values(dirty_since=bindparam("dirty_at", type_=STATES.c.dirty_since.type)))
# The state row, locked (Core: only whether it exists matters, no entity is loaded), and the
# row a first mark creates (the entity's other columns default to NULL).
_LOCK_STATE = (select(STATES.c.connection_id)
               .where(STATES.c.connection_id == bindparam("state_connection")).with_for_update())
_NEW_STATE = STATES.insert()


class MarkedChannel(Protocol):
    """What marking a connection dirty reads of its channel: a loaded `SyncChannel`, or the
    columns `calendar_written` selects."""

    @property
    def connection_id(self) -> str: ...
    @property
    def tenant_id(self) -> str: ...
    @property
    def provider(self) -> str: ...


def mark_dirty(session: Unit, channel: MarkedChannel, now: datetime, why: str = "notice") -> None:
    """The cache of this connection is behind. The first notice since the last sync queues the
    sync (keyed on that moment, so a burst of notices queues one job); later ones find the
    connection dirty already and only move `last_notice_at`, which the running sync checks
    before it calls itself done."""
    # What is pending in the session (a notice's `last_notice_at`) is written before the lock,
    # as the ORM's autoflush did when this was `session.get`; a no-op when nothing is pending.
    session.flush()
    # Locked first: a sync finishing meanwhile either sees this notice's `last_notice_at` or
    # has already cleared `dirty_since`, in which case this notice queues the next sync.
    if session.execute(_LOCK_STATE, {"state_connection": channel.connection_id}).first() is None:
        session.execute(_NEW_STATE, {"connection_id": channel.connection_id, "tenant_id": channel.tenant_id,
                                     "provider": channel.provider, "errors": []})
    _mark_locked(session, channel.connection_id, now, why)


def _mark_locked(session: Unit, connection_id: str, now: datetime, why: str) -> None:
    """`mark_dirty` once the state row exists and is locked."""
    # Conditional update: of two notices racing, exactly one sees the connection clean.
    result: Any = session.execute(_MARK_DIRTY, {"dirty_connection": connection_id, "dirty_at": now})
    if result.rowcount or why != "notice":
        jobs.schedule(session, RUN, {"connection_id": connection_id},
                      key=f"{RUN}:{connection_id}:{why}:{now.isoformat()}")


# Built once (every event create, move and cancel asks): bound per call. Only the columns
# marking reads, not the entity: no ORM loading (and no identity-map entry) per write; and
# whether the state row exists, from the same statement.
CHANNELS: Any = SyncChannel.__table__
ACTIVE_CHANNEL = (select(CHANNELS.c.connection_id, CHANNELS.c.tenant_id, CHANNELS.c.provider,
                         STATES.c.connection_id.label("state"))
                  .outerjoin(STATES, STATES.c.connection_id == CHANNELS.c.connection_id)
                  .where(CHANNELS.c.connection_id == bindparam("connection_id"), CHANNELS.c.status == ACTIVE))


READ_HERE: Any = object()  # calendar_written's `channel` when the caller has not read it


def calendar_written(session: Unit, connection_id: str, now: datetime, channel: Any = READ_HERE) -> None:
    """The hub itself just changed this calendar (an event or a hold made, moved or removed):
    its cache is behind until the next sync. The provider's push would say so too, but a
    cached read in between must not miss the hub's own write, so the connection is marked
    dirty — answered live — and a sync is queued now.

    `channel`: the row `ACTIVE_CHANNEL` selects (or None: no active channel), when the caller
    read it in `session`'s transaction with something else (an event create reads it with the
    webhook subscribers: one statement for both)."""
    if channel is READ_HERE:
        channel = session.execute(ACTIVE_CHANNEL, {"connection_id": connection_id}).first()
    if channel is None:
        return
    if channel.state is None:
        mark_dirty(session, channel, now, why="write")  # creates the state row
        return
    # The state row exists: no lock first. `mark_dirty` locks so that a notice's decision (queue
    # a sync or not) cannot race a finishing sync; a write queues its sync whatever the
    # conditional UPDATE finds, and that UPDATE locks the row itself.
    session.flush()  # what is pending is written before the row is locked (see mark_dirty)
    _mark_locked(session, connection_id, now, "write")
