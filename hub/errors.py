"""Domain errors: what a service says went wrong, with no HTTP in it.

Services raise these; the API layer (hub/app.py) turns each class into its problem+json status,
so the same service can serve the API, the settings page, the CLI and background jobs. `code` is
the stable snake_case code of API.md; `fix` is `{"action", "url"?, "steps"?}`.
"""
from __future__ import annotations

from typing import Any


class HubError(Exception):
    def __init__(self, code: str, title: str, detail: str | None = None, *,
                 fix: dict[str, Any] | None = None, errors: list[dict[str, str]] | None = None,
                 retry_after: float | None = None, **extra: Any) -> None:
        super().__init__(detail or title)
        self.code = code
        self.title = title
        self.detail = detail or title
        self.fix = fix
        self.errors = errors
        self.retry_after = retry_after
        self.extra = extra


class NotFound(HubError):
    """No such thing for this tenant (another tenant's ids are not found either)."""


class Conflict(HubError):
    """The thing exists but its state forbids the request (needs reconnecting, in progress…)."""


class Invalid(HubError):
    """The request itself cannot be carried out as asked (validation, unavailable choices)."""


class Gone(HubError):
    """The thing ended (a cancelled request's links)."""


class ProviderFailed(HubError):
    """A provider refused or failed; `extra` carries its kind and cause."""


class Unavailable(HubError):
    """The hub itself cannot serve now (database down); try again after `retry_after`."""


def invalid_fields(errors: list[dict[str, str]]) -> Invalid:
    fields = ", ".join(e["field"] for e in errors if e.get("field")) or "the request body"
    return Invalid("validation_failed", "The request is not valid", f"Check {fields}.", errors=errors)


def not_found(what: str, code: str = "not_found") -> NotFound:
    return NotFound(code, f"{what} not found", f"No {what.lower()} with that id exists.")
