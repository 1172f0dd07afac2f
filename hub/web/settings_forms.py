"""The settings page's forms: working hours as one text field per day, and mapping the API's
field-named validation errors back onto those fields.

The page does not validate on its own: it turns the form into the API's JSON shape and runs the
very parser `PUT /v1/users/{id}` runs (hub/services/working_hours.py), so a value the page
accepts is a value the API accepts and the messages are the same.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

DAYS: tuple[tuple[str, str], ...] = (("mon", "Monday"), ("tue", "Tuesday"), ("wed", "Wednesday"),
                                     ("thu", "Thursday"), ("fri", "Friday"), ("sat", "Saturday"),
                                     ("sun", "Sunday"))
DEFAULT_WEEKLY = {day: [["09:00", "17:00"]] for day, _ in DAYS[:5]}

# "09:00-12:00, 13:00-17:00": intervals split by commas or semicolons, ends by a hyphen, an en
# or em dash, or the word "to" (what people type and what phones autocorrect to).
_SEPARATORS = re.compile(r"[,;\n]")
_DASH = re.compile(r"\s*(?:-|–|—|\bto\b)\s*")
_SHORT_HOUR = re.compile(r"^(\d):(\d\d)$")
_INDEXED_DAY = re.compile(r"working_hours\.weekly\.(mon|tue|wed|thu|fri|sat|sun)\[(\d+)\]")


@dataclass
class FormErrors:
    """Messages by form field name; `general` for what belongs to no single field."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def add(self, name: str | None, message: str) -> None:
        if name is None:
            self.general.append(message)
        else:
            self.fields.setdefault(name, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)

    def count(self) -> int:
        return sum(len(v) for v in self.fields.values()) + len(self.general)


def weekly_text(intervals: list[list[str]] | None) -> str:
    """One day's intervals as the text field shows them."""
    return ", ".join(f"{start}-{end}" for start, end in intervals or [])


def form_values(working_hours: Mapping[str, Any] | None, user_timezone: str | None) -> dict[str, str]:
    """The hours form filled from what is stored (the default schedule when nothing is)."""
    stored = working_hours or {}
    weekly = stored.get("weekly", DEFAULT_WEEKLY) if working_hours else DEFAULT_WEEKLY
    values = {"timezone": stored.get("timezone") or user_timezone or "UTC"}
    for day, _ in DAYS:
        values[f"hours_{day}"] = weekly_text(weekly.get(day))
    return values


def parse_day(text: str, day: str, errors: FormErrors) -> list[list[str]] | None:
    """The text of one day's field as `[["HH:MM","HH:MM"], …]`, or None after adding errors.
    Only the shape is checked here; the times themselves are the API parser's business."""
    out: list[list[str]] = []
    ok = True
    for index, chunk in enumerate(c.strip() for c in _SEPARATORS.split(text) if c.strip()):
        parts = _DASH.split(chunk)
        if len(parts) != 2 or not all(parts):
            errors.add(f"hours_{day}", f"Interval {index + 1}: write it as start-end, for example 09:00-17:00 "
                                       f"(got {chunk!r})")
            ok = False
            continue
        out.append([_pad(parts[0]), _pad(parts[1])])
    return out if ok else None


def _pad(value: str) -> str:
    # "9:00" is what people type; the API's format is "09:00". Anything else goes through as
    # typed so the API's own message names it.
    match = _SHORT_HOUR.match(value.strip())
    return f"0{match.group(1)}:{match.group(2)}" if match else value.strip()


@dataclass(frozen=True)
class HoursUpdate:
    timezone: str
    working_hours: dict[str, Any]


def read_hours_form(form: Mapping[str, str], stored: Mapping[str, Any] | None,
                    parse_working_hours: Callable[[dict, str], dict]) -> tuple[HoursUpdate | None, FormErrors]:
    """Validate the hours form exactly as the API would validate the same JSON. Date overrides
    the scheduling tool set through the API are kept: this form does not edit them."""
    errors = FormErrors()
    timezone = (form.get("timezone") or "").strip()
    weekly: dict[str, list[list[str]]] = {}
    for day, _ in DAYS:
        parsed = parse_day(form.get(f"hours_{day}", ""), day, errors)
        if parsed:
            weekly[day] = parsed
    data: dict[str, Any] = {"timezone": timezone, "weekly": weekly,
                            "overrides": list((stored or {}).get("overrides") or [])}
    try:
        normalised = parse_working_hours(data, timezone or "UTC")
    except ValueError as exc:
        problems = (exc.as_problem_errors() if hasattr(exc, "as_problem_errors")
                    else [{"field": "working_hours", "message": str(exc)}])
        for err in problems:
            add_api_error(errors, err["field"], err["message"])
        normalised = None
    if errors or normalised is None:
        return None, errors
    return HoursUpdate(timezone, normalised), errors


def add_api_error(errors: FormErrors, api_field: str, message: str) -> None:
    """Put an API error (`working_hours.weekly.mon[1]`, `timezone` …) next to its form field."""
    if api_field in ("timezone", "working_hours.timezone"):
        if message not in errors.fields.get("timezone", []):
            errors.add("timezone", message)
        return
    if api_field == "default_conferencing":
        errors.add("default_conferencing", message)
        return
    match = _INDEXED_DAY.match(api_field)
    readable = _INDEXED_DAY.sub(lambda m: f"interval {int(m.group(2)) + 1}", message)
    if match:
        errors.add(f"hours_{match.group(1)}", f"Interval {int(match.group(2)) + 1}: {readable}")
        return
    day = re.match(r"working_hours\.weekly\.(mon|tue|wed|thu|fri|sat|sun)$", api_field)
    if day:
        errors.add(f"hours_{day.group(1)}", readable)
        return
    if api_field.startswith("working_hours.overrides"):
        errors.add(None, f"A date exception set by your scheduling tool is not valid ({api_field}: {readable}).")
        return
    errors.add(None, f"{api_field}: {readable}" if api_field else readable)
