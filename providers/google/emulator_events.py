"""Building and validating Calendar API event resources
(https://developers.google.com/workspace/calendar/api/v3/reference/events)."""

from __future__ import annotations

import base64
import copy
import re
import secrets
from datetime import date, datetime, time, tzinfo
from typing import Any

from providers.emulator_kit.timefmt import format_rfc3339, from_epoch, parse_local, zone_or_none

from . import emulator_errors as errors

# Client-chosen ids: base32hex (a-v, 0-9), 5-1024 characters (Event.id in the discovery doc).
EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
_BASE32HEX = "0123456789abcdefghijklmnopqrstuv"

# What a client may set; everything else in a request body is ignored, as Google does with
# read-only fields.
WRITABLE_FIELDS = (
    "summary", "description", "location", "start", "end", "attendees", "reminders",
    "transparency", "visibility", "status", "colorId", "recurrence", "extendedProperties",
    "guestsCanInviteOthers", "guestsCanModify", "guestsCanSeeOtherGuests", "anyoneCanAddSelf",
    "source", "eventType", "outOfOfficeProperties", "focusTimeProperties",
    "workingLocationProperties", "originalStartTime", "attendeesOmitted",
)
_ENUMS = {
    "status": ("confirmed", "tentative", "cancelled"),
    "transparency": ("opaque", "transparent"),
    "visibility": ("default", "public", "private", "confidential"),
    "eventType": ("default", "outOfOffice", "focusTime", "workingLocation", "fromGmail", "birthday"),
}
_ATTENDEE_FIELDS = ("email", "displayName", "optional", "responseStatus", "comment", "additionalGuests", "resource")
_RESPONSE_STATUSES = ("needsAction", "declined", "tentative", "accepted")


def new_event_id() -> str:
    return "".join(secrets.choice(_BASE32HEX) for _ in range(26))


def check_event_id(value: Any) -> str:
    if not isinstance(value, str) or not EVENT_ID.match(value):
        raise errors.invalid("Invalid resource id value.")
    return value


def html_link(event_id: str, calendar_email: str) -> str:
    eid = base64.urlsafe_b64encode(f"{event_id} {calendar_email}".encode()).rstrip(b"=").decode()
    return f"https://www.google.com/calendar/event?eid={eid}"


def public_view(event: dict[str, Any]) -> dict[str, Any]:
    """The wire form: internal bookkeeping keys start with an underscore."""
    return copy.deepcopy({k: v for k, v in event.items() if not k.startswith("_")})


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Patch semantics of Google's APIs: objects merge, arrays and scalars replace, null clears."""
    result = copy.deepcopy(target)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge_patch(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def writable_part(body: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(body[k]) for k in WRITABLE_FIELDS if k in body and body[k] is not None}


def check_enums(event: dict[str, Any]) -> None:
    for field, allowed in _ENUMS.items():
        if field in event and event[field] not in allowed:
            raise errors.invalid(f"Invalid value for: {field}")


def _slot(value: Any, which: str, calendar_zone: tzinfo) -> tuple[dict[str, str], datetime, bool]:
    if not isinstance(value, dict) or not (value.get("dateTime") or value.get("date")):
        raise errors.required(f"Missing {which} time.")
    zone_name = value.get("timeZone")
    zone = calendar_zone
    if zone_name:
        named = zone_or_none(zone_name)
        if named is None:
            raise errors.invalid(f"Invalid time zone definition for {which} time.")
        zone = named
    if value.get("dateTime"):
        try:
            moment = parse_local(value["dateTime"], zone)
        except (TypeError, ValueError):
            raise errors.invalid(f"Invalid {which} time.") from None
        out = {"dateTime": format_rfc3339(moment, zone=zone)}
        all_day = False
    else:
        try:
            day = date.fromisoformat(value["date"])
        except (TypeError, ValueError):
            raise errors.invalid(f"Invalid {which} time.") from None
        out = {"date": day.isoformat()}
        moment, all_day = datetime.combine(day, time(), zone), True
    if zone_name:
        out["timeZone"] = zone_name
    return out, moment, all_day


def normalise_times(event: dict[str, Any], calendar_zone: tzinfo) -> tuple[datetime, datetime]:
    """Validate start/end in place (formatted the way Google answers) and return them as
    instants, for free/busy and time filters."""
    start, start_at, start_all_day = _slot(event.get("start"), "start", calendar_zone)
    end, end_at, end_all_day = _slot(event.get("end"), "end", calendar_zone)
    if start_all_day != end_all_day:
        raise errors.bad_request("Start and end times must either both be date or both be dateTime.")
    if end_at < start_at:
        raise errors.time_range_empty(location=None)
    event["start"], event["end"] = start, end
    return start_at, end_at


def normalise_attendees(attendees: Any, organizer_email: str) -> list[dict[str, Any]]:
    if not isinstance(attendees, list):
        raise errors.invalid("Invalid attendees value.")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for raw in attendees:
        if not isinstance(raw, dict) or not isinstance(raw.get("email"), str) or "@" not in raw["email"]:
            raise errors.invalid("Invalid attendee email.")
        email = raw["email"].strip().lower()
        if email in seen:
            continue  # Google folds duplicate attendees into one
        seen.add(email)
        attendee = {k: copy.deepcopy(raw[k]) for k in _ATTENDEE_FIELDS if k in raw}
        attendee["email"] = email
        if email == organizer_email:
            attendee.update(organizer=True, self=True)
            attendee.setdefault("responseStatus", "accepted")
        attendee.setdefault("responseStatus", "needsAction")
        if attendee["responseStatus"] not in _RESPONSE_STATUSES:
            raise errors.invalid("Invalid attendee responseStatus.")
        out.append(attendee)
    return out


def etag_for(now: float, seq: int) -> str:
    return f'"{int(now * 1000) * 1000 + seq % 1000}"'


def timestamp(now: float) -> str:
    return format_rfc3339(from_epoch(now), millis=True)
