"""Access tokens for stored connections: refresh ahead of expiry, one refresh at a time.

Single flight, because Zoom and Microsoft rotate refresh tokens: two concurrent refreshes with
the same refresh token lose the connection (Zoom) or leave a stale token stored. So:
1. a process-wide lock per connection serialises threads;
2. `SELECT … FOR UPDATE` on PostgreSQL serialises processes (SQLite has one writer anyway);
3. after taking the locks the row is read again — someone else may have refreshed already;
4. the new tokens are committed before the access token is handed to anyone.
Only a refused grant (`AUTH_REVOKED`) marks the connection `needs_reauth`.

A credential without expiry and without refresh token (a CalDAV app password) is always fresh:
being asked for it again is no reason to refresh. Once the provider refuses it, nothing can
renew it, so that refusal is the dead grant: the connection becomes `needs_reauth` with the
provider's own cause (`credentials_invalid`, `app_password_required`).
"""
from __future__ import annotations

import functools
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Protocol, TypeVar

from sqlalchemy import select

from hub.storage.db import Database
from hub.storage.models import Connection
from oauth.credential_form import ConnectMethod
from oauth.flows import Grant
from oauth.vault import Binding, TokenVault, VaultError
from providers.base import ErrorKind, ProviderError

T = TypeVar("T")
# Opened access tokens a TokenManager keeps (see `_opened_access`): more than the accounts one
# process calls within a token's hour at any usual size; each entry is a few hundred bytes.
OPENED_ACCESS_TOKENS = 1024


def access_binding(connection_id: str) -> Binding:
    return Binding("connections", "access_token", connection_id)


def refresh_binding(connection_id: str) -> Binding:
    return Binding("connections", "refresh_token", connection_id)


class ConnectionUnusable(ProviderError):
    """The stored connection cannot be used until the person reconnects."""


class AccessColumns(Protocol):
    """A `Connection`, or a row of its columns (read without an ORM session)."""

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def access_token_enc(self) -> str | None: ...
    @property
    def access_expires_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class StoredAccess:
    """A connection's access token as a batch read found it, so a caller that loaded many
    connections in one query need not read each row again before its provider call."""

    connection_id: str
    status: str
    access_token_enc: str | None
    access_expires_at: datetime | None

    @classmethod
    def of(cls, conn: "AccessColumns") -> "StoredAccess":
        return cls(conn.id, conn.status, conn.access_token_enc, conn.access_expires_at)


def unreadable(provider: str) -> ProviderError:
    """A stored secret no configured key opens (key removed before rotation finished, tampered
    row): like a revoked grant, only reconnecting helps."""
    return ProviderError(ErrorKind.AUTH_REVOKED, "the stored credentials cannot be decrypted", provider=provider,
                         cause="credentials_unreadable")


StatusListener = Callable[[object, Connection, str, ProviderError | None], None]


