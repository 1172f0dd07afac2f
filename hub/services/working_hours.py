"""Working-hours validation for the API: the engine's own parser, errors named by field."""
from __future__ import annotations

from typing import Any

from hub.availability.working_hours import WorkingHours


def parse_working_hours(data: dict[str, Any], default_timezone: str) -> dict[str, Any]:
    """Normalised JSON form, or `FieldValidationError` (a ValueError) naming every bad field."""
    return WorkingHours.from_dict(data, default_timezone).to_dict()


def working_hours_of(stored: dict[str, Any] | None, user_timezone: str | None) -> WorkingHours:
    if stored:
        return WorkingHours.from_dict(stored, user_timezone or "UTC")
    return WorkingHours.default(user_timezone or "UTC")
