"""Validation errors that name the offending request field.

They carry every problem found, not just the first, so the API layer can answer with one
``"errors": [{"field", "message"}]`` list instead of making the caller fix them one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str  # dotted/indexed path, e.g. "working_hours.weekly.mon[1]"
    message: str


class FieldValidationError(ValueError):
    """One or more invalid fields. ``field``/``message`` describe the first one."""

    def __init__(self, field: str, message: str, *more: FieldError) -> None:
        self.errors: list[FieldError] = [FieldError(field, message), *more]
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in self.errors))

    @classmethod
    def from_errors(cls, errors: Sequence[FieldError]) -> FieldValidationError:
        if not errors:
            raise ValueError("from_errors needs at least one error")
        return cls(errors[0].field, errors[0].message, *errors[1:])

    @property
    def field(self) -> str:
        return self.errors[0].field

    @property
    def message(self) -> str:
        return self.errors[0].message

    def as_problem_errors(self) -> list[dict[str, str]]:
        """The ``errors`` member of an RFC 9457 validation problem."""
        return [{"field": e.field, "message": e.message} for e in self.errors]


class WorkingHoursError(FieldValidationError):
    """``working_hours`` (or the timezone it falls back to) is invalid."""


class AvailabilityInputError(FieldValidationError):
    """An argument of ``find_slots`` is invalid (fields named as in ``POST /v1/availability``)."""
