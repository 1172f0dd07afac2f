"""Pure availability engine: intervals, working hours and slot finding (no I/O)."""

from .errors import AvailabilityInputError, FieldError, FieldValidationError, WorkingHoursError
from .intervals import (
    Interval,
    clip,
    from_datetimes,
    from_timestamp,
    intersect,
    merge,
    merge_columns,
    subtract,
    to_datetimes,
    to_timestamp,
)
from .slots import Participant, ParticipantLike, Slot, find_slots
from .working_hours import DAY_NAMES, Block, DateOverride, WorkingHours, load_zone

__all__ = [
    "DAY_NAMES",
    "AvailabilityInputError",
    "Block",
    "DateOverride",
    "FieldError",
    "FieldValidationError",
    "Interval",
    "Participant",
    "ParticipantLike",
    "Slot",
    "WorkingHours",
    "WorkingHoursError",
    "clip",
    "find_slots",
    "from_datetimes",
    "from_timestamp",
    "intersect",
    "load_zone",
    "merge",
    "merge_columns",
    "subtract",
    "to_datetimes",
    "to_timestamp",
]
