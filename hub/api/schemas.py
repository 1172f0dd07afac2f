"""Request and response schemas. The same models validate requests and generate /openapi.json."""
from __future__ import annotations

import functools
import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AwareDatetime, BeforeValidator, ConfigDict, EmailStr, Field, field_validator, model_validator

from hub.api.model_base import ApiModel
from providers import registry

from hub.services.return_urls import RETURN_URL_PATTERN, parse_return_url

USER_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")
# Enums derived from the provider registry, so API validation and the OpenAPI document list
# exactly the providers and conferencing this hub has (a new provider needs no edit here).
if TYPE_CHECKING:  # pragma: no cover
    ProviderName = str
    ConferencingChoice = str
else:
    ProviderName = Literal[tuple(registry.names())]
    ConferencingChoice = Literal[(*registry.conferencing_choices(), "none", "default")]


class Strict(ApiModel):
    model_config = ConfigDict(extra="forbid")


def _text_time(value: Any) -> Any:
    # pydantic would read a number as seconds since 1970: `"start": 123` is a mistake, not 1970.
    if not isinstance(value, (str, datetime)):
        raise ValueError("expected an RFC 3339 date-time string with an offset, e.g. 2026-03-02T09:00:00Z")
    return value


# A time in a request: RFC 3339 text with an offset, never a bare number.
Timestamp = Annotated[AwareDatetime, BeforeValidator(_text_time)]


@functools.lru_cache(maxsize=1)
def iana_zones() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


def zone_schema(schema: dict[str, Any]) -> None:
    """The OpenAPI document lists the zone names the validator accepts."""
    for option in schema.get("anyOf", [schema]):
        if option.get("type") == "string":
            option["enum"] = list(iana_zones())


def _check_zone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {value!r}") from None
    if value not in iana_zones():  # ZoneInfo also opens files that are not zones ("posixrules")
        raise ValueError(f"unknown IANA time zone {value!r}")
    return value


_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
_END_TIME = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"
_INTERVALS = {"type": "array", "maxItems": 48, "items": {
    "type": "array", "minItems": 2, "maxItems": 2,
    "prefixItems": [{"type": "string", "pattern": _TIME}, {"type": "string", "pattern": _END_TIME}]}}
# The shape hub/availability/working_hours.py validates, for the OpenAPI document.
WORKING_HOURS_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "timezone": {"type": "string", "enum": None},  # filled with the IANA names below
        "weekly": {"type": "object", "additionalProperties": False,
                   "properties": {d: _INTERVALS for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}},
        "overrides": {"type": "array", "maxItems": 366, "items": {
            "type": "object", "additionalProperties": False, "required": ["date", "intervals"],
            "properties": {"date": {"type": "string", "format": "date"}, "intervals": _INTERVALS}}},
    },
}


def _nullable_object(schema: dict[str, Any], shape: dict[str, Any]) -> None:
    shape["properties"]["timezone"]["enum"] = list(iana_zones())
    for option in schema.get("anyOf", [schema]):
        if option.get("type") == "object":
            option.clear()
            option.update(shape)


class UserIn(Strict):
    email: EmailStr
    name: str | None = Field(default=None, max_length=256)
    timezone: str | None = Field(default=None, description="IANA zone, e.g. Europe/Stockholm",
                                 json_schema_extra=zone_schema)
    working_hours: dict[str, Any] | None = Field(
        default=None, description='{"timezone","weekly":{"mon":[["09:00","17:00"]]},"overrides":[…]}. '
                                  "An interval's start and end differ (an end before the start runs "
                                  "overnight); intervals of a day do not overlap; override dates are unique.",
        json_schema_extra=lambda schema: _nullable_object(schema, WORKING_HOURS_SCHEMA))
    default_conferencing: ConferencingChoice | None = None

    _zone = field_validator("timezone")(_check_zone)


class UserOut(ApiModel):
    user_id: str
    email: str
    name: str | None
    timezone: str | None
    working_hours: dict[str, Any] | None
    default_conferencing: str | None
    created_at: datetime
    updated_at: datetime


RETURN_URL_DOC = ("Where the browser goes afterwards: an absolute http(s) URL (printable ASCII, a host name, "
                  "no user info, spaces or backslashes) on one of the tenant's return origins when it has "
                  "set any (`PUT /v1/return-origins`; else 422 `return_url_not_allowed`).")


def _return_url_field() -> Any:
    return Field(default=None, max_length=2048, pattern=RETURN_URL_PATTERN, description=RETURN_URL_DOC,
                 json_schema_extra={"format": "uri"})


