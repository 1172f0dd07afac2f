"""Pure time arithmetic of an offer: the grid of slots inside windows, and how a slot looks from
the candidate's time zone."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_CANDIDATE_HOURS = {"start": "08:00", "end": "20:00"}


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end

    def widened(self, before: timedelta, after: timedelta) -> Interval:
        return Interval(self.start - before, self.end + after)


def grid_slots(windows: list[Interval], duration: timedelta, interval: timedelta) -> list[Interval]:
    """Every `duration` slot on the `interval` grid counted from each window's start that fits
    inside the window."""
    out: list[Interval] = []
    for w in windows:
        start = w.start
        while start + duration <= w.end:
            out.append(Interval(start, start + duration))
            start += interval
    return sorted(set(out), key=lambda s: s.start)


def placement_error(start: datetime, windows: list[Interval], duration: timedelta,
                    interval: timedelta) -> str | None:
    """Why `start` is not a slot of these windows: `slot_outside_windows`, `slot_off_grid`, or
    None when it is one."""
    inside = [w for w in windows if w.start <= start and start + duration <= w.end]
    if not inside:
        return "slot_outside_windows"
    if not any((start - w.start) % interval == timedelta(0) for w in inside):
        return "slot_off_grid"
    return None


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def odd_hour(slot: Interval, zone: str, hours: dict[str, str] | None) -> bool:
    """True when the slot starts before or ends after the candidate's reasonable hours, or
    crosses midnight, in the candidate's zone."""
    hours = hours or DEFAULT_CANDIDATE_HOURS
    tz = ZoneInfo(zone)
    start, end = slot.start.astimezone(tz), slot.end.astimezone(tz)
    first, last = _clock(hours["start"]), _clock(hours["end"])
    if start.date() != end.date() and end.timetz().replace(tzinfo=None) != time(0):
        return True
    end_clock = time(23, 59, 59) if end.time() == time(0) and end.date() != start.date() else end.time()
    return start.time() < first or end_clock > last


def local(slot: Interval, zone: str) -> dict[str, str]:
    tz = ZoneInfo(zone)
    return {"start": slot.start.astimezone(tz).isoformat(), "end": slot.end.astimezone(tz).isoformat()}
