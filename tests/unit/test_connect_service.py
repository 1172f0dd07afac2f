"""The connect service's rules (oauth/connect.py) against a real database with a scripted OAuth
flow and a fixed clock: the link, the consent URL, every way a callback is refused, what a
sign-in stores, and what the return URL is told. tests/security/test_oauth_flow.py and the e2e
suites drive the same service through the web layer and the sandbox."""
from __future__ import annotations

import dataclasses
import hashlib
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlsplit

import pytest

from hub.storage.models import ConnectAttempt, Connection, Tenant, User
from oauth.connect import (ConnectOutcome, ConnectService, LinkProblem, _consent_error, _consent_message,
                           _with_account_check, verifier_binding)
from oauth.flows import Grant, Identity
from oauth.tokens import TokenManager, access_binding
from oauth.vault import Binding, TokenVault
from providers.base import ErrorKind, ProviderError

T = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
PUBLIC = "https://hub.example.com"


class ScriptedFlow:
    provider = "acme"
    required_scopes = ("calendar", "email")
    new_grant_revokes_previous = False

    def __init__(self) -> None:
        self.urls: list[dict] = []
        self.exchanges: list[dict] = []
        self.answer: Grant | ProviderError = grant()

    def authorization_url(self, **kwargs) -> str:
        self.urls.append(kwargs)
        return f"https://auth.example.com/authorize?state={kwargs['state']}"

    def exchange(self, **kwargs) -> Grant:
        self.exchanges.append(kwargs)
        if isinstance(self.answer, ProviderError):
            raise self.answer
        return self.answer


def grant(account: str = "acct-1", email: str | None = "ada@example.com", scopes=("calendar", "email"),
          identity: bool = True) -> Grant:
    return Grant("at-1", "rt-1", T + timedelta(hours=1), tuple(scopes),
                 Identity(account_id=account, email=email) if identity else None)


class World:
    def __init__(self, database) -> None:
        self.db = database
        self.now = T
        self.vault = TokenVault.from_config(TokenVault.generate_key_spec("t"))
        self.flow = ScriptedFlow()
        self.status_changes: list[tuple] = []
        # The listener writes in the caller's transaction (an outbox row): it must be given the
        # session that holds the connection.
        self.tokens = TokenManager(database, self.vault, lambda p: self.flow, clock=lambda: self.now,
                                   on_status_change=lambda s, conn, old, err: self.status_changes.append(
                                       (conn.id, old, err.cause if err else None, err.provider if err else None,
                                        s.get(Connection, conn.id) is conn)))
        self.connected: list[tuple[str, str | None]] = []
        self.probe_error: ProviderError | None = None
        self.extra: tuple[str, ...] = ()
        self.providers = {"acme"}  # a flow is only ever looked up by the attempt's own provider
        self.service = ConnectService(database, self.vault, self.tokens, self.flow_for, PUBLIC + "/",
                                      self.probe, lambda: self.now,
                                      on_connected=lambda s, conn, old: self.connected.append((conn.id, old)),
                                      extra_scopes=lambda tenant, provider: self.extra if tenant == self.tenant_id else ())
        with database.session() as s:
            tenant = Tenant(name=f"t-{uuid.uuid4().hex[:8]}")
            s.add(tenant)
            s.flush()
            user = User(tenant_id=tenant.id, external_id="ada", email=" Ada@Example.com ")
            s.add(user)
            s.flush()
            self.tenant_id, self.user_id = tenant.id, user.id
            s.expunge(user)
            self.user = user

    def flow_for(self, provider: str) -> ScriptedFlow:
        if provider not in self.providers:
            raise KeyError(provider)
        return self.flow

    def probe(self, conn, g) -> list[str]:
        if self.probe_error:
            raise self.probe_error
        return ["calendar"]

    def link(self, return_url: str | None = "https://app.example.com/done?x=1", hint: str | None = None) -> str:
        return self.service.create_link(self.tenant_id, self.user, "acme", return_url, hint).url.rsplit("/", 1)[1]

    def attempt(self, token: str) -> ConnectAttempt:
        with self.db.session() as s:
            found = s.query(ConnectAttempt).filter_by(link_hash=hashlib.sha256(token.encode()).hexdigest()).one()
            s.expunge(found)
            return found

    def opened(self, browser: str | None = None, **link) -> tuple[str, str]:
        token = self.link(**link)
        self.service.open_link(token, browser)
        return token, self.flow.urls[-1]["state"]

    def connections(self) -> list[Connection]:
        with self.db.session() as s:
            found = list(s.query(Connection).filter_by(user_id=self.user_id).order_by(Connection.connected_at))
            for c in found:
                s.expunge(c)
            return found