class ConnectLinkIn(Strict):
    provider: ProviderName
    return_url: str | None = _return_url_field()
    login_hint: str | None = Field(default=None, max_length=320)

    @field_validator("return_url", mode="before")
    @classmethod
    def _strict(cls, value: Any) -> Any:
        return _strict_return_url(value)


class SettingsLinkIn(Strict):
    return_url: str | None = _return_url_field()

    @field_validator("return_url", mode="before")
    @classmethod
    def _strict(cls, value: Any) -> Any:
        return _strict_return_url(value)


def _strict_return_url(value: Any) -> Any:
    # Before pydantic's `pattern` check, with the reasons spelled out.
    return parse_return_url(value) if isinstance(value, str) else value


class LinkOut(ApiModel):
    url: str
    expires_at: datetime


class ErrorOut(ApiModel):
    kind: str
    cause: str | None
    message: str
    at: datetime | None = None


class ConnectionOut(ApiModel):
    id: str
    provider: str
    account_email: str | None
    status: Literal["active", "needs_reauth"]
    scopes: list[str]
    capabilities: list[str]
    connected_at: datetime
    last_used_at: datetime | None
    last_error: ErrorOut | None


class ConnectionsOut(ApiModel):
    connections: list[ConnectionOut]


class Window(Strict):
    start: Timestamp
    end: Timestamp

    @model_validator(mode="after")
    def _ordered(self):
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


CONSISTENCY_DOC = ("`cached` (default): a participant whose busy cache is fresh (push channel healthy, nothing "
                   "waiting to sync, synced within HUB_CACHE_MAX_AGE_SECONDS, the range inside the synced window) "
                   "is answered from it without a provider call, the others live. `live`: every participant is "
                   "read from the provider.")
SOURCE_DOC = "Where this participant's answer came from: the busy cache or a live provider read"
FRESH_DOC = ("What the answer knows the calendar as of: the end of the last sync (cache) or the moment the provider "
             "was asked (live); null when the calendar could not be read")


def _consistency_field() -> Any:
    return Field(default="cached", description=CONSISTENCY_DOC)


class FreeBusyIn(Window):
    users: list[str] = Field(min_length=1, max_length=100)
    consistency: Literal["cached", "live"] = _consistency_field()


class BusyOut(ApiModel):
    start: datetime
    end: datetime
    status: Literal["busy", "tentative", "oof"]


class ParticipantError(ApiModel):
    kind: str
    cause: str | None
    message: str
    # Seconds the provider asked the hub to wait before asking again (rate limits, outages).
    retry_after: float | None = None


class FreeBusyUserOut(ApiModel):
    status: Literal["ok", "error"]
    busy: list[BusyOut]
    error: ParticipantError | None
    source: Literal["cache", "live"] = Field(description=SOURCE_DOC)
    fresh_as_of: datetime | None = Field(description=FRESH_DOC)


class FreeBusyOut(ApiModel):
    start: datetime
    end: datetime
    users: dict[str, FreeBusyUserOut]


class AttendeeIn(Strict):
    email: EmailStr
    name: str | None = Field(default=None, max_length=256)
    optional: bool = False


class AttendanceThresholds(Strict):
    """Track whether the candidate joins the meeting (Zoom, Meet or Teams). Scheduling requests
    and interview templates take this; the candidate who books is the one watched."""

    grace_minutes: int = Field(default=10, ge=1, le=60,
                               description="No-show when not joined by start + this (confirmed by the provider)")
    late_after_minutes: int = Field(default=3, ge=0, le=30, description="Late when not joined by start + this")

    @model_validator(mode="after")
    def _late_before_grace(self):
        if self.late_after_minutes > self.grace_minutes:
            raise ValueError("late_after_minutes must not exceed grace_minutes")
        return self


class AttendanceIn(AttendanceThresholds):
    """Track whether the candidate joins the meeting (Zoom, Meet or Teams)."""

    candidate_email: EmailStr | None = Field(
        default=None, description="Who is watched; default: the first attendee who is not a hub user")


class EventIn(Window):
    organizer: str
    title: str = Field(min_length=1, max_length=1024)
    description: str | None = Field(default=None, max_length=8192)
    timezone: str | None = Field(default=None, json_schema_extra=zone_schema)
    attendees: list[AttendeeIn] = Field(default_factory=list, max_length=200)
    conferencing: ConferencingChoice = "default"
    location: str | None = Field(default=None, max_length=1024)
    send_updates: bool = True
    attendance: AttendanceIn | None = None

    _zone = field_validator("timezone")(_check_zone)


