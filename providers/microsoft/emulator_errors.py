"""Microsoft Graph error bodies as the sandbox sends them.

Shape (https://learn.microsoft.com/graph/errors):
``{"error": {"code", "message", "innerError": {"date", "request-id", "client-request-id"}}}``.
Codes and messages below are the ones PROVIDERS.md lists, with the wording captured in public
bug reports where Microsoft's docs do not quote it.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from flask import Response, jsonify, request


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def response(self) -> Response:
        request_id = str(uuid.uuid4())
        client_request_id = request.headers.get("client-request-id") or request_id
        inner = {
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
            "request-id": request_id,
            "client-request-id": client_request_id,
        }
        response = jsonify({"error": {"code": self.code, "message": self.message, "innerError": inner}})
        response.status_code = self.status
        response.headers.update({"request-id": request_id, "client-request-id": client_request_id, **self.headers})
        return response


def token_empty() -> GraphError:
    return GraphError(401, "InvalidAuthenticationToken", "Access token is empty.",
                      {"WWW-Authenticate": 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"'})


def token_invalid(known: bool) -> GraphError:
    # Graph names expiry for a token it can read; the sandbox's tokens are opaque, so an unknown
    # one gets the "not well formed" wording real Graph gives a non-JWT.
    message = ("Lifetime validation failed, the token is expired." if known
               else "IDX14100: JWT is not well formed, there are no dots (.).")
    return GraphError(401, "InvalidAuthenticationToken", message,
                      {"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'})


def access_denied() -> GraphError:
    # [seen] what Outlook endpoints answer when the token lacks the calendar/mailbox scope.
    return GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")


def directory_denied() -> GraphError:
    return GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")


def mailbox_not_enabled() -> GraphError:
    # [seen] e.g. github.com/microsoft/MicrosoftCloud/issues/41
    return GraphError(404, "MailboxNotEnabledForRESTAPI",
                      "The mailbox is either inactive, soft-deleted, or is hosted on-premise.")


def item_not_found() -> GraphError:
    return GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")


def invalid_id() -> GraphError:
    return GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.")


def invalid_user(user: str) -> GraphError:
    return GraphError(404, "ErrorInvalidUser", f"The requested user '{user}' is invalid.")


def invalid_request(message: str) -> GraphError:
    return GraphError(400, "ErrorInvalidRequest", message)


def bad_body(message: str = "Empty Payload. JSON content expected.") -> GraphError:
    return GraphError(400, "BadRequest", message)


def invalid_property(message: str) -> GraphError:
    return GraphError(400, "ErrorInvalidProperty", message)


def time_zone_not_supported(name: str) -> GraphError:
    return GraphError(400, "ErrorTimeZoneNotSupportedException",
                      f"A valid TimeZone value must be specified. The following TimeZone value is not supported: '{name}'.")


def time_interval_too_big(days: int) -> GraphError:
    # [seen] microsoftgraph/microsoft-graph-docs#19703
    return GraphError(400, "ErrorTimeIntervalTooBig",
                      "The requested time duration specified for FreeBusyViewOptions.TimeWindow is too long. "
                      f"The allowed limit = 62 days; the actual limit = {days} days.")


def throttled(retry_after: int | None, message: str = "Application is over its MailboxConcurrency limit.") -> GraphError:
    # [seen] magodo/terraform-provider-outlook#21; Graph sometimes omits Retry-After [?].
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return GraphError(429, "ApplicationThrottled", message, headers)


def server_error(status: int = 503) -> GraphError:
    # https://learn.microsoft.com/graph/errors#code-property
    if status == 503:
        return GraphError(503, "serviceNotAvailable",
                          "The service is not available. Try the request again after a delay.", {"Retry-After": "1"})
    return GraphError(status, "generalException", "An unspecified error has occurred.")