class TokenManager:
    def __init__(self, db: Database, vault: TokenVault, flow_for: Callable[[str], ConnectMethod],
                 margin_seconds: int = 300,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 on_status_change: StatusListener | None = None) -> None:
        self.db = db
        self.vault = vault
        self.flow_for = flow_for
        self.margin = timedelta(seconds=margin_seconds)
        self.clock = clock
        self.on_status_change = on_status_change
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()
        self.refresh_count = 0  # observable by benchmarks and tests
        # Access tokens already opened by this process, by (ciphertext, connection id): opening
        # one (AES-GCM, base64, its binding) was a fifth of the hub's cost around a provider
        # call, paid again on every call with the same stored token. Exactly what decrypting
        # again would answer — this manager's vault and its keys never change, and every
        # encryption has its own nonce, so a refreshed or re-encrypted (key rotation) token is a
        # new ciphertext and a new entry. Only successful opens are kept: an unreadable row
        # still fails every time. Whether a token may be used at all (status, expiry, refused)
        # is decided from the row before this, as before. Bounded (least recently used out);
        # the tokens are in this process's memory for their calls anyway, and never logged.
        self._opened_access = functools.lru_cache(maxsize=OPENED_ACCESS_TOKENS)(self._open_access)

    def _lock(self, connection_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks[connection_id]

    def _fresh(self, conn: Connection) -> bool:
        if conn.access_token_enc is None:
            return False  # pragma: no mutate (unreachable from access_token: _current answers None first)
        if conn.access_expires_at is None:
            return _static(conn)  # no expiry and nothing to refresh with: it cannot go stale
        return conn.access_expires_at - self.margin > self.clock()

    def _usable(self, conn: Connection, token: str | None, stale: str | None,
                refused: ProviderError | None) -> bool:
        """Hand out the stored token? Not when it is stale by the clock, nor when it is the one
        just refused — except that a static credential merely suspected (`stale` without a
        `refused` error, as a diagnosis forcing a refresh) has nothing better to become."""
        if not self._fresh(conn):
            return False
        if token != stale:
            return True
        return _static(conn) and refused is None

    def access_token(self, connection_id: str, stale: str | None = None,
                     refused: ProviderError | None = None) -> str:
        """A usable access token. `stale` is a token the provider just refused (`refused` says
        how, when known): refresh unless another thread already replaced it."""
        with self.db.session() as session:
            conn = _require_active(session.get(Connection, connection_id), connection_id)
            token = self._current(session, conn)
            if token is not None and self._usable(conn, token, stale, refused):
                return token
        with self._lock(connection_id):
            with self.db.session() as session:
                conn = _require_active(session.execute(select(Connection).where(Connection.id == connection_id)
                                                        .with_for_update()).scalar_one_or_none(), connection_id)
                token = self._current(session, conn)
                if token is not None and self._usable(conn, token, stale, refused):
                    return token
                grant = self._refresh(session, conn, refused)
            return grant.access_token

    def _current(self, session, conn: Connection) -> str | None:
        if conn.access_token_enc is None:
            return None
        try:
            return self._opened_access(conn.access_token_enc, conn.id)
        except VaultError:
            raise self._mark_dead(session, conn, unreadable(conn.provider)) from None

    def _open_access(self, ciphertext: str, connection_id: str) -> str:
        return self.vault.decrypt(ciphertext, access_binding(connection_id))

    def _open(self, session, conn: Connection, ciphertext: str, binding: Binding) -> str:
        try:
            return self.vault.decrypt(ciphertext, binding)
        except VaultError:
            raise self._mark_dead(session, conn, unreadable(conn.provider)) from None

    def _refresh(self, session, conn: Connection, refused: ProviderError | None = None) -> Grant:
        if conn.refresh_token_enc is None:
            if refused is not None and _static(conn):
                # The provider refused a credential nothing can renew: that is the dead grant.
                raise self._mark_dead(session, conn, ProviderError(
                    ErrorKind.AUTH_REVOKED, refused.message, provider=conn.provider,
                    cause=refused.cause or "token_revoked", provider_code=refused.provider_code,
                    http_status=refused.http_status))
            raise self._mark_dead(session, conn, ProviderError(
                ErrorKind.AUTH_REVOKED, "no refresh token stored", provider=conn.provider,
                cause="token_revoked"))
        refresh_token = self._open(session, conn, conn.refresh_token_enc, refresh_binding(conn.id))
        now = self.clock()
        try:
            self.refresh_count += 1
            # The connection's own scopes: a flow that names them on refresh (Microsoft) keeps
            # what this consent granted, a tenant's extra scopes included.
            grant = self.flow_for(conn.provider).refresh(refresh_token, tuple(conn.scopes or ()))
        except ProviderError as err:
            conn.last_refresh_error_at = now
            conn.refresh_failures += 1
            conn.last_error = _error_record(err, now)
            if err.kind is ErrorKind.AUTH_REVOKED:
                raise self._mark_dead(session, conn, err) from None
            session.commit()
            raise
        self.store_grant(conn, grant)
        conn.last_refresh_at = now
        conn.refresh_failures = 0
        session.commit()  # persisted before anyone uses the new access token
        return grant

    def store_grant(self, conn: Connection, grant: Grant) -> None:
        conn.access_token_enc = self.vault.encrypt(grant.access_token, access_binding(conn.id))
        if grant.refresh_token:  # Google does not rotate: keep the one we have
            conn.refresh_token_enc = self.vault.encrypt(grant.refresh_token, refresh_binding(conn.id))
        conn.access_expires_at = grant.expires_at

    def _mark_dead(self, session, conn: Connection, err: ProviderError) -> ConnectionUnusable:
        old = conn.status
        conn.status = "needs_reauth"
        conn.last_error = _error_record(err, self.clock())
        # Only an active connection gets here today (_require_active); the guard keeps a second
        # death from being announced twice if that changes.
        changed = old != "needs_reauth"  # pragma: no mutate
        if self.on_status_change and changed:
            self.on_status_change(session, conn, old, err)
        session.commit()
        return ConnectionUnusable(ErrorKind.AUTH_REVOKED, err.message, provider=conn.provider,
                                  cause=err.cause or "token_revoked", provider_code=err.provider_code,
                                  http_status=err.http_status)

    def call(self, connection_id: str, action: Callable[[str], T], known: StoredAccess | None = None) -> T:
        """Run `action(access_token)`; on a refused access token refresh once and retry.
        `known` is the row as the caller already read it: a fresh token there is used without
        reading the row again."""
        token = self._known_token(known) if known is not None else None
        if token is None:
            token = self.access_token(connection_id)
        try:
            return action(token)
        except ProviderError as err:
            if err.kind is not ErrorKind.AUTH_EXPIRED:
                raise
            refused = err
        return action(self.access_token(connection_id, stale=token, refused=refused))


    def usable_as_read(self, known: StoredAccess) -> bool:
        """Whether `call(..., known=known)` would use the token in `known` as it is (active and
        fresh by the clock), with no refresh and no second read of the row."""
        return (known.status == "active" and known.access_token_enc is not None
                and known.access_expires_at is not None and known.access_expires_at - self.margin > self.clock())

    def _known_token(self, known: StoredAccess) -> str | None:
        """The caller's token when it is active and fresh; None sends it the long way (which
        also marks an unreadable or dead connection)."""
        if not self.usable_as_read(known) or known.access_token_enc is None:  # (None: for mypy)
            return None
        try:
            return self._opened_access(known.access_token_enc, known.connection_id)
        except VaultError:
            return None


def _static(conn: Connection) -> bool:
    """A credential without expiry or refresh token (an app password): valid until refused."""
    return conn.access_expires_at is None and conn.refresh_token_enc is None


def _require_active(conn: Connection | None, connection_id: str) -> Connection:
    if conn is None:
        raise ProviderError(ErrorKind.NOT_FOUND, f"connection {connection_id} is gone",
                            provider="hub")
    if conn.status != "active":
        last = conn.last_error or {}
        raise ConnectionUnusable(ErrorKind(last.get("kind") or "auth_revoked"),
                                 last.get("message") or "the connection needs to be reconnected",
                                 provider=conn.provider, cause=last.get("cause") or "token_revoked")
    return conn


def _error_record(err: ProviderError, at: datetime) -> dict:
    return {"kind": err.kind.value, "cause": err.cause, "message": err.message,
            "provider_code": err.provider_code, "at": at.isoformat()}
