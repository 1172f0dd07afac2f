"""Request and response schemas of interview templates and scheduling requests; they validate
requests and generate /openapi.json like hub/api/schemas.py."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic.json_schema import SkipJsonSchema
from pydantic import (
    AwareDatetime,
    ConfigDict,
    BaseModel,
    EmailStr,
    Field,
    field_validator,
    model_validator,
)

from hub.api.model_base import ApiModel
from hub.api.schemas import (AttendanceThresholds, ConferencingChoice, EventOut, Strict, Window, _check_zone,
                             zone_schema)
from hub.services.scheduling.texts import PLACEHOLDERS, unknown_placeholders

CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
NAMES = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
TEXT_HELP = f"May use {NAMES}."


class CandidateHours(Strict):
    start: str = Field(default="08:00", pattern=CLOCK.pattern, description="HH:MM in the candidate's zone")
    end: str = Field(default="20:00", pattern=CLOCK.pattern, description="HH:MM in the candidate's zone")

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not CLOCK.match(value):
            raise ValueError("must be HH:MM (24-hour)")
        return value

    @model_validator(mode="after")
    def _ordered(self):
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


def _placeholders(value: str | None) -> str | None:
    bad = unknown_placeholders(value)
    if bad:
        raise ValueError(f"unknown placeholder {bad[0]!r}; use {NAMES}")
    return value


class OfferSettings(Strict):
    """Fields a template gives and a request may override."""

    duration_minutes: int | None = Field(default=None, ge=5, le=1440)
    conferencing: ConferencingChoice | None = None
    interval_minutes: int | None = Field(default=None, ge=5, le=1440)
    buffer_before_minutes: int | None = Field(default=None, ge=0, le=1440)
    buffer_after_minutes: int | None = Field(default=None, ge=0, le=1440)
    minimum_notice_minutes: int | None = Field(default=None, ge=0, le=60 * 24 * 90)
    title: str | None = Field(default=None, min_length=1, max_length=1024, description=TEXT_HELP)
    description: str | None = Field(default=None, max_length=8192, description=TEXT_HELP)
    candidate_hours: CandidateHours | None = None
    hold: bool | None = None
    attendance: AttendanceThresholds | None = Field(
        default=None, description="Track whether the candidate who books joins the interview (Zoom, Meet or "
                                  "Teams): attendance.* webhooks for the booked event. A request's replaces its "
                                  "template's.")

    _texts = field_validator("title", "description")(_placeholders)


class TemplateIn(OfferSettings):
    name: str = Field(min_length=1, max_length=256)
    duration_minutes: int = Field(ge=5, le=1440)
    title: str = Field(min_length=1, max_length=1024, description=TEXT_HELP)
    expires_after_days: int | None = Field(default=None, ge=1, le=365)


class TemplateOut(ApiModel):
    template_id: str
    name: str
    duration_minutes: int
    title: str
    description: str | None = None
    conferencing: str | None = None
    interval_minutes: int | None = None
    buffer_before_minutes: int | None = None
    buffer_after_minutes: int | None = None
    minimum_notice_minutes: int | None = None
    candidate_hours: dict[str, str] | None = None
    hold: bool | None = None
    attendance: AttendanceThresholds | None = None
    expires_after_days: int | None = None
    created_at: datetime
    updated_at: datetime


class TemplatesOut(ApiModel):
    templates: list[TemplateOut]


class CandidateIn(Strict):
    email: EmailStr
    name: str | None = Field(default=None, max_length=256)
    timezone: str | None = Field(default=None, description="IANA zone, e.g. America/New_York",
                                 json_schema_extra=zone_schema)

    _zone = field_validator("timezone")(_check_zone)


class RequestIn(OfferSettings):
    # The one given must be a list: a present `"slots": null` does not count as giving slots.
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "oneOf": [{"required": ["slots"], "properties": {"slots": {"type": "array"}}},
                  {"required": ["windows"], "properties": {"windows": {"type": "array"}}}]})

    organizer: str = Field(min_length=1, max_length=128)
    interviewers: list[str] = Field(default_factory=list, max_length=50,
                                    description="Every one is required; the organizer is always one")
    template_id: str | None = Field(default=None, max_length=128)
    candidates: list[CandidateIn] = Field(min_length=1, max_length=50)
    slots: list[Window] | None = Field(default=None, min_length=1, max_length=500)
    windows: list[Window] | None = Field(default=None, min_length=1, max_length=100)
    expires_at: AwareDatetime | None = None
    return_url: str | None = Field(default=None, max_length=2048)

    @model_validator(mode="after")
    def _one_kind(self):
        if (self.slots is None) == (self.windows is None):
            raise ValueError("give exactly one of slots or windows")
        if not (self.slots or self.windows):
            raise ValueError("slots or windows must not be empty")
        return self


class RequestPatch(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "minProperties": 1, "not": {"required": ["slots", "windows"]}})

    slots: list[Window] | None = Field(default=None, max_length=500)
    windows: list[Window] | None = Field(default=None, max_length=100)
    expires_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _something(self):
        if self.slots is not None and self.windows is not None:
            raise ValueError("give slots or windows, not both")
        if not self.model_fields_set:
            raise ValueError("nothing to change: give slots, windows or expires_at")
        return self


class SlotRef(ApiModel):
    id: str | None = None
    start: datetime
    end: datetime


class OfferedSlotOut(SlotRef):
    status: Literal["held", "open", "booked", "unavailable"]
    candidate_id: str | None = None


class CandidateOut(ApiModel):
    id: str
    email: str
    name: str | None
    timezone: str | None
    status: Literal["invited", "booked", "declined", "cancelled"]
    booking_url: str
    slot: SlotRef | None = None
    event_id: str | None = None
    decline_reason: str | None = None
    odd_hour: bool | None = None


class HoldOut(ApiModel):
    user_id: str
    slot_id: str
    provider: str
    event_id: str | None
    status: Literal["active", "releasing"]


class RequestOut(ApiModel):
    id: str
    status: Literal["pending", "completed", "cancelled", "expired"]
    organizer: str
    interviewers: list[str]
    template_id: str | None
    title: str
    description: str | None
    duration_minutes: int
    interval_minutes: int
    buffer_before_minutes: int
    buffer_after_minutes: int
    minimum_notice_minutes: int
    conferencing: str
    candidate_hours: dict[str, str]
    hold: bool
    attendance: AttendanceThresholds | None = Field(default=None, description="null: attendance is not tracked")
    return_url: str | None
    expires_at: datetime
    created_at: datetime
    ended_at: datetime | None
    slots: list[OfferedSlotOut]
    windows: list[SlotRef]
    candidates: list[CandidateOut]
    holds: list[HoldOut]
    interviews_not_cancelled: list[str] | None = None


class RequestsOut(ApiModel):
    scheduling_requests: list[RequestOut]


class LocalTimes(ApiModel):
    start: str
    end: str


class CandidateSlotOut(SlotRef):
    candidate_local: LocalTimes
    odd_hour: bool


class CandidateSlotsOut(ApiModel):
    timezone: str
    slots: list[CandidateSlotOut]


class BookIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "oneOf": [{"required": ["slot_id"]}, {"required": ["start"]}]})

    slot_id: str | SkipJsonSchema[None] = Field(default=None, min_length=1, max_length=40)
    start: AwareDatetime | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _one(self):
        if (self.slot_id is None) == (self.start is None):
            raise ValueError("give slot_id (explicit slots) or start (windows)")
        return self


class RescheduleIn(BookIn):
    reason: str | None = Field(default=None, max_length=1000)


class ReasonIn(Strict):
    # Required and non-blank in the document; the model lets a missing one through so the
    # answer names it `reason_required` rather than a generic validation failure.
    model_config = ConfigDict(extra="forbid", json_schema_extra={"required": ["reason"]})

    reason: str | None = Field(default=None, max_length=1000, json_schema_extra={"pattern": r"\S", "minLength": 1},
                               description="Required, 1–1,000 characters (422 reason_required)")


class BookingOut(CandidateOut):
    event: EventOut | None = None


def dump(model: BaseModel | None) -> Any:
    return None if model is None else model.model_dump(exclude_unset=False)
