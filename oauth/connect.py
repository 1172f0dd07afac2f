"""Connect links and the OAuth round trip behind them.

1. `create_link` stores a single-use, 15-minute link (only its hash is kept).
2. `open_link` consumes the link, makes state + a PKCE verifier (kept server-side, the verifier
   encrypted, the state hashed) and returns the provider's consent URL.
3. `complete` consumes the state, exchanges the code with the verifier, checks the granted
   scopes and the identity, and stores the tokens encrypted — replacing them in place when the
   same provider account reconnects.
Every outcome is a `ConnectOutcome` the web layer turns into a redirect to `return_url`.

Providers that sign in with a credential form (oauth/credential_form.py) take a shorter path:
`open_link` answers a `FormStep` (the form to show, with a single-use CSRF state), and
`submit_form` verifies what was typed at the provider and stores it like a grant; a refused
credential shows the form again with the cause, until the link expires.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable
from urllib.parse import urlencode, urlsplit, urlunsplit, parse_qsl

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.storage.db import Database
from hub.storage.models import ConnectAttempt, Connection, User
from oauth.credential_form import ConnectMethod, CredentialForm
from oauth.flows import Grant, OAuthFlow
from oauth.tokens import TokenManager
from oauth.vault import Binding, TokenVault
from providers.base import ErrorKind, ProviderError

SHARED = "credentials_shared"


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def verifier_binding(attempt_id: str) -> Binding:
    return Binding("connect_attempts", "code_verifier", attempt_id)


@dataclass(frozen=True)
class ConnectLink:
    url: str
    expires_at: datetime


@dataclass(frozen=True)
class ConnectOutcome:
    status: str  # connected | error
    code: str | None = None
    message: str | None = None
    connection_id: str | None = None
    return_url: str | None = None
    provider: str | None = None
    tenant_id: str | None = None
    user_id: str | None = None

    def redirect_url(self) -> str | None:
        if not self.return_url:
            return None
        params = {"status": self.status}
        if self.connection_id:
            params["connection_id"] = self.connection_id
        if self.code:
            params["code"] = self.code
        if self.provider:
            params["provider"] = self.provider
        parts = urlsplit(self.return_url)
        query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
        return urlunsplit(parts._replace(query=urlencode(query)))


@dataclass(frozen=True)
class FormStep:
    """A credential form to show (again): `state` goes into the form as its CSRF token;
    `values` refills what was typed (never a password); `error` says why the last try failed."""

    form: CredentialForm
    state: str
    return_url: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    error: ProviderError | None = None


class LinkProblem(Exception):
    """A link or state that cannot be used (unknown, used, expired)."""

    def __init__(self, code: str, message: str, return_url: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.return_url = return_url


# (connection, grant, flow) -> capabilities, or raises ProviderError with a cause such as
# shared_mailbox when the account cannot be used at all.
CapabilityProbe = Callable[[Connection, Grant], list[str]]

# (session, connection, status before this sign-in — None for a new connection), called inside
# the transaction that stores the connection, so what it writes commits with it.
ConnectedListener = Callable[[object, Connection, "str | None"], None]


class ConnectService:
    def __init__(self, db: Database, vault: TokenVault, tokens: TokenManager,
                 flow_for: Callable[[str], ConnectMethod], public_url: str,
                 probe: CapabilityProbe, clock: Callable[[], datetime], ttl_seconds: int = 900,
                 on_connected: ConnectedListener | None = None,
                 extra_scopes: Callable[[str, str], tuple[str, ...]] | None = None) -> None:
        self.db = db
        self.vault = vault
        self.tokens = tokens
        self.flow_for = flow_for
        self.public_url = public_url.rstrip("/")
        self.probe = probe
        self.clock = clock
        self.ttl = timedelta(seconds=ttl_seconds)
        self.on_connected = on_connected
        # (tenant_id, provider) -> scopes of the tenant's optional features (attendance).
        self.extra_scopes = extra_scopes

    def redirect_uri(self, provider: str) -> str:
        return f"{self.public_url}/oauth/callback/{provider}"

    def create_link(self, tenant_id: str, user: User, provider: str, return_url: str | None,
                    login_hint: str | None, *, ttl: timedelta | None = None,
                    session: Session | None = None) -> ConnectLink:
        """`session`: mint the link inside the caller's transaction (a webhook that carries the
        link commits with it). `ttl`: a link sent by webhook must outlive the retries."""
        token = secrets.token_urlsafe(32)
        expires = self.clock() + (ttl or self.ttl)
        attempt = ConnectAttempt(tenant_id=tenant_id, user_id=user.id, provider=provider,
                                 link_hash=digest(token), return_url=return_url,
                                 login_hint=login_hint or user.email, expires_at=expires)
        if session is not None:
            session.add(attempt)
        else:
            with self.db.session() as own:
                own.add(attempt)
        return ConnectLink(f"{self.public_url}/connect/{token}", expires)

    def open_link(self, token: str, browser_secret: str | None = None) -> str | FormStep:
        """The provider's consent URL to redirect to, or for a credential-form provider the form.
        `browser_secret`: a random value the web layer also puts in a cookie on this browser;
        `complete` then accepts the OAuth callback only with it."""
        with self.db.session() as session:
            attempt = self._link_attempt(session, token)
            method = self.flow_for(attempt.provider)
            if isinstance(method, CredentialForm):
                # A form may be shown again (reload, a typo) until it is submitted successfully.
                self._check_link(attempt, used=attempt.completed_at is not None)
                attempt.opened_at = attempt.opened_at or self.clock()
                return FormStep(method, self._new_form_state(attempt), attempt.return_url)
            self._check_link(attempt, used=attempt.opened_at is not None)
            # Lengths are minimums (None is the 32-byte default): a mutant only makes them longer.
            state = secrets.token_urlsafe(32)  # pragma: no mutate
            verifier = secrets.token_urlsafe(64)  # pragma: no mutate
            nonce = secrets.token_urlsafe(16)  # pragma: no mutate
            attempt.opened_at = self.clock()
            attempt.state_hash = digest(state)
            attempt.code_verifier_enc = self.vault.encrypt(verifier, verifier_binding(attempt.id))
            attempt.nonce = nonce
            attempt.browser_hash = digest(browser_secret) if browser_secret else None
            provider, hint, tenant_id = attempt.provider, attempt.login_hint, attempt.tenant_id
        extra = self.extra_scopes(tenant_id, provider) if self.extra_scopes is not None else ()
        flow = self._oauth(provider)
        if extra:  # only flows that take more scopes on the consent are asked to
            return flow.authorization_url(redirect_uri=self.redirect_uri(provider), state=state,
                                          code_verifier=verifier, nonce=nonce, login_hint=hint, extra_scopes=extra)
        return flow.authorization_url(redirect_uri=self.redirect_uri(provider), state=state,
                                      code_verifier=verifier, nonce=nonce, login_hint=hint)

    def submit_form(self, token: str, state: str | None, submitted: dict[str, str]) -> ConnectOutcome | FormStep:
        """Check a posted credential form: the CSRF state must be the one last handed out (it is
        used up here, so a double submit cannot connect twice); a credential the provider
        refuses gives the form again with the cause; one it accepts is stored like a grant."""
        with self.db.session() as session:
            attempt = self._link_attempt(session, token)
            method = self.flow_for(attempt.provider)
            if not isinstance(method, CredentialForm):
                raise LinkProblem("link_invalid", "This connect link does not take a form.")
            self._check_link(attempt, used=attempt.completed_at is not None)
            if not state or attempt.state_hash != digest(state):
                raise LinkProblem("state_invalid", "This form is out of date; open the connect link again.",
                                  attempt.return_url)
            next_state = self._new_form_state(attempt)
            provider, tenant_id, user_id = attempt.provider, attempt.tenant_id, attempt.user_id
            attempt_return_url = attempt.return_url
            base = dict(return_url=attempt_return_url, provider=provider, tenant_id=tenant_id, user_id=user_id)
            attempt_id = attempt.id
        values = method.values(submitted)
        try:
            grant = method.verify(values)
        except ProviderError as err:
            kept = {f.name: values[f.name] for f in method.fields if f.kind != "password"}
            return FormStep(method, next_state, attempt_return_url, kept, err)
        with self.db.session() as session:
            attempt = session.execute(select(ConnectAttempt).where(
                ConnectAttempt.id == attempt_id).with_for_update()).scalar_one()
            if attempt.completed_at is not None:
                raise LinkProblem("state_used", "This sign-in was already completed.", attempt.return_url)
            attempt.completed_at = self.clock()
        return self._store(attempt_id, tenant_id, user_id, provider, grant, base)

    def _oauth(self, provider: str) -> OAuthFlow:
        method = self.flow_for(provider)
        if isinstance(method, CredentialForm):  # guarded by the callers: a form has no consent
            raise LinkProblem("link_invalid", "This provider connects with a form, not a consent.")
        return method

    @staticmethod
    def _link_attempt(session: Session, token: str) -> ConnectAttempt:
        """The attempt behind a connect link, locked for this transaction."""
        attempt = session.execute(select(ConnectAttempt).where(
            ConnectAttempt.link_hash == digest(token)).with_for_update()).scalar_one_or_none()
        if attempt is None:
            raise LinkProblem("link_invalid", "This connect link is not valid.")
        return attempt

    def _check_link(self, attempt: ConnectAttempt, *, used: bool) -> None:
        if used:
            raise LinkProblem("link_used", "This connect link was already used. Ask for a new one.",
                              attempt.return_url)
        if attempt.expires_at <= self.clock():
            raise LinkProblem("link_expired", "This connect link has expired. Ask for a new one.",
                              attempt.return_url)

    @staticmethod
    def _new_form_state(attempt: ConnectAttempt) -> str:
        state = secrets.token_urlsafe(32)  # pragma: no mutate (None is secrets' default, 32 bytes; 33 only longer)
        attempt.state_hash = digest(state)
        return state

    def complete(self, provider: str, state: str | None, code: str | None,
                 error: str | None, browser_secrets: list[str] | None = None) -> ConnectOutcome:
        """`browser_secrets`: the binding cookies this browser sent (several flows may be open)."""
        if not state:
            raise LinkProblem("state_missing", "The provider sent no state; start again.")
        with self.db.session() as session:
            attempt = session.execute(select(ConnectAttempt).where(
                ConnectAttempt.state_hash == digest(state)).with_for_update()).scalar_one_or_none()
            if attempt is None or attempt.provider != provider or isinstance(self.flow_for(provider), CredentialForm):
                raise LinkProblem("state_invalid", "This sign-in cannot be matched to a connect link.")
            if attempt.completed_at is not None:
                raise LinkProblem("state_used", "This sign-in was already completed.", attempt.return_url)
            if attempt.browser_hash and not any(
                    hmac.compare_digest(digest(s), attempt.browser_hash) for s in browser_secrets or ()):
                # Not spent: the browser that opened the link can still finish.
                raise LinkProblem("browser_mismatch", "This sign-in was started in another browser. Open the "
                                                      "connect link again in the browser you sign in with.")
            attempt.completed_at = self.clock()
            base = dict(return_url=attempt.return_url, provider=provider,
                        tenant_id=attempt.tenant_id, user_id=attempt.user_id)
            # The attempt is spent whatever happens next: a replayed callback must not work.
            if attempt.expires_at + self.ttl <= self.clock():
                attempt.outcome = "link_expired"
                return ConnectOutcome("error", "link_expired", "The sign-in took too long.", **base)
            if error or not code:
                attempt.outcome = error or "code_missing"
                return ConnectOutcome("error", _consent_error(error), _consent_message(error), **base)
            # open_link stores both with the state: the fallbacks are for the type checker.
            verifier = self.vault.decrypt(attempt.code_verifier_enc or "",  # pragma: no mutate (see above)
                                          verifier_binding(attempt.id))
            nonce = attempt.nonce or ""  # pragma: no mutate (see above)
            tenant_id, user_id = attempt.tenant_id, attempt.user_id
            attempt_id = attempt.id
        flow = self._oauth(provider)
        # The consent asked for the tenant's feature scopes too: a flow that names scopes when
        # redeeming (Microsoft) asks for the same ones again.
        extra = self.extra_scopes(tenant_id, provider) if self.extra_scopes is not None else ()
        redeem = {"extra_scopes": extra} if extra else {}
        try:
            grant = flow.exchange(code=code, redirect_uri=self.redirect_uri(provider),
                                  code_verifier=verifier, nonce=nonce, **redeem)
        except ProviderError as err:
            return self._finish(attempt_id, ConnectOutcome(
                "error", err.cause or "provider_error", err.message, **base))
        missing = [s for s in flow.required_scopes if s not in grant.scopes]
        if missing:
            return self._finish(attempt_id, ConnectOutcome(
                "error", "scopes_missing", "Permissions were not granted: " + ", ".join(missing), **base))
        return self._store(attempt_id, tenant_id, user_id, provider, grant, base)

    def _store(self, attempt_id: str, tenant_id: str, user_id: str, provider: str, grant: Grant,
               base: dict) -> ConnectOutcome:
        identity = grant.identity
        if identity is None:
            return self._finish(attempt_id, ConnectOutcome("error", "client_misconfigured",
                                                           "The provider did not say who signed in.", **base))
        now = self.clock()
        with self.db.session() as session:
            # FOR UPDATE: a refresh in flight for this row (which holds the same lock) finishes
            # first, so it cannot write a dead grant or needs_reauth over the new tokens.
            conn = session.execute(select(Connection).where(
                Connection.user_id == user_id, Connection.provider == provider,
                Connection.provider_account_id == identity.account_id).with_for_update()).scalar_one_or_none()
            created = conn is None
            if conn is None:
                conn = Connection(tenant_id=tenant_id, user_id=user_id, provider=provider,
                                  provider_account_id=identity.account_id, connected_at=now)
                session.add(conn)
                session.flush()
            else:
                conn.reconnect_count += 1
            old_status = conn.status if not created else None
            self.tokens.store_grant(conn, grant)
            conn.account_email = identity.email
            conn.scopes = list(grant.scopes)
            conn.consented_at = now
            conn.refresh_failures = 0
            try:
                conn.capabilities = self.probe(conn, grant)
            except ProviderError as err:
                session.rollback()
                return self._finish(attempt_id, ConnectOutcome("error", err.cause or "provider_error",
                                                               err.message, **base))
            conn.status = "active"
            conn.last_error = None
            conn.flags = _with_account_check({k: v for k, v in (conn.flags or {}).items() if k != "cause"},
                                             session.get(User, user_id), identity.email, now)
            if self.flow_for(provider).new_grant_revokes_previous:  # every connect method says
                self._note_shared_login(session, conn, now)
            if self.on_connected:
                self.on_connected(session, conn, old_status)
            attempt = session.get(ConnectAttempt, attempt_id)
            assert attempt is not None  # locked above, in this transaction
            attempt.outcome = "connected"
            connection_id = conn.id
        return ConnectOutcome("connected", connection_id=connection_id, **base)

    def _note_shared_login(self, session, conn: Connection, now: datetime) -> None:
        """The provider revokes an account's earlier grants when it is authorized again (Zoom
        4741), so every other hub connection to this same login died just now. Record that on
        all of them as `credentials_shared`: the people involved must hear the real reason
        (they share one login, and each sign-in knocks the other out), not a generic
        revocation. Connections of other tenants count too — the grants belong to this hub's
        OAuth app — but nothing about them is named."""
        others = list(session.execute(select(Connection).where(
            Connection.provider == conn.provider,
            Connection.provider_account_id == conn.provider_account_id,
            Connection.id != conn.id).with_for_update()).scalars())
        flags = {k: v for k, v in (conn.flags or {}).items() if k != SHARED}
        if not others:
            conn.flags = flags
            return
        title = conn.provider.capitalize()
        login = conn.account_email or conn.provider_account_id
        record = {"since": now.isoformat(), "connections": 1 + len(others),
                  "message": f"The {title} login {login} is connected by {len(others) + 1} hub users. {title} keeps "
                             "only the newest authorization of a login, so each new sign-in "  # pragma: no mutate (wording)
                             "disconnects the others, and people sharing one login cannot hold "  # pragma: no mutate (wording)
                             "overlapping meetings."}  # pragma: no mutate (wording)
        conn.flags = {**flags, SHARED: record}
        knocked_out = ProviderError(
            ErrorKind.AUTH_REVOKED,
            f"Another hub user connected the same {title} login ({login}); {title} keeps only the newest "
            "authorization, so this connection stopped working. Give each person their own "  # pragma: no mutate (wording)
            f"{title} user, then reconnect.", provider=conn.provider, cause=SHARED)
        for other in others:
            other.flags = {**(other.flags or {}), SHARED: record}
            if other.status != "active":
                continue
            other.status = "needs_reauth"
            other.last_error = {**knocked_out.as_dict(), "provider_code": None, "at": now.isoformat()}
            if self.tokens.on_status_change:
                self.tokens.on_status_change(session, other, "active", knocked_out)

    def _finish(self, attempt_id: str, outcome: ConnectOutcome) -> ConnectOutcome:
        with self.db.session() as session:
            attempt = session.get(ConnectAttempt, attempt_id)
            if attempt is not None:
                attempt.outcome = outcome.code or outcome.status
        return outcome


def _consent_error(error: str | None) -> str:
    """The provider's reason as it said it (access_denied, consent_required, interaction_required
    or any other: an unknown one is still more useful than a generic code)."""
    return error or "code_missing"


def _consent_message(error: str | None) -> str:
    if error == "access_denied":
        return "Access was not granted on the consent screen."
    return f"The provider answered {error or 'without a code'}."


ACCOUNT_MISMATCH = "account_mismatch"


def _with_account_check(flags: dict, user: User | None, account_email: str | None, now: datetime) -> dict:
    """Record when the account connected is not the user's own address — someone else's
    account, or a second one of theirs. A warning, not a refusal: aliases and shared calendars
    are legitimate, but support must be able to see it."""
    flags = {k: v for k, v in flags.items() if k != ACCOUNT_MISMATCH}
    mine = (user.email or "").strip().lower() if user is not None else ""
    theirs = (account_email or "").strip().lower()
    if mine and theirs and mine != theirs:
        flags[ACCOUNT_MISMATCH] = {"since": now.isoformat(), "account_email": account_email, "user_email": mine}
    return flags
