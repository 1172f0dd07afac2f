"""Calendar API v3 error bodies, as Google documents them in "Handle API errors"
(https://developers.google.com/workspace/calendar/api/guides/errors) and as captured in
public bug reports where the docs stop ([seen] in PROVIDERS.md).

Shape: {"error": {"errors": [{"domain","reason","message",...}], "code", "message", ...}}.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify


class GoogleApiError(Exception):
    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        domain: str = "global",
        location: str | None = None,
        location_type: str | None = None,
        status: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        item_message: str | None = None,  # when the errors[] entry words it differently
    ) -> None:
        super().__init__(f"{code} {reason}: {message}")
        item: dict[str, Any] = {"domain": domain, "reason": reason, "message": item_message or message}
        if location_type:
            item["locationType"] = location_type
        if location:
            item["location"] = location
        self.code = code
        self.body: dict[str, Any] = {"errors": [item], "code": code, "message": message}
        if status:
            self.body["status"] = status
        if details:
            self.body["details"] = details
        self.headers = headers or {}

    def response(self) -> Response:
        response = jsonify({"error": self.body})
        response.status_code = self.code
        response.headers.update(self.headers)
        return response


def auth_error(token_presented: bool) -> Response:
    """401 for an unknown, expired or revoked access token, and for none at all (Google tells
    them apart: reason ``required``, "Login Required.") (exact bodies [seen])."""
    if token_presented:
        message = ("Request had invalid authentication credentials. Expected OAuth 2 access token, login "
                   "cookie or other valid authentication credential. See "
                   "https://developers.google.com/identity/sign-in/web/devconsole-project.")
        item_message, reason = "Invalid Credentials", "authError"
    else:
        message = ("Request is missing required authentication credential. Expected OAuth 2 access token, "
                   "login cookie or other valid authentication credential. See "
                   "https://developers.google.com/identity/sign-in/web/devconsole-project.")
        item_message, reason = "Login Required.", "required"
    body = {
        "error": {
            "code": 401,
            "message": message,
            "errors": [
                {
                    "message": item_message,
                    "domain": "global",
                    "reason": reason,
                    "location": "Authorization",
                    "locationType": "header",
                }
            ],
            "status": "UNAUTHENTICATED",
        }
    }
    response = jsonify(body)
    response.status_code = 401
    challenge = 'Bearer realm="https://accounts.google.com/"'
    response.headers["WWW-Authenticate"] = challenge + (', error="invalid_token"' if token_presented else "")
    return response


def insufficient_scopes(rpc_method: str, accepted_scopes: frozenset[str]) -> GoogleApiError:
    """403 when the token lacks every scope the method accepts ([seen], e.g.
    github.com/analogdotnow/Analog/issues/296)."""
    return GoogleApiError(
        403,
        "insufficientPermissions",
        "Request had insufficient authentication scopes.",
        status="PERMISSION_DENIED",
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                "domain": "googleapis.com",
                "metadata": {"service": "calendar-json.googleapis.com", "method": rpc_method},
            }
        ],
        headers={
            "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="insufficient_scope", '
            f'scope="{" ".join(sorted(accepted_scopes))}"'
        },
        item_message="Insufficient Permission",
    )


def not_found() -> GoogleApiError:
    return GoogleApiError(404, "notFound", "Not Found")


def deleted() -> GoogleApiError:
    return GoogleApiError(410, "deleted", "Resource has been deleted")


def duplicate() -> GoogleApiError:
    return GoogleApiError(409, "duplicate", "The requested identifier already exists.")


def invalid(message: str, location: str | None = None) -> GoogleApiError:
    return GoogleApiError(400, "invalid", message, location=location, location_type="parameter" if location else None)


def required(message: str) -> GoogleApiError:
    return GoogleApiError(400, "required", message)


def bad_request(message: str = "Bad Request") -> GoogleApiError:
    return GoogleApiError(400, "badRequest", message)


def parse_error() -> GoogleApiError:
    return GoogleApiError(400, "parseError", "Parse Error")


def time_range_empty(location: str | None = "timeMax") -> GoogleApiError:
    return GoogleApiError(
        400, "timeRangeEmpty", "The specified time range is empty.",
        domain="calendar", location=location, location_type="parameter" if location else None,
    )


def time_range_too_long() -> GoogleApiError:
    # [seen] in cal.com's issue tracker (calcom/cal.com#11696); the limit itself is undocumented.
    return GoogleApiError(
        400, "timeRangeTooLong", "The requested time range is too long.",
        domain="calendar", location="timeMax", location_type="parameter",
    )


def invalid_conference_type() -> GoogleApiError:
    return GoogleApiError(400, "invalid", "Invalid conference type value.")


def full_sync_required() -> GoogleApiError:
    return GoogleApiError(
        410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.",
        domain="calendar", location="syncToken", location_type="parameter",
    )


def rate_limited(status: int = 429, retry_after: float | None = None, reason: str = "rateLimitExceeded") -> GoogleApiError:
    message = "User Rate Limit Exceeded" if reason == "userRateLimitExceeded" else "Rate Limit Exceeded"
    # Google sends Retry-After only with 429; a 403 rate limit just says back off.
    headers = {"Retry-After": str(int(retry_after))} if status == 429 and retry_after is not None else {}
    return GoogleApiError(status, reason, message, domain="usageLimits", headers=headers)


def quota_exceeded() -> GoogleApiError:
    return GoogleApiError(403, "quotaExceeded", "Calendar usage limits exceeded.", domain="usageLimits")


def backend_error(status: int = 500) -> GoogleApiError:
    message = "The service is currently unavailable." if status == 503 else "Backend Error"
    return GoogleApiError(status, "backendError", message)


def condition_not_met() -> GoogleApiError:
    """412 for an ``If-Match`` etag that is no longer current."""
    return GoogleApiError(412, "conditionNotMet", "Precondition Failed", location_type="header", location="If-Match")
