"""Zoom's wire errors map to the hub's kinds and causes (providers/zoom/errors.py)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from providers.base import ErrorKind as K
from providers.retry_after import retry_after_seconds
from providers.zoom.errors import classify_api_error, classify_token_error


@pytest.mark.parametrize("status, body, kind, cause", [
    (401, {"code": 124, "message": "Invalid access token."}, K.AUTH_EXPIRED, None),
    (400, {"code": 4711, "message": "Invalid access token, does not contain scopes:[meeting:write]."},
     K.SCOPE_MISSING, "scopes_missing"),
    (400, {"code": 3161, "message": "Meeting hosting and scheduling capabilities are not allowed for your user account."},
     K.ACCESS_DENIED, "zoom_cannot_host"),
    (400, {"code": 300, "message": "Validation Failed.", "errors": [{"field": "duration", "message": "x"}]},
     K.INVALID_REQUEST, None),
    (404, {"code": 1001, "message": "User does not exist: x."}, K.NOT_FOUND, None),
    (404, {"code": 3001, "message": "Meeting does not exist: 1."}, K.NOT_FOUND, None),
    (429, {"code": 429, "message": "You have reached the maximum per-second rate limit"}, K.RATE_LIMITED, "rate_limited"),
    (503, {"code": 503, "message": "down"}, K.PROVIDER_DOWN, "provider_unavailable"),
    (502, {}, K.PROVIDER_DOWN, "provider_unavailable"),
    (403, {"code": 99999, "message": "?"}, K.ACCESS_DENIED, None),
])
def test_api_errors(status, body, kind, cause):
    err = classify_api_error(status, body)
    assert (err.kind, err.cause, err.http_status, err.provider) == (kind, cause, status, "zoom")
    if body.get("message"):
        assert err.message == body["message"]


def test_rate_limit_retry_after():
    assert classify_api_error(429, {"code": 429}, {"Retry-After": "2", "X-RateLimit-Type": "QPS"}).retry_after == 2.0
    daily = classify_api_error(429, {"code": 429}, {"X-RateLimit-Type": "Daily-limit"})
    assert daily.retry_after == 3600.0
    now = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
    assert retry_after_seconds({"retry-after": "2026-03-02T12:00:30Z"}, now) == 30.0
    assert retry_after_seconds({"Retry-After": "Mon, 02 Mar 2026 12:01:00 GMT"}, now) == 60.0
    assert retry_after_seconds({"Retry-After": "soon"}, now) is None


@pytest.mark.parametrize("status, body, kind, cause, code", [
    (400, {"reason": "Invalid Token!", "error": "invalid_grant"}, K.AUTH_REVOKED, "zoom_token_revoked", "invalid_grant"),
    (400, {"reason": "Invalid Token!", "error": "invalid_grant", "code": 4741}, K.AUTH_REVOKED, "zoom_token_revoked",
     "4741"),
    (400, {"reason": "x", "error": "invalid_request", "code": 4735}, K.AUTH_REVOKED, "account_disabled", "4735"),
    (401, {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}, K.INVALID_REQUEST,
     "client_misconfigured", "invalid_client"),
    (400, {"reason": "Invalid authorization code", "error": "invalid_request"}, K.INVALID_REQUEST, None,
     "invalid_request"),
    (500, {"error": "server_error"}, K.PROVIDER_DOWN, "provider_unavailable", "server_error"),
])
def test_token_errors(status, body, kind, cause, code):
    err = classify_token_error(status, body)
    assert (err.kind, err.cause, err.provider_code) == (kind, cause, code)
    assert err.message == body.get("reason", body.get("error"))
