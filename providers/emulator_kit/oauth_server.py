"""The authorization-server core shared by every emulated provider: authorization codes
(single-use, short-lived, bound to client, redirect URI, PKCE challenge and scopes), grants,
access tokens with expiry, refresh tokens (optionally rotating), revocation and id_tokens.

One ``AuthorizationServer`` per emulator; the provider's ``OAuthDialect`` decides every wire
detail. Faults that kill credentials act here: ``revoke_grants`` (scenario ``invalid_grant``:
refresh is refused and access tokens stop working until the user consents again) and
``expire_access_tokens`` (refresh still works).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .accounts import Account, normalise_email
from .config import OAuthClient
from .oauth_dialect import AuthorizationRequest, OAuthDialect, OAuthError, OAuthErrorKind
from .signing import SigningKey

_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


@dataclass
class Grant:
    """One consent of one account to one client: what refresh tokens stand for."""

    id: str
    client_id: str
    email: str
    scopes: tuple[str, ...]
    created_at: float
    offline: bool
    revoked_at: float | None = None
    # Why it died, e.g. {"scenario": "invalid_grant", "params": {"aadsts": 700082}}.
    revoked_reason: dict[str, Any] | None = None

    @property
    def alive(self) -> bool:
        return self.revoked_at is None


@dataclass
class AuthorizationCode:
    code: str
    request: AuthorizationRequest
    email: str
    scopes: tuple[str, ...]
    expires_at: float
    wants_refresh_token: bool
    redeemed_at: float | None = None


@dataclass
class AccessToken:
    token: str
    grant_id: str
    client_id: str
    email: str
    scopes: tuple[str, ...]
    expires_at: float


@dataclass
class RefreshToken:
    token: str
    grant_id: str
    client_id: str
    email: str
    dead_reason: str | None = None  # "rotated" once replaced and killed


@dataclass
class IssuedTokens:
    access_token: str
    expires_in: int
    scopes: tuple[str, ...]
    grant: Grant
    refresh_token: str | None = None
    id_token: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class AuthorizationServer:
    def __init__(
        self,
        *,
        dialect: OAuthDialect,
        client: OAuthClient,
        other_clients: tuple[OAuthClient, ...] = (),
        clock: Callable[[], float],
        signing_key: SigningKey,
        account_lookup: Callable[[str], Account | None],
        access_token_lifetime: int = 3599,
        code_lifetime: int = 600,
        require_pkce: bool = True,
    ) -> None:
        self.dialect = dialect
        self.client = client  # the hub's registration
        self.clients = {c.client_id: c for c in (*other_clients, client)}
        self._clock = clock
        self._signing_key = signing_key
        self._account_lookup = account_lookup
        self.access_token_lifetime = access_token_lifetime
        self.code_lifetime = code_lifetime
        self.require_pkce = require_pkce
        self._lock = threading.RLock()
        self._codes: dict[str, AuthorizationCode] = {}
        self._grants: dict[str, Grant] = {}
        self._access: dict[str, AccessToken] = {}
        self._refresh: dict[str, RefreshToken] = {}

    # -- authorization endpoint --------------------------------------------------------------
    def check_authorization_request(self, args: Mapping[str, str]) -> AuthorizationRequest:
        """Validate an authorize call; errors here are shown on a page, never redirected."""
        request = self.dialect.parse_authorization_request(args)
        client = self.clients.get(request.client_id)
        if client is None:
            raise OAuthError(OAuthErrorKind.UNKNOWN_CLIENT, "The OAuth client was not found.")
        if not client.allows_redirect(request.redirect_uri):
            raise OAuthError(
                OAuthErrorKind.REDIRECT_URI_MISMATCH,
                f"redirect_uri {request.redirect_uri!r} is not registered for this client.",
            )
        if request.response_type != "code":
            raise OAuthError(
                OAuthErrorKind.UNSUPPORTED_RESPONSE_TYPE,
                f"Unsupported response_type {request.response_type!r}; only 'code'.",
            )
        if not request.scopes:
            raise OAuthError(OAuthErrorKind.INVALID_REQUEST, "Missing required parameter: scope")
        supported = self.dialect.supported_scopes
        unknown = [s for s in request.scopes if supported is not None and s not in supported]
        if unknown:
            raise OAuthError(OAuthErrorKind.INVALID_SCOPE, f"Some requested scopes were invalid: {unknown}")
        if request.code_challenge is None:
            if self.require_pkce and client.require_pkce:
                raise OAuthError(OAuthErrorKind.INVALID_REQUEST, "Missing required parameter: code_challenge")
        elif (request.code_challenge_method or "plain") not in self.dialect.pkce_methods:
            raise OAuthError(
                OAuthErrorKind.INVALID_REQUEST,
                f"Invalid code_challenge_method {request.code_challenge_method!r}; use "
                + " or ".join(self.dialect.pkce_methods),
            )
        return request

    def issue_code(self, request: AuthorizationRequest, email: str, selected: list[str]) -> tuple[str, tuple[str, ...]]:
        """The user allowed: remember the decision under a fresh single-use code."""
        email = normalise_email(email)
        now = self._clock()
        with self._lock:
            live = [g for g in self._grants.values() if g.alive and g.client_id == request.client_id and g.email == email]
            previous = {s for g in live for s in g.scopes}
            scopes = self.dialect.granted_scopes(request, selected, previous)
            wants_refresh = self.dialect.issues_refresh_token(request, scopes, any(g.offline for g in live))
            code = self.dialect.code_prefix + secrets.token_urlsafe(32)
            self._codes[code] = AuthorizationCode(
                code=code,
                request=request,
                email=email,
                scopes=scopes,
                expires_at=now + self.code_lifetime,
                wants_refresh_token=wants_refresh,
            )
            return code, scopes

    # -- token endpoint ----------------------------------------------------------------------
    def authenticate_client(self, form: Mapping[str, str], basic: tuple[str, str] | None) -> OAuthClient:
        methods = self.dialect.client_auth_methods
        secret: str | None
        if basic is not None:
            if "client_secret_basic" not in methods:
                raise OAuthError(OAuthErrorKind.CLIENT_AUTH_METHOD, "HTTP Basic client authentication is not accepted.")
            client_id, secret = basic
        else:
            client_id = form.get("client_id", "")
            secret = form.get("client_secret")
            if secret is not None and "client_secret_post" not in methods:
                raise OAuthError(OAuthErrorKind.CLIENT_AUTH_METHOD, "Send the client credentials with HTTP Basic.")
        client = self.clients.get(client_id)
        if client is None:
            raise OAuthError(OAuthErrorKind.UNKNOWN_CLIENT, "The OAuth client was not found.")
        if secret is None or not hmac.compare_digest(secret.encode(), client.client_secret.encode()):
            raise OAuthError(OAuthErrorKind.BAD_CLIENT_SECRET, "Unauthorized")
        return client

    def exchange_code(self, client: OAuthClient, form: Mapping[str, str]) -> IssuedTokens:
        now = self._clock()
        with self._lock:
            code = self._codes.get(form.get("code", ""))
            if code is None or code.request.client_id != client.client_id:
                raise OAuthError(OAuthErrorKind.CODE_INVALID, "Malformed auth code.")
            if code.redeemed_at is not None:
                raise OAuthError(OAuthErrorKind.CODE_REUSED, "Code was already redeemed.")
            if now >= code.expires_at:
                raise OAuthError(OAuthErrorKind.CODE_EXPIRED, "Code expired.")
            if form.get("redirect_uri") != code.request.redirect_uri:
                raise OAuthError(OAuthErrorKind.REDIRECT_URI_MISMATCH, "redirect_uri does not match the authorization request.")
            if code.request.code_challenge is not None:
                verifier = form.get("code_verifier")
                if not verifier:
                    raise OAuthError(OAuthErrorKind.PKCE_MISSING, "Missing code verifier.")
                if not _VERIFIER.match(verifier) or not hmac.compare_digest(
                    s256(verifier), code.request.code_challenge
                ):
                    raise OAuthError(OAuthErrorKind.PKCE_MISMATCH, "Invalid code verifier.")
            code.redeemed_at = now
            if self.dialect.new_grant_revokes_previous:
                self._revoke_where(
                    lambda g: g.client_id == client.client_id and g.email == code.email,
                    {"scenario": "superseded"},
                )
            grant = Grant(
                id=secrets.token_hex(8),
                client_id=client.client_id,
                email=code.email,
                scopes=code.scopes,
                created_at=now,
                offline=code.wants_refresh_token,
            )
            self._grants[grant.id] = grant
            refresh = self._new_refresh_token(grant) if grant.offline else None
            return self._issue(grant, refresh, nonce=code.request.nonce)

    def refresh(self, client: OAuthClient, form: Mapping[str, str]) -> IssuedTokens:
        if not form.get("refresh_token"):
            # A client bug, not a dead grant: it must not read as "the user revoked access".
            raise OAuthError(OAuthErrorKind.INVALID_REQUEST, "Missing required parameter: refresh_token")
        with self._lock:
            record = self._refresh.get(form.get("refresh_token", ""))
            if record is None:
                raise OAuthError(OAuthErrorKind.REFRESH_TOKEN_UNKNOWN, "Token has been expired or revoked.")
            grant = self._grants[record.grant_id]
            if record.client_id != client.client_id:
                raise OAuthError(OAuthErrorKind.TOKEN_CLIENT_MISMATCH, "Unauthorized", grant=grant)
            if not grant.alive:
                raise OAuthError(OAuthErrorKind.GRANT_REVOKED, "Token has been expired or revoked.", grant=grant)
            if record.dead_reason is not None:
                raise OAuthError(OAuthErrorKind.REFRESH_TOKEN_ROTATED, "Token has been expired or revoked.", grant=grant)
            new_refresh = None
            if self.dialect.rotate_refresh_tokens:
                new_refresh = self._new_refresh_token(grant)
                if self.dialect.rotated_refresh_token_dies:
                    record.dead_reason = "rotated"
            return self._issue(grant, new_refresh, nonce=None)

    def revoke(self, token: str) -> bool:
        """Revoke the grant behind an access or refresh token; False if the token is unknown
        or already dead."""
        with self._lock:
            record = self._access.get(token) or self._refresh.get(token)
            if record is None:
                return False
            grant = self._grants[record.grant_id]
            if not grant.alive:
                return False
            reason = {"scenario": "revoked"}
            if self.dialect.revoke_ends_authorization:
                self._revoke_where(lambda g: g.client_id == grant.client_id and g.email == grant.email, reason)
            else:
                self._revoke_where(lambda g: g.id == grant.id, reason)
            return True

    # -- resource servers --------------------------------------------------------------------
    def validate_access_token(self, token: str | None) -> AccessToken | None:
        """The token's record if it is known, unexpired and its grant alive."""
        if not token:
            return None
        with self._lock:
            record = self._access.get(token)
            if record is None or self._clock() >= record.expires_at:
                return None
            if not self._grants[record.grant_id].alive:
                return None
            return record

    def access_token_expired(self, token: str | None) -> bool:
        """A token this server issued whose lifetime is over (its grant may be alive)."""
        with self._lock:
            record = self._access.get(token or "")
            return record is not None and self._clock() >= record.expires_at and self._grants[record.grant_id].alive

    def email_for_credential(self, value: str | None) -> str | None:
        """Whose code, access token or refresh token this is (alive or not): lets faults aimed
        at one account hit token and API calls alike."""
        if not value:
            return None
        with self._lock:
            record = self._access.get(value) or self._refresh.get(value) or self._codes.get(value)
            return record.email if record else None

    # -- faults --------------------------------------------------------------------------------
    def revoke_grants(self, email: str | None, reason: dict[str, Any]) -> int:
        target = normalise_email(email) if email else None
        with self._lock:
            return self._revoke_where(lambda g: target in (None, g.email), reason)

    def expire_access_tokens(self, email: str | None) -> int:
        target = normalise_email(email) if email else None
        now = self._clock()
        with self._lock:
            hit = [t for t in self._access.values() if target in (None, t.email) and t.expires_at > now]
            for token in hit:
                token.expires_at = now
            return len(hit)

    def grants(self, email: str | None = None) -> list[Grant]:
        with self._lock:
            return [g for g in self._grants.values() if email in (None, g.email)]

    @property
    def lock(self) -> threading.RLock:
        """Held by a snapshot around the whole export (re-entrant: export_state takes it too)."""
        return self._lock

    def export_state(self) -> dict[str, Any]:
        """Grants and live tokens as plain dataclasses (pending codes are not worth keeping)."""
        with self._lock:
            return {"grants": dict(self._grants), "access": dict(self._access), "refresh": dict(self._refresh)}

    def import_state(self, data: Mapping[str, Any]) -> None:
        with self._lock:
            self._grants = dict(data["grants"])
            self._access = dict(data["access"])
            self._refresh = dict(data["refresh"])

    def reset(self) -> None:
        with self._lock:
            self._codes.clear()
            self._grants.clear()
            self._access.clear()
            self._refresh.clear()

    # -- internals ---------------------------------------------------------------------------
    def _revoke_where(self, predicate: Callable[[Grant], bool], reason: dict[str, Any]) -> int:
        now = self._clock()
        count = 0
        for grant in self._grants.values():
            if grant.alive and predicate(grant):
                grant.revoked_at = now
                grant.revoked_reason = reason
                count += 1
        return count

    def _new_refresh_token(self, grant: Grant) -> str:
        token = self.dialect.refresh_token_prefix + secrets.token_urlsafe(48)
        self._refresh[token] = RefreshToken(token, grant.id, grant.client_id, grant.email)
        return token

    def _issue(self, grant: Grant, refresh_token: str | None, *, nonce: str | None) -> IssuedTokens:
        now = self._clock()
        token = self.dialect.access_token_prefix + secrets.token_urlsafe(64)
        self._access[token] = AccessToken(
            token=token,
            grant_id=grant.id,
            client_id=grant.client_id,
            email=grant.email,
            scopes=grant.scopes,
            expires_at=now + self.access_token_lifetime,
        )
        id_token = None
        account = self._account_lookup(grant.email)
        if account is not None:
            claims = self.dialect.id_token_claims(
                account=account,
                client_id=grant.client_id,
                scopes=grant.scopes,
                nonce=nonce,
                access_token=token,
                now=int(now),
            )
            if claims is not None:
                id_token = self._signing_key.sign(claims)
        return IssuedTokens(
            access_token=token,
            expires_in=self.access_token_lifetime,
            scopes=grant.scopes,
            grant=grant,
            refresh_token=refresh_token,
            id_token=id_token,
        )
