"""Brute-force reference for ``hub.availability.find_slots`` (used by tests and the bench).

Deliberately slow and independent of the engine's algorithms: it walks every UTC minute,
reads the local wall clock at each one, and checks a candidate slot minute by minute. From
the participants it reads only public data: user_id, optional, busy, and the working hours'
timezone / weekly / overrides *strings* (it parses "HH:MM" itself).

The rules it implements, stated so they can be checked by hand:
1. A working interval of local day D runs from wall time (D, start) to (D, end), where the end
   is on day D+1 when it is not after the start (overnight, or "00:00"); "24:00" is midnight.
   Intervals of one day that touch form one block. An override replaces day D's intervals.
2. The instant of a wall time is the earliest minute whose local wall-clock reading is >= it
   (a time in a spring-forward gap becomes the end of the gap; a repeated time its first
   occurrence).
3. Each working minute belongs to the earliest-starting block covering it. A block's anchor
   is its own start instant.
4. With working hours respected, candidate pieces are the runs of minutes in which every
   required participant is working in the same block; a piece's anchor is the latest anchor
   of those blocks. Otherwise the only piece is the window, anchored at its start.
5. A slot [s, s + duration) is offered when s = anchor + k * interval, the whole slot lies in
   one piece and in the window, s >= now + notice, and no required participant has a busy
   minute in [s - before, s + duration + after). An optional participant is available when
   every slot minute is a working minute of theirs (if respected) and they have no busy
   minute in that widened range.

All of start, end and busy times must be whole minutes (``now`` need not be).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MARGIN_BEFORE = 3 * 1440  # minutes analysed before the window (anchors lie before it)
_MARGIN_AFTER = 2 * 1440


def _minute_of_day(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _day_blocks(ranges: Sequence[Sequence[str]]) -> list[tuple[int, int]]:
    """Rule 1 for one day, in minutes after the day's midnight."""
    spans = []
    for first, last in ranges:
        start, end = _minute_of_day(first), _minute_of_day(last)
        if end <= start:
            end += 1440
        spans.append((start, end))
    spans.sort()
    joined: list[tuple[int, int]] = []
    for start, end in spans:
        if joined and joined[-1][1] == start:
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
    return joined


class _Timeline:
    """Local wall clock (minutes since 0001-01-01 local midnight) of every UTC minute."""

    def __init__(self, zone: ZoneInfo, first_minute: int, last_minute: int) -> None:
        self.first = first_minute
        self.walls: list[int] = []
        for minute in range(first_minute, last_minute):
            local = datetime.fromtimestamp(minute * 60, zone)
            self.walls.append(local.toordinal() * 1440 + local.hour * 60 + local.minute)
        # Running maximum: the first minute reading >= w is the first one whose running max
        # is >= w, and the running max is sorted, so it can be bisected (rule 2).
        self.running_max: list[int] = []
        highest = -1
        for wall in self.walls:
            highest = max(highest, wall)
            self.running_max.append(highest)

    def instant(self, wall: int) -> int:
        return self.first + bisect_left(self.running_max, wall)


