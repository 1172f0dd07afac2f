"""A person's working hours: validation, JSON round trip, and expansion to UTC intervals.

JSON shape (API.md, "Users"):
    {"timezone": "Europe/Stockholm",
     "weekly": {"mon": [["09:00", "13:00"], ["14:00", "17:00"]], ...},
     "overrides": [{"date": "2026-03-04", "intervals": []}]}

Rules decided here (API.md is silent on them):
- Times are "HH:MM" (two digits each). "24:00" is allowed as an end only.
- An interval whose end is earlier than its start is *overnight*: ["22:00", "02:00"] runs into
  the next day. An end of "00:00" likewise means the following midnight (same as "24:00").
  start == end is rejected (it would be ambiguous between "nothing" and "24 hours").
- Intervals of one day may touch but not overlap; touching ones form one block
  (["09:00","12:00"] + ["12:00","17:00"] is the same as ["09:00","17:00"]). An interval
  belongs to the day it starts on, so an override replaces the intervals *starting* on that
  date; the previous day's overnight interval still runs into it.
- Each day's blocks keep their own start as the slot-grid anchor ("counted from the
  working-hours start of the day"). Blocks of different days are never joined: a block
  ending at 24:00 and one starting at 00:00 stay two blocks (a slot does not span them; write
  ["22:00","06:00"] for one overnight block). When an overnight tail overlaps the next day's
  first block, the later block is trimmed to start where the earlier one ends but keeps its
  own anchor.
- ``weekly`` absent -> Mon-Fri 09:00-17:00; ``weekly: {}`` -> no working days. Days missing
  from ``weekly`` are days off. ``timezone`` absent -> the caller's default (user timezone).
  A JSON null counts as absent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from bisect import bisect_left, bisect_right
from functools import cache, lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from .errors import FieldError, WorkingHoursError

DAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 1440

TimeRange = tuple[str, str]
# (start minute of the day, end minute counted from the same midnight: may exceed 1440)
_MinuteRange = tuple[int, int]
# The same in seconds, precomputed for expansion.
_SecondRange = tuple[int, int]

_HHMM = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NAIVE_EPOCH = datetime(1970, 1, 1)
_EPOCH_ORDINAL = _NAIVE_EPOCH.toordinal()
_from_timestamp = datetime.fromtimestamp
_KNOWN_KEYS = frozenset({"timezone", "weekly", "overrides"})
_OVERRIDE_KEYS = frozenset({"date", "intervals"})


# A span of working time, ``(start, end, anchor)`` in UTC epoch seconds: ``[start, end)``,
# and ``anchor`` (<= start), the instant slot grids are counted from, i.e. the block's local
# start. anchor differs from start only when the block was trimmed behind an overlapping
# block of the previous day. A plain tuple rather than a NamedTuple: it is built in hot loops.
Block = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class DateOverride:
    """The working intervals of one local date, replacing that weekday's intervals."""

    date: date
    intervals: tuple[TimeRange, ...]


