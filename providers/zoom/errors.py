"""Zoom's wire errors → `ProviderError`. One table per endpoint family, a doc link per entry.

API errors:   https://developers.zoom.us/docs/api/errors  (body {"code": N, "message": "…"})
OAuth errors: https://developers.zoom.us/docs/integrations/oauth-error-messages/
              (token endpoint body {"reason": "…", "error": "…"}, sometimes a numeric code)
"""
from __future__ import annotations

from typing import Any, Mapping

from providers.base import ErrorKind as K
from providers.base import ProviderError
from providers.retry_after import header, retry_after_seconds

PROVIDER = "zoom"

# API `code` -> (kind, cause).
API_CODES: dict[int, tuple[K, str | None]] = {
    # https://developers.zoom.us/docs/api/errors — "Invalid access token.": refresh and retry once
    124: (K.AUTH_EXPIRED, None),
    # https://developers.zoom.us/docs/integrations/oauth-error-messages/ — 4711 "does not contain scopes"
    4711: (K.SCOPE_MISSING, "scopes_missing"),
    # https://developers.zoom.us/docs/integrations/oauth-error-messages/ — 4700 invalid token / no scopes
    4700: (K.AUTH_EXPIRED, None),
    # https://developers.zoom.us/docs/api/meetings/#tag/meetings/POST/users/{userId}/meetings — 3161
    # "Meeting hosting and scheduling capabilities are not allowed for your user account."
    3161: (K.ACCESS_DENIED, "zoom_cannot_host"),
    # https://developers.zoom.us/docs/api/errors — 300 "Validation Failed." / bad JSON / bad id
    300: (K.INVALID_REQUEST, None),
    # https://developers.zoom.us/docs/api/users/ — 1001 "User does not exist"
    1001: (K.NOT_FOUND, None),
    # https://developers.zoom.us/docs/api/users/ — 1010 "User does not belong to this account"
    1010: (K.ACCESS_DENIED, None),
    # https://developers.zoom.us/docs/api/meetings/#tag/meetings/GET/meetings/{meetingId} — 3001
    3001: (K.NOT_FOUND, None),
    # https://developers.zoom.us/docs/api/rest/rate-limits/ — 429 with X-RateLimit-Type QPS|Daily-limit
    429: (K.RATE_LIMITED, "rate_limited"),
}

# Fallback by HTTP status when the code is unknown.
API_STATUSES: dict[int, tuple[K, str | None]] = {
    400: (K.INVALID_REQUEST, None),
    401: (K.AUTH_EXPIRED, None),
    403: (K.ACCESS_DENIED, None),
    404: (K.NOT_FOUND, None),
    409: (K.CONFLICT, None),
    429: (K.RATE_LIMITED, "rate_limited"),
}

# Token endpoint `error` values (Zoom puts its words in `reason`).
TOKEN_ERRORS: dict[str, tuple[K, str | None]] = {
    # [seen] 400 {"reason":"Invalid Token!","error":"invalid_grant"}: a rotated-away, revoked,
    # expired or superseded refresh token. Only the user reconnecting helps.
    "invalid_grant": (K.AUTH_REVOKED, "zoom_token_revoked"),
    # 4702/4704/4706: our client id or secret is wrong — nothing the user can fix.
    "invalid_client": (K.INVALID_REQUEST, "client_misconfigured"),
    "unauthorized_client": (K.INVALID_REQUEST, "client_misconfigured"),
    "unsupported_grant_type": (K.INVALID_REQUEST, "client_misconfigured"),
    "invalid_scope": (K.SCOPE_MISSING, "scopes_missing"),
    "access_denied": (K.ACCESS_DENIED, None),
    # Bad or reused authorization code, redirect mismatch: a hub bug or a replayed callback.
    "invalid_request": (K.INVALID_REQUEST, None),
}

# OAuth error codes, when Zoom sends one (`code` in the body or in `reason`).
# https://developers.zoom.us/docs/integrations/oauth-error-messages/
OAUTH_CODES: dict[int, tuple[K, str | None]] = {
    4709: (K.INVALID_REQUEST, "client_misconfigured"),  # redirect URI mismatch
    4711: (K.SCOPE_MISSING, "scopes_missing"),  # token scopes do not match the app's
    4733: (K.INVALID_REQUEST, None),  # authorization code expired
    4734: (K.INVALID_REQUEST, None),  # authorization code invalid
    4735: (K.AUTH_REVOKED, "account_disabled"),  # the owner of the token no longer exists
    4738: (K.AUTH_REVOKED, "consent_required"),  # an admin disabled the app for the account
    # Revoked because the same Zoom user authorized again. The hub tells "someone else on the
    # same login" (credentials_shared) from context; the code alone says only "superseded".
    4741: (K.AUTH_REVOKED, "zoom_token_revoked"),
}


def classify_api_error(status: int, body: Mapping[str, Any],
                       headers: Mapping[str, str] | None = None) -> ProviderError:
    code = _int(body.get("code"))
    fallback = API_STATUSES.get(status, (K.UNKNOWN, None))
    kind, cause = API_CODES.get(code, fallback) if code is not None else fallback
    if status >= 500:
        kind, cause = K.PROVIDER_DOWN, "provider_unavailable"
    message = str(body.get("message") or f"HTTP {status}")
    retry_after = retry_after_seconds(headers)
    if kind is K.RATE_LIMITED and retry_after is None and header(headers, "x-ratelimit-type") == "Daily-limit":
        retry_after = 3600.0  # a daily limit is not worth retrying quickly
    return ProviderError(kind, message, provider=PROVIDER, cause=cause,
                         provider_code=str(code) if code is not None else None,
                         http_status=status, retry_after=retry_after)


def classify_token_error(status: int | None, body: Mapping[str, Any]) -> ProviderError:
    error = str(body.get("error") or "")
    reason = str(body.get("reason") or body.get("error_description") or error or "token request refused")
    code = _int(body.get("code"))
    if code in OAUTH_CODES:
        kind, cause = OAUTH_CODES[code]
    else:
        kind, cause = TOKEN_ERRORS.get(error, (K.UNKNOWN, None))
    if status is not None and status >= 500:
        kind, cause = K.PROVIDER_DOWN, "provider_unavailable"
    return ProviderError(kind, reason, provider=PROVIDER, cause=cause,
                         provider_code=str(code) if code is not None else (error or None), http_status=status)


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None