@pytest.fixture
def world(database) -> World:
    return World(database)


def problem(call) -> LinkProblem:
    with pytest.raises(LinkProblem) as info:
        call()
    return info.value


def test_a_link_is_single_use_hashed_and_lives_15_minutes(world):
    link = world.service.create_link(world.tenant_id, world.user, "acme", "https://app/done", None)
    token = link.url.removeprefix(f"{PUBLIC}/connect/")
    assert len(token) >= 40 and link.expires_at == T + timedelta(minutes=15)
    attempt = world.attempt(token)
    assert (attempt.tenant_id, attempt.user_id, attempt.provider, attempt.return_url) == (
        world.tenant_id, world.user_id, "acme", "https://app/done")
    assert attempt.login_hint == " Ada@Example.com "  # the user's address unless a hint is given
    assert attempt.expires_at == T + timedelta(minutes=15)
    longer = world.service.create_link(world.tenant_id, world.user, "acme", None, "x@example.com",
                                       ttl=timedelta(days=2))
    assert longer.expires_at == T + timedelta(days=2)
    assert world.attempt(longer.url.rsplit("/", 1)[1]).login_hint == "x@example.com"


def test_a_link_minted_in_the_callers_transaction_commits_with_it(world, database):
    with database.session() as s:
        link = world.service.create_link(world.tenant_id, world.user, "acme", None, None, session=s)
        s.rollback()
    with pytest.raises(LinkProblem):
        world.service.open_link(link.url.rsplit("/", 1)[1])


def test_opening_a_link_keeps_state_verifier_nonce_server_side(world):
    token = world.link(hint="hint@example.com")
    url = world.service.open_link(token, "browser-secret")
    [asked] = world.flow.urls
    assert url == f"https://auth.example.com/authorize?state={asked['state']}"
    assert asked["redirect_uri"] == f"{PUBLIC}/oauth/callback/acme"
    assert asked["login_hint"] == "hint@example.com" and "extra_scopes" not in asked
    attempt = world.attempt(token)
    sha = lambda v: hashlib.sha256(v.encode()).hexdigest()  # noqa: E731
    assert attempt.state_hash == sha(asked["state"]) and attempt.opened_at == T
    assert attempt.nonce == asked["nonce"] and len(asked["nonce"]) >= 16
    assert world.vault.decrypt(attempt.code_verifier_enc, verifier_binding(attempt.id)) == asked["code_verifier"]
    assert len(asked["code_verifier"]) >= 64
    assert attempt.browser_hash == sha("browser-secret")
    assert world.attempt(world.opened()[0]).browser_hash is None


def test_a_tenants_optional_scopes_are_asked_for_on_the_consent_and_when_redeeming(world):
    world.extra = ("meetings",)
    _, state = world.opened()
    assert world.flow.urls[-1]["extra_scopes"] == ("meetings",)
    assert world.service.complete("acme", state, "c", None).status == "connected"
    assert world.flow.exchanges[-1]["extra_scopes"] == ("meetings",)
    world.service.extra_scopes = None  # a hub without optional features
    _, state = world.opened()
    assert "extra_scopes" not in world.flow.urls[-1]
    assert world.service.complete("acme", state, "c", None).status == "connected"
    assert "extra_scopes" not in world.flow.exchanges[-1]


def test_a_link_is_refused_when_unknown_used_or_expired(world):
    assert problem(lambda: world.service.open_link("nope")).code == "link_invalid"
    token = world.link()
    world.service.open_link(token)
    used = problem(lambda: world.service.open_link(token))
    assert (used.code, used.return_url) == ("link_used", "https://app.example.com/done?x=1")
    assert used.message == str(used) == "This connect link was already used. Ask for a new one."
    late = world.link()
    world.now = T + timedelta(minutes=15)
    expired = problem(lambda: world.service.open_link(late))
    assert (expired.code, expired.return_url) == ("link_expired", "https://app.example.com/done?x=1")
    assert expired.message == "This connect link has expired. Ask for a new one."
    world.now = T + timedelta(minutes=15) - timedelta(seconds=1)
    assert world.service.open_link(world.link())  # made now: 15 minutes from now


