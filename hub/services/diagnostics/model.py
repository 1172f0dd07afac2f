"""The diagnosis as data: checks and the report. Plain dataclasses, so rules stay testable
without a database or a provider."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from providers.probes import FAIL, PASS, SKIP, WARN

STATUSES = (PASS, WARN, FAIL, SKIP)


@dataclass
class Check:
    """One line of the report. `summary` is read aloud by support; `detail` is for an engineer
    (provider code, HTTP status — never a token); a failing check names its `cause` and `fix`."""

    id: str
    status: str
    summary: str
    detail: str = ""
    connection_id: str | None = None
    provider: str | None = None
    cause: str | None = None
    kind: str | None = None  # the coarse kind behind the cause, for the health record
    fix: dict[str, Any] | None = None
    wants: str | None = None  # the capability a user-level check found missing (for its connect link)
    message: str | None = None  # the provider's own words, kept in the health record's last_error
    provider_code: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id}
        if self.connection_id:
            out["connection_id"] = self.connection_id
        if self.provider:
            out["provider"] = self.provider
        out.update(status=self.status, summary=self.summary, detail=self.detail)
        if self.cause:
            out["cause"] = self.cause
        if self.fix:
            out["fix"] = self.fix
        return out


@dataclass
class Report:
    checks: list[Check]
    # Each connection's stored health record as it stands after the diagnosis.
    connections: list[dict[str, Any]] = field(default_factory=list)
    user_id: str | None = None
    diagnosed_at: datetime | None = None
    elapsed_ms: float | None = None

    @property
    def healthy(self) -> bool:
        # warn is "works now, will not for long" or "not what you picked": still healthy.
        return not any(c.status == FAIL for c in self.checks)

    @property
    def causes(self) -> list[str]:
        return list(dict.fromkeys(c.cause for c in self.checks if c.status == FAIL and c.cause))

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"healthy": self.healthy, "checks": [c.as_dict() for c in self.checks]}
        if self.user_id is not None:
            out["user_id"] = self.user_id
        out["causes"] = self.causes
        out["connections"] = self.connections
        if self.diagnosed_at is not None:
            out["diagnosed_at"] = self.diagnosed_at
        if self.elapsed_ms is not None:
            out["elapsed_ms"] = round(self.elapsed_ms, 1)
        return out


@dataclass(frozen=True)
class ConnectionState:
    """A connection's stored record, copied out of the session (rules never touch the ORM)."""

    id: str
    user_id: str
    provider: str
    provider_account_id: str
    account_email: str | None
    status: str
    scopes: tuple[str, ...]
    capabilities: tuple[str, ...]
    connected_at: datetime
    consented_at: datetime
    last_used_at: datetime | None
    last_refresh_at: datetime | None
    last_refresh_error_at: datetime | None
    refresh_failures: int
    reconnect_count: int
    last_error: Mapping[str, Any] | None
    flags: Mapping[str, Any]
    # False for a credential without expiry or refresh token (a CalDAV app password): there is
    # nothing to renew, it is valid until the provider refuses it.
    renewable: bool = True

    @classmethod
    def of(cls, conn: Any) -> "ConnectionState":
        return cls(conn.id, conn.user_id, conn.provider, conn.provider_account_id, conn.account_email,
                   conn.status, tuple(conn.scopes or ()), tuple(conn.capabilities or ()), conn.connected_at,
                   conn.consented_at, conn.last_used_at, conn.last_refresh_at, conn.last_refresh_error_at,
                   conn.refresh_failures or 0, conn.reconnect_count or 0, dict(conn.last_error or {}) or None,
                   dict(conn.flags or {}),
                   renewable=conn.refresh_token_enc is not None or conn.access_expires_at is not None)

    @property
    def last_success(self) -> datetime:
        """The last moment the grant is known to have worked."""
        return max(t for t in (self.consented_at, self.last_used_at, self.last_refresh_at) if t is not None)


@dataclass(frozen=True)
class UserState:
    id: str  # the hub's row id
    external_id: str
    email: str
    default_conferencing: str | None
