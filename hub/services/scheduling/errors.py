"""The one error the scheduling services raise. It names what went wrong (`code`) and never an
HTTP status: the API layer maps codes to statuses."""
from __future__ import annotations

from typing import Any


class SchedulingError(Exception):
    def __init__(self, code: str, detail: str, *, errors: list[dict[str, str]] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.errors = errors
        self.extra = extra


def invalid(field: str, message: str, code: str = "validation_failed") -> SchedulingError:
    return SchedulingError(code, f"{field}: {message}", errors=[{"field": field, "message": message}])
