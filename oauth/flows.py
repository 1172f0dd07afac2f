"""The OAuth port (`OAuthFlow`) and an authlib implementation shared by Google and Zoom.

A flow knows one provider's authorization server: it builds the consent URL (state + PKCE S256
always), exchanges a code, refreshes and revokes. It never stores anything: the connect service
and the token manager own persistence.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Protocol

from providers.base import ErrorKind, OAuthEndpoints, ProviderError

if TYPE_CHECKING:  # imported on the first flow, not at start: authlib pulls joserfc and
    import requests  # cryptography.x509, requests urllib3 (together ~0.3 s of every start)
    from authlib.integrations.requests_client import OAuth2Session


@dataclass(frozen=True)
class Identity:
    account_id: str  # the provider's stable id for the account (sub, oid, Zoom user id)
    email: str | None
    name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Grant:
    """Tokens from a code exchange or a refresh. `refresh_token` is None when the provider did
    not send a new one (Google never rotates); keep the old one then. `expires_at` is None for
    a credential that does not expire (a CalDAV app password)."""

    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    scopes: tuple[str, ...]
    identity: Identity | None = None


class OAuthFlow(Protocol):
    provider: str
    required_scopes: tuple[str, ...]
    # True when a new authorization of an account revokes that account's earlier grants (Zoom,
    # 4741): two hub connections to one provider login then knock each other out.
    new_grant_revokes_previous: bool

    def authorization_url(self, *, redirect_uri: str, state: str, code_verifier: str,
                          nonce: str, login_hint: str | None, extra_scopes: tuple[str, ...] = ()) -> str:
        """`extra_scopes`: asked for on top of the flow's own (a tenant's optional features)."""

    def exchange(self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str,
                 extra_scopes: tuple[str, ...] = ()) -> Grant:
        """`extra_scopes`: the same as on the consent URL (a flow that names scopes when it
        redeems the code needs them again)."""

    def refresh(self, refresh_token: str, scopes: tuple[str, ...] = ()) -> Grant:
        """`scopes`: what the connection holds (a flow that must name scopes on a refresh asks
        for these, so a tenant's extra scopes outlive the first refresh)."""

    def revoke(self, token: str) -> None: ...


__all__ = ["AuthlibFlow", "Grant", "Identity", "OAuthEndpoints", "OAuthFlow"]

TokenErrorClassifier = Callable[[int | None, dict[str, Any]], ProviderError]
IdentityResolver = Callable[[dict[str, Any], str], Identity]


@dataclass
class AuthlibFlow:
    """OAuth 2.0 authorization-code flow with PKCE on authlib's requests client.

    Provider differences are data: extra authorize parameters, how the client authenticates
    at the token endpoint, how identity is read from the token response, how errors classify.
    """

    provider: str
    client_id: str
    client_secret: str
    authorize_endpoint: str
    token_endpoint: str
    revoke_endpoint: str | None
    scopes: tuple[str, ...]
    required_scopes: tuple[str, ...]
    classify_error: TokenErrorClassifier
    resolve_identity: IdentityResolver
    authorize_params: dict[str, str] = field(default_factory=dict)
    token_auth_method: str = "client_secret_post"
    new_grant_revokes_previous: bool = False
    timeout: float = 20.0

    def _session(self, redirect_uri: str | None = None) -> OAuth2Session:
        from authlib.integrations.requests_client import OAuth2Session
        session = OAuth2Session(
            self.client_id, self.client_secret, scope=" ".join(self.scopes),
            redirect_uri=redirect_uri, code_challenge_method="S256",
            token_endpoint_auth_method=self.token_auth_method,
        )
        session.trust_env = False  # no proxy may see tokens
        return session

    def authorization_url(self, *, redirect_uri: str, state: str, code_verifier: str,
                          nonce: str, login_hint: str | None, extra_scopes: tuple[str, ...] = ()) -> str:
        params = dict(self.authorize_params)
        if extra_scopes:
            params["scope"] = " ".join(dict.fromkeys(self.scopes + extra_scopes))
        if "openid" in self.scopes:
            params["nonce"] = nonce
        if login_hint:
            params["login_hint"] = login_hint
        url, _ = self._session(redirect_uri).create_authorization_url(
            self.authorize_endpoint, state=state, code_verifier=code_verifier, **params)
        return str(url)

    def exchange(self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str,
                 extra_scopes: tuple[str, ...] = ()) -> Grant:
        del extra_scopes  # RFC 6749 §4.1.3: the code carries its scopes; Google and Zoom take none here
        body = self._call(lambda s: s.fetch_token(self.token_endpoint, code=code,
                                                  code_verifier=code_verifier,
                                                  timeout=self.timeout), redirect_uri)
        return self._grant(body, nonce=nonce)

    def refresh(self, refresh_token: str, scopes: tuple[str, ...] = ()) -> Grant:
        del scopes  # RFC 6749 §6: without a scope the refresh keeps everything granted
        body = self._call(lambda s: s.refresh_token(self.token_endpoint,
                                                    refresh_token=refresh_token,
                                                    timeout=self.timeout))
        return self._grant(body, nonce=None)

    def revoke(self, token: str) -> None:
        if not self.revoke_endpoint:
            return
        self._call(lambda s: s.revoke_token(self.revoke_endpoint, token, timeout=self.timeout))

    def _call(self, action: Callable[[OAuth2Session], Any], redirect_uri: str | None = None) -> Any:
        import requests
        from authlib.integrations.base_client.errors import OAuthError
        session = self._session(redirect_uri)
        answer = _TokenAnswer()
        session.register_compliance_hook("access_token_response", answer.keep)
        session.register_compliance_hook("refresh_token_response", answer.keep)
        try:
            result = action(session)
        except OAuthError as exc:
            # authlib keeps only `error` and `error_description`; the classifier gets the whole
            # body and the status (Google's error_subtype, Zoom's reason and code live there).
            # authlib raises OAuthError only for an object naming an error, which the hook kept: the
            # fallback is a safety net no answer reaches (hence no mutants).
            body = answer.body or {"error": exc.error, "error_description": exc.description}  # pragma: no mutate
            raise self.classify_error(answer.status, body) from None
        except requests.RequestException as exc:
            raise ProviderError(ErrorKind.PROVIDER_DOWN, f"token endpoint unreachable: {type(exc).__name__}",
                                provider=self.provider, cause="provider_unavailable") from None
        finally:
            session.close()
        if isinstance(result, requests.Response):
            if result.status_code >= 400:
                raise self.classify_error(result.status_code, _json_or_empty(result))
            return None
        if not result.get("access_token"):
            # An answer without a token (a 4xx body authlib did not recognise as an error, or a
            # broken 200) is the provider's refusal, not a KeyError further on.
            raise self.classify_error(answer.status, answer.body or {})
        return dict(result)

    def _grant(self, body: dict[str, Any], nonce: str | None) -> Grant:
        expires_in = int(body.get("expires_in") or 3600)
        scope = body.get("scope") or ""
        scopes = tuple(scope.split()) if isinstance(scope, str) else tuple(scope)
        identity = self.resolve_identity(body, nonce) if nonce is not None else None
        return Grant(
            access_token=body["access_token"],
            refresh_token=body.get("refresh_token"),
            expires_at=datetime.now(timezone.utc) + timedelta(seconds=expires_in),
            scopes=scopes,
            identity=identity,
        )


class _TokenAnswer:
    """The last token-endpoint response of one session (an authlib compliance hook)."""

    def __init__(self) -> None:
        self.status: int | None = None  # pragma: no mutate (the hook sets it before any read)
        self.body: dict[str, Any] | None = None  # pragma: no mutate (read with `or`: any falsy start is the same)

    def keep(self, resp: requests.Response) -> requests.Response:
        self.status = resp.status_code
        self.body = _json_or_empty(resp) or None
        return resp


def _json_or_empty(resp: requests.Response) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