@dataclass(frozen=True)
class WorkingHours:
    timezone: str
    weekly: Mapping[str, tuple[TimeRange, ...]]
    overrides: tuple[DateOverride, ...] = ()

    # Derived once, so that expansion does no string parsing.
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _weekly_seconds: tuple[tuple[_SecondRange, ...], ...] = field(
        init=False, repr=False, compare=False
    )
    _override_seconds: dict[int, tuple[_SecondRange, ...]] = field(
        init=False, repr=False, compare=False
    )
    _key: tuple[Any, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Direct construction goes through the same checks as from_dict, so a WorkingHours
        # object is valid whichever way it was made.
        errors: list[FieldError] = []
        zone = _load_zone(self.timezone, "working_hours.timezone", errors)
        weekly: dict[str, tuple[TimeRange, ...]] = {}
        weekly_minutes: list[tuple[_MinuteRange, ...]] = [()] * 7
        for day, ranges in self.weekly.items():
            if day not in DAY_NAMES:
                errors.append(FieldError(f"working_hours.weekly.{day}", _unknown_day(day)))
                continue
            minutes = _parse_ranges(ranges, f"working_hours.weekly.{day}", errors)
            if minutes is not None:
                weekly[day] = _as_ranges(ranges)
                weekly_minutes[DAY_NAMES.index(day)] = minutes
        override_minutes: dict[int, tuple[_MinuteRange, ...]] = {}
        for i, override in enumerate(self.overrides):
            path = f"working_hours.overrides[{i}]"
            ordinal = override.date.toordinal()
            if ordinal in override_minutes:
                errors.append(FieldError(f"{path}.date", "duplicate date"))
            minutes = _parse_ranges(override.intervals, f"{path}.intervals", errors)
            if minutes is not None:
                override_minutes[ordinal] = minutes
        if errors:
            raise WorkingHoursError.from_errors(errors)
        overrides = tuple(DateOverride(o.date, _as_ranges(o.intervals)) for o in self.overrides)
        object.__setattr__(self, "weekly", weekly)
        object.__setattr__(self, "overrides", overrides)
        object.__setattr__(self, "_zone", zone)
        object.__setattr__(self, "_weekly_seconds", tuple(map(_in_seconds, weekly_minutes)))
        object.__setattr__(
            self,
            "_override_seconds",
            {day: _in_seconds(ranges) for day, ranges in override_minutes.items()},
        )
        key = (
            self.timezone,
            tuple(sorted(weekly.items())),
            tuple(sorted((o.date, o.intervals) for o in overrides)),
        )
        object.__setattr__(self, "_key", key)

    def __hash__(self) -> int:
        # Lets callers (find_slots) expand each distinct schedule only once.
        return hash(self._key)

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    @classmethod
    def default(cls, timezone: str = "UTC") -> WorkingHours:
        """Mon-Fri 09:00-17:00 in ``timezone`` (API.md: the default when none is set)."""
        return cls(timezone, {day: (("09:00", "17:00"),) for day in DAY_NAMES[:5]})

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any] | None,
        default_timezone: str | None = None,
        *,
        path: str = "working_hours",
    ) -> WorkingHours:
        """Validate the JSON form; raise WorkingHoursError listing every bad field.

        ``data`` None means "not set": the default schedule in ``default_timezone``. An
        invalid ``default_timezone`` is reported against the field ``timezone`` (the user's).
        """
        errors: list[FieldError] = []
        if data is None:
            _load_zone(default_timezone or "UTC", "timezone", errors)
            if errors:
                raise WorkingHoursError.from_errors(errors)
            return cls.default(default_timezone or "UTC")
        if not isinstance(data, Mapping):
            raise WorkingHoursError(path, "must be an object")
        # JSON null means "not given", like an absent key.
        data = {key: value for key, value in data.items() if value is not None}
        for key in data:
            if key not in _KNOWN_KEYS:
                errors.append(FieldError(f"{path}.{key}", "unknown field"))

        if "timezone" in data:
            timezone = data["timezone"]
            _load_zone(timezone, f"{path}.timezone", errors)
        else:
            timezone = default_timezone or "UTC"
            _load_zone(timezone, "timezone", errors)

        weekly: dict[str, tuple[TimeRange, ...]] = {}
        raw_weekly = data.get("weekly")
        if "weekly" not in data:
            weekly = dict(cls.default().weekly)
        elif not isinstance(raw_weekly, Mapping):
            errors.append(FieldError(f"{path}.weekly", "must be an object keyed by mon..sun"))
        else:
            for day, ranges in raw_weekly.items():
                day_path = f"{path}.weekly.{day}"
                if day not in DAY_NAMES:
                    errors.append(FieldError(day_path, _unknown_day(day)))
                elif _parse_ranges(ranges, day_path, errors) is not None:
                    weekly[day] = _as_ranges(ranges)

        overrides: list[DateOverride] = []
        seen_dates: set[date] = set()
        raw_overrides = data.get("overrides", [])
        if not isinstance(raw_overrides, list):
            errors.append(FieldError(f"{path}.overrides", "must be a list"))
            raw_overrides = []
        for i, item in enumerate(raw_overrides):
            item_path = f"{path}.overrides[{i}]"
            if not isinstance(item, Mapping):
                errors.append(FieldError(item_path, 'must be an object {"date", "intervals"}'))
                continue
            for key in item:
                if key not in _OVERRIDE_KEYS:
                    errors.append(FieldError(f"{item_path}.{key}", "unknown field"))
            day = _parse_date(item.get("date"), f"{item_path}.date", errors)
            if day is not None:
                if day in seen_dates:
                    errors.append(FieldError(f"{item_path}.date", "duplicate date"))
                seen_dates.add(day)
            if "intervals" not in item:
                errors.append(FieldError(f"{item_path}.intervals", "is required"))
                continue
            parsed = _parse_ranges(item["intervals"], f"{item_path}.intervals", errors)
            if day is not None and parsed is not None:
                overrides.append(DateOverride(day, _as_ranges(item["intervals"])))

        if errors:
            raise WorkingHoursError.from_errors(errors)
        return cls(timezone, weekly, tuple(overrides))

    def to_dict(self) -> dict[str, Any]:
        """JSON form; ``from_dict(wh.to_dict()) == wh``."""
        return {
            "timezone": self.timezone,
            "weekly": {
                day: [list(r) for r in self.weekly[day]] for day in DAY_NAMES if day in self.weekly
            },
            "overrides": [
                {"date": o.date.isoformat(), "intervals": [list(r) for r in o.intervals]}
                for o in self.overrides
            ],
        }

    def expand(self, start: int, end: int) -> list[Block]:
        """Working blocks overlapping ``[start, end)`` (epoch seconds), sorted, disjoint
        (they may touch), NOT clipped to the window: clipping would move the grid anchor.

        Local wall time -> instant, around DST transitions (see ``_wall_to_utc``): each
        endpoint becomes the earliest instant whose local wall-clock reading is >= the
        endpoint. So a wall time inside a spring-forward gap moves to the first instant after
        the gap (02:30 on a Stockholm spring-forward day -> 03:00 CEST), and a wall time that
        occurs twice at fall-back is its first occurrence (fold=0). Slot steps are counted in
        elapsed minutes from the anchor, so a block spanning a transition keeps a regular
        real-time grid.
        """
        if start >= end:
            return []
        starts, ends, blocks = _expanded_days(self, *self.day_span(start, end))
        return _overlapping(starts, ends, blocks, start, end)

    def day_span(self, start: int, end: int) -> tuple[int, int]:
        """The local days (ordinals) whose blocks ``expand(start, end)`` must look at.

        A block of local day D ends before the midnight that starts day D+2, so blocks of days
        before (day of ``start``) - 1 end by ``start``. Day -2 is still expanded because its
        overnight tail can trim a block of day -1.
        """
        zone = self._zone
        return _from_timestamp(start, zone).toordinal() - 2, _from_timestamp(end, zone).toordinal()

    def _expand_days(self, first_day: int, last_day: int) -> list[Block]:
        """Blocks of the local days ``first_day..last_day`` (ordinals), trimmed, unfiltered."""
        zone = self._zone
        start = (first_day - _EPOCH_ORDINAL) * 86400  # a day's worth before any block of it
        weekly = self._weekly_seconds
        overrides = self._override_seconds
        from_timestamp = _from_timestamp
        # The offset seen at the previous endpoint is the guess for the next one; see
        # _wall_to_utc for why checking it with one fromtimestamp() is exact.
        offset_td = from_timestamp(start, zone).utcoffset() or timedelta(0)  # aware: never None
        offset = _seconds(offset_td)
        raw: list[tuple[int, int]] = []
        for ordinal in range(first_day, last_day + 1):
            ranges = overrides.get(ordinal)
            if ranges is None:
                ranges = weekly[(ordinal - 1) % 7]  # ordinal 1 (0001-01-01) is a Monday
            if not ranges:
                continue
            midnight = (ordinal - _EPOCH_ORDINAL) * 86400  # local wall seconds, naive epoch
            for start_second, end_second in ranges:
                # Inlined fast path of _wall_to_utc, twice: this loop is the bulk of expand.
                wall = midnight + start_second
                local = from_timestamp(wall - offset, zone)
                if local.fold or local.utcoffset() != offset_td:
                    block_start, offset_td = _wall_to_utc(zone, wall, offset_td)
                    offset = _seconds(offset_td)
                else:
                    block_start = wall - offset
                wall = midnight + end_second
                local = from_timestamp(wall - offset, zone)
                if local.fold or local.utcoffset() != offset_td:
                    block_end, offset_td = _wall_to_utc(zone, wall, offset_td)
                    offset = _seconds(offset_td)
                else:
                    block_end = wall - offset
                raw.append((block_start, block_end))
        raw.sort()
        blocks: list[Block] = []
        reach = raw[0][0] if raw else 0  # end of the working time emitted so far
        for block_start, block_end in raw:
            # Trim an overlap with earlier blocks; drop blocks that end up empty (fully
            # covered, or collapsed inside a DST gap because both ends moved to the same
            # instant).
            trimmed = block_start if block_start > reach else reach
            if trimmed < block_end:
                blocks.append((trimmed, block_end, block_start))
                reach = block_end
        return blocks


