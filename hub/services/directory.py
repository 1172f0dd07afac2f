"""Tenants, API keys, users and connections: lookups that are always scoped to one tenant."""
from __future__ import annotations

from hub.errors import NotFound

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol, TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection as DbConnection
from sqlalchemy.orm import Session

from hub.storage.db import Database
from hub.storage.fast_read import FastSelect, json_value, utc, utc_or_none
from hub.storage.models import ApiKey, Connection, Tenant, User
from providers.base import Capability, ProviderError

KEY_PREFIX = "hub_live_"


class Offering(Protocol):
    """What choosing a connection reads: a Connection, or a row of the same columns."""

    @property
    def capabilities(self) -> Any: ...
    @property
    def status(self) -> str: ...
    @property
    def connected_at(self) -> datetime: ...


C = TypeVar("C", bound=Offering)


def hash_key(key: str) -> str:
    # API keys carry 256 random bits, so one SHA-256 is as strong as a slow KDF here.
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(db: Database, tenant_name: str, key: str | None = None) -> tuple[str, str]:
    """Create the tenant if needed and a key for it; returns (tenant_id, key). The key is
    returned once and stored only as a hash."""
    key = key or KEY_PREFIX + secrets.token_urlsafe(32)
    with db.session() as session:
        tenant = session.execute(select(Tenant).where(Tenant.name == tenant_name)).scalar_one_or_none()
        if tenant is None:
            tenant = Tenant(name=tenant_name)
            session.add(tenant)
            session.flush()
        existing = session.execute(select(ApiKey).where(ApiKey.key_hash == hash_key(key))).scalar_one_or_none()
        if existing is None:
            session.add(ApiKey(tenant_id=tenant.id, key_hash=hash_key(key), prefix=key[:12]))
        elif existing.tenant_id != tenant.id:
            raise ValueError("that key already belongs to another tenant")
        return tenant.id, key


# Built once: constructing a select costs more CPU than running it on a warm SQLite file.
_TENANT_FOR_KEY = (select(ApiKey.tenant_id)
                   .where(ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None)))


def tenant_for_key(db: Database, key: str) -> str | None:
    """The tenant of a valid (unrevoked) key: one indexed read, no ORM session."""
    return tenant_for_key_hash(db, hash_key(key))


def tenant_for_key_hash(db: Database, key_hash: str) -> str | None:
    with db.read() as conn:
        return conn.execute(_TENANT_FOR_KEY, {"key_hash": key_hash}).scalar_one_or_none()


def tenant_id_by_name(db: Database, name: str) -> str | None:
    with db.session() as session:
        row = session.execute(select(Tenant).where(Tenant.name == name)).scalar_one_or_none()
        return row.id if row else None


# The request path's lookups, built once and bound per call: building a select (coercing each
# clause, then its cache key) cost more CPU than SQLite takes to answer it.
_USER = select(User).where(User.tenant_id == bindparam("tenant_id"), User.external_id == bindparam("user_id"))
_CONNECTION = select(Connection).where(Connection.tenant_id == bindparam("tenant_id"),
                                       Connection.id == bindparam("connection_id"))
_USER_CONNECTIONS = (select(Connection).where(Connection.tenant_id == bindparam("tenant_id"),
                                              Connection.user_id == bindparam("user_pk"))
                     .order_by(Connection.connected_at))


# A user with every connection of theirs in one statement (event planning needs both), as
# columns on the tables: planning only reads them, and loading entities into an ORM session
# cost more CPU than SQLite takes to answer. The organizer's columns are labelled apart.
#
# Run with FastSelect (hub/storage/fast_read.py), like free/busy's read: SQLAlchemy's full
# execution and its `Row`s (each named attribute read raising and dropping an AttributeError
# in `Row.__getattribute__`, ~23 a create) were a tenth of an event create's instructions.
# The driver's values are decoded here as the columns' types would (`PlannedConnection`).
_USERS: Any = User.__table__
_CONNECTIONS: Any = Connection.__table__
_USER_AND_CONNECTIONS = FastSelect(
    select(_USERS.c.id.label("organizer_pk"), _USERS.c.external_id.label("organizer_id"),
           _USERS.c.default_conferencing.label("organizer_conferencing"),
           *(_CONNECTIONS.c[name] for name in ("id", "provider", "account_email", "status", "capabilities",
                                               "access_token_enc", "access_expires_at", "connected_at",
                                               "last_used_at", "last_error")))
    .select_from(_USERS.outerjoin(_CONNECTIONS, (_CONNECTIONS.c.user_id == _USERS.c.id)
                                  & (_CONNECTIONS.c.tenant_id == _USERS.c.tenant_id)))
    .where(_USERS.c.tenant_id == bindparam("tenant_id"), _USERS.c.external_id == bindparam("user_id"))
    .order_by(_CONNECTIONS.c.connected_at))


