"""What every emulator's ``POST /_control/meetings/{provider}/{id}/participants`` shares: the
body's fields and the refusal the control API turns into its answer."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

from .timefmt import from_epoch, parse_rfc3339


class ControlRefusal(ValueError):
    """Raised by an emulator for a control request it cannot carry out; the control API
    answers with `status` and `body`."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body


def not_found(message: str) -> ControlRefusal:
    return ControlRefusal(404, {"error": "not_found", "message": message})


def participant_fields(body: Mapping[str, Any], now: float) -> tuple[str, str, datetime, datetime | None]:
    """(name, email, joined_at, left_at) of a join; joined_at defaults to the sandbox's now."""
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise ControlRefusal(422, {"error": "validation_error", "field": "name", "message": "A name."})
    email = body.get("email") or ""
    if not isinstance(email, str):
        raise ControlRefusal(422, {"error": "validation_error", "field": "email", "message": "A string."})
    return name, email, _moment(body, "joined_at") or from_epoch(now), _moment(body, "left_at")


def _moment(body: Mapping[str, Any], field: str) -> datetime | None:
    value = body.get(field)
    if value in (None, ""):
        return None
    try:
        return parse_rfc3339(value).astimezone(timezone.utc)
    except ValueError:
        raise ControlRefusal(422, {"error": "validation_error", "field": field,
                                   "message": "An RFC 3339 date-time with offset."}) from None
