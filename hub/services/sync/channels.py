"""Push channels: opened when a calendar is connected, renewed before they expire, recreated
when the provider drops one, stopped on disconnect.

All of it runs in background jobs (records.OPEN/RENEW/STOP, the disconnect's
`connections.retire` in hub/services/disconnect.py, and the periodic `sweep` as the safety net
for any job that was lost); `on_connected` only schedules. A failure is recorded on
the channel (`failed` + `last_error`, shown by GET /v1/connections/{id}/sync and diagnostics as
`channel_failed`) and raised, so the job store retries it with backoff.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import jobs
from hub.logs import get_logger
from hub.services.sync.adapters import adapter, call, pushes
from hub.services.sync.records import (OPEN, RENEW, RUN, STOP, error_record, new_secret,
                                       renew_lead, secret_hash)
from hub.storage.models import Connection, SyncChannel, SyncState
from oauth.tokens import ConnectionUnusable
from providers import registry
from providers.base import ChannelRequest, ErrorKind, ProviderError, PushChannel

if TYPE_CHECKING:  # pragma: no cover
    from hub.container import Hub

log = get_logger(__name__)

ACTIVE, STOPPING, STOPPED, EXPIRED, FAILED = "active", "stopping", "stopped", "expired", "failed"
# A failed channel whose job gave up is tried again by the sweep this long after its last try.
FAILED_RETRY = timedelta(minutes=15)


def enabled(hub: Hub, provider: str) -> bool:
    return bool(getattr(hub.settings, "sync_enabled", True)) and pushes(provider)


def on_connected(hub: Hub, session: Session, conn: Connection, old_status: str | None) -> None:
    """In the transaction that stores a new or reconnected connection: open its channel (and
    sync) in the background once it commits."""
    if enabled(hub, conn.provider):
        jobs.schedule(session, OPEN, {"connection_id": conn.id, "resync": True},
                      key=f"{OPEN}:{conn.id}:{hub.clock().isoformat()}")


def addresses(hub: Hub, provider: str) -> tuple[str, str]:
    base = f"{hub.settings.public_url.rstrip('/')}/webhooks/{provider}"
    return base, f"{base}/lifecycle"


def _active_connection(session: Session, connection_id: str) -> Connection | None:
    conn = session.get(Connection, connection_id)
    return conn if conn is not None and conn.status == "active" and enabled_provider(conn.provider) else None


def enabled_provider(provider: str) -> bool:
    return provider in registry.PROVIDERS and pushes(provider)


def open_channel(hub: Hub, connection_id: str, replacing: str | None = None, resync: bool = True) -> str | None:
    """Open a channel for the connection (job OPEN). Without `replacing`, a connection that
    already has a live channel keeps it (a reconnect only resyncs). With it, the new channel
    takes over and the old one is stopped after. Returns the new channel's row id."""
    now = hub.clock()
    with hub.db.session() as session:
        conn = _active_connection(session, connection_id)
        if conn is None:
            return None
        provider = conn.provider
        live = _live(session, connection_id, now)
        if replacing is None and live is not None:
            if resync:
                _schedule_run(session, connection_id, now, full=True)
            return live.id
    sync = adapter(hub, provider)
    address, lifecycle = addresses(hub, provider)
    secret = new_secret()
    request = ChannelRequest(channel_id=str(uuid.uuid4()), address=address, secret=secret,
                             expires_at=now + sync.max_channel_lifetime, lifecycle_address=lifecycle)
    used: list[str] = []

    def open_with(token: str) -> PushChannel:
        used.append(token)
        return sync.open_channel(token, request)

    try:
        pushed = call(hub, connection_id, open_with)
    except ProviderError as err:
        _record_failure(hub, connection_id, provider, secret, err)
        if isinstance(err, ConnectionUnusable):
            return None  # the person must reconnect; the reconnect opens a channel again
        raise
    with hub.db.session() as session:
        conn = session.get(Connection, connection_id)
        if conn is None:  # disconnected meanwhile: stop what was just opened
            _close_quietly(hub, provider, used[-1], pushed)
            return None
        row = SyncChannel(tenant_id=conn.tenant_id, connection_id=connection_id, provider=provider,
                          external_id=pushed.channel_id, resource_id=pushed.resource_id,
                          secret_hash=secret_hash(secret), status=ACTIVE, expires_at=pushed.expires_at,
                          created_at=now, updated_at=now)
        session.add(row)
        if session.get(SyncState, connection_id) is None:
            # Made here, before any notice can arrive, so notices never race to create it.
            session.add(SyncState(connection_id=connection_id, tenant_id=conn.tenant_id, provider=provider, errors=[]))
        session.flush()
        for old in session.execute(select(SyncChannel).where(
                SyncChannel.connection_id == connection_id, SyncChannel.id != row.id,
                SyncChannel.status.in_((ACTIVE, FAILED, EXPIRED)))).scalars():
            if old.status == ACTIVE:
                # Google cannot renew: the old channel is stopped once the new one is open.
                old.status = STOPPING
                jobs.schedule(session, STOP, {"channel_id": old.id}, key=f"{STOP}:{old.id}")
            else:
                old.status = STOPPED  # never open at the provider, or already gone there
        _schedule_renewal(session, row, now, sync.max_channel_lifetime)
        if resync:
            _schedule_run(session, connection_id, now, full=True)
        log.info("sync_channel_opened", connection_id=connection_id, provider=provider, channel=row.id)
        return row.id


