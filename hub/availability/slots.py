"""Find meeting slots for a set of participants (POST /v1/availability, minus the I/O).

Semantics (API.md "Availability", plus the decisions marked DECIDED):
- A slot is ``[start, start + duration)`` and lies inside one working block (see
  WorkingHours.expand for what a block is). Its start is on the grid ``anchor + k * interval``
  counted from the block's anchor, its local start. With several required participants the
  blocks are the pairwise intersections of everyone's blocks, anchored at the intersection's
  start (precisely: the latest of the intersected blocks' anchors, which is the same thing
  unless a block was trimmed). Steps are elapsed minutes, also across a DST change.
- ``start >= max(window start, now + minimum notice)`` and ``end <= window end``
  (DECIDED: slots lie inside the requested window).
- The slot lies inside every required participant's working hours; widened by the buffers
  (``start - before``, ``end + after``) it intersects none of their busy time. Buffers may
  stick out of working hours.
- ``optional_available``: optional participants who are working during the whole slot (it
  may span two of their touching blocks) and whose busy time does not meet the slot widened
  by the buffers; in input order.
- ``respect_working_hours=False``: working hours are ignored for everyone; there is one block,
  the window itself, anchored at the window start.
- DECIDED: at least one participant must be required. With none, "available" has no meaning
  (every slot would be offered on nobody's behalf), so it is a validation error, not a guess.
- At most ``max_results`` slots, earliest first.
- Inputs: busy blocks are ``(start, end)`` UTC epoch seconds in any order, overlapping or not;
  empty and reversed blocks are ignored. The window and ``now`` are rounded inward to whole
  seconds (start and now up, end down). Slot starts are whole minutes whenever the anchor is
  (always, with working hours respected).

Performance: all times are int epoch seconds. Required participants' busy blocks are sorted
once into two columns, not merged; each working block then finds the busy blocks
near it by bisection, reads the free gaps off the columns (the buffers widen the gaps' test)
and emits grid points for each with ``range()``, so the cost is one sort plus work
proportional to the busy blocks near the blocks walked.
Each optional person's merged working time is memoised per schedule and days; the slots
inside it are found by one walk over its spans and the (sorted) slots, and only those slots
are checked against the person's busy time by one walk over the slots and the busy blocks
in order of start (as providers return them; sorted first only when they are not).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from itertools import accumulate, repeat
from operator import add, itemgetter, sub
from typing import Any, Protocol

from .errors import AvailabilityInputError, FieldError
from .intervals import Interval, merge_columns, sorted_columns, to_timestamp
from .working_hours import Block, WorkingHours, _expanded_days, _overlapping

_first = itemgetter(0)


class ParticipantLike(Protocol):
    """What find_slots reads from a participant (the hub may pass its own objects)."""

    @property
    def user_id(self) -> str: ...
    @property
    def optional(self) -> bool: ...
    @property
    def working_hours(self) -> WorkingHours | None: ...
    @property
    def busy(self) -> Sequence[Sequence[int]]: ...


@dataclass(frozen=True, slots=True)
class Participant:
    user_id: str
    working_hours: WorkingHours | None = None  # required when respect_working_hours
    busy: Sequence[Interval] = ()  # UTC epoch seconds, any order, overlaps allowed
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Slot:
    start: datetime  # aware, UTC
    end: datetime  # aware, UTC
    optional_available: list[str] = field(default_factory=list)


def find_slots(
    *,
    start: datetime,
    end: datetime,
    participants: Sequence[ParticipantLike],
    duration_minutes: int,
    interval_minutes: int,
    now: datetime,
    buffer_before_minutes: int = 0,
    buffer_after_minutes: int = 0,
    minimum_notice_minutes: int = 0,
    respect_working_hours: bool = True,
    max_results: int = 500,
) -> list[Slot]:
    """Slots in ``[start, end)`` for ``participants``; see the module docstring.

    ``now`` is injected (never read from the clock here) so results are reproducible.
    Raises AvailabilityInputError naming the request field for invalid arguments.
    """
    _validate(
        start=start,
        end=end,
        now=now,
        participants=participants,
        respect_working_hours=respect_working_hours,
        minutes={
            "duration_minutes": (duration_minutes, 1),
            "interval_minutes": (interval_minutes, 1),
            "buffer_before_minutes": (buffer_before_minutes, 0),
            "buffer_after_minutes": (buffer_after_minutes, 0),
            "minimum_notice_minutes": (minimum_notice_minutes, 0),
            "max_results": (max_results, 1),
        },
    )
    window_start = to_timestamp(start, round_up=True)
    window_end = to_timestamp(end)
    duration = duration_minutes * 60
    # No early return when no slot fits between `earliest` and the window end: the walk below
    # finds none then (no block meets the window, or none is `duration` long), and the
    # shortcut would only help requests for windows already past.
    earliest = max(window_start, to_timestamp(now, round_up=True) + minimum_notice_minutes * 60)

    required = [p for p in participants if not p.optional]
    optional = [p for p in participants if p.optional]
    # Intersecting a schedule with itself changes nothing, so each distinct one is used once.
    # A dict, not a set, keeps the input order; looking a schedule up in it is one hash. It is
    # read only when working hours are respected (every schedule is then a WorkingHours).
    required_hours = dict.fromkeys(p.working_hours for p in required if p.working_hours is not None)
    if respect_working_hours:
        blocks = _required_blocks(tuple(required_hours), earliest, window_end)
        if not blocks:
            return []
    else:
        blocks = [(window_start, window_end, window_start)]

    before, after = buffer_before_minutes * 60, buffer_after_minutes * 60
    # The buffers widen the busy blocks instead of each slot: a slot [a, b) widened to
    # [a - before, b + after) meets [s, e) exactly when [a, b) meets [s - after, e + before).
    busy_starts, busy_ends = sorted_columns([p.busy for p in required])
    slot_starts = _grid_starts(
        blocks,
        busy_starts,
        busy_ends,
        before=before,
        after=after,
        earliest=earliest,
        latest_end=window_end,
        duration=duration,
        step=interval_minutes * 60,
        limit=max_results,
    )
    if not slot_starts:
        return []

    available: list[list[str]] = [[] for _ in slot_starts]
    if optional:
        slot_ends = [s + duration for s in slot_starts]
        # Each slot widened by the buffers, shared by every optional person's busy check.
        widened_starts = slot_starts
        if before:  # pragma: no mutate (a shortcut: with no buffer the widened starts are the starts)
            widened_starts = [s - before for s in slot_starts]
        widened_ends = slot_ends
        if after:  # pragma: no mutate (a shortcut, as above)
            widened_ends = [e + after for e in slot_ends]
        everyone = range(len(slot_starts))
        inside_of: dict[WorkingHours, list[int]] = {}  # schedule -> the slots inside it
        for person in optional:
            own_hours = person.working_hours if respect_working_hours else None
            if own_hours is None or own_hours in required_hours:
                # Every slot lies inside each required person's working blocks, so also
                # inside those of anyone sharing a required person's schedule.
                candidates: Sequence[int] = everyone
            elif own_hours in inside_of:  # people sharing a schedule (an office) share this
                candidates = inside_of[own_hours]
            else:
                working = _working_columns(own_hours, *own_hours.day_span(earliest, window_end))
                candidates = inside_of[own_hours] = _slots_inside(working, slot_starts, slot_ends)
            for i in _free_slots(person.busy, candidates, widened_starts, widened_ends):
                available[i].append(person.user_id)

    return _make_slots(slot_starts, duration, available)


def _make_slots(starts: list[int], duration: int, available: list[list[str]]) -> list[Slot]:
    """The Slot objects, built with C-level map() passes.

    Why not ``Slot(...)`` per slot: a frozen dataclass's generated ``__init__`` assigns every
    field through ``object.__setattr__`` and costs about three times a plain one; with hundreds
    of slots that was a sixth of the engine's time (bench scenario (a')). Setting the slots' member descriptors
    directly is what that ``__init__`` does, minus the per-call Python frame. The end is the
    start plus a timedelta (the same aware UTC datetime as ``from_timestamp(s + duration)``,
    at a fifth of the cost), and so is each start after the first: the previous one plus the
    step between them. The steps are mostly the grid's, so there are only a few timedeltas.
    """
    steps = list(map(sub, starts[1:], starts[:-1]))
    step_deltas = {step: timedelta(seconds=step) for step in set(steps)}
    first = datetime.fromtimestamp(starts[0], timezone.utc)
    begins = list(accumulate(map(step_deltas.__getitem__, steps), initial=first))  # accumulate adds by default
    ends = list(map(add, begins, repeat(timedelta(seconds=duration))))
    slots = list(map(object.__new__, repeat(Slot, len(starts))))
    set_start, set_end, set_available = _SLOT_SETTERS
    _consume(map(set_start, slots, begins))
    _consume(map(set_end, slots, ends))
    _consume(map(set_available, slots, available))
    return slots


# Slot's field setters (the member descriptors of its __slots__), in field order; _make_slots.
_SLOT_SETTERS: tuple[Any, ...] = tuple(Slot.__dict__[f.name].__set__ for f in fields(Slot))
# Runs an iterator to its end and keeps nothing: extending a deque of maxlen 0 is C's fastest
# loop over an iterator (the itertools recipes' `consume`), and one shared deque, which never
# holds anything, saves making one per pass.
_consume = deque[object](maxlen=0).extend


def _required_blocks(schedules: tuple[WorkingHours, ...], start: int, end: int) -> list[Block]:
    """The intersection of ``schedules``' working blocks, those meeting ``[start, end)``.

    Intersecting the whole days and then keeping the blocks that meet the window gives the
    same blocks as intersecting the windowed expansions (a common block meets the window
    exactly when all the blocks it is cut from do), and lets the intersection be memoised
    per set of schedules and days like the expansions themselves.
    """
    starts, ends, blocks = _common_blocks(schedules, tuple(hours.day_span(start, end) for hours in schedules))
    return _overlapping(starts, ends, blocks, start, end)


@lru_cache(maxsize=256)
def _common_blocks(
    schedules: tuple[WorkingHours, ...], spans: tuple[tuple[int, int], ...]
) -> tuple[list[int], list[int], list[Block]]:
    blocks: list[Block] = []
    for i, (hours, (first_day, last_day)) in enumerate(zip(schedules, spans)):
        own = _expanded_days(hours, first_day, last_day)[2]
        blocks = own if i == 0 else _intersect_blocks(blocks, own)
        if not blocks:
            break
    return [b[0] for b in blocks], [b[1] for b in blocks], blocks


def _intersect_blocks(a: Sequence[Block], b: Sequence[Block]) -> list[Block]:
    """Non-empty pairwise intersections of two sorted, disjoint block lists (two pointers)."""
    out: list[Block] = []
    i = j = 0
    # Where two compared values are equal, either one is the answer (the pragmas below).
    while i < len(a) and j < len(b):
        a_start, a_end, a_anchor = a[i]
        b_start, b_end, b_anchor = b[j]
        start = a_start if a_start > b_start else b_start  # pragma: no mutate (see above)
        end = a_end if a_end < b_end else b_end  # pragma: no mutate (see above)
        if start < end:
            anchor = a_anchor if a_anchor > b_anchor else b_anchor  # pragma: no mutate (see above)
            out.append((start, end, anchor))
        # The block finishing first cannot meet anything further on in the other list; when
        # both finish together, neither can, and either may go first.
        if a_end < b_end:  # pragma: no mutate (see above)
            i += 1
        else:
            j += 1
    return out


def _grid_starts(
    blocks: Sequence[Block],
    busy_starts: list[int],
    busy_ends: list[int],
    *,
    before: int,
    after: int,
    earliest: int,
    latest_end: int,
    duration: int,
    step: int,
    limit: int,
) -> list[int]:
    """Grid points (epoch seconds) of slots that fit in a block and, widened by the buffers,
    meet no busy time.

    ``busy_starts``/``busy_ends`` are ``sorted_columns`` of the busy time: unmerged and
    unpadded. The union's gaps are the non-empty ``[ends[k-1], starts[k])``, and only those
    near a working block are ever looked at, so merging all the busy time first (a pass
    over every block, most of them outside the working blocks everyone shares) is skipped.
    A slot widened to ``[t - before, t + duration + after)`` is free when it lies in a gap,
    i.e. when ``[t, t + duration)`` lies in ``[ends[k-1] + before, starts[k] - after)``.
    """
    out: list[int] = []
    reach = duration + after  # from a slot's start to the end of its widened span
    # Every block meets [earliest, latest_end) (_required_blocks keeps only those), so none
    # starts at/after latest_end; one left before it in a direct call is too short anyway.
    for block_start, block_end, anchor in blocks:
        # Where the two are equal, either side of a comparison gives the same bound.
        low = block_start if block_start > earliest else earliest  # pragma: no mutate (see above)
        high = block_end if block_end < latest_end else latest_end  # pragma: no mutate (see above)
        if high - low < duration:
            continue
        # Busy blocks ending (widened) by `low` and those starting (widened) at/after `high`
        # do not matter; the ones between bound the gaps. first <= stop: a block that ends
        # by `low` also starts before `high`.
        first = bisect_right(busy_ends, low - before)
        stop = bisect_left(
            busy_starts,
            high + after,
            first,  # pragma: no mutate (lo only narrows the search: stop >= first, see above)
        )
        # Gaps, before widening: [low - before, starts[first]), [ends[first], starts[first + 1]),
        # ..., [ends[stop - 1], high + after). Those that are not gaps of the union come out
        # empty or reversed (next start not after the previous end), as do edge gaps when a
        # busy block sticks out of the block; they are most of them, and one comparison skips
        # each (half the cost of the C-level map(lt)/compress() passes that did it before).
        gap_starts = [low - before, *busy_ends[first:stop]]
        gap_ends = [*busy_starts[first:stop], high + after]
        for gap_start, gap_end in zip(gap_starts, gap_ends):
            if gap_start >= gap_end:  # pragma: no mutate (a shortcut: the test below skips these too)
                continue
            gap_start += before
            last = gap_end - reach
            if last < gap_start:
                continue
            # First grid point at or after gap_start, counted from the block's anchor.
            first_start = gap_start + (anchor - gap_start) % step
            if first_start <= last:
                out.extend(range(first_start, last + 1, step))
        if len(out) >= limit:  # pragma: no mutate (at exactly the limit, '>' walks one more block only to cut it off)
            del out[limit:]
            break
    return out


@lru_cache(maxsize=512)
def _working_columns(hours: WorkingHours, first_day: int, last_day: int) -> tuple[list[int], list[int]]:
    """An optional person's working time on those local days as merged columns (starts,
    ends): touching blocks are joined, because an optional person only has to be working
    throughout a slot, not inside one block. Memoised like the expansion it is made from;
    callers only read it."""
    return merge_columns(_expanded_days(hours, first_day, last_day)[2])


def _slots_inside(working: tuple[list[int], list[int]], slot_starts: list[int], slot_ends: list[int]) -> list[int]:
    """Indexes, ascending, of the slots that lie inside one of the disjoint ``working`` spans.

    One walk over the slots and the spans together, both sorted: the only span that can hold
    a slot is the first one ending at/after the slot's end. The walk costs a few bytecodes a
    step, where the bisections per span it replaced cost about four times as much on a
    60-day window, which has a span or two per working day and a few slots per span.
    """
    inside: list[int] = []
    spans = zip(*working)
    for span_start, span_end in spans:  # noqa: B007 - reads the first span (the loop only breaks)
        break
    else:
        return inside
    # Once one slot starts inside the span, so do the next ones ending in it (the slots are
    # sorted): one comparison per slot then, where comparing both ends cost twice as much.
    entered = False  # pragma: no mutate (only a shortcut, as below)
    for i, slot_end in enumerate(slot_ends):
        if slot_end > span_end:
            for span_start, span_end in spans:  # noqa: B007 - span_start is read after the loop
                if span_end >= slot_end:
                    break
            else:
                return inside
            entered = False  # pragma: no mutate (only a shortcut, as below)
        if entered or span_start <= slot_starts[i]:  # pragma: no mutate (`entered` is a shortcut)
            entered = True  # pragma: no mutate (only a shortcut: without it each slot compares its start too)
            inside.append(i)
    return inside


def _free_slots(
    busy: Sequence[Sequence[int]], candidates: Sequence[int], lows: list[int], highs: list[int]
) -> list[int]:
    """The ``candidates`` (slot indexes, ascending) whose slot, widened to ``[lows[i],
    highs[i])`` by the buffers, meets none of ``busy``; runs once per optional person.

    One walk over the candidates and ``busy`` in order of start, keeping ``reach``, the latest
    end of the non-empty blocks starting before the slot's widened end: the slot is free
    exactly when that is at/before its widened start. Providers return busy time sorted by
    start, so the walk reads the blocks as given; the first one out of order (checked as it
    is read) sends the whole list through one sort by start instead, as does a block not
    read that starts before the last slot's end. Sorting the starts and the ends apart and
    walking those, as before, cost a third more in bench scenario (a'): three C-level passes
    and two sorts of epoch seconds (ints above 2**30, so without CPython's fast paths) per
    block, where this walk costs one unpacking and two or three comparisons.
    """
    if not candidates:
        return []
    blocks = iter(busy)
    for next_start, next_end in blocks:  # noqa: B007 - reads the first block ahead (the loop only breaks)
        break
    else:
        return list(candidates)
    last_high = highs[candidates[-1]]
    previous = next_start
    # Compared only with ends and slot starts, so any int at/before every slot start will
    # do (an int: comparing an int with a float is slower).
    reach = lows[candidates[0]]
    free: list[int] = []
    for i in candidates:
        high = highs[i]
        if next_start < high:
            # The block read ahead starts before this slot's end, and so may the ones after it.
            # `for ... break` over the shared iterator reads the next one, cheaper than next().
            start, end = next_start, next_end
            while True:
                if start < previous:
                    return _free_slots(sorted(busy, key=_first), candidates, lows, highs)
                previous = start
                # An empty or reversed block is ignored; an end equal to `reach` changes nothing.
                if end > reach and end > start:  # pragma: no mutate (`>=` for the first `>` is the same)
                    reach = end
                for start, end in blocks:  # noqa: B007 - reads the next block (the loop only breaks)
                    break
                else:
                    next_start = last_high  # pragma: no mutate (none left: any value >= the last slot's end stops the reads)
                    break
                if start >= high:
                    next_start, next_end = start, end
                    break
        if reach <= lows[i]:
            free.append(i)
    if min(map(_first, blocks), default=last_high) < last_high:
        # A block not read starts before the last slot's end: the blocks are out of order.
        return _free_slots(sorted(busy, key=_first), candidates, lows, highs)
    return free


def _validate(
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    participants: Sequence[ParticipantLike],
    respect_working_hours: bool,
    minutes: dict[str, tuple[int, int]],
) -> None:
    errors: list[FieldError] = []
    for name, moment in (("start", start), ("end", end), ("now", now)):
        if not isinstance(moment, datetime) or moment.utcoffset() is None:
            errors.append(FieldError(name, "must be a date-time with a UTC offset"))
    if not errors and end <= start:
        errors.append(FieldError("end", "must be after start"))
    for name, (value, minimum) in minutes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            errors.append(FieldError(name, f"must be a whole number >= {minimum}"))
    if not any(not p.optional for p in participants):
        errors.append(
            FieldError("participants", "at least one participant must be required (optional: false)")
        )
    if respect_working_hours:
        for i, p in enumerate(participants):
            if not isinstance(p.working_hours, WorkingHours):
                errors.append(
                    FieldError(f"participants[{i}].working_hours", "is needed to respect working hours")
                )
    if errors:
        raise AvailabilityInputError.from_errors(errors)
