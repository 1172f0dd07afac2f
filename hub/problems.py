"""RFC 9457 problem details: the one error shape the HTTP API answers with."""
from __future__ import annotations

import math
from typing import Any

from flask import Response, json

from hub import errors
from hub.errors import HubError

PROBLEM_TYPE_BASE = "https://calendar-hub.dev/problems/"


class Problem(Exception):
    """Raise anywhere below a view; the app turns it into application/problem+json."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str | None = None,
        *,
        fix: dict[str, Any] | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail or title
        self.fix = fix
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if self.errors:
            out["errors"] = self.errors
        if self.fix:
            out["fix"] = self.fix
        out.update({k: v for k, v in self.extra.items() if v is not None})
        return out

    def response(self) -> Response:
        resp = Response(json.dumps(self.body()), status=self.status,
                        mimetype="application/problem+json")
        for name, value in self.headers.items():
            resp.headers[name] = value
        return resp


# The one place a domain error becomes an HTTP status.
STATUS: dict[type[HubError], int] = {
    errors.NotFound: 404, errors.Conflict: 409, errors.Gone: 410, errors.Invalid: 422,
    errors.ProviderFailed: 502, errors.Unavailable: 503,
}


def problem_of(err: HubError) -> Problem:
    status = next((code for cls, code in STATUS.items() if isinstance(err, cls)), 500)
    headers = {"Retry-After": str(max(1, math.ceil(err.retry_after)))} if err.retry_after else None
    return Problem(status, err.code, err.title, err.detail, fix=err.fix, errors=err.errors,
                   headers=headers, **err.extra)


def not_found(what: str, code: str = "not_found") -> Problem:
    return Problem(404, code, f"{what} not found", f"No {what.lower()} with that id exists.")


def validation_problem(errors: list[dict[str, str]]) -> Problem:
    fields = ", ".join(e["field"] for e in errors if e.get("field")) or "the request body"
    return Problem(422, "validation_failed", "The request is not valid",
                   f"Check {fields}.", errors=errors)


DATABASE_RETRY_AFTER_SECONDS = 30


def database_problem(code: str) -> Problem:
    """503 with Retry-After: the request was fine, the database is not; retrying later works."""
    detail = ("The hub's database accepts no writes right now (read-only)." if code == "database_read_only"
              else "The hub cannot reach its database right now.")
    return Problem(503, code, "Database unavailable", detail + " Nothing was changed; retry later.",
                   headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})