def _labels(hours: Any, timeline: _Timeline) -> tuple[list[int], list[int]]:
    """Per-minute block index (-1: not working) and each block's anchor minute (rules 1-3)."""
    overrides = {o.date: o.intervals for o in hours.overrides}
    blocks = []
    for day_number in range(timeline.walls[0] // 1440, timeline.walls[-1] // 1440 + 1):
        day = date.fromordinal(day_number)
        ranges = overrides.get(day, hours.weekly.get(_DAYS[day.weekday()], ()))
        for start, end in _day_blocks(ranges):
            first = timeline.instant(day_number * 1440 + start)
            last = timeline.instant(day_number * 1440 + end)
            if first < last:
                blocks.append((first, last))
    blocks.sort()
    labels = [-1] * len(timeline.walls)
    for index, (first, last) in enumerate(blocks):
        for minute in range(first, min(last, timeline.first + len(labels))):
            if labels[minute - timeline.first] == -1:
                labels[minute - timeline.first] = index
    return labels, [first for first, _ in blocks]


def _busy_minutes(busy: Sequence[Sequence[int]], first: int, count: int) -> bytearray:
    marks = bytearray(count)
    for start, end in busy:
        assert start % 60 == 0 and end % 60 == 0, "the oracle works in whole minutes"
        for minute in range(max(start // 60, first), min(end // 60, first + count)):
            marks[minute - first] = 1
    return marks


def oracle_slots(
    *,
    start: datetime,
    end: datetime,
    participants: Sequence[Any],
    duration_minutes: int,
    interval_minutes: int,
    now: datetime,
    buffer_before_minutes: int = 0,
    buffer_after_minutes: int = 0,
    minimum_notice_minutes: int = 0,
    respect_working_hours: bool = True,
    max_results: int = 500,
) -> list[tuple[int, int, tuple[str, ...]]]:
    """Offered slots as ``(start, end, optional_available)`` in epoch seconds, earliest first."""
    window_start, window_end = int(start.timestamp()), int(end.timestamp())
    assert window_start % 60 == 0 and window_end % 60 == 0
    first = window_start // 60 - _MARGIN_BEFORE
    count = window_end // 60 + _MARGIN_AFTER - first
    earliest = now.timestamp() + minimum_notice_minutes * 60

    timelines: dict[str, _Timeline] = {}
    labels: dict[int, tuple[list[int], list[int]]] = {}
    busy: dict[int, bytearray] = {}
    for index, person in enumerate(participants):
        busy[index] = _busy_minutes(person.busy, first, count)
        if respect_working_hours:
            zone = person.working_hours.timezone
            if zone not in timelines:
                timelines[zone] = _Timeline(ZoneInfo(zone), first, first + count)
            labels[index] = _labels(person.working_hours, timelines[zone])
    required = [i for i, p in enumerate(participants) if not p.optional]
    optional = [i for i, p in enumerate(participants) if p.optional]

    # Rule 4: pieces as (first minute, end minute, anchor in seconds).
    pieces: list[tuple[int, int, int]] = []
    if respect_working_hours:
        previous = None
        for offset in range(count):
            key = tuple(labels[i][0][offset] for i in required)
            if -1 in key:
                key = None
            if key is not None and key == previous:
                pieces[-1] = (pieces[-1][0], first + offset + 1, pieces[-1][2])
            elif key is not None:
                anchor = max(labels[i][1][label] for i, label in zip(required, key))
                pieces.append((first + offset, first + offset + 1, anchor * 60))
            previous = key
    else:
        pieces.append((window_start // 60, window_end // 60, window_start))

    duration = duration_minutes * 60
    step = interval_minutes * 60
    before, after = buffer_before_minutes, buffer_after_minutes

    def free(index: int, slot_minute: int) -> bool:
        marks = busy[index]
        return not any(
            marks[m - first]
            for m in range(slot_minute - before, slot_minute + duration_minutes + after)
            if 0 <= m - first < count
        )

    def working(index: int, slot_minute: int) -> bool:
        marks = labels[index][0]
        return all(marks[m - first] != -1 for m in range(slot_minute, slot_minute + duration_minutes))

    offered = []
    for piece_first, piece_end, anchor in pieces:
        slot = anchor
        while slot + duration <= piece_end * 60:
            if (
                slot >= piece_first * 60
                and window_start <= slot
                and slot + duration <= window_end
                and slot >= earliest
                and all(free(i, slot // 60) for i in required)
            ):
                names = tuple(
                    participants[i].user_id
                    for i in optional
                    if free(i, slot // 60) and (not respect_working_hours or working(i, slot // 60))
                )
                offered.append((slot, slot + duration, names))
            slot += step
    offered.sort()
    return offered[:max_results]
