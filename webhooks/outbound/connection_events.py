"""What the connection.* webhooks carry. Called from hooks that run inside the transaction
changing the connection, so each message commits (or not) with its change."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from hub.storage.models import Connection, User
from providers.base import ProviderError
from webhooks.outbound.outbox import enqueue, subscribers


def wanted(session: Session, tenant_id: str, event_type: str) -> bool:
    """Whether anyone listens: lets a caller skip work (such as minting a reconnect link)
    that only the message needs."""
    return bool(subscribers(session, tenant_id, event_type))


def connection_data(session: Session, conn: Connection) -> dict[str, Any]:
    user = session.get(User, conn.user_id)
    return {"connection_id": conn.id,
            "user_id": user.external_id if user is not None else None,  # the caller's own id
            "provider": conn.provider,
            "account_email": conn.account_email}


def connected(session: Session, conn: Connection, old_status: str | None, now: datetime) -> None:
    """A new connection (`old_status` None) or a broken one reconnected. Reconnecting a
    healthy connection (fresh tokens in place) changes nothing a backend cares about."""
    if old_status is None:
        event_type = "connection.created"
    elif old_status != "active":
        event_type = "connection.restored"
    else:
        return
    data = {**connection_data(session, conn), "capabilities": list(conn.capabilities or [])}
    enqueue(session, conn.tenant_id, event_type, data, now=now)


def needs_reauth(session: Session, conn: Connection, err: ProviderError | None, reconnect_url: str | None,
                 now: datetime) -> None:
    last = conn.last_error or {}
    data = {**connection_data(session, conn),
            "cause": (err.cause if err is not None else None) or last.get("cause") or "token_revoked",
            "message": (err.message if err is not None else None) or last.get("message"),
            "reconnect_url": reconnect_url}
    enqueue(session, conn.tenant_id, "connection.needs_reauth", data, now=now)


def deleted(session: Session, conn: Connection, now: datetime) -> None:
    enqueue(session, conn.tenant_id, "connection.deleted", connection_data(session, conn), now=now)
