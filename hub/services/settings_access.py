"""Getting into the settings page without a password: settings links and browser sessions.

A scheduling tool asks for a link (`POST /v1/users/{id}/settings-links`) and hands it to the
person. The link is
- signed with the hub's secret key, so a forged or mangled link is refused before any lookup;
- backed by a row holding only a hash of its random part, so it is single-use and a database
  read alone cannot rebuild it;
- short-lived (15 minutes): it travels through email and chat, a session does not.
Opening it starts a server-side session whose cookie carries a random token (stored hashed).
The CSRF token is derived from that token, so it is per session and needs no storage.

Times come from the injected clock (the hub's), so tests can age links without sleeping.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, cast

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import CursorResult, delete, or_, select, update
from sqlalchemy.orm import Session

from hub.storage.db import Database
from hub.storage.models import SettingsLink, SettingsSession, User

if TYPE_CHECKING:  # pragma: no cover
    from hub.container import Hub

LINK_TTL = timedelta(minutes=15)
# Absolute lifetime of a session: long enough to connect three accounts and fiddle with
# working hours, short enough that a forgotten browser tab does not stay a way in for days.
SESSION_TTL = timedelta(hours=8)
_SALT = "hub.settings-link"
_SEEN_GRANULARITY = timedelta(minutes=1)  # one write per minute of use, not one per request


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedLink:
    url: str
    expires_at: datetime


@dataclass(frozen=True)
class OpenedSession:
    """What the web layer needs after a link was opened: the cookie value to set."""

    token: str
    expires_at: datetime


@dataclass(frozen=True)
class SessionView:
    """The signed-in person, as the settings page sees them: their own ids and nothing else."""

    session_id: str
    tenant_id: str
    user_pk: str  # users.id (internal), never the tenant's external id from a form
    external_id: str
    return_url: str | None
    link_id: str | None


class LinkRefused(Exception):
    """A settings link that cannot be used. `code` is link_invalid, link_used or link_expired."""

    def __init__(self, code: str, link_id: str | None = None, return_url: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.link_id = link_id
        self.return_url = return_url  # where to get a new link: only for a genuine link


class SettingsAccess:
    def __init__(self, db: Database, secret_key: str | bytes, public_url: str,
                 clock: Callable[[], datetime], link_ttl: timedelta = LINK_TTL,
                 session_ttl: timedelta = SESSION_TTL) -> None:
        self.db = db
        self.signer = URLSafeSerializer(secret_key, salt=_SALT)
        self.public_url = public_url.rstrip("/")
        self.clock = clock
        self.link_ttl = link_ttl
        self.session_ttl = session_ttl

    @classmethod
    def for_hub(cls, hub: "Hub", secret_key: str | bytes | None) -> "SettingsAccess":
        """Cheap to build, so built per request: the clock is read through the hub at the
        moment of use (tests move it)."""
        if not secret_key:  # create_app always sets one; a missing key must not sign anything
            raise ValueError("the app has no secret key")
        return cls(hub.db, secret_key, hub.settings.public_url, clock=lambda: hub.clock())

    # --- links ------------------------------------------------------------------------------
    def create_link(self, tenant_id: str, user: User, return_url: str | None) -> IssuedLink:
        secret = secrets.token_urlsafe(24)
        now = self.clock()
        expires = now + self.link_ttl
        with self.db.session() as session:
            self._forget_stale(session, user.id, now)
            link = SettingsLink(tenant_id=tenant_id, user_id=user.id, secret_hash=_digest(secret),
                                return_url=return_url, expires_at=expires, created_at=now)
            session.add(link)
            session.flush()
            link_id = link.id
        token = self.signer.dumps({"l": link_id, "s": secret})
        return IssuedLink(f"{self.public_url}/settings/enter/{token}", expires)

    def _forget_stale(self, session: Session, user_pk: str, now: datetime) -> None:
        """Rows nobody can use any more, swept per user whenever a new link is made, so the tables
        stay bounded without a background job. Spent links are kept as long as a session they
        started could live, so reopening one still says "already used", not "not valid"."""
        session.execute(delete(SettingsSession).where(
            SettingsSession.user_id == user_pk,
            or_(SettingsSession.expires_at <= now, SettingsSession.ended_at.is_not(None))))
        session.execute(delete(SettingsLink).where(
            SettingsLink.user_id == user_pk, SettingsLink.expires_at <= now - self.session_ttl))

    def open_link(self, token: str) -> OpenedSession:
        """Spend the link and start a session; raises LinkRefused."""
        try:
            payload = self.signer.loads(token)
        except BadSignature:
            raise LinkRefused("link_invalid") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("l"), str) \
                or not isinstance(payload.get("s"), str):
            raise LinkRefused("link_invalid")
        now = self.clock()
        with self.db.session() as session:
            # Spend it with one conditional UPDATE, before reading anything: of two tabs opening
            # the link at once exactly one wins, on PostgreSQL and on SQLite (where a read first
            # and a write later would fail on a stale snapshot instead).
            spent = cast(CursorResult[Any], session.execute(update(SettingsLink).where(
                SettingsLink.id == payload["l"], SettingsLink.secret_hash == _digest(payload["s"]),
                SettingsLink.used_at.is_(None), SettingsLink.expires_at > now).values(used_at=now)))
            link = session.get(SettingsLink, payload["l"])
            if link is None or not hmac.compare_digest(link.secret_hash, _digest(payload["s"])):
                raise LinkRefused("link_invalid")
            if spent.rowcount != 1:
                raise LinkRefused("link_used" if link.used_at is not None else "link_expired",
                                  link.id, link.return_url)
            cookie = secrets.token_urlsafe(32)
            expires = now + self.session_ttl
            session.add(SettingsSession(tenant_id=link.tenant_id, user_id=link.user_id,
                                        token_hash=_digest(cookie), link_id=link.id,
                                        return_url=link.return_url, created_at=now,
                                        expires_at=expires, last_seen_at=now))
        return OpenedSession(cookie, expires)

    # --- sessions ---------------------------------------------------------------------------
    def session_for(self, token: str | None) -> SessionView | None:
        """The live session a cookie stands for, or None (unknown, ended, expired, user gone)."""
        if not token:
            return None
        now = self.clock()
        with self.db.session() as session:
            row = session.execute(select(SettingsSession, User.external_id)
                                  .join(User, (User.id == SettingsSession.user_id)
                                        & (User.tenant_id == SettingsSession.tenant_id))
                                  .where(SettingsSession.token_hash == _digest(token))).first()
            if row is None:
                return None
            found, external_id = row
            if found.ended_at is not None or found.expires_at <= now:
                return None
            if found.last_seen_at is None or now - found.last_seen_at > _SEEN_GRANULARITY:
                found.last_seen_at = now  # for support ("did they open the page?"), not security
            return SessionView(found.id, found.tenant_id, found.user_id, external_id,
                               found.return_url, found.link_id)

    def end_session(self, session_id: str) -> None:
        with self.db.session() as session:
            row = session.get(SettingsSession, session_id)
            if row is not None and row.ended_at is None:
                row.ended_at = self.clock()

    @staticmethod
    def csrf_token(cookie_token: str) -> str:
        # Derived from the session's own secret: per session, unguessable without the cookie.
        return hmac.new(cookie_token.encode(), b"hub.settings.csrf", hashlib.sha256).hexdigest()

    @classmethod
    def csrf_valid(cls, cookie_token: str, submitted: str | None) -> bool:
        # Bytes, not str: compare_digest refuses non-ASCII str, and a form can send anything.
        return bool(submitted) and hmac.compare_digest(cls.csrf_token(cookie_token).encode(),
                                                       (submitted or "").encode())
