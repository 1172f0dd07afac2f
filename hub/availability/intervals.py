"""Half-open UTC intervals ``[start, end)`` as integer seconds since the Unix epoch.

Why integers: comparing and sorting ``int`` is several times cheaper than comparing
``datetime`` objects, and the availability hot path is dominated by sorting busy blocks.
Datetimes are converted once, at the boundary (``from_datetimes`` / ``to_datetimes``).

Conventions shared by every function here:
- an interval is a ``(start, end)`` tuple of ints, empty when ``start >= end``;
- a *normalised* list is sorted, has no empty intervals, and no two intervals overlap or touch
  (``[0, 5)`` and ``[5, 9)`` are stored as ``[0, 9)``). ``merge`` produces one; ``subtract``,
  ``intersect`` and ``clip`` expect normalised inputs and return normalised outputs.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from itertools import compress
from operator import attrgetter, gt, itemgetter, lt, methodcaller, sub

Interval = tuple[int, int]

_first = itemgetter(0)
_second = itemgetter(1)
_tzinfo = attrgetter("tzinfo")
_timestamp = methodcaller("timestamp")


def merge(intervals: Iterable[Sequence[int]]) -> list[Interval]:
    """Union of ``intervals`` (any order, overlaps allowed) as a normalised list."""
    starts, ends = merge_columns(intervals)
    return list(zip(starts, ends))


def merge_columns(
    intervals: Iterable[Sequence[int]], pad_start: int = 0, pad_end: int = 0
) -> tuple[list[int], list[int]]:
    """Union of ``intervals`` widened to ``[start - pad_start, end + pad_end)``.

    Returns the normalised union as two parallel lists ``(starts, ends)`` because that is the
    shape ``bisect`` needs. Empty and reversed input intervals are ignored (before padding, so
    a zero-length event never becomes busy time through the buffers).

    Why it is fast: instead of sorting tuples and walking them in Python, starts and ends are
    sorted *separately* as plain ints (much cheaper comparisons) and the union is read off the
    two sorted columns with C-level ``map``/``compress``. This is correct because the coverage
    count at ``x`` is ``#starts <= x - #ends <= x``, so the union has a gap exactly where the
    (i+1)-th smallest start lies after the i-th smallest end.
    """
    return merge_groups((intervals,), pad_start, pad_end)


def merge_groups(
    groups: Iterable[Iterable[Sequence[int]]], pad_start: int = 0, pad_end: int = 0
) -> tuple[list[int], list[int]]:
    """``merge_columns`` of all the intervals of ``groups`` (e.g. one busy list per person)."""
    starts, ends = sorted_columns(groups)
    if not starts:
        return [], []
    gap = pad_start + pad_end
    if gap == 0:
        # A gap survives only when the next start is strictly after the previous end,
        # so touching intervals are joined.
        breaks = list(map(gt, starts[1:], ends[:-1]))
    else:
        # Widening both sides by the pads closes every gap not longer than their sum.
        breaks = list(map(gap.__lt__, map(sub, starts[1:], ends[:-1])))
    merged_starts = [starts[0], *compress(starts[1:], breaks)]
    merged_ends = [*compress(ends[:-1], breaks), ends[-1]]
    if pad_start:
        merged_starts = [s - pad_start for s in merged_starts]
    if pad_end:
        merged_ends = [e + pad_end for e in merged_ends]
    return merged_starts, merged_ends


def sorted_columns(groups: Iterable[Iterable[Sequence[int]]]) -> tuple[list[int], list[int]]:
    """The starts and the ends of the non-empty intervals of ``groups``, each column sorted
    on its own (so the i-th start and the i-th end are in general not one interval's).

    Enough to read the union off without merging it: the coverage at ``x`` is
    ``#starts <= x - #ends <= x``, so the union's gaps are exactly the ``[ends[i-1],
    starts[i])`` that are non-empty, plus the two unbounded edges. A caller that needs only
    the gaps near some points (find_slots: those inside working blocks) finds them by
    bisection and skips merging all of it.

    Each group's columns are appended straight from it: copying the groups into one list
    first cost more than a tenth of the merge.
    """
    groups = [group if isinstance(group, list) else list(group) for group in groups]
    starts: list[int] = []
    ends: list[int] = []
    for group in groups:
        starts += map(_first, group)
        ends += map(_second, group)
    if not all(map(lt, starts, ends)):  # rare: only then pay for a list of flags
        flags = list(map(lt, starts, ends))
        starts = list(compress(starts, flags))
        ends = list(compress(ends, flags))
    starts.sort()
    ends.sort()
    return starts, ends


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """Points covered by both normalised lists, as a normalised list (two-pointer walk)."""
    out: list[Interval] = []
    i = j = 0
    len_a, len_b = len(a), len(b)
    while i < len_a and j < len_b:
        a_start, a_end = a[i]
        b_start, b_end = b[j]
        start = a_start if a_start > b_start else b_start
        end = a_end if a_end < b_end else b_end
        if start < end:
            out.append((start, end))
        # Advance whichever interval finishes first; it cannot meet anything further on.
        if a_end < b_end:
            i += 1
        else:
            j += 1
    return out


def subtract(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """Points of normalised ``a`` not covered by normalised ``b``, as a normalised list.

    Each interval of ``a`` locates the blocks of ``b`` that overlap it by bisection, so the
    cost is ``O(len(a) * log(len(b)) + output)`` rather than a full walk of ``b``.
    """
    if not b:
        return list(a)
    b_starts = list(map(_first, b))
    b_ends = list(map(_second, b))
    out: list[Interval] = []
    for start, end in a:
        first = bisect_right(b_ends, start)  # first b block ending after `start`
        stop = bisect_left(b_starts, end, first)  # first b block starting at/after `end`
        if first == stop:
            out.append((start, end))
            continue
        # The free pieces are the gaps between consecutive overlapping b blocks plus the two
        # edges of `a`'s interval. Inner gaps lie strictly inside (start, end); an edge piece
        # is empty when a b block sticks out past the edge, and is dropped.
        piece_starts = [start, *b_ends[first:stop]]
        piece_ends = [*b_starts[first:stop], end]
        out.extend(piece for piece in zip(piece_starts, piece_ends) if piece[0] < piece[1])
    return out


def clip(intervals: Sequence[Interval], start: int, end: int) -> list[Interval]:
    """The part of normalised ``intervals`` inside ``[start, end)``."""
    if start >= end:
        return []
    first = bisect_right(intervals, start, key=_second)
    stop = bisect_left(intervals, end, first, key=_first)
    out = list(intervals[first:stop])
    if out:
        if out[0][0] < start:
            out[0] = (start, out[0][1])
        if out[-1][1] > end:
            out[-1] = (out[-1][0], end)
    return out


def to_timestamp(value: datetime, *, round_up: bool = False) -> int:
    """Aware datetime -> whole epoch seconds (floor, or ceiling when ``round_up``)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} has no UTC offset")
    seconds = value.timestamp()
    return math.ceil(seconds) if round_up else math.floor(seconds)


def from_timestamp(seconds: int) -> datetime:
    """Epoch seconds -> aware UTC datetime."""
    return datetime.fromtimestamp(seconds, timezone.utc)


def from_datetimes(pairs: Iterable[tuple[datetime, datetime]]) -> list[Interval]:
    """Aware ``(start, end)`` datetimes -> integer intervals, in input order, not merged.

    Sub-second parts widen the interval (start floored, end ceiled): a busy block must never
    shrink through rounding. Built from C-level map() passes because this conversion of every
    busy block at the boundary costs more than the engine itself when done per element.
    """
    if not isinstance(pairs, list):
        pairs = list(pairs)
    starts = list(map(_first, pairs))
    ends = list(map(_second, pairs))
    if None in map(_tzinfo, starts) or None in map(_tzinfo, ends):
        raise ValueError("naive datetime: busy times need a UTC offset")
    return list(zip(map(math.floor, map(_timestamp, starts)), map(math.ceil, map(_timestamp, ends))))


def to_datetimes(intervals: Iterable[Sequence[int]]) -> list[tuple[datetime, datetime]]:
    """Integer intervals -> aware UTC ``(start, end)`` datetimes."""
    return [(from_timestamp(s), from_timestamp(e)) for s, e in intervals]