class PlannedConnection(NamedTuple):
    """The columns of a connection that event planning reads, decoded as a `Connection` has
    them (aware UTC times, JSON as lists and dicts): what `calendar_of`, `newest_offering`,
    `StoredAccess.of` and events.Planned read."""

    id: str
    provider: str
    account_email: str | None
    status: str
    capabilities: list[Any] | None
    access_token_enc: str | None
    access_expires_at: datetime | None
    connected_at: datetime
    last_used_at: datetime | None
    last_error: dict[str, Any] | None


@dataclass(frozen=True)
class Organizer:
    """The user columns event planning reads."""

    id: str
    external_id: str
    default_conferencing: str | None


def find_user(session: Session, tenant_id: str, user_id: str) -> User | None:
    return session.execute(_USER, {"tenant_id": tenant_id, "user_id": user_id}).scalar_one_or_none()


def require_user(session: Session, tenant_id: str, user_id: str) -> User:
    user = find_user(session, tenant_id, user_id)
    if user is None:
        raise user_not_found(user_id)
    return user


def user_not_found(user_id: str) -> NotFound:
    return NotFound("user_not_found", "User not found",
                    f"No user {user_id!r} exists for this API key. Create it with PUT /v1/users/{{user_id}}.")


def require_user_and_connections(conn: DbConnection, tenant_id: str, user_id: str
                                 ) -> tuple[Organizer, list[PlannedConnection]]:
    """`require_user` and `user_connections` in one statement."""
    rows = _USER_AND_CONNECTIONS.all(conn, {"tenant_id": tenant_id, "user_id": user_id})
    if not rows:
        raise user_not_found(user_id)
    first = rows[0]
    return (Organizer(first.organizer_pk, first.organizer_id, first.organizer_conferencing),
            [PlannedConnection(row.id, row.provider, row.account_email, row.status, json_value(row.capabilities),
                               row.access_token_enc, utc_or_none(row.access_expires_at), utc(row.connected_at),
                               utc_or_none(row.last_used_at), json_value(row.last_error))
             for row in rows if row.id is not None])


def require_connection(session: Session, tenant_id: str, connection_id: str) -> Connection:
    conn = session.execute(_CONNECTION, {"tenant_id": tenant_id, "connection_id": connection_id}
                           ).scalar_one_or_none()
    if conn is None:
        raise NotFound("connection_not_found", "Connection not found",
                      f"No connection {connection_id!r} exists for this API key.")
    return conn


def user_connections(session: Session, user: User) -> list[Connection]:
    return list(session.execute(_USER_CONNECTIONS, {"tenant_id": user.tenant_id, "user_pk": user.id}).scalars())


def calendar_connection(session: Session, user: User) -> Connection | None:
    """The connection whose calendar the hub reads and writes for this user: the newest active
    calendar connection, else the newest broken one (so its error can be reported in place)."""
    return calendar_of(user_connections(session, user))


def calendar_of(connections: list[C]) -> C | None:
    """Among one user's connections, the one `calendar_connection` picks."""
    return newest_offering(connections, Capability.CALENDAR.value)


def newest_offering(connections: list[C], capability: str) -> C | None:
    """Among connections offering `capability` (rows or objects with `capabilities`, `status`,
    `connected_at`): the newest active one, else the newest broken one."""
    return newest([c for c in connections if capability in (c.capabilities or [])])


def newest(candidates: list[C]) -> C | None:
    """The newest active connection among `candidates`, else the newest broken one."""
    active = [c for c in candidates if c.status == "active"]
    pool = active or candidates
    return max(pool, key=lambda c: c.connected_at) if pool else None


# last_used_at is kept to the minute: writing it on every call would cost a commit per request.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def record_outcome(db: Database, connection_id: str, at: datetime, error: ProviderError | None) -> None:
    """Health record kept on every provider call: last use, last error with its cause."""
    with db.session() as session:
        conn = session.get(Connection, connection_id)
        if conn is None:
            return
        if error is None:
            if conn.last_used_at is None or at - conn.last_used_at >= LAST_USED_RESOLUTION:
                conn.last_used_at = at
            if conn.status == "active" and conn.last_error is not None:
                conn.last_error = None
        elif error.kind.value not in ("not_found", "invalid_request", "conflict"):
            conn.last_error = error_record(error, at)


def error_record(error: ProviderError, at: datetime) -> dict[str, Any]:
    return {"kind": error.kind.value, "cause": error.cause, "message": error.message,
            "provider_code": error.provider_code, "at": at.isoformat()}
