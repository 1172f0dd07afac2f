"""Google's OAuth 2.0 / OpenID Connect wire behaviour for the sandbox
(https://developers.google.com/identity/protocols/oauth2/web-server).

Differences from plain RFC 6749 that the hub must cope with and the emulator reproduces:
- a refresh token only with ``access_type=offline``, and on a repeat consent only with
  ``prompt=consent`` (Google does not hand out a second refresh token otherwise);
- no refresh-token rotation: the refresh answer carries no ``refresh_token``;
- ``scope`` in answers uses the long names for the OpenID shorthands (``email`` comes back as
  ``https://www.googleapis.com/auth/userinfo.email``), and with
  ``include_granted_scopes=true`` includes scopes granted earlier;
- revoking any token ends the app's whole authorization for that account;
- errors are ``{"error","error_description"}``: invalid_grant "Token has been expired or
  revoked." for every dead refresh token, 401 invalid_client "Unauthorized" for a bad secret.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from flask import Response, jsonify, request

from providers.emulator_kit.oauth_dialect import (
    AuthorizationRequest,
    OAuthDialect,
    OAuthError,
    OAuthErrorKind,
)
from providers.emulator_kit.signing import token_hash
from providers.emulator_kit.wire import bearer_token

if TYPE_CHECKING:
    from providers.emulator_kit.accounts import Account
    from providers.emulator_kit.emulator import ProviderEmulator
    from providers.emulator_kit.oauth_server import IssuedTokens

ISSUER = "https://accounts.google.com"
USERINFO_EMAIL = "https://www.googleapis.com/auth/userinfo.email"
USERINFO_PROFILE = "https://www.googleapis.com/auth/userinfo.profile"
SCOPE_ALIASES = {"email": USERINFO_EMAIL, "profile": USERINFO_PROFILE}
OPENID_SCOPES = {
    "openid": "Associate you with your personal info on Google",
    USERINFO_EMAIL: "See your primary Google Account email address",
    USERINFO_PROFILE: "See your personal info, including any personal info you've made publicly available",
}

_DEAD_TOKEN = "Token has been expired or revoked."

# Kit error kind -> (HTTP status, error, error_description); None keeps the kit's description.
_TOKEN_ERRORS: dict[OAuthErrorKind, tuple[int, str, str | None]] = {
    OAuthErrorKind.UNKNOWN_CLIENT: (401, "invalid_client", "The OAuth client was not found."),
    OAuthErrorKind.BAD_CLIENT_SECRET: (401, "invalid_client", "Unauthorized"),
    OAuthErrorKind.CLIENT_AUTH_METHOD: (401, "invalid_client", "Unauthorized"),
    OAuthErrorKind.INVALID_REQUEST: (400, "invalid_request", None),
    OAuthErrorKind.UNSUPPORTED_GRANT_TYPE: (400, "unsupported_grant_type", None),
    OAuthErrorKind.REDIRECT_URI_MISMATCH: (400, "redirect_uri_mismatch", "Bad Request"),
    OAuthErrorKind.CODE_INVALID: (400, "invalid_grant", "Malformed auth code."),
    OAuthErrorKind.CODE_REUSED: (400, "invalid_grant", "Code was already redeemed."),  # [seen]
    OAuthErrorKind.CODE_EXPIRED: (400, "invalid_grant", "Bad Request"),
    OAuthErrorKind.PKCE_MISSING: (400, "invalid_grant", "Missing code verifier."),
    OAuthErrorKind.PKCE_MISMATCH: (400, "invalid_grant", "Invalid code verifier."),
    OAuthErrorKind.REFRESH_TOKEN_UNKNOWN: (400, "invalid_grant", _DEAD_TOKEN),
    OAuthErrorKind.REFRESH_TOKEN_ROTATED: (400, "invalid_grant", _DEAD_TOKEN),
    OAuthErrorKind.GRANT_REVOKED: (400, "invalid_grant", _DEAD_TOKEN),  # [seen]
    OAuthErrorKind.TOKEN_CLIENT_MISMATCH: (400, "unauthorized_client", "Unauthorized"),
    OAuthErrorKind.REVOKE_TOKEN_INVALID: (400, "invalid_token", "Token expired or revoked"),
}


def canonical_scope(scope: str) -> str:
    return SCOPE_ALIASES.get(scope, scope)


class GoogleOAuthDialect(OAuthDialect):
    provider = "google"
    title = "Google"
    issuer = ISSUER
    client_auth_methods = ("client_secret_post", "client_secret_basic")
    revoke_ends_authorization = True
    # Google's real prefixes, so log redaction in the hub is exercised on realistic values.
    code_prefix = "4/0A"
    access_token_prefix = "ya29."
    refresh_token_prefix = "1//0"

    def __init__(self, calendar_scopes: Mapping[str, str]) -> None:
        self.scope_descriptions = {**OPENID_SCOPES, **calendar_scopes}
        self.supported_scopes = frozenset(self.scope_descriptions) | frozenset(SCOPE_ALIASES)

    # -- authorize ---------------------------------------------------------------------------
    def select_scopes(self, request: AuthorizationRequest, chosen: list[str] | None) -> list[str]:
        if chosen is None:
            return list(request.scopes)
        ticked = {canonical_scope(s) for s in chosen}
        return [s for s in request.scopes if canonical_scope(s) in ticked]

    def granted_scopes(
        self, request: AuthorizationRequest, selected: list[str], previously_granted: set[str]
    ) -> tuple[str, ...]:
        scopes = [canonical_scope(s) for s in selected]
        if request.extras.get("include_granted_scopes") == "true":
            scopes += sorted(previously_granted)
        return tuple(dict.fromkeys(scopes))

    def issues_refresh_token(
        self, request: AuthorizationRequest, scopes: tuple[str, ...], has_live_offline_grant: bool
    ) -> bool:
        if request.extras.get("access_type") != "offline":
            return False
        return "consent" in request.extras.get("prompt", "").split() or not has_live_offline_grant

    def authorization_response(
        self, request: AuthorizationRequest, code: str, scopes: tuple[str, ...]
    ) -> dict[str, str]:
        params = {}
        if request.state is not None:
            params["state"] = request.state
        params.update({"code": code, "scope": " ".join(scopes), "authuser": "0", "prompt": "consent"})
        return params

    def authorization_error(self, error: OAuthError) -> tuple[str, str]:
        codes = {
            OAuthErrorKind.UNKNOWN_CLIENT: "invalid_client",
            OAuthErrorKind.REDIRECT_URI_MISMATCH: "redirect_uri_mismatch",
            OAuthErrorKind.INVALID_SCOPE: "invalid_scope",
            OAuthErrorKind.UNSUPPORTED_RESPONSE_TYPE: "unsupported_response_type",
        }
        return codes.get(error.kind, "invalid_request"), error.description

    # -- token -------------------------------------------------------------------------------
    def token_response(self, issued: "IssuedTokens", grant_type: str) -> dict[str, Any]:
        body: dict[str, Any] = {"access_token": issued.access_token, "expires_in": issued.expires_in}
        if issued.refresh_token and grant_type == "authorization_code":
            body["refresh_token"] = issued.refresh_token
        body.update({"scope": " ".join(issued.scopes), "token_type": "Bearer"})
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
        if "openid" not in scopes:
            return None
        claims: dict[str, Any] = {"iss": ISSUER, "azp": client_id, "aud": client_id, "sub": account.subject}
        if USERINFO_EMAIL in scopes:
            claims.update(email=account.email, email_verified=True)
        claims["at_hash"] = token_hash(access_token)
        if nonce:
            claims["nonce"] = nonce
        if USERINFO_PROFILE in scopes:
            claims.update(profile_claims(account))
        claims.update(iat=now, exp=now + 3600)
        return claims

    def error_response(self, error: OAuthError) -> tuple[int, dict[str, Any], dict[str, str]]:
        status, code, description = _TOKEN_ERRORS.get(error.kind, (400, "invalid_request", None))
        body: dict[str, Any] = {"error": code, "error_description": description or error.description}
        if error.kind is OAuthErrorKind.GRANT_REVOKED and error.grant and error.grant.revoked_reason:
            # invalid_grant faults may ask for Google's subtypes, e.g. {"error_subtype": "invalid_rapt"},
            # or another error code from the same family, e.g. {"error": "admin_policy_enforced"}.
            params = error.grant.revoked_reason.get("params", {})
            if params.get("error"):  # e.g. "admin_policy_enforced": a Workspace admin restricted the app
                body["error"] = params["error"]
            if params.get("error_subtype"):
                body["error_subtype"] = params["error_subtype"]
            if params.get("error_description"):
                body["error_description"] = params["error_description"]
        return status, body, {}


def profile_claims(account: "Account") -> dict[str, str]:
    given, _, family = account.name.partition(" ")
    claims = {"name": account.name, "given_name": given}
    if family:
        claims["family_name"] = family
    return claims


def openid_configuration(base: str) -> dict[str, Any]:
    """Google's discovery document with the sandbox's own endpoint URLs (``base`` ends in
    ``/google``); the issuer stays Google's so id_tokens validate as they would in production."""
    return {
        "issuer": ISSUER,
        "authorization_endpoint": f"{base}/o/oauth2/v2/auth",
        "device_authorization_endpoint": f"{base}/device/code",
        "token_endpoint": f"{base}/token",
        "userinfo_endpoint": f"{base}/v1/userinfo",
        "revocation_endpoint": f"{base}/revoke",
        "jwks_uri": f"{base}/oauth2/v3/certs",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": [
            "aud", "email", "email_verified", "exp", "family_name", "given_name", "iat", "iss",
            "name", "sub",
        ],
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
    }




