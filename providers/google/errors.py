"""Google's wire errors → `ProviderError`. One table per endpoint family, a doc link per entry.

Calendar errors: https://developers.google.com/calendar/api/guides/errors
OAuth errors:    https://developers.google.com/identity/protocols/oauth2/web-server#exchange-authorization-code
"""
from __future__ import annotations

from typing import Any, Mapping

from providers.base import FULL_SYNC_REQUIRED, ProviderError
from providers.base import ErrorKind as K
from providers.retry_after import retry_after_seconds

PROVIDER = "google"

# (reason) -> (kind, cause). The reason is the first `errors[].reason` of the body.
API_REASONS: dict[str, tuple[K, str | None]] = {
    # https://developers.google.com/calendar/api/guides/errors#401_invalid_credentials
    "authError": (K.AUTH_EXPIRED, None),
    # https://developers.google.com/calendar/api/guides/errors#403_insufficient_permissions
    "insufficientPermissions": (K.SCOPE_MISSING, "scopes_missing"),
    "ACCESS_TOKEN_SCOPE_INSUFFICIENT": (K.SCOPE_MISSING, "scopes_missing"),
    # https://developers.google.com/calendar/api/guides/errors#403_rate_limit_exceeded
    "rateLimitExceeded": (K.RATE_LIMITED, "rate_limited"),
    "userRateLimitExceeded": (K.RATE_LIMITED, "rate_limited"),
    # https://developers.google.com/calendar/api/guides/errors#403_usage_limits_exceeded
    "quotaExceeded": (K.RATE_LIMITED, "rate_limited"),
    "dailyLimitExceeded": (K.RATE_LIMITED, "rate_limited"),
    # https://developers.google.com/calendar/api/guides/errors#403_forbidden_for_non-organizer
    "forbiddenForNonOrganizer": (K.ACCESS_DENIED, None),
    "forbidden": (K.ACCESS_DENIED, None),
    # https://developers.google.com/calendar/api/guides/errors#404_not_found
    "notFound": (K.NOT_FOUND, None),
    # https://developers.google.com/calendar/api/guides/errors#410_gone
    "deleted": (K.NOT_FOUND, None),
    # https://developers.google.com/calendar/api/guides/sync: the sync token is no longer valid
    "fullSyncRequired": (K.CONFLICT, FULL_SYNC_REQUIRED),
    # https://developers.google.com/calendar/api/guides/errors#409_the_requested_identifier_already_exists
    "duplicate": (K.CONFLICT, None),
    # https://developers.google.com/calendar/api/guides/errors#500_backend_error
    "backendError": (K.PROVIDER_DOWN, "provider_unavailable"),
    "internalError": (K.PROVIDER_DOWN, "provider_unavailable"),
    # https://developers.google.com/calendar/api/guides/errors#400_bad_request
    "timeRangeEmpty": (K.INVALID_REQUEST, None),
    "timeRangeTooLong": (K.INVALID_REQUEST, None),
    "invalid": (K.INVALID_REQUEST, None),
    "required": (K.INVALID_REQUEST, None),
    "badRequest": (K.INVALID_REQUEST, None),
}

# Fallback by HTTP status when no reason is recognised.
API_STATUSES: dict[int, tuple[K, str | None]] = {
    400: (K.INVALID_REQUEST, None),
    401: (K.AUTH_EXPIRED, None),
    403: (K.ACCESS_DENIED, None),
    404: (K.NOT_FOUND, None),
    409: (K.CONFLICT, None),
    410: (K.NOT_FOUND, None),
    429: (K.RATE_LIMITED, "rate_limited"),
    500: (K.PROVIDER_DOWN, "provider_unavailable"),
    502: (K.PROVIDER_DOWN, "provider_unavailable"),
    503: (K.PROVIDER_DOWN, "provider_unavailable"),
    504: (K.PROVIDER_DOWN, "provider_unavailable"),
}

# OAuth token endpoint `error` values.
TOKEN_ERRORS: dict[str, tuple[K, str | None]] = {
    # Revoked, unused for 6 months, Testing-status app after 7 days, password change with Gmail
    # scopes, too many tokens: all arrive as the same body. Diagnostics narrows it from context.
    # https://developers.google.com/identity/protocols/oauth2#expiration
    "invalid_grant": (K.AUTH_REVOKED, "token_revoked"),
    # Our client id or secret is wrong: nothing the user can fix.
    "invalid_client": (K.INVALID_REQUEST, "client_misconfigured"),
    "unauthorized_client": (K.INVALID_REQUEST, "client_misconfigured"),
    "invalid_scope": (K.SCOPE_MISSING, "scopes_missing"),
    "access_denied": (K.ACCESS_DENIED, None),
    "admin_policy_enforced": (K.ACCESS_DENIED, "conditional_access_blocked"),
}

# A refresh token refused because the code was reused is our bug, not the user's grant dying.
CODE_REUSED = "Code was already redeemed."


def first_reason(body: Mapping[str, Any]) -> str | None:
    error = body.get("error")
    if not isinstance(error, Mapping):
        return None
    for item in error.get("errors") or ():
        if isinstance(item, Mapping) and item.get("reason"):
            return str(item["reason"])
    for detail in error.get("details") or ():
        if isinstance(detail, Mapping) and detail.get("reason"):
            return str(detail["reason"])
    return None


def classify_api_error(status: int, body: Mapping[str, Any],
                       headers: Mapping[str, str] | None = None) -> ProviderError:
    reason = first_reason(body)
    kind, cause = API_REASONS.get(reason or "", API_STATUSES.get(status, (K.UNKNOWN, None)))
    raw_error = body.get("error")
    error: Mapping[str, Any] = raw_error if isinstance(raw_error, Mapping) else {}
    message = str(error.get("message") or reason or f"HTTP {status}")
    retry_after = retry_after_seconds(headers)
    if kind is K.RATE_LIMITED and retry_after is None and reason in ("quotaExceeded", "dailyLimitExceeded"):
        retry_after = 3600.0  # a daily quota is not worth retrying quickly
    return ProviderError(kind, message, provider=PROVIDER, cause=cause, provider_code=reason,
                         http_status=status, retry_after=retry_after)


def classify_token_error(status: int | None, body: Mapping[str, Any]) -> ProviderError:
    code = str(body.get("error") or "")
    description = str(body.get("error_description") or code or "token request refused")
    if code == "invalid_grant" and description == CODE_REUSED:
        return ProviderError(K.INVALID_REQUEST, description, provider=PROVIDER,
                             provider_code=code, http_status=status)
    if body.get("error_subtype") == "invalid_rapt":
        # https://support.google.com/a/answer/9368756 — session control wants a fresh sign-in
        return ProviderError(K.AUTH_REVOKED, description, provider=PROVIDER,
                             cause="mfa_required", provider_code="invalid_rapt", http_status=status)
    kind, cause = TOKEN_ERRORS.get(code, (K.UNKNOWN, None))
    if status is not None and status >= 500:
        kind, cause = K.PROVIDER_DOWN, "provider_unavailable"
    return ProviderError(kind, description, provider=PROVIDER, cause=cause, provider_code=code or None,
                         http_status=status)
