"""What the scheduling services need from the rest of the hub, as small ports: the interview is
created, moved and cancelled through the same path as `POST /v1/events` (conferencing, Zoom
undo, idempotency), wired in `hub/wiring.py`."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class InterviewSpec:
    organizer: str  # external user id
    title: str
    description: str
    start: datetime
    end: datetime
    timezone: str | None
    attendees: tuple[tuple[str, str | None], ...]  # (email, name)
    conferencing: str


class Interviews(Protocol):
    def create(self, tenant_id: str, spec: InterviewSpec, handle: str) -> dict[str, Any]:
        """Create the interview; returns the event as `GET /v1/events/{id}` shows it."""

    def move(self, tenant_id: str, event_id: str, start: datetime, end: datetime) -> dict[str, Any]: ...

    def cancel(self, tenant_id: str, event_id: str) -> None: ...
