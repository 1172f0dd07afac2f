"""Connections: what they can do, listing them, disconnecting them."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from hub.container import Hub
from hub.services.directory import require_connection, require_user, user_connections
from hub.storage.models import Connection
from oauth.flows import Grant
from providers import registry
from providers.base import Capability
from webhooks.outbound import connection_events

def probe_capabilities(hub: Hub, conn: Connection, grant: Grant) -> list[str]:
    """What this fresh grant can do. The calendar's own conferencing is asked for, not assumed:
    a Workspace admin can switch Meet off, a tenant can lack Teams. Likewise a conferencing
    account is asked whether it may host: a Zoom user without a meetings product keeps its
    connection but not the capability, and booking then names the cause."""
    spec = registry.get(conn.provider)
    caps = [c.value for c in sorted(spec.capabilities, key=lambda c: c.value)]
    if spec.calendar is not None:
        hub.calendar(conn.provider).verify_mailbox(grant.access_token)
    if spec.calendar is not None and spec.native_conferencing is not None:
        if not hub.calendar(conn.provider).conferencing_allowed(grant.access_token):
            caps.remove(spec.native_conferencing.value)
    if spec.conferencing is not None:
        if not hub.conferencing(conn.provider).can_host(grant.access_token):
            caps = [c for c in caps if c == Capability.CALENDAR.value]
    return caps


def list_connections(hub: Hub, tenant_id: str, user_id: str) -> list[Connection]:
    with hub.db.session() as session:
        user = require_user(session, tenant_id, user_id)
        return user_connections(session, user)


def delete_connection(hub: Hub, tenant_id: str, connection_id: str) -> None:
    """Gone at once, in one transaction: the row (its push channels, sync state and cached busy
    time with it, so the hub refuses the channels' notices from now on), the
    `connection.deleted` webhook, and the job that stops the channels and revokes the grant at
    the provider (hub/services/disconnect.py) — no provider call on the way."""
    from hub.services import disconnect  # services import the container
    with hub.db.session() as session:
        conn = require_connection(session, tenant_id, connection_id)
        # Locked and read again: a refresh in flight (it holds this lock) writes its new tokens
        # first, and the job carries those.
        session.execute(select(Connection).where(Connection.id == conn.id).with_for_update()
                        .execution_options(populate_existing=True)).scalar_one()
        disconnect.retire_later(hub, session, conn)
        connection_events.deleted(session, conn, now=hub.clock())
        session.delete(conn)


def connection_out(conn: Connection) -> dict[str, Any]:
    last = conn.last_error
    return {
        "id": conn.id,
        "provider": conn.provider,
        "account_email": conn.account_email,
        "status": conn.status,
        "scopes": list(conn.scopes or []),
        "capabilities": list(conn.capabilities or []),
        "connected_at": conn.connected_at,
        "last_used_at": conn.last_used_at,
        "last_error": ({"kind": last.get("kind"), "cause": last.get("cause"),
                        "message": last.get("message"), "at": stored_time(last.get("at"))} if last else None),
    }


def stored_time(value: Any) -> Any:
    """A time kept as text inside a JSON column, as a datetime again, so it leaves the hub in the
    contract's `…Z` form like every other time (records hold `isoformat()`'s `+00:00`)."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value

