"""Working-hours validation for the API: the engine's own parser, errors named by field."""
from __future__ import annotations

import functools
import json
from typing import Any

from hub.availability.working_hours import WorkingHours


def parse_working_hours(data: dict[str, Any], default_timezone: str) -> dict[str, Any]:
    """Normalised JSON form, or `FieldValidationError` (a ValueError) naming every bad field."""
    return WorkingHours.from_dict(data, default_timezone).to_dict()


def working_hours_of(stored: dict[str, Any] | None, user_timezone: str | None) -> WorkingHours:
    # Parsed once per distinct schedule (WorkingHours is immutable): parsing every participant
    # on every availability request cost more than answering them from the busy cache.
    return _parsed(json.dumps(stored, sort_keys=True) if stored else None, user_timezone or "UTC")


@functools.lru_cache(maxsize=4096)
def _parsed(stored_json: str | None, timezone: str) -> WorkingHours:
    if stored_json:
        return WorkingHours.from_dict(json.loads(stored_json), timezone)
    return WorkingHours.default(timezone)
