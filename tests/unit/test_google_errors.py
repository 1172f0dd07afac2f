"""The Google error table: wire bodies as Google sends them → kind and cause."""
import pytest

from providers.base import ErrorKind
from providers.google.errors import classify_api_error, classify_token_error


def body(code, reason, message="m"):
    return {"error": {"code": code, "message": message, "errors": [{"domain": "global", "reason": reason,
                                                                     "message": message}]}}


@pytest.mark.parametrize("status,reason,kind,cause", [
    (401, "authError", ErrorKind.AUTH_EXPIRED, None),
    (403, "insufficientPermissions", ErrorKind.SCOPE_MISSING, "scopes_missing"),
    (403, "rateLimitExceeded", ErrorKind.RATE_LIMITED, "rate_limited"),
    (429, "rateLimitExceeded", ErrorKind.RATE_LIMITED, "rate_limited"),
    (403, "quotaExceeded", ErrorKind.RATE_LIMITED, "rate_limited"),
    (404, "notFound", ErrorKind.NOT_FOUND, None),
    (409, "duplicate", ErrorKind.CONFLICT, None),
    (500, "backendError", ErrorKind.PROVIDER_DOWN, "provider_unavailable"),
    (400, "timeRangeEmpty", ErrorKind.INVALID_REQUEST, None),
])
def test_api_reasons(status, reason, kind, cause):
    err = classify_api_error(status, body(status, reason))
    assert (err.kind, err.cause, err.provider_code, err.http_status) == (kind, cause, reason, status)


def test_unknown_reason_falls_back_to_status():
    assert classify_api_error(503, {}).kind is ErrorKind.PROVIDER_DOWN
    assert classify_api_error(418, {"error": "teapot"}).kind is ErrorKind.UNKNOWN


def test_retry_after_header_read_case_insensitively():
    assert classify_api_error(429, body(429, "rateLimitExceeded"), {"retry-after": "3"}).retry_after == 3.0


def test_scope_insufficient_in_details_only():
    b = {"error": {"code": 403, "message": "Request had insufficient authentication scopes.",
                   "status": "PERMISSION_DENIED",
                   "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT"}]}}
    assert classify_api_error(403, b).cause == "scopes_missing"


def test_token_errors():
    revoked = classify_token_error(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
    assert (revoked.kind, revoked.cause) == (ErrorKind.AUTH_REVOKED, "token_revoked")
    reused = classify_token_error(400, {"error": "invalid_grant", "error_description": "Code was already redeemed."})
    assert reused.kind is ErrorKind.INVALID_REQUEST  # our bug, not a dead grant
    client = classify_token_error(401, {"error": "invalid_client"})
    assert client.cause == "client_misconfigured"
    assert classify_token_error(503, {"error": "x"}).kind is ErrorKind.PROVIDER_DOWN
    rapt = classify_token_error(400, {"error": "invalid_grant", "error_subtype": "invalid_rapt"})
    assert rapt.cause == "mfa_required"
