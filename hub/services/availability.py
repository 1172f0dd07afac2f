"""/v1/availability: read everyone's busy time concurrently, then ask the pure engine for slots.

A required participant whose calendar cannot be read makes the answer incomplete with no slots:
offering a time that might clash is worse than offering none. Each participant is read from the
busy cache or live exactly as free/busy would (`consistency`); either way their busy time is
merged the same way before the engine sees it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, Sequence

from hub.errors import invalid_fields
from hub.availability import AvailabilityInputError, Participant, find_slots, from_datetimes
from hub.container import Hub
from hub.services.freebusy import Consistency, check_window, participant_status, read_participants
from hub.services.working_hours import working_hours_of


class Wanted(Protocol):
    @property
    def user_id(self) -> str: ...
    @property
    def optional(self) -> bool: ...


class AvailabilityQuery(Protocol):
    """What is asked (the API's validated body satisfies it; so can a job's or a test's)."""

    @property
    def participants(self) -> Sequence[Wanted]: ...
    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...
    @property
    def duration_minutes(self) -> int: ...
    @property
    def interval_minutes(self) -> int: ...
    @property
    def buffer_before_minutes(self) -> int: ...
    @property
    def buffer_after_minutes(self) -> int: ...
    @property
    def minimum_notice_minutes(self) -> int: ...
    @property
    def respect_working_hours(self) -> bool: ...
    @property
    def max_results(self) -> int: ...
    @property
    def consistency(self) -> Consistency: ...


@dataclass(frozen=True)
class AvailabilityResult:
    complete: bool
    slots: list[Any]
    participants: dict[str, dict[str, Any]]


def availability(hub: Hub, tenant_id: str, body: AvailabilityQuery) -> AvailabilityResult:
    check_window(body.start, body.end)
    readers, results = read_participants(hub, tenant_id, [p.user_id for p in body.participants], body.start,
                                         body.end, consistency=body.consistency)
    hours = {r.user_id: working_hours_of(r.working_hours, r.timezone) for r in readers if r.found}

    statuses = {uid: participant_status(r) for uid, r in results.items()}
    required_failed = any(not results[p.user_id].ok for p in body.participants if not p.optional)
    if required_failed:
        return AvailabilityResult(False, [], statuses)

    participants = []
    for p in body.participants:
        res = results[p.user_id]
        if not res.ok:
            continue  # an unreadable optional participant is never offered as available
        # Rounded outward: a sub-second busy edge must not shrink the busy block.
        busy = from_datetimes([(b.start, b.end) for b in res.busy or []])
        participants.append(Participant(p.user_id, hours[p.user_id], busy, p.optional))
    try:
        slots = find_slots(start=body.start, end=body.end, participants=participants,
                           duration_minutes=body.duration_minutes, interval_minutes=body.interval_minutes,
                           now=hub.clock(), buffer_before_minutes=body.buffer_before_minutes,
                           buffer_after_minutes=body.buffer_after_minutes,
                           minimum_notice_minutes=body.minimum_notice_minutes,
                           respect_working_hours=body.respect_working_hours, max_results=body.max_results)
    except AvailabilityInputError as exc:
        raise invalid_fields(exc.as_problem_errors()) from None
    return AvailabilityResult(True, slots, statuses)