def _overlapping(starts: list[int], ends: list[int], blocks: list[Block], start: int, end: int) -> list[Block]:
    """The blocks meeting ``[start, end)``, given their start and end columns: the blocks
    are sorted and disjoint, so "ends after start" and "begins before end" select a run."""
    return blocks[bisect_right(ends, start) : bisect_left(starts, end)]


@lru_cache(maxsize=512)
def _expanded_days(hours: WorkingHours, first_day: int, last_day: int) -> tuple[list[int], list[int], list[Block]]:
    """``hours._expand_days`` with its start and end columns, memoised: a schedule is
    immutable and equal schedules expand alike, so the same people asked about the same days
    (every availability request for a team, or the pages of one search) reuse one expansion.
    Callers get slices, never these lists."""
    blocks = hours._expand_days(first_day, last_day)
    return [b[0] for b in blocks], [b[1] for b in blocks], blocks


def load_zone(name: object, field_name: str = "timezone") -> ZoneInfo:
    """The ZoneInfo for an IANA name, or WorkingHoursError naming ``field_name``."""
    errors: list[FieldError] = []
    zone = _load_zone(name, field_name, errors)
    if errors:
        raise WorkingHoursError.from_errors(errors)
    return zone


def _wall_to_utc(zone: ZoneInfo, wall: int, guess: timedelta) -> tuple[int, timedelta]:
    """Local wall time (seconds since the naive epoch) -> (UTC epoch seconds, its offset).

    Rule: the earliest instant whose local wall-clock reading is >= ``wall``.
    - normal wall time: its only instant;
    - repeated wall time (fall back): the first occurrence, i.e. fold=0;
    - non-existent wall time (spring-forward gap): the transition instant, i.e. the first
      instant that exists after it (02:30 in a 02:00->03:00 gap becomes 03:00 new time).

    Fast path, and why it is exact: ``guess`` is an offset seen nearby (the previous
    conversion's). If the instant ``wall - guess`` really has offset ``guess``, its wall time
    is ``wall``, and ``fold == 0`` says no earlier instant reads the same (PEP 495). Otherwise
    the offset found there is tried once more, and what still fails (a gap, a second
    occurrence) goes to ``_wall_to_utc_exact``. One ``fromtimestamp`` per endpoint is much
    cheaper than building naive datetimes, which dominated expansion.
    """
    local = _from_timestamp(wall - _seconds(guess), zone)
    offset = local.utcoffset()
    assert offset is not None
    if offset != guess:  # the offset changed since the guess: try the one in force there
        local = _from_timestamp(wall - _seconds(offset), zone)
        if local.utcoffset() != offset:
            return _wall_to_utc_exact(zone, wall)  # a gap: no offset maps back to `wall`
    if local.fold:
        return _wall_to_utc_exact(zone, wall)  # the second occurrence; we want the first
    return wall - _seconds(offset), offset


