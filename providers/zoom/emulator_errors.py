"""Zoom API v2 error bodies: ``{"code": N, "message": "…", "errors"?: [{"field","message"}]}``
(https://developers.zoom.us/docs/api/errors). Messages are Zoom's own wording where a public
capture or the API reference shows it; [?] marks wording that is a close guess."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify


class ZoomApiError(Exception):
    def __init__(self, status: int, code: int, message: str, *, errors: list[dict[str, str]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.body: dict[str, Any] = {"code": code, "message": message}
        if errors:
            self.body["errors"] = errors
        self.headers = headers or {}

    def response(self) -> Response:
        response = jsonify(self.body)
        response.status_code = self.status
        response.headers.update(self.headers)
        return response


def invalid_token(expired: bool = False) -> ZoomApiError:
    """Missing, unknown or revoked access token ([seen] devforum.zoom.us/t/74432); one that
    has only outlived its hour says so ([seen] "Access token is expired.", same code)."""
    return ZoomApiError(401, 124, "Access token is expired." if expired else "Invalid access token.")


def missing_scopes(scopes: list[str]) -> ZoomApiError:
    """The token lacks the endpoint's scopes ([seen] 'Invalid access token, does not contain
    scopes:[…].')."""
    return ZoomApiError(400, 4711, f"Invalid access token, does not contain scopes:[{', '.join(scopes)}].")


def cannot_host() -> ZoomApiError:
    """The user's plan or role does not allow hosting or scheduling meetings (3161)."""
    return ZoomApiError(400, 3161, "Meeting hosting and scheduling capabilities are not allowed for your user account.")


def validation_failed(field: str, message: str = "Invalid field.") -> ZoomApiError:
    return ZoomApiError(400, 300, "Validation Failed.", errors=[{"field": field, "message": message}])


def bad_json() -> ZoomApiError:
    return ZoomApiError(400, 300, "Request Body should be a valid JSON object.")


def user_not_found(user_id: str) -> ZoomApiError:
    return ZoomApiError(404, 1001, f"User does not exist: {user_id}.")


def user_not_in_account(user_id: str) -> ZoomApiError:
    return ZoomApiError(400, 1010, f"User does not belong to this account: {user_id}.")  # [?]


def meeting_not_found(meeting_id: str) -> ZoomApiError:
    return ZoomApiError(404, 3001, f"Meeting does not exist: {meeting_id}.")


def invalid_meeting_id(meeting_id: str) -> ZoomApiError:
    return ZoomApiError(400, 300, f"Invalid meeting id: {meeting_id}.")  # [?]


def rate_limited(retry_after: float, limit_type: str = "QPS") -> ZoomApiError:
    """429 with Zoom's rate-limit headers (https://developers.zoom.us/docs/api/rest/rate-limits/).
    ``limit_type`` is ``QPS`` (per second) or ``Daily-limit``."""
    if limit_type == "Daily-limit":
        message = ("You have reached the maximum daily rate limit for this API. Refer to the response "
                   "header for details on when you can make another request.")
    else:
        message = "You have reached the maximum per-second rate limit for this API. Try again later."
    headers = {"X-RateLimit-Category": "Light", "X-RateLimit-Type": limit_type,
               "X-RateLimit-Limit": "30" if limit_type == "QPS" else "100",
               "X-RateLimit-Remaining": "0", "Retry-After": _seconds(retry_after)}
    return ZoomApiError(429, 429, message, headers=headers)


def server_error(status: int = 500) -> ZoomApiError:
    return ZoomApiError(status, status, "Internal Error.")  # [?] Zoom's 5xx bodies are rarely captured


def not_found(path: str) -> ZoomApiError:
    return ZoomApiError(404, 404, f"The requested resource was not found: {path}")  # [?]


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
