"""Zoom's OAuth 2.0 wire behaviour for the sandbox (zoom.us/oauth/*).

Docs: https://developers.zoom.us/docs/integrations/oauth/ and the error table at
https://developers.zoom.us/docs/integrations/oauth-error-messages/.

What differs from plain RFC 6749, and what the hub must survive:
- the client authenticates at /oauth/token and /oauth/revoke with HTTP Basic only;
- every refresh ROTATES the refresh token and the old one dies at once: replaying it answers
  400 ``{"reason":"Invalid Token!","error":"invalid_grant"}`` [seen];
- authorizing the same Zoom user again revokes the tokens of earlier authorizations (Zoom's
  code 4741): two people sharing one Zoom login knock each other out;
- scopes come from the app's Marketplace configuration; the authorize URL needs none (Zoom has
  even refused scopes in the URL at times [?]), so a missing ``scope`` means "the app's scopes";
- token answers carry ``api_url`` and ``token_type: "bearer"`` in lower case; there is no
  id_token: identity comes from ``GET /v2/users/me``;
- token errors are ``{"reason","error"}`` rather than ``error_description``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from flask import has_request_context, request

from providers.emulator_kit.oauth_dialect import (
    AuthorizationRequest,
    OAuthDialect,
    OAuthError,
    OAuthErrorKind,
)

if TYPE_CHECKING:
    from providers.emulator_kit.oauth_server import IssuedTokens

# Classic (pre-2024) user-level scopes; newer apps use granular ones such as
# meeting:write:meeting. The sandbox app is configured with the classic set the hub asks for.
APP_SCOPES: tuple[str, ...] = ("meeting:read", "meeting:write", "user:read")
SCOPE_DESCRIPTIONS: Mapping[str, str] = {
    "meeting:read": "View your meetings",
    "meeting:write": "View and manage your meetings",
    "user:read": "View your user information",
}

DEAD_REFRESH_TOKEN = "Invalid Token!"  # [seen] for rotated-away, revoked and superseded tokens

# Kit error kind -> (HTTP status, error, reason, Zoom OAuth code for the error page).
# Codes are from Zoom's OAuth error table; bodies marked [?] follow its wording, not a capture.
_TOKEN_ERRORS: dict[OAuthErrorKind, tuple[int, str, str, int | None]] = {
    OAuthErrorKind.UNKNOWN_CLIENT: (401, "invalid_client", "Invalid client_id or client_secret", 4702),
    OAuthErrorKind.BAD_CLIENT_SECRET: (401, "invalid_client", "Invalid client_id or client_secret", 4702),
    OAuthErrorKind.CLIENT_AUTH_METHOD: (401, "invalid_client", "Invalid client_id or client_secret", 4706),
    OAuthErrorKind.INVALID_REQUEST: (400, "invalid_request", "", 4700),
    OAuthErrorKind.UNSUPPORTED_GRANT_TYPE: (400, "unsupported_grant_type", "Unsupported grant type", 4705),
    OAuthErrorKind.UNSUPPORTED_RESPONSE_TYPE: (400, "unsupported_response_type", "Unsupported response type", 4700),
    OAuthErrorKind.INVALID_SCOPE: (400, "invalid_scope", "Invalid scope", 4711),
    OAuthErrorKind.REDIRECT_URI_MISMATCH: (400, "invalid_request", "Redirect URI mismatch.", 4709),
    # [seen] github.com/Jericho/ZoomNet/issues/36: {"reason":"Invalid authorization code <code>",
    # "error":"invalid_request"}; the sandbox leaves the code out of the reason.
    OAuthErrorKind.CODE_INVALID: (400, "invalid_request", "Invalid authorization code", 4734),
    OAuthErrorKind.CODE_REUSED: (400, "invalid_request", "Invalid authorization code", 4734),
    OAuthErrorKind.CODE_EXPIRED: (400, "invalid_request", "Authorization code is expired.", 4733),  # [?]
    OAuthErrorKind.PKCE_MISSING: (400, "invalid_request", "Invalid code_verifier", 4700),  # [?]
    OAuthErrorKind.PKCE_MISMATCH: (400, "invalid_request", "Invalid code_verifier", 4700),  # [?]
    OAuthErrorKind.REFRESH_TOKEN_UNKNOWN: (400, "invalid_grant", DEAD_REFRESH_TOKEN, None),
    OAuthErrorKind.REFRESH_TOKEN_ROTATED: (400, "invalid_grant", DEAD_REFRESH_TOKEN, None),
    OAuthErrorKind.GRANT_REVOKED: (400, "invalid_grant", DEAD_REFRESH_TOKEN, None),
    OAuthErrorKind.TOKEN_CLIENT_MISMATCH: (400, "invalid_grant", DEAD_REFRESH_TOKEN, None),
    OAuthErrorKind.REVOKE_TOKEN_INVALID: (400, "invalid_request", "Invalid Token!", None),  # [?]
}

SUPERSEDED = "superseded"  # the kit's revoked_reason scenario for new_grant_revokes_previous
SUPERSEDED_CODE = 4741


class ZoomOAuthDialect(OAuthDialect):
    provider = "zoom"
    title = "Zoom"
    issuer = "https://zoom.us"
    supported_scopes = frozenset(APP_SCOPES)
    scope_descriptions = SCOPE_DESCRIPTIONS
    client_auth_methods = ("client_secret_basic",)
    rotate_refresh_tokens = True
    rotated_refresh_token_dies = True
    new_grant_revokes_previous = True
    revoke_requires_client_auth = True
    # Whether a refresh token killed by a newer authorization says so with "code": 4741. The
    # one public capture (github.com/iamfatness/CoreVideo/pull/196) shows the plain
    # "Invalid Token!" body for exactly that case, so the default is False [?]; the hub must
    # work out the cause from context either way.
    report_superseded_code = False

    # -- authorize ---------------------------------------------------------------------------
    def parse_authorization_request(self, args: Mapping[str, str]) -> AuthorizationRequest:
        parsed = super().parse_authorization_request(args)
        if parsed.scopes:
            return parsed
        # The Marketplace app decides the scopes; the consent page lists those.
        return AuthorizationRequest(**{**parsed.__dict__, "scopes": APP_SCOPES})

    def authorization_error(self, error: OAuthError) -> tuple[str, str]:
        status, _error, reason, code = _TOKEN_ERRORS.get(error.kind, (400, "invalid_request", "", 4700))
        del status
        return str(code or 4700), error.description or reason

    # -- token -------------------------------------------------------------------------------
    def token_response(self, issued: "IssuedTokens", grant_type: str) -> dict[str, Any]:
        del grant_type
        body: dict[str, Any] = {
            "access_token": issued.access_token,
            "token_type": "bearer",
            "refresh_token": issued.refresh_token,
            "expires_in": issued.expires_in,
            "scope": " ".join(issued.scopes),
            "api_url": _api_url(),
        }
        if not issued.refresh_token:
            del body["refresh_token"]
        return body

    def revoke_response(self) -> tuple[int, dict[str, Any]]:
        return 200, {"status": "success"}

    def error_response(self, error: OAuthError) -> tuple[int, dict[str, Any], dict[str, str]]:
        status, code, reason, _zoom_code = _TOKEN_ERRORS.get(error.kind, (400, "invalid_request", "", None))
        body: dict[str, Any] = {"reason": reason or error.description, "error": code}
        revoked = (error.grant.revoked_reason or {}) if error.grant is not None else {}
        if (error.kind is OAuthErrorKind.GRANT_REVOKED and revoked.get("scenario") == SUPERSEDED
                and self.report_superseded_code):
            body["code"] = SUPERSEDED_CODE
        params = revoked.get("params") or {}
        if error.kind is OAuthErrorKind.GRANT_REVOKED and params.get("code"):
            # invalid_grant faults may carry Zoom's OAuth code, e.g. {"code": 4735} (the token's
            # owner no longer exists) or {"code": 4738} (an admin disabled the app) [?].
            body["code"] = int(params["code"])
            body["reason"] = str(params.get("reason") or body["reason"])
        return status, body, {}


def _api_url() -> str:
    """Real Zoom answers the user's API host (https://api.zoom.us); the sandbox answers its own
    Zoom prefix, under which ``/v2`` lives."""
    if not has_request_context():
        return "https://api.zoom.us"
    return request.host_url.rstrip("/") + request.script_root + "/zoom"