def test_a_callback_is_refused_without_a_matching_unused_state(world):
    missing = problem(lambda: world.service.complete("acme", None, "c", None))
    assert (missing.code, missing.message) == ("state_missing", "The provider sent no state; start again.")
    unknown = problem(lambda: world.service.complete("acme", "unknown", "c", None))
    assert (unknown.code, unknown.message) == ("state_invalid", "This sign-in cannot be matched to a connect link.")
    _, state = world.opened()
    assert problem(lambda: world.service.complete("other", state, "c", None)).code == "state_invalid"
    assert world.service.complete("acme", state, "c", None).status == "connected"
    replay = problem(lambda: world.service.complete("acme", state, "c", None))
    assert (replay.code, replay.message, replay.return_url) == (
        "state_used", "This sign-in was already completed.", "https://app.example.com/done?x=1")


def test_only_the_browser_that_opened_the_link_can_finish(world):
    _, state = world.opened(browser="mine")
    for cookies in (None, [], ["theirs"]):
        refused = problem(lambda c=cookies: world.service.complete("acme", state, "c", None, c))
        assert (refused.code, refused.message) == ("browser_mismatch", "This sign-in was started in another browser. "
                                                   "Open the connect link again in the browser you sign in with.")
    assert world.flow.exchanges == []  # nothing spent: the right browser can still finish
    assert world.service.complete("acme", state, "c", None, ["other-flow", "mine"]).status == "connected"


def test_a_sign_in_that_took_longer_than_the_links_life_again_is_refused_and_spent(world):
    token, state = world.opened()
    world.now = T + timedelta(minutes=30)  # expires_at (T+15) + ttl (15): too long
    out = world.service.complete("acme", state, "c", None)
    assert out == ConnectOutcome("error", "link_expired", "The sign-in took too long.",
                                 return_url="https://app.example.com/done?x=1", provider="acme",
                                 tenant_id=world.tenant_id, user_id=world.user_id)
    assert world.attempt(token).outcome == "link_expired"
    assert world.flow.exchanges == []
    assert problem(lambda: world.service.complete("acme", state, "c", None)).code == "state_used"
    _, state = world.opened()
    world.now += timedelta(minutes=30) - timedelta(seconds=1)
    assert world.service.complete("acme", state, "c", None).status == "connected"


@pytest.mark.parametrize("error, code, outcome, message", [
    ("access_denied", None, "access_denied", "Access was not granted on the consent screen."),
    ("consent_required", None, "consent_required", "The provider answered consent_required."),
    ("interaction_required", None, "interaction_required", "The provider answered interaction_required."),
    ("server_error", "c", "server_error", "The provider answered server_error."),
    (None, None, "code_missing", "The provider answered without a code."),
    (None, "", "code_missing", "The provider answered without a code."),
])
def test_a_refused_consent_is_reported_with_its_reason(world, error, code, outcome, message):
    token, state = world.opened()
    out = world.service.complete("acme", state, code, error)
    assert (out.status, out.code, out.message) == ("error", outcome, message)
    assert (out.provider, out.tenant_id, out.user_id) == ("acme", world.tenant_id, world.user_id)
    assert world.attempt(token).outcome == (error or "code_missing")
    assert world.flow.exchanges == [] and world.connections() == []


def test_the_code_is_exchanged_with_the_verifier_and_nonce_of_this_attempt(world):
    token, state = world.opened()
    world.service.complete("acme", state, "the-code", None)
    [asked] = world.flow.urls
    assert world.flow.exchanges == [{"code": "the-code", "redirect_uri": f"{PUBLIC}/oauth/callback/acme",
                                     "code_verifier": asked["code_verifier"], "nonce": asked["nonce"]}]