class EventPatch(Strict):
    # At least one of the fields that change something (send_updates alone does not).
    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [
        {"required": [name]} for name in ("start", "end", "title", "description", "attendees")]})

    start: Timestamp | None = None
    end: Timestamp | None = None
    title: str | None = Field(default=None, min_length=1, max_length=1024)
    description: str | None = Field(default=None, max_length=8192)
    attendees: list[AttendeeIn] | None = Field(default=None, max_length=200)
    send_updates: bool = True

    @model_validator(mode="after")
    def _something(self):
        if not self.model_fields_set - {"send_updates"}:
            raise ValueError("nothing to change: give start, end, title, description or attendees")
        return self


class CalendarRef(ApiModel):
    provider: str
    event_id: str
    html_link: str | None = None


class ConferencingOut(ApiModel):
    provider: str
    join_url: str
    meeting_id: str | None = None
    passcode: str | None = None
    dial_in: list[dict[str, Any]] | None = None


class AttendeeOut(ApiModel):
    email: str
    name: str | None = None
    optional: bool = False
    response_status: Literal["accepted", "declined", "tentative", "needs_action"] = "needs_action"


class EventOut(ApiModel):
    id: str
    organizer: str
    title: str
    description: str | None
    start: datetime
    end: datetime
    timezone: str | None
    attendees: list[AttendeeOut]
    calendar: CalendarRef
    conferencing: ConferencingOut | None
    status: Literal["confirmed", "cancelled"]


class AttendanceParticipantOut(ApiModel):
    email: str | None = None
    name: str
    role: Literal["candidate", "interviewer", "other"]
    joined_at: datetime
    left_at: datetime | None = None
    minutes_late: int


class AttendanceDeadlineOut(ApiModel):
    kind: Literal["late", "deadline"]
    due_at: datetime
    status: Literal["pending", "done", "cancelled", "failed"]


class WatchedOut(ApiModel):
    email: str
    name: str | None = None
    key: str = Field(description="The candidate's join key: a Zoom Meeting SDK join that passes it as "
                                 "customerKey is matched by it (Zoom reports guests without an email)")


class AttendanceOut(ApiModel):
    event_id: str
    status: Literal["scheduled", "waiting", "in_progress", "ended", "cancelled"]
    source: Literal["zoom_webhooks", "zoom_api", "meet_api", "teams_report"] = Field(
        description="Where the participant list came from; teams_report exists only after the meeting ends")
    live: bool = Field(description="False when the provider reports only after the meeting (Teams)")
    read_at: datetime | None = Field(description="Last read of the provider's participant list")
    candidate: Literal["unknown", "on_time", "late", "no_show"]
    watching: WatchedOut
    grace_minutes: int
    late_after_minutes: int
    deadlines: list[AttendanceDeadlineOut]
    participants: list[AttendanceParticipantOut]
    notices: list[str] = Field(description="attendance.* webhooks queued so far (each is sent once)")
    error: dict[str, Any] | None = Field(description="The last failed provider read, retried until it works")


class ProblemOut(ApiModel):
    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[dict[str, str]] | None = None
    fix: dict[str, Any] | None = None


class ParticipantIn(Strict):
    user_id: str
    optional: bool = False


class AvailabilityIn(Window):
    participants: list[ParticipantIn] = Field(min_length=1, max_length=100)
    duration_minutes: int = Field(default=30, ge=1, le=1440)
    interval_minutes: int = Field(default=30, ge=1, le=1440)
    buffer_before_minutes: int = Field(default=0, ge=0, le=1440)
    buffer_after_minutes: int = Field(default=0, ge=0, le=1440)
    minimum_notice_minutes: int = Field(default=0, ge=0, le=60 * 24 * 90)
    respect_working_hours: bool = True
    max_results: int = Field(default=500, ge=1, le=5000)
    consistency: Literal["cached", "live"] = _consistency_field()


class SlotOut(ApiModel):
    start: datetime
    end: datetime
    optional_available: list[str]


class ParticipantStatusOut(ApiModel):
    status: Literal["ok", "error"]
    error: ParticipantError | None
    source: Literal["cache", "live"] = Field(description=SOURCE_DOC)
    fresh_as_of: datetime | None = Field(description=FRESH_DOC)


class AvailabilityOut(ApiModel):
    complete: bool
    slots: list[SlotOut]
    participants: dict[str, ParticipantStatusOut]
