"""Single-flight refresh against a real database with a hand-written fake OAuth flow."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from hub.storage.models import Connection, Tenant, User
from oauth.flows import Grant
from oauth.tokens import ConnectionUnusable, TokenManager
from oauth.vault import TokenVault
from providers.base import ErrorKind, ProviderError


class RotatingFlow:
    """Like Zoom: every refresh rotates, and an old refresh token is dead at once."""

    provider = "fake"
    required_scopes = ()

    def __init__(self, delay: float = 0.05) -> None:
        self.valid = {"r0"}
        self.calls = 0
        self.delay = delay
        self.lock = threading.Lock()

    def refresh(self, refresh_token: str, scopes: tuple[str, ...] = ()) -> Grant:
        with self.lock:
            self.calls += 1
            n = self.calls
            if refresh_token not in self.valid:
                raise ProviderError(ErrorKind.AUTH_REVOKED, "Invalid Token!", provider="fake", cause="token_revoked")
            self.valid = {f"r{n}"}
        time.sleep(self.delay)
        return Grant(f"a{n}", f"r{n}", datetime.now(timezone.utc) + timedelta(hours=1), ())


def stored_connection(database, unique: str, tm: TokenManager, grant: Grant) -> str:
    """A tenant, a user and one connection holding `grant`; returns the connection id."""
    with database.session() as s:
        t = Tenant(name=f"t-{unique}")
        s.add(t)
        s.flush()
        u = User(tenant_id=t.id, external_id="u", email="u@example.com")
        s.add(u)
        s.flush()
        c = Connection(tenant_id=t.id, user_id=u.id, provider="fake", provider_account_id=unique)
        s.add(c)
        s.flush()
        tm.store_grant(c, grant)
        return c.id


@pytest.fixture
def setup(database, unique):
    vault = TokenVault.from_config(TokenVault.generate_key_spec("t"))
    flow = RotatingFlow()
    tm = TokenManager(database, vault, lambda p: flow)
    cid = stored_connection(database, unique, tm,
                            Grant("a0", "r0", datetime.now(timezone.utc) - timedelta(seconds=1), ()))
    return tm, flow, cid


def test_concurrent_callers_cause_one_refresh(setup, database):
    tm, flow, cid = setup
    tokens, errors = [], []

    def worker():
        try:
            tokens.append(tm.access_token(cid))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert flow.calls == 1
    assert set(tokens) == {"a1"}
    with database.session() as s:
        conn = s.get(Connection, cid)
        assert tm.vault.decrypt(conn.refresh_token_enc, __import__("oauth.tokens").tokens.refresh_binding(cid)) == "r1"


def test_stale_token_forces_one_refresh_only(setup):
    tm, flow, cid = setup
    first = tm.access_token(cid)
    assert flow.calls == 1
    again = tm.access_token(cid, stale=first)
    assert flow.calls == 2 and again != first
    # Someone else already replaced the stale token: no third refresh.
    assert tm.access_token(cid, stale=first) == again and flow.calls == 2


def test_refused_grant_marks_needs_reauth(setup, database):
    tm, flow, cid = setup
    flow.valid = set()
    with pytest.raises(ConnectionUnusable) as info:
        tm.access_token(cid)
    assert info.value.kind is ErrorKind.AUTH_REVOKED and info.value.cause == "token_revoked"
    with database.session() as s:
        conn = s.get(Connection, cid)
        assert conn.status == "needs_reauth" and conn.last_error["cause"] == "token_revoked"
    calls = flow.calls
    with pytest.raises(ConnectionUnusable):
        tm.access_token(cid)
    assert flow.calls == calls  # a dead connection is not hammered


def test_transient_refresh_failure_keeps_connection_active(setup, database):
    tm, flow, cid = setup

    def down(_, scopes=()):
        raise ProviderError(ErrorKind.PROVIDER_DOWN, "503", provider="fake", cause="provider_unavailable")

    flow.refresh = down
    with pytest.raises(ProviderError):
        tm.access_token(cid)
    with database.session() as s:
        conn = s.get(Connection, cid)
        assert conn.status == "active" and conn.refresh_failures == 1


def test_a_refresh_asks_for_the_scopes_the_connection_holds(setup, database):
    """Microsoft names scopes on a refresh: the connection's own (a tenant's attendance scope
    included) must reach the flow, not a fixed list."""
    tm, flow, cid = setup
    asked: list[tuple[str, ...]] = []
    original = flow.refresh

    def recording(refresh_token, scopes=()):
        asked.append(scopes)
        return original(refresh_token, scopes)

    flow.refresh = recording
    with database.session() as s:
        conn = s.get(Connection, cid)
        conn.scopes = ["Calendars.ReadWrite", "OnlineMeetingArtifact.Read.All"]
        conn.access_expires_at = datetime.now(timezone.utc) - timedelta(minutes=1)
    tm.access_token(cid)
    assert asked == [("Calendars.ReadWrite", "OnlineMeetingArtifact.Read.All")]


@pytest.fixture
def static_credential(database, unique):
    """A connection whose secret has no expiry and no refresh token (a CalDAV app password)."""
    vault = TokenVault.from_config(TokenVault.generate_key_spec("t"))
    flow = RotatingFlow()
    changes: list[tuple[str, str | None]] = []
    tm = TokenManager(database, vault, lambda p: flow,
                      on_status_change=lambda s, conn, old, err: changes.append((old, err.cause if err else None)))
    cid = stored_connection(database, unique, tm, Grant('{"password":"p"}', None, None, ()))
    return tm, flow, cid, changes


def test_a_credential_without_expiry_is_fresh_and_never_refreshed(static_credential, database):
    tm, flow, cid, changes = static_credential
    assert tm.access_token(cid) == '{"password":"p"}'
    # A diagnosis forcing a refresh (stale=current, no refusal) gets the credential back.
    assert tm.access_token(cid, stale='{"password":"p"}') == '{"password":"p"}'
    assert tm.call(cid, lambda token: token) == '{"password":"p"}'
    assert flow.calls == 0 and changes == []
    with database.session() as s:
        assert s.get(Connection, cid).status == "active"


def test_a_refused_credential_without_expiry_needs_reauth_with_the_providers_cause(static_credential, database):
    tm, flow, cid, changes = static_credential
    refused = ProviderError(ErrorKind.AUTH_EXPIRED, "The CalDAV server refused the password.", provider="fake",
                            cause="credentials_invalid", http_status=401)

    def action(token: str) -> str:
        raise refused

    with pytest.raises(ConnectionUnusable) as info:
        tm.call(cid, action)
    assert (info.value.kind, info.value.cause) == (ErrorKind.AUTH_REVOKED, "credentials_invalid")
    assert flow.calls == 0 and changes == [("active", "credentials_invalid")]
    with database.session() as s:
        conn = s.get(Connection, cid)
        assert conn.status == "needs_reauth" and conn.last_error["cause"] == "credentials_invalid"


def test_a_token_opened_once_is_not_opened_again_and_a_new_one_is(setup, database):
    """Opened access tokens are remembered by their ciphertext: the same stored token is not
    decrypted on every call, a refreshed one (a new ciphertext) is read as stored, and a row no
    key opens still fails every time."""
    from oauth.tokens import StoredAccess
    tm, flow, cid = setup
    tm.access_token(cid)  # refreshes: a1 stored
    opened: list[str] = []
    decrypt = tm.vault.decrypt
    tm.vault.decrypt = lambda ciphertext, binding: opened.append(ciphertext) or decrypt(ciphertext, binding)

    def known() -> StoredAccess:
        with database.session() as s:
            return StoredAccess.of(s.get(Connection, cid))
    first = known()
    assert [tm.call(cid, lambda t: t, known=first) for _ in range(3)] == ["a1"] * 3
    assert tm.access_token(cid) == "a1"
    assert opened == [first.access_token_enc]  # once for four uses
    assert tm.access_token(cid, stale="a1") == "a2"  # refreshed (opening r1): a new ciphertext
    second = known()
    assert tm.call(cid, lambda t: t, known=second) == "a2" and tm.call(cid, lambda t: t, known=second) == "a2"
    assert opened.count(first.access_token_enc) == 1 and opened.count(second.access_token_enc) == 1
    damaged = StoredAccess(cid, "active", first.access_token_enc[:-4] + "AAAA", first.access_expires_at)
    assert tm._known_token(damaged) is None and tm._known_token(damaged) is None