@pytest.mark.parametrize("answer, code, message", [
    (ProviderError(ErrorKind.INVALID_REQUEST, "bad code", provider="acme", cause="invalid_grant"), "invalid_grant",
     "bad code"),
    (ProviderError(ErrorKind.PROVIDER_DOWN, "down", provider="acme"), "provider_error", "down"),
    (grant(scopes=("openid",)), "scopes_missing", "Permissions were not granted: calendar, email"),
    (grant(scopes=("calendar",)), "scopes_missing", "Permissions were not granted: email"),
    (grant(identity=False), "client_misconfigured", "The provider did not say who signed in."),
])
def test_a_failed_exchange_is_reported_and_stores_nothing(world, answer, code, message):
    world.flow.answer = answer
    token, state = world.opened()
    out = world.service.complete("acme", state, "c", None)
    assert (out.status, out.code, out.message, out.return_url) == ("error", code, message,
                                                                   "https://app.example.com/done?x=1")
    assert world.attempt(token).outcome == code
    assert world.connections() == [] and world.connected == []


def test_a_failed_probe_is_reported_and_stores_nothing(world):
    world.probe_error = ProviderError(ErrorKind.INVALID_REQUEST, "a shared mailbox", provider="acme",
                                      cause="shared_mailbox")
    token, state = world.opened()
    out = world.service.complete("acme", state, "c", None)
    assert out == ConnectOutcome("error", "shared_mailbox", "a shared mailbox", return_url="https://app.example.com/done?x=1",
                                 provider="acme", tenant_id=world.tenant_id, user_id=world.user_id)
    assert world.connections() == [] and world.attempt(token).outcome == "shared_mailbox"
    world.probe_error = ProviderError(ErrorKind.PROVIDER_DOWN, "down", provider="acme")
    _, state = world.opened()
    assert world.service.complete("acme", state, "c", None).code == "provider_error"


def test_a_sign_in_stores_the_connection_and_a_reconnect_replaces_it_in_place(world):
    token, state = world.opened()
    out = world.service.complete("acme", state, "c", None)
    [conn] = world.connections()
    assert out == ConnectOutcome("connected", connection_id=conn.id, return_url="https://app.example.com/done?x=1",
                                 provider="acme", tenant_id=world.tenant_id, user_id=world.user_id)
    assert world.attempt(token).outcome == "connected"
    assert (conn.provider, conn.provider_account_id, conn.account_email, conn.status) == (
        "acme", "acct-1", "ada@example.com", "active")
    assert (conn.scopes, conn.capabilities, conn.connected_at, conn.consented_at) == (
        ["calendar", "email"], ["calendar"], T, T)
    assert world.vault.decrypt(conn.access_token_enc, access_binding(conn.id)) == "at-1"
    assert (conn.reconnect_count, conn.flags) == (0, {})
    assert world.connected == [(conn.id, None)]
    with world.db.session() as s:
        row = s.get(Connection, conn.id)
        row.status, row.refresh_failures = "needs_reauth", 3
        row.last_error = {"cause": "token_revoked"}
        row.flags = {"cause": "old", "keep": 1}
    world.now = T + timedelta(hours=1)
    _, state = world.opened()
    world.flow.answer = Grant("at-2", None, T + timedelta(hours=2), ("calendar", "email"),
                              Identity("acct-1", "ada@example.com"))
    again = world.service.complete("acme", state, "c", None)
    [same] = world.connections()
    assert again.connection_id == conn.id == same.id
    assert (same.status, same.last_error, same.refresh_failures, same.reconnect_count) == ("active", None, 0, 1)
    assert (same.connected_at, same.consented_at, same.flags) == (T, T + timedelta(hours=1), {"keep": 1})
    assert world.vault.decrypt(same.access_token_enc, access_binding(conn.id)) == "at-2"
    assert world.connected[-1] == (conn.id, "needs_reauth")


def test_another_account_than_the_users_own_is_flagged_not_refused(world):
    world.flow.answer = grant(account="acct-2", email="someone@else.example")
    _, state = world.opened()
    assert world.service.complete("acme", state, "c", None).status == "connected"
    [conn] = world.connections()
    assert conn.flags == {"account_mismatch": {"since": T.isoformat(), "account_email": "someone@else.example",
                                               "user_email": "ada@example.com"}}


def test_account_check_ignores_case_and_spaces_and_clears_an_old_warning():
    class U:
        email = " Ada@Example.com"

    old = {"account_mismatch": {"since": "x"}, "other": 1}
    assert _with_account_check(old, U(), "ada@example.COM ", T) == {"other": 1}
    assert _with_account_check({}, None, "x@example.com", T) == {}
    assert _with_account_check({}, U(), None, T) == {}

    class NoEmail:
        email = None

    assert _with_account_check({}, NoEmail(), "x@example.com", T) == {}  # nothing to compare with
    flagged = _with_account_check({}, U(), "Bob@example.com", T)
    assert flagged == {"account_mismatch": {"since": T.isoformat(), "account_email": "Bob@example.com",
                                            "user_email": "ada@example.com"}}
    assert old == {"account_mismatch": {"since": "x"}, "other": 1}  # not changed in place


