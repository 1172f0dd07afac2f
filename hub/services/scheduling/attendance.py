"""Attendance on interviews booked from scheduling requests: the request (or its template) gives
the thresholds, and the candidate who books is the one watched."""
from __future__ import annotations

from typing import Any

from hub.services.attendance import AttendanceRules

DEFAULTS = AttendanceRules()


def thresholds(given: dict[str, Any] | None) -> dict[str, int] | None:
    """The stored form of `"attendance"`: both thresholds, defaults filled in (the API lets a
    request give `{}` or one of them)."""
    if given is None:
        return None
    return {"grace_minutes": int(given.get("grace_minutes", DEFAULTS.grace_minutes)),
            "late_after_minutes": int(given.get("late_after_minutes", DEFAULTS.late_after_minutes))}


def candidate_rules(settings: dict[str, Any], candidate_email: str) -> AttendanceRules | None:
    """What the booked event watches: this candidate, with the request's thresholds."""
    stored = thresholds(settings.get("attendance"))
    if stored is None:
        return None
    return AttendanceRules(stored["grace_minutes"], stored["late_after_minutes"], candidate_email=candidate_email)