def _wall_to_utc_exact(zone: ZoneInfo, wall: int) -> tuple[int, timedelta]:
    """Slow, assumption-free form of ``_wall_to_utc`` for the rare cases near a transition."""
    naive = _NAIVE_EPOCH + timedelta(seconds=wall)
    offset_first = zone.utcoffset(naive)  # fold=0: the offset before a transition
    offset_second = zone.utcoffset(naive.replace(fold=1))
    assert offset_first is not None and offset_second is not None
    if offset_second <= offset_first:
        # Same offset (unambiguous) or a fold, where fold=0 is the earlier instant.
        return wall - _seconds(offset_first), offset_first
    # In a gap: the instant wall - offset_second reads earlier than `wall`, the instant
    # wall - offset_first reads later. Bisect for the first instant reading >= wall.
    low, high = wall - _seconds(offset_second), wall - _seconds(offset_first)
    while high - low > 1:
        mid = (low + high) // 2
        if mid + _seconds(_from_timestamp(mid, zone).utcoffset()) >= wall:
            high = mid
        else:
            low = mid
    offset = _from_timestamp(high, zone).utcoffset()
    assert offset is not None
    return high, offset


def _seconds(offset: timedelta | None) -> int:
    assert offset is not None  # ZoneInfo always has an offset
    return offset.days * 86400 + offset.seconds