def test_a_login_shared_by_two_users_is_named_on_both_when_the_provider_revokes_older_grants(world, database):
    world.flow.new_grant_revokes_previous = True
    world.flow.answer = grant(account=f"shared-{uuid.uuid4().hex[:8]}")  # the database is shared with other tests
    _, state = world.opened()
    first = world.service.complete("acme", state, "c", None).connection_id
    assert world.connections()[0].flags == {}
    other = World(database)  # another user (another tenant) signs in with the same login
    other.flow = world.flow
    other.service.flow_for = lambda p: world.flow
    other.tokens = world.tokens
    other.service.tokens = world.tokens
    _, state = other.opened()
    world.now = other.now = T + timedelta(minutes=1)
    second = other.service.complete("acme", state, "c", None).connection_id
    with database.session() as s:
        a, b = s.get(Connection, first), s.get(Connection, second)
        record = b.flags["credentials_shared"]
        assert a.flags["credentials_shared"] == record and record["connections"] == 2
        assert record["since"] == (T + timedelta(minutes=1)).isoformat()
        assert record["message"].startswith("The Acme login ada@example.com is connected by 2 hub users. Acme keeps")
        assert (a.status, b.status) == ("needs_reauth", "active")
        assert a.last_error["cause"] == "credentials_shared" and a.last_error["kind"] == "auth_revoked"
        assert a.last_error["at"] == record["since"] and a.last_error["provider_code"] is None
        assert "Another hub user connected the same Acme login (ada@example.com)" in a.last_error["message"]
    assert world.status_changes == [(first, "active", "credentials_shared", "acme", True)]


def test_the_return_url_gets_the_outcome_added_to_its_own_query():
    base = dict(return_url="https://app.example.com/done?x=1&empty=", provider="acme")
    ok = ConnectOutcome("connected", connection_id="con_1", **base).redirect_url()
    parts = urlsplit(ok)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "app.example.com", "/done")
    assert parse_qsl(parts.query, keep_blank_values=True) == [("x", "1"), ("empty", ""), ("status", "connected"),
                                                              ("connection_id", "con_1"), ("provider", "acme")]
    failed = ConnectOutcome("error", code="access_denied", message="no", **base).redirect_url()
    assert parse_qsl(urlsplit(failed).query)[-3:] == [("status", "error"), ("code", "access_denied"),
                                                      ("provider", "acme")]
    assert ConnectOutcome("connected").redirect_url() is None
    assert ConnectOutcome("connected", return_url="").redirect_url() is None


def test_consent_errors_name_known_reasons_and_keep_unknown_ones():
    assert _consent_error("access_denied") == "access_denied"
    assert _consent_error("temporarily_unavailable") == "temporarily_unavailable"
    assert _consent_error(None) == "code_missing" and _consent_error("") == "code_missing"
    assert _consent_message(None) == "The provider answered without a code."


# The credential-form path (CalDAV's app passwords): oauth/credential_form.py through the service.
from oauth.credential_form import CredentialForm, FormField  # noqa: E402


class FormWorld(World):
    def __init__(self, database) -> None:
        super().__init__(database)
        self.typed: list[dict] = []
        self.refusal: ProviderError | None = None
        self.form = CredentialForm(
            provider="acme", title="Acme", intro="Sign in", verify=self.verify,
            fields=(FormField("server_url", "Server", "url"), FormField("username", "User", "text"),
                    FormField("password", "App password", "password")),
            fixes={"credentials_invalid": "Make a new app password."})
        self.service.flow_for = lambda p: {"acme": self.form}[p]

    def verify(self, values) -> Grant:
        self.typed.append(dict(values))
        if self.refusal:
            raise self.refusal
        return Grant('{"password":"p"}', None, None, (), Identity("acct-form", "ada@example.com"))


@pytest.fixture
def form_world(database) -> FormWorld:
    return FormWorld(database)