def userinfo_endpoint(emulator: "ProviderEmulator"):
    """OpenID userinfo (what the hub's identity probe reads)."""

    def view() -> Response | tuple[Response, int]:
        token = emulator.oauth.validate_access_token(bearer_token())
        if token is None or not {"openid", USERINFO_EMAIL, USERINFO_PROFILE} & set(token.scopes):
            response = jsonify({"error": "invalid_request", "error_description": "Invalid Credentials"})
            response.headers["WWW-Authenticate"] = 'Bearer realm="https://accounts.google.com/", error="invalid_token"'
            return response, 401
        account = emulator.account(token.email)
        info: dict[str, Any] = {"sub": account.subject}
        if USERINFO_PROFILE in token.scopes:
            info.update(profile_claims(account))
        if USERINFO_EMAIL in token.scopes:
            info.update(email=account.email, email_verified=True)
        return jsonify(info)

    return view


def tokeninfo_endpoint(emulator: "ProviderEmulator"):
    """``/tokeninfo?access_token=`` — how a support tool sees which scopes a token holds."""

    def view() -> Response | tuple[Response, int]:
        value = request.values.get("access_token") or bearer_token()
        token = emulator.oauth.validate_access_token(value)
        if token is None:
            return jsonify({"error": "invalid_token", "error_description": "Invalid Value"}), 400
        now = emulator.ctx.now()
        grant_offline = any(g.offline for g in emulator.oauth.grants(token.email) if g.id == token.grant_id)
        info: dict[str, Any] = {
            "azp": token.client_id,
            "aud": token.client_id,
            "sub": emulator.account(token.email).subject,
            "scope": " ".join(token.scopes),
            "exp": str(int(token.expires_at)),
            "expires_in": str(max(0, int(token.expires_at - now))),
            "access_type": "offline" if grant_offline else "online",
        }
        if USERINFO_EMAIL in token.scopes:
            info.update(email=token.email, email_verified="true")
        return jsonify(info)

    return view

