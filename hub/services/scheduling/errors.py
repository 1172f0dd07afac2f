"""Scheduling's domain errors: each code is raised as the `hub.errors` class that says what
kind of failure it is (the API layer maps classes to statuses); titles are read by people."""
from __future__ import annotations

from typing import Any

from hub.errors import Conflict, Gone, HubError, Invalid, NotFound, ProviderFailed

KINDS: dict[str, type[HubError]] = {
    "scheduling_request_not_found": NotFound, "template_not_found": NotFound, "candidate_not_found": NotFound,
    "slot_not_found": NotFound, "booking_link_unknown": NotFound,
    "request_ended": Gone,
    "slot_taken": Conflict, "slot_unavailable": Conflict, "already_booked": Conflict, "not_booked": Conflict,
    "request_not_pending": Conflict, "calendar_unavailable": Conflict,
    "hold_failed": ProviderFailed,
}
TITLES = {"not_enough_slots": "Not enough slots", "slot_busy": "A slot is busy", "slot_in_past": "A slot is in the past",
          "slot_taken": "The slot was just taken", "slot_unavailable": "The slot is no longer free",
          "request_ended": "The scheduling request has ended", "reason_required": "A reason is required",
          "unknown_users": "Unknown users", "calendar_unavailable": "A calendar cannot be used",
          "hold_failed": "A hold could not be placed"}


def fail(code: str, detail: str, *, errors: list[dict[str, str]] | None = None, **extra: Any) -> HubError:
    """The error for `code`: Invalid (422) unless KINDS says otherwise."""
    title = TITLES.get(code, code.replace("_", " ").capitalize())
    return KINDS.get(code, Invalid)(code, title, detail, errors=errors, **extra)


def invalid(field: str, message: str, code: str = "validation_failed") -> HubError:
    return fail(code, f"{field}: {message}", errors=[{"field": field, "message": message}])