def test_a_form_link_shows_the_form_until_it_is_submitted(form_world):
    token = form_world.link()
    step = form_world.service.open_link(token)
    assert step.form is form_world.form and step.return_url == "https://app.example.com/done?x=1"
    again = form_world.service.open_link(token)  # a reload: a fresh state, the old one is void
    assert again.state != step.state
    assert form_world.attempt(token).opened_at == T
    for stale in (step.state, None):
        refused = problem(lambda s=stale: form_world.service.submit_form(token, s, {}))
        assert (refused.code, refused.message, refused.return_url) == (
            "state_invalid", "This form is out of date; open the connect link again.", "https://app.example.com/done?x=1")
    assert form_world.typed == []
    out = form_world.service.submit_form(token, again.state, {"server_url": "https://dav.example.com",
                                                             "username": "ada", "password": "p", "extra": "x"})
    assert form_world.typed == [{"server_url": "https://dav.example.com", "username": "ada", "password": "p"}]
    [conn] = form_world.connections()
    assert out == ConnectOutcome("connected", connection_id=conn.id, return_url="https://app.example.com/done?x=1",
                                 provider="acme", tenant_id=form_world.tenant_id, user_id=form_world.user_id)
    assert conn.provider_account_id == "acct-form" and conn.access_expires_at is None
    assert problem(lambda: form_world.service.open_link(token)).code == "link_used"
    assert problem(lambda: form_world.service.submit_form(token, again.state, {})).code == "link_used"


def test_a_refused_credential_shows_the_form_again_without_the_password(form_world):
    token = form_world.link()
    step = form_world.service.open_link(token)
    form_world.refusal = ProviderError(ErrorKind.AUTH_EXPIRED, "wrong password", provider="acme",
                                       cause="credentials_invalid")
    again = form_world.service.submit_form(token, step.state, {"server_url": "https://dav", "username": "ada",
                                                               "password": "secret"})
    assert again.values == {"server_url": "https://dav", "username": "ada"}
    assert again.form is form_world.form and again.return_url == "https://app.example.com/done?x=1"
    assert again.error is form_world.refusal and again.state != step.state
    assert form_world.form.fix_for(again.error) == "Make a new app password."
    assert form_world.form.fix_for(None) is None
    assert form_world.form.values({"username": None}) == {"server_url": "", "username": "", "password": ""}
    assert form_world.connections() == []
    form_world.refusal = None
    assert form_world.service.submit_form(token, again.state, {"password": "p"}).status == "connected"


def test_a_form_provider_has_no_oauth_callback_and_an_oauth_link_no_form(form_world, world):
    token = form_world.link()
    step = form_world.service.open_link(token)
    assert problem(lambda: form_world.service.complete("acme", step.state, "c", None)).code == "state_invalid"
    oauth_token = world.link()
    wrong = problem(lambda: world.service.submit_form(oauth_token, "s", {}))
    assert (wrong.code, wrong.message) == ("link_invalid", "This connect link does not take a form.")
    no_consent = problem(lambda: form_world.service._oauth("acme"))
    assert (no_consent.code, no_consent.message) == ("link_invalid", "This provider connects with a form, not a consent.")
    late = form_world.link()
    form_world.now = T + timedelta(minutes=15)
    assert problem(lambda: form_world.service.open_link(late)).code == "link_expired"


def test_a_form_credential_cannot_be_refreshed_or_revoked(form_world):
    with pytest.raises(ProviderError) as info:
        form_world.form.refresh("anything")
    assert (info.value.kind, info.value.cause, info.value.provider) == (ErrorKind.AUTH_REVOKED,
                                                                        "credentials_invalid", "acme")
    assert info.value.message == "a form credential cannot be refreshed"  # shown as the connection's last error
    assert form_world.form.revoke("anything") is None
    assert form_world.form.required_scopes == () and form_world.form.new_grant_revokes_previous is False


def test_a_form_submitted_again_while_the_first_is_verified_connects_once(form_world):
    """A reload (a fresh state) and a second submit while the provider still checks the first:
    both pass the state check, only the first to finish stores the connection."""
    token = form_world.link()
    first = form_world.service.open_link(token)
    inner: list = []
    verify = form_world.verify

    def slow_verify(values):
        if not inner:  # the other tab, while this one waits for the provider
            inner.append(None)
            reload = form_world.service.open_link(token)
            inner[0] = form_world.service.submit_form(token, reload.state, {"password": "p"})
        return verify(values)

    form_world.form = dataclasses.replace(form_world.form, verify=slow_verify)
    late = problem(lambda: form_world.service.submit_form(token, first.state, {"password": "p"}))
    assert (late.code, late.message, late.return_url) == (
        "state_used", "This sign-in was already completed.", "https://app.example.com/done?x=1")
    [conn] = form_world.connections()
    assert inner[0].status == "connected" and inner[0].connection_id == conn.id