@cache
def _zone_names() -> frozenset[str]:
    # Checked against the installed list, not just ZoneInfo(name): ZoneInfo also opens
    # "posixrules", "localtime" or case-folded names on some systems, which are not IANA ids.
    return frozenset(available_timezones())


def _load_zone(name: object, field_name: str, errors: list[FieldError]) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        errors.append(FieldError(field_name, "must be an IANA time zone name such as Europe/Stockholm"))
        return ZoneInfo("UTC")
    if name not in _zone_names() and name != "UTC":
        errors.append(
            FieldError(field_name, f"unknown time zone {name!r}; use an IANA name such as Europe/Stockholm")
        )
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        errors.append(FieldError(field_name, f"unknown time zone {name!r}"))
        return ZoneInfo("UTC")


def _unknown_day(day: object) -> str:
    return f"unknown day {day!r}; expected one of {', '.join(DAY_NAMES)}"


def _as_ranges(ranges: Sequence[Sequence[str]]) -> tuple[TimeRange, ...]:
    return tuple((r[0], r[1]) for r in ranges)


def _parse_minute(value: object, *, is_end: bool) -> int | None:
    if not isinstance(value, str):
        return None
    if value == "24:00":
        return MINUTES_PER_DAY if is_end else None
    if not _HHMM.fullmatch(value):
        return None
    return int(value[:2]) * 60 + int(value[3:])


def _parse_ranges(
    ranges: object, path: str, errors: list[FieldError]
) -> tuple[_MinuteRange, ...] | None:
    """Validate one day's list of ["HH:MM", "HH:MM"] pairs.

    Returns the day's blocks in minutes (sorted, touching pairs joined), or None if anything
    is wrong (the problems are appended to ``errors``).
    """
    if not isinstance(ranges, (list, tuple)):
        errors.append(FieldError(path, 'must be a list of ["HH:MM", "HH:MM"] pairs'))
        return None
    before = len(errors)
    parsed: list[tuple[int, int, int]] = []  # (start, end, index in the input)
    for i, pair in enumerate(ranges):
        item = f"{path}[{i}]"
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            errors.append(FieldError(item, 'must be a pair ["HH:MM", "HH:MM"]'))
            continue
        start = _parse_minute(pair[0], is_end=False)
        end = _parse_minute(pair[1], is_end=True)
        if start is None:
            hint = " (24:00 is only allowed as an end)" if pair[0] == "24:00" else ""
            errors.append(FieldError(item, f'start {pair[0]!r} is not a time "HH:MM"{hint}'))
            continue
        if end is None:
            errors.append(FieldError(item, f'end {pair[1]!r} is not a time "HH:MM" (00:00-24:00)'))
            continue
        if start == end:
            errors.append(
                FieldError(
                    item,
                    "start and end are equal; an interval must last at least a minute "
                    "(write an end earlier than the start for an overnight interval)",
                )
            )
            continue
        # End before start: an overnight interval ending on the next day.
        parsed.append((start, end if end > start else end + MINUTES_PER_DAY, i))
    parsed.sort()
    for (_, prev_end, prev_i), (start, _, i) in zip(parsed, parsed[1:]):
        if start < prev_end:
            errors.append(FieldError(f"{path}[{i}]", f"overlaps {path}[{prev_i}]"))
    if len(errors) != before:
        return None
    # Touching intervals of one day form one block, anchored at the first one's start.
    merged: list[_MinuteRange] = []
    for start, end, _ in parsed:
        if merged and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)


def _in_seconds(ranges: tuple[_MinuteRange, ...]) -> tuple[_SecondRange, ...]:
    return tuple((start * 60, end * 60) for start, end in ranges)


def _parse_date(value: object, path: str, errors: list[FieldError]) -> date | None:
    # date.fromisoformat alone also accepts "20260304" and week dates; the API promises
    # "YYYY-MM-DD" only.
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    errors.append(FieldError(path, 'must be a date "YYYY-MM-DD"'))
    return None