def renew(hub: Hub, channel_id: str) -> None:
    """Job RENEW: extend the channel (Graph), or replace it (Google). A Graph subscription the
    provider no longer knows is created again, with a resync (notices may have been lost)."""
    now = hub.clock()
    with hub.db.session() as session:
        row = session.get(SyncChannel, channel_id)
        if row is None or row.status != ACTIVE or _active_connection(session, row.connection_id) is None:
            return
        connection_id, provider = row.connection_id, row.provider
        current = PushChannel(row.external_id or "", row.expires_at or now, row.resource_id)
    sync = adapter(hub, provider)
    if not sync.renewable:
        open_channel(hub, connection_id, replacing=channel_id, resync=False)
        return
    try:
        renewed = call(
            hub, connection_id, lambda token: sync.renew_channel(token, current, now + sync.max_channel_lifetime))
    except ProviderError as err:
        if err.kind is ErrorKind.NOT_FOUND:
            open_channel(hub, connection_id, replacing=channel_id, resync=True)
            return
        with hub.db.session() as session:
            row = session.get(SyncChannel, channel_id)
            if row is not None:
                row.last_error = error_record(err, now)
                if row.expires_at is not None and row.expires_at <= now:
                    row.status = FAILED
        if isinstance(err, ConnectionUnusable):
            return
        raise
    with hub.db.session() as session:
        row = session.get(SyncChannel, channel_id)
        if row is None:
            return
        row.expires_at, row.last_error, row.updated_at = renewed.expires_at, None, now
        if renewed.channel_id:
            row.external_id = renewed.channel_id
        _schedule_renewal(session, row, now, sync.max_channel_lifetime)
        log.info("sync_channel_renewed", connection_id=connection_id, channel=channel_id)


def stop(hub: Hub, channel_id: str) -> None:
    """Job STOP: stop a replaced channel at the provider (a channel already gone counts)."""
    with hub.db.session() as session:
        row = session.get(SyncChannel, channel_id)
        if row is None or row.status != STOPPING:
            return
        connection_id, provider = row.connection_id, row.provider
        pushed = PushChannel(row.external_id or "", row.expires_at or hub.clock(), row.resource_id)
        usable = _active_connection(session, connection_id) is not None
    if usable:
        sync = adapter(hub, provider)
        try:
            call(hub, connection_id, lambda token: sync.close_channel(token, pushed))
        except ProviderError as err:
            if not isinstance(err, ConnectionUnusable) and err.kind is not ErrorKind.NOT_FOUND:
                with hub.db.session() as session:
                    row = session.get(SyncChannel, channel_id)
                    if row is not None:
                        row.last_error = error_record(err, hub.clock())
                raise
    with hub.db.session() as session:
        row = session.get(SyncChannel, channel_id)
        if row is not None and row.status == STOPPING:
            row.status = STOPPED


def _close_quietly(hub: Hub, provider: str, token: str, pushed: PushChannel) -> None:
    """Stop a channel just opened for a connection deleted meanwhile, with the token that opened
    it (the connection's tokens went with it). Best effort: it runs out by itself, and the hub
    refuses its notices (no row has its id)."""
    try:
        adapter(hub, provider).close_channel(token, pushed)
    except ProviderError as err:
        log.warning("sync_channel_stop_failed", provider=provider, kind=err.kind.value, cause=err.cause)