def test_the_same_account_id_on_another_provider_is_another_connection(world):
    world.providers.add("other")
    _, state = world.opened()
    first = world.service.complete("acme", state, "c", None).connection_id
    token = world.service.create_link(world.tenant_id, world.user, "other", None, None).url.rsplit("/", 1)[1]
    world.service.open_link(token)
    second = world.service.complete("other", world.flow.urls[-1]["state"], "c", None).connection_id
    assert first != second
    assert sorted((c.provider, c.provider_account_id, c.reconnect_count) for c in world.connections()) == [
        ("acme", "acct-1", 0), ("other", "acct-1", 0)]


def test_a_shared_login_knocks_out_only_that_login_on_that_provider(world, database):
    """Only connections to the same provider account are affected; each keeps its own flags;
    one already needing reauthorization keeps its own error; and the sign-in's own warnings
    (another account than the user's) stay next to the shared-login note."""
    world.flow.new_grant_revokes_previous = True
    account = f"shared-{uuid.uuid4().hex[:8]}"
    people = [World(database) for _ in range(4)]
    rows = [("acme", account, "needs_reauth", {"keep": 0}), ("acme", account, "active", {"keep": 1}),
            ("zoomish", account, "active", {"keep": 2}), ("acme", account + "-x", "active", {"keep": 3})]
    ids = []
    with database.session() as s:
        for person, (provider, acct, status, flags) in zip(people, rows):
            conn = Connection(tenant_id=person.tenant_id, user_id=person.user_id, provider=provider,
                              provider_account_id=acct, account_email="shared@example.com", status=status,
                              flags=flags)
            s.add(conn)
            s.flush()
            ids.append(conn.id)
    world.flow.answer = grant(account=account, email="shared@example.com")
    _, state = world.opened()
    mine = world.service.complete("acme", state, "c", None).connection_id
    with database.session() as s:
        me, *others = [s.get(Connection, cid) for cid in [mine, *ids]]
        record = me.flags["credentials_shared"]
        assert record["connections"] == 3 and record["since"] == T.isoformat()
        assert me.flags == {"credentials_shared": record, "account_mismatch": {
            "since": T.isoformat(), "account_email": "shared@example.com", "user_email": "ada@example.com"}}
        assert [(o.status, o.flags) for o in others] == [
            ("needs_reauth", {"keep": 0, "credentials_shared": record}),
            ("needs_reauth", {"keep": 1, "credentials_shared": record}),
            ("active", {"keep": 2}), ("active", {"keep": 3})]
        assert others[0].last_error is None  # not knocked out by this sign-in: it was out already
        assert others[1].last_error["cause"] == "credentials_shared"
    assert world.status_changes == [(ids[1], "active", "credentials_shared", "acme", True)]


def test_a_second_account_on_the_same_provider_is_a_second_connection_and_reconnects_count(world):
    for account in ("acct-1", "acct-2", "acct-1", "acct-1"):
        world.flow.answer = grant(account=account)
        _, state = world.opened()
        assert world.service.complete("acme", state, "c", None).status == "connected"
    assert sorted((c.provider_account_id, c.reconnect_count) for c in world.connections()) == [
        ("acct-1", 2), ("acct-2", 0)]


def test_the_callback_address_is_under_the_public_url_whatever_its_path():
    service = ConnectService(None, None, None, lambda p: None, "https://example.com/hubX/", None,  # type: ignore[arg-type]
                             lambda: T)
    assert service.redirect_uri("acme") == "https://example.com/hubX/oauth/callback/acme"


def test_the_verifier_is_sealed_to_its_own_row_and_column():
    """The binding names where the ciphertext lives: a verifier copied to another attempt (or a
    binding renamed between deploys) does not decrypt."""
    assert verifier_binding("cat_1") == Binding(ConnectAttempt.__tablename__, "code_verifier", "cat_1")
