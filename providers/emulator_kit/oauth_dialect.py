"""How one provider's OAuth endpoints differ on the wire.

The authorization-server core (``oauth_server``) implements RFC 6749 + PKCE once; a provider
subclasses ``OAuthDialect`` and overrides only what its real endpoints do differently:

- ``client_auth_methods``: Google takes the secret in the form or HTTP Basic; Zoom only Basic.
- ``rotate_refresh_tokens`` / ``rotated_refresh_token_dies``: Google never rotates; Microsoft
  rotates and the old token keeps working; Zoom rotates and the old one dies at once.
- ``new_grant_revokes_previous``: Zoom revokes earlier tokens when the same user authorizes
  again (its error 4741).
- ``issues_refresh_token``: Google only with ``access_type=offline``; Microsoft only with the
  ``offline_access`` scope.
- ``granted_scopes``: scope aliases and incremental authorization.
- ``authorization_response`` / ``denial_response``: extra query parameters on the redirect.
- ``token_response``: the JSON body of a token answer (field names, ``ext_expires_in``...).
- ``id_token_claims``: issuer and claims of the OpenID id_token (None: no id_token).
- ``error_response``: the status, body and headers for each ``OAuthErrorKind`` — the part
  that differs most (Google ``{"error","error_description"}``, Microsoft AADSTS bodies, Zoom
  ``{"reason","error"}``). A revoked grant carries the fault that revoked it in
  ``error.grant.revoked_reason`` so, e.g., Microsoft can answer with the AADSTS code the test
  asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from .accounts import Account
    from .oauth_server import Grant, IssuedTokens


class OAuthErrorKind(str, Enum):
    """What went wrong, in the kit's words; each dialect turns it into its provider's body."""

    UNKNOWN_CLIENT = "unknown_client"
    BAD_CLIENT_SECRET = "bad_client_secret"
    CLIENT_AUTH_METHOD = "client_auth_method"  # secret sent in a way the provider refuses
    INVALID_REQUEST = "invalid_request"
    UNSUPPORTED_GRANT_TYPE = "unsupported_grant_type"
    UNSUPPORTED_RESPONSE_TYPE = "unsupported_response_type"
    INVALID_SCOPE = "invalid_scope"
    REDIRECT_URI_MISMATCH = "redirect_uri_mismatch"
    CODE_INVALID = "code_invalid"
    CODE_REUSED = "code_reused"
    CODE_EXPIRED = "code_expired"
    PKCE_MISSING = "pkce_missing"
    PKCE_MISMATCH = "pkce_mismatch"
    REFRESH_TOKEN_UNKNOWN = "refresh_token_unknown"
    REFRESH_TOKEN_ROTATED = "refresh_token_rotated"  # replay of a rotated-away refresh token
    GRANT_REVOKED = "grant_revoked"
    TOKEN_CLIENT_MISMATCH = "token_client_mismatch"
    REVOKE_TOKEN_INVALID = "revoke_token_invalid"


class OAuthError(Exception):
    def __init__(self, kind: OAuthErrorKind, description: str = "", *, grant: "Grant | None" = None):
        super().__init__(f"{kind.value}: {description}" if description else kind.value)
        self.kind = kind
        self.description = description
        self.grant = grant


@dataclass(frozen=True)
class AuthorizationRequest:
    """The parameters of one authorize call, validated, as the code will remember them."""

    client_id: str
    redirect_uri: str
    response_type: str
    scopes: tuple[str, ...]
    state: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    nonce: str | None = None
    login_hint: str | None = None
    extras: Mapping[str, str] = field(default_factory=dict)  # provider-specific parameters


# RFC 6749 defaults: (HTTP status, `error`) per kind.
_RFC_ERRORS: dict[OAuthErrorKind, tuple[int, str]] = {
    OAuthErrorKind.UNKNOWN_CLIENT: (401, "invalid_client"),
    OAuthErrorKind.BAD_CLIENT_SECRET: (401, "invalid_client"),
    OAuthErrorKind.CLIENT_AUTH_METHOD: (401, "invalid_client"),
    OAuthErrorKind.INVALID_REQUEST: (400, "invalid_request"),
    OAuthErrorKind.UNSUPPORTED_GRANT_TYPE: (400, "unsupported_grant_type"),
    OAuthErrorKind.UNSUPPORTED_RESPONSE_TYPE: (400, "unsupported_response_type"),
    OAuthErrorKind.INVALID_SCOPE: (400, "invalid_scope"),
    OAuthErrorKind.REDIRECT_URI_MISMATCH: (400, "invalid_grant"),
    OAuthErrorKind.CODE_INVALID: (400, "invalid_grant"),
    OAuthErrorKind.CODE_REUSED: (400, "invalid_grant"),
    OAuthErrorKind.CODE_EXPIRED: (400, "invalid_grant"),
    OAuthErrorKind.PKCE_MISSING: (400, "invalid_grant"),
    OAuthErrorKind.PKCE_MISMATCH: (400, "invalid_grant"),
    OAuthErrorKind.REFRESH_TOKEN_UNKNOWN: (400, "invalid_grant"),
    OAuthErrorKind.REFRESH_TOKEN_ROTATED: (400, "invalid_grant"),
    OAuthErrorKind.GRANT_REVOKED: (400, "invalid_grant"),
    OAuthErrorKind.TOKEN_CLIENT_MISMATCH: (400, "invalid_grant"),
    OAuthErrorKind.REVOKE_TOKEN_INVALID: (400, "invalid_token"),
}


class OAuthDialect:
    """RFC 6749 behaviour; subclass per provider and override the differences."""

    provider: str = ""
    title: str = ""  # shown on the consent page
    issuer: str = ""
    supported_scopes: frozenset[str] | None = None  # None accepts any scope
    scope_descriptions: Mapping[str, str] = {}
    client_auth_methods: tuple[str, ...] = ("client_secret_basic", "client_secret_post")
    pkce_methods: tuple[str, ...] = ("S256",)
    grant_types: tuple[str, ...] = ("authorization_code", "refresh_token")
    rotate_refresh_tokens: bool = False
    rotated_refresh_token_dies: bool = False
    new_grant_revokes_previous: bool = False
    # Revoking one token ends every grant of that client and account (Google) rather than only
    # the grant the token belongs to.
    revoke_ends_authorization: bool = False
    # Zoom wants the client to authenticate to revoke; Google does not.
    revoke_requires_client_auth: bool = False
    code_prefix: str = ""
    access_token_prefix: str = ""
    refresh_token_prefix: str = ""

    # -- authorize ---------------------------------------------------------------------------
    def parse_authorization_request(self, args: Mapping[str, str]) -> AuthorizationRequest:
        known = {
            "client_id", "redirect_uri", "response_type", "scope", "state", "code_challenge",
            "code_challenge_method", "nonce", "login_hint",
        }
        return AuthorizationRequest(
            client_id=args.get("client_id", ""),
            redirect_uri=args.get("redirect_uri", ""),
            response_type=args.get("response_type", ""),
            scopes=tuple(self.split_scopes(args.get("scope", ""))),
            state=args.get("state"),
            code_challenge=args.get("code_challenge") or None,
            code_challenge_method=args.get("code_challenge_method") or None,
            nonce=args.get("nonce"),
            login_hint=args.get("login_hint"),
            extras={k: v for k, v in args.items() if k not in known},
        )

    def split_scopes(self, raw: str) -> list[str]:
        seen: list[str] = []
        for scope in raw.split():
            if scope not in seen:
                seen.append(scope)
        return seen

    def select_scopes(self, request: AuthorizationRequest, chosen: list[str] | None) -> list[str]:
        """The requested scopes the user left ticked (``chosen=None``: all of them); scopes
        that were not requested cannot be granted by ticking them."""
        if chosen is None:
            return list(request.scopes)
        return [s for s in request.scopes if s in chosen]

    def granted_scopes(
        self, request: AuthorizationRequest, selected: list[str], previously_granted: set[str]
    ) -> tuple[str, ...]:
        del request, previously_granted
        return tuple(selected)

    def issues_refresh_token(
        self, request: AuthorizationRequest, scopes: tuple[str, ...], has_live_offline_grant: bool
    ) -> bool:
        del request, scopes, has_live_offline_grant
        return True

    def authorization_response(
        self, request: AuthorizationRequest, code: str, scopes: tuple[str, ...]
    ) -> dict[str, str]:
        del scopes
        params = {"code": code}
        if request.state is not None:
            params["state"] = request.state
        return params

    def denial_response(self, request: AuthorizationRequest) -> dict[str, str]:
        params = {"error": "access_denied"}
        if request.state is not None:
            params["state"] = request.state
        return params

    def authorization_error(self, error: OAuthError) -> tuple[str, str]:
        """(error code, explanation) for the error page shown instead of redirecting, which is
        what providers do when the client or redirect URI cannot be trusted."""
        return _RFC_ERRORS.get(error.kind, (400, "invalid_request"))[1], error.description

    # -- token -------------------------------------------------------------------------------
    def token_response(self, issued: "IssuedTokens", grant_type: str) -> dict[str, Any]:
        del grant_type
        body: dict[str, Any] = {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "scope": " ".join(issued.scopes),
        }
        if issued.refresh_token:
            body["refresh_token"] = issued.refresh_token
        if issued.id_token:
            body["id_token"] = issued.id_token
        return body

    def id_token_claims(
        self,
        *,
        account: "Account",
        client_id: str,
        scopes: tuple[str, ...],
        nonce: str | None,
        access_token: str,
        now: int,
    ) -> dict[str, Any] | None:
        del account, client_id, scopes, nonce, access_token, now
        return None

    def revoke_response(self) -> tuple[int, dict[str, Any]]:
        return 200, {}

    def error_response(self, error: OAuthError) -> tuple[int, dict[str, Any], dict[str, str]]:
        status, code = _RFC_ERRORS.get(error.kind, (400, "invalid_request"))
        body = {"error": code}
        if error.description:
            body["error_description"] = error.description
        return status, body, {}