def sweep(hub: Hub) -> None:
    """Safety net for lost jobs (periodic): renewals due, channels past their expiry, failed
    channels whose retries ran out, replaced channels not yet stopped, and pushing connections
    that have no channel at all."""
    now = hub.clock()
    with hub.db.session() as session:
        for row in session.execute(select(SyncChannel).where(
                SyncChannel.status.in_((ACTIVE, FAILED, STOPPING)))).scalars():
            if not enabled_provider(row.provider):
                continue
            if row.status == ACTIVE and row.expires_at is not None and row.expires_at <= now:
                row.status = EXPIRED
                jobs.schedule(session, OPEN, {"connection_id": row.connection_id, "resync": True},
                              key=f"{OPEN}:{row.connection_id}:expired:{row.id}")
            elif row.status == ACTIVE and row.expires_at is not None:
                lifetime = adapter(hub, row.provider).max_channel_lifetime
                if row.expires_at - renew_lead(lifetime) <= now:  # due: its job may have been lost
                    _schedule_renewal(session, row, now, lifetime)
            elif row.status == FAILED and row.updated_at <= now - FAILED_RETRY:
                row.updated_at = now  # the next sweep waits FAILED_RETRY again
                jobs.schedule(session, OPEN, {"connection_id": row.connection_id, "resync": True},
                              key=f"{OPEN}:{row.connection_id}:retry:{now.isoformat()}")
            elif row.status == STOPPING and row.updated_at <= now - timedelta(minutes=5):
                row.updated_at = now
                jobs.schedule(session, STOP, {"channel_id": row.id}, key=f"{STOP}:{row.id}:{now.isoformat()}")
        have = select(SyncChannel.connection_id).where(SyncChannel.status.in_((ACTIVE, FAILED, STOPPING)))
        pushing = [s.name for s in registry.SPECS if s.sync is not None]
        for connection_id in session.execute(select(Connection.id).where(
                Connection.status == "active", Connection.provider.in_(pushing),
                Connection.id.not_in(have))).scalars():
            jobs.schedule(session, OPEN, {"connection_id": connection_id, "resync": True},
                          key=f"{OPEN}:{connection_id}:missing:{now.replace(second=0, microsecond=0).isoformat()}")


def _live(session: Session, connection_id: str, now: datetime) -> SyncChannel | None:
    return session.execute(select(SyncChannel).where(
        SyncChannel.connection_id == connection_id, SyncChannel.status == ACTIVE,
        SyncChannel.expires_at > now).order_by(SyncChannel.expires_at.desc()).limit(1)).scalar_one_or_none()


def _record_failure(hub: Hub, connection_id: str, provider: str, secret: str, err: ProviderError) -> None:
    """The channel could not be opened: one `failed` row per connection carries the error."""
    now = hub.clock()
    with hub.db.session() as session:
        conn = session.get(Connection, connection_id)
        if conn is None:
            return
        row = session.execute(select(SyncChannel).where(SyncChannel.connection_id == connection_id,
                                                        SyncChannel.status == FAILED)).scalars().first()
        if row is None:
            row = SyncChannel(tenant_id=conn.tenant_id, connection_id=connection_id, provider=provider,
                              secret_hash=secret_hash(secret), status=FAILED, created_at=now)
            session.add(row)
        row.last_error, row.updated_at = error_record(err, now), now
    log.warning("sync_channel_failed", connection_id=connection_id, provider=provider, kind=err.kind.value,
                cause=err.cause)


def _schedule_renewal(session: Session, row: SyncChannel, now: datetime, lifetime: timedelta) -> None:
    if row.expires_at is None:
        return
    at = max(now, row.expires_at - renew_lead(min(lifetime, row.expires_at - row.created_at)))
    # Keyed on the expiry: one renewal per channel and period, however often this is called.
    jobs.schedule(session, RENEW, {"channel_id": row.id}, at=at, key=f"{RENEW}:{row.id}:{row.expires_at.isoformat()}")


def _schedule_run(session: Session, connection_id: str, now: datetime, full: bool = False, why: str = "open") -> None:
    payload: dict[str, Any] = {"connection_id": connection_id, "full": full}
    jobs.schedule(session, RUN, payload, key=f"{RUN}:{connection_id}:{why}:{now.isoformat()}")
