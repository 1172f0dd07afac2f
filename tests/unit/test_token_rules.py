"""TokenManager's rules on a fixed clock (oauth/tokens.py): when a token is fresh, what a refresh
stores, what a failure records, when a connection is declared dead and what callers see then.
tests/unit/test_token_manager.py covers the single flight under concurrency."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from hub.storage.models import Connection
from oauth.flows import Grant
from oauth.tokens import (ConnectionUnusable, StoredAccess, TokenManager, access_binding, refresh_binding,
                          unreadable)
from oauth.vault import TokenVault
from providers.base import ErrorKind, ProviderError
from tests.unit.test_token_manager import stored_connection

T = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


class ScriptedFlow:
    """Answers refreshes from a list: a Grant, or a ProviderError to raise."""

    def __init__(self) -> None:
        self.answers: list[Grant | ProviderError] = []
        self.seen: list[str] = []
        self.scopes: list[tuple[str, ...]] = []

    def refresh(self, refresh_token: str, scopes: tuple[str, ...] = ()) -> Grant:
        self.seen.append(refresh_token)
        self.scopes.append(scopes)  # the connection's own scopes (Microsoft refreshes with them)
        answer = self.answers.pop(0)
        if isinstance(answer, ProviderError):
            raise answer
        return answer


class Setup:
    def __init__(self, database, unique, grant: Grant) -> None:
        self.db = database
        self.vault = TokenVault.from_config(TokenVault.generate_key_spec("t"))
        self.flow = ScriptedFlow()
        self.now = T
        self.changes: list[tuple[str, str | None, str]] = []
        self.tm = TokenManager(database, self.vault, self.flow_for, clock=lambda: self.now,
                               on_status_change=lambda s, conn, old, err: self.changes.append(
                                   (old, err.cause if err else None, conn.status)))
        self.providers: list[str] = []
        self.cid = stored_connection(database, unique, self.tm, grant)

    def flow_for(self, provider: str) -> ScriptedFlow:
        self.providers.append(provider)
        return self.flow

    def row(self) -> Connection:
        with self.db.session() as s:
            conn = s.get(Connection, self.cid)
            s.expunge(conn)
            return conn


@pytest.fixture
def expiring(database, unique) -> Setup:
    """Access token a0 valid until T + 10 min, refresh token r0; the margin is 5 min."""
    return Setup(database, unique, Grant("a0", "r0", T + timedelta(minutes=10), ()))


def test_a_token_is_fresh_until_the_margin_before_expiry(expiring):
    expiring.now = T + timedelta(minutes=5) - timedelta(seconds=1)
    assert expiring.tm.access_token(expiring.cid) == "a0"
    expiring.flow.answers.append(Grant("a1", "r1", T + timedelta(hours=1), ()))
    expiring.now = T + timedelta(minutes=5)  # exactly the margin: refreshed
    assert expiring.tm.access_token(expiring.cid) == "a1"
    assert expiring.flow.seen == ["r0"] and expiring.providers == ["fake"]
    assert expiring.tm.margin == timedelta(seconds=300)


def test_a_refresh_stores_the_new_grant_before_handing_it_out(expiring):
    expiring.now = T + timedelta(minutes=6)
    expiring.flow.answers.append(Grant("a1", None, T + timedelta(hours=1), ()))  # no rotation (Google)
    assert expiring.tm.access_token(expiring.cid) == "a1"
    conn = expiring.row()
    assert expiring.vault.decrypt(conn.access_token_enc, access_binding(expiring.cid)) == "a1"
    assert expiring.vault.decrypt(conn.refresh_token_enc, refresh_binding(expiring.cid)) == "r0"  # kept
    assert conn.access_expires_at == T + timedelta(hours=1)
    assert conn.last_refresh_at == expiring.now and conn.refresh_failures == 0
    assert expiring.tm.refresh_count == 1
    expiring.flow.answers.append(Grant("a2", "r2", T + timedelta(hours=2), ()))
    expiring.now = T + timedelta(hours=1)
    assert expiring.tm.access_token(expiring.cid) == "a2"
    assert expiring.vault.decrypt(expiring.row().refresh_token_enc, refresh_binding(expiring.cid)) == "r2"


def test_a_transient_failure_is_recorded_and_the_next_success_clears_the_count(expiring):
    expiring.now = T + timedelta(minutes=6)
    down = ProviderError(ErrorKind.PROVIDER_DOWN, "token endpoint 503", provider="fake", cause="provider_unavailable",
                         provider_code="server_error")
    expiring.flow.answers += [down, down, Grant("a1", "r1", T + timedelta(hours=1), ())]
    for failures in (1, 2):
        with pytest.raises(ProviderError) as info:
            expiring.tm.access_token(expiring.cid)
        assert info.value is down
        conn = expiring.row()
        assert (conn.status, conn.refresh_failures, conn.last_refresh_error_at) == ("active", failures, expiring.now)
        assert conn.last_error == {"kind": "provider_down", "cause": "provider_unavailable",
                                   "message": "token endpoint 503", "provider_code": "server_error",
                                   "at": expiring.now.isoformat()}
    assert expiring.tm.access_token(expiring.cid) == "a1"
    assert expiring.row().refresh_failures == 0
    assert expiring.changes == []


def test_a_refused_grant_makes_the_connection_dead_once(expiring):
    expiring.now = T + timedelta(minutes=6)
    expiring.flow.answers.append(ProviderError(ErrorKind.AUTH_REVOKED, "invalid_grant", provider="fake",
                                               cause="token_revoked", provider_code="invalid_grant", http_status=400))
    with pytest.raises(ConnectionUnusable) as info:
        expiring.tm.access_token(expiring.cid)
    err = info.value
    assert (err.kind, err.message, err.provider, err.cause, err.provider_code, err.http_status) == (
        ErrorKind.AUTH_REVOKED, "invalid_grant", "fake", "token_revoked", "invalid_grant", 400)
    conn = expiring.row()
    assert conn.status == "needs_reauth" and conn.last_error["cause"] == "token_revoked"
    assert conn.refresh_failures == 1 and conn.last_error["at"] == expiring.now.isoformat()
    assert expiring.changes == [("active", "token_revoked", "needs_reauth")]
    # From now on callers are told at once, with the recorded reason, and nothing is refreshed.
    with pytest.raises(ConnectionUnusable) as again:
        expiring.tm.access_token(expiring.cid)
    assert (again.value.kind, again.value.message, again.value.cause) == (ErrorKind.AUTH_REVOKED, "invalid_grant",
                                                                          "token_revoked")
    assert expiring.flow.seen == ["r0"] and len(expiring.changes) == 1


def test_a_dead_connection_without_a_recorded_reason_still_says_reconnect(expiring, database):
    with database.session() as s:
        conn = s.get(Connection, expiring.cid)
        conn.status, conn.last_error = "needs_reauth", None
    with pytest.raises(ConnectionUnusable) as info:
        expiring.tm.access_token(expiring.cid)
    assert (info.value.kind, info.value.cause, info.value.provider) == (ErrorKind.AUTH_REVOKED, "token_revoked", "fake")
    assert info.value.message == "the connection needs to be reconnected"


def test_a_missing_connection_is_not_found(expiring):
    with pytest.raises(ProviderError) as info:
        expiring.tm.access_token("con_missing")
    assert (info.value.kind, info.value.provider) == (ErrorKind.NOT_FOUND, "hub")
    assert info.value.message == "connection con_missing is gone"


def test_without_a_refresh_token_an_expired_access_token_is_a_dead_grant(database, unique):
    s = Setup(database, unique, Grant("a0", None, T - timedelta(minutes=1), ()))
    with pytest.raises(ConnectionUnusable) as info:
        s.tm.access_token(s.cid)
    assert (info.value.cause, info.value.message) == ("token_revoked", "no refresh token stored")
    assert s.changes == [("active", "token_revoked", "needs_reauth")] and s.flow.seen == []


def test_an_unreadable_token_is_a_dead_grant_with_its_own_cause(expiring, database):
    with database.session() as s:
        s.get(Connection, expiring.cid).access_token_enc = expiring.vault.encrypt("a0", access_binding("con_other"))
    with pytest.raises(ConnectionUnusable) as info:
        expiring.tm.access_token(expiring.cid)
    assert (info.value.kind, info.value.cause) == (ErrorKind.AUTH_REVOKED, "credentials_unreadable")
    assert expiring.row().status == "needs_reauth"
    err = unreadable("google")
    assert (err.kind, err.cause, err.provider, err.message) == (ErrorKind.AUTH_REVOKED, "credentials_unreadable",
                                                                "google", "the stored credentials cannot be decrypted")


def test_an_unreadable_refresh_token_is_a_dead_grant_too(expiring, database):
    expiring.now = T + timedelta(minutes=6)
    with database.session() as s:
        s.get(Connection, expiring.cid).refresh_token_enc = expiring.vault.encrypt("r0", access_binding(expiring.cid))
    with pytest.raises(ConnectionUnusable) as info:
        expiring.tm.access_token(expiring.cid)
    assert info.value.cause == "credentials_unreadable" and expiring.flow.seen == []


def test_call_refreshes_once_on_an_expired_token_and_retries(expiring):
    expiring.flow.answers.append(Grant("a1", "r1", T + timedelta(hours=1), ()))
    tokens: list[str] = []

    def action(token: str) -> str:
        tokens.append(token)
        if token == "a0":
            raise ProviderError(ErrorKind.AUTH_EXPIRED, "401", provider="fake", cause="token_expired")
        return f"ok with {token}"

    assert expiring.tm.call(expiring.cid, action) == "ok with a1"
    assert tokens == ["a0", "a1"] and expiring.flow.seen == ["r0"]


def test_call_passes_other_errors_through_without_refreshing(expiring):
    boom = ProviderError(ErrorKind.RATE_LIMITED, "slow down", provider="fake", cause="rate_limited")

    def action(token: str) -> str:
        raise boom

    with pytest.raises(ProviderError) as info:
        expiring.tm.call(expiring.cid, action)
    assert info.value is boom and expiring.flow.seen == []


def test_a_token_refused_again_after_a_refresh_by_another_thread_is_not_refreshed_twice(expiring):
    """`stale` names the token the caller saw refused; a different current token is handed out."""
    assert expiring.tm.access_token(expiring.cid, stale="a-older") == "a0"
    expiring.flow.answers.append(Grant("a1", "r1", T + timedelta(hours=1), ()))
    assert expiring.tm.access_token(expiring.cid, stale="a0") == "a1"
    assert expiring.flow.seen == ["r0"]


def test_a_known_fresh_row_is_used_without_reading_it_again(expiring, database):
    known = StoredAccess.of(expiring.row())
    assert known == StoredAccess(expiring.cid, "active", known.access_token_enc, T + timedelta(minutes=10))
    with database.session() as s:  # the row changes; the caller's copy is what counts
        s.get(Connection, expiring.cid).access_token_enc = expiring.vault.encrypt("a-db", access_binding(expiring.cid))
    assert expiring.tm.call(expiring.cid, lambda token: token, known=known) == "a0"


@pytest.mark.parametrize("change", ["inactive", "no_token", "no_expiry", "in_margin", "unreadable"])
def test_a_known_row_that_is_not_plainly_fresh_takes_the_long_way(expiring, database, change):
    known = StoredAccess.of(expiring.row())
    with database.session() as s:
        s.get(Connection, expiring.cid).access_token_enc = expiring.vault.encrypt("a-db", access_binding(expiring.cid))
    if change == "inactive":
        known = StoredAccess(known.connection_id, "needs_reauth", known.access_token_enc, known.access_expires_at)
    elif change == "no_token":
        known = StoredAccess(known.connection_id, "active", None, known.access_expires_at)
    elif change == "no_expiry":
        known = StoredAccess(known.connection_id, "active", known.access_token_enc, None)
    elif change == "in_margin":
        expiring.now = T + timedelta(minutes=5)
        expiring.flow.answers.append(Grant("a-db", "r1", T + timedelta(hours=1), ()))
    else:
        known = StoredAccess(known.connection_id, "active", expiring.vault.encrypt("x", access_binding("con_other")),
                             known.access_expires_at)
    assert expiring.tm.call(expiring.cid, lambda token: token, known=known) == "a-db"


def test_a_stored_token_cut_short_is_unreadable_not_a_crash(expiring, database):
    with database.session() as s:
        conn = s.get(Connection, expiring.cid)
        conn.access_token_enc = conn.access_token_enc[:20]
    with pytest.raises(ConnectionUnusable) as info:
        expiring.tm.access_token(expiring.cid)
    assert info.value.cause == "credentials_unreadable" and expiring.row().status == "needs_reauth"


def test_an_expired_token_without_a_refresh_token_is_dead_whatever_the_provider_said(database, unique):
    """Not a static credential (it has an expiry): the refusal is the expiry's, the dead grant
    is the missing refresh token."""
    s = Setup(database, unique, Grant("a0", None, T + timedelta(minutes=10), ()))

    def action(token: str) -> str:
        raise ProviderError(ErrorKind.AUTH_EXPIRED, "401 from the provider", provider="fake", cause="token_expired")

    with pytest.raises(ConnectionUnusable) as info:
        s.tm.call(s.cid, action)
    assert (info.value.message, info.value.cause, info.value.provider) == ("no refresh token stored", "token_revoked",
                                                                           "fake")


def test_a_refused_static_credential_keeps_the_providers_words(database, unique):
    s = Setup(database, unique, Grant('{"password":"p"}', None, None, ()))
    refusal = ProviderError(ErrorKind.AUTH_EXPIRED, "The server refused the app password.", provider="other",
                            cause=None, provider_code="401 Unauthorized", http_status=401)

    def action(token: str) -> str:
        raise refusal

    announced: list[ProviderError] = []
    listener = s.tm.on_status_change
    assert listener is not None
    s.tm.on_status_change = lambda sess, conn, old, e: (announced.append(e), listener(sess, conn, old, e))
    with pytest.raises(ConnectionUnusable) as info:
        s.tm.call(s.cid, action)
    assert [e.provider for e in announced] == ["fake"]  # the connection's provider, not the refusal's
    err = info.value
    assert (err.kind, err.message, err.provider, err.cause, err.provider_code, err.http_status) == (
        ErrorKind.AUTH_REVOKED, "The server refused the app password.", "fake", "token_revoked", "401 Unauthorized",
        401)
    assert s.changes == [("active", "token_revoked", "needs_reauth")]


def test_a_refusal_without_a_cause_reads_token_revoked_and_refreshes_are_counted(expiring):
    expiring.now = T + timedelta(minutes=6)
    expiring.flow.answers += [Grant("a1", "r1", T + timedelta(minutes=20), ()),
                              ProviderError(ErrorKind.AUTH_REVOKED, "invalid_grant", provider="fake")]
    assert expiring.tm.access_token(expiring.cid) == "a1"
    expiring.now = T + timedelta(minutes=16)
    with pytest.raises(ConnectionUnusable) as info:
        expiring.tm.access_token(expiring.cid)
    assert info.value.cause == "token_revoked" and expiring.row().last_error["cause"] is None
    assert expiring.tm.refresh_count == 2


def test_the_bindings_are_the_stored_format():
    """Ciphertexts already in the database were sealed with these names: they must not change."""
    from oauth.vault import Binding
    assert access_binding("con_1") == Binding("connections", "access_token", "con_1")
    assert refresh_binding("con_1") == Binding("connections", "refresh_token", "con_1")


def test_a_fresh_token_is_handed_out_without_waiting_for_a_refresh_in_flight(expiring):
    """Only a refresh takes the connection's lock: readers of a fresh token never queue."""
    import threading
    got: list[str] = []
    with expiring.tm._lock(expiring.cid):  # as a refreshing thread would hold it
        reader = threading.Thread(target=lambda: got.append(expiring.tm.access_token(expiring.cid)))
        reader.start()
        reader.join(timeout=10)
        assert not reader.is_alive() and got == ["a0"]


def test_a_dead_connection_reports_its_recorded_kind_cause_and_message(expiring, database):
    with database.session() as s:
        conn = s.get(Connection, expiring.cid)
        conn.status = "needs_reauth"
        conn.last_error = {"kind": "auth_expired", "cause": "credentials_shared", "message": "two users, one login"}
    with pytest.raises(ConnectionUnusable) as info:
        expiring.tm.access_token(expiring.cid)
    assert (info.value.kind, info.value.cause, info.value.message) == (ErrorKind.AUTH_EXPIRED, "credentials_shared",
                                                                       "two users, one login")
