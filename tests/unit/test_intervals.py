"""Examples for hub.availability.intervals (properties are in test_slots_property.py)."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from hub.availability.intervals import (
    clip,
    from_datetimes,
    intersect,
    merge,
    merge_columns,
    subtract,
    to_datetimes,
)


def test_merge_sorts_and_joins_overlapping_and_touching():
    assert merge([(20, 30), (0, 5), (3, 8), (8, 10), (12, 13)]) == [(0, 10), (12, 13), (20, 30)]


def test_merge_drops_empty_and_reversed_intervals():
    # A reversed block must not cancel real busy time (the column trick would, unfiltered).
    assert merge([(10, 5), (0, 20)]) == [(0, 20)]
    assert merge([(5, 5), (7, 3)]) == []
    assert merge([]) == []


def test_merge_accepts_any_iterable_and_lists_as_pairs():
    assert merge(iter([[4, 6], [1, 2]])) == [(1, 2), (4, 6)]


def test_merge_columns_pads_and_closes_gaps_up_to_the_padding():
    starts, ends = merge_columns([(100, 200), (230, 300), (400, 500)], pad_start=10, pad_end=20)
    # gap 200->230 is 30 = 10 + 20, closed; gap 300->400 stays.
    assert (starts, ends) == ([90, 390], [320, 520])


def test_merge_columns_does_not_pad_zero_length_blocks():
    assert merge_columns([(100, 100)], pad_start=10, pad_end=10) == ([], [])


def test_intersect():
    a = [(0, 10), (20, 30), (40, 50)]
    b = [(5, 25), (30, 40), (45, 60)]
    assert intersect(a, b) == [(5, 10), (20, 25), (45, 50)]
    assert intersect(a, []) == []
    assert intersect([(0, 100)], a) == a


def test_subtract():
    a = [(0, 100), (200, 300)]
    b = [(-5, 10), (20, 30), (90, 210), (250, 260)]
    assert subtract(a, b) == [(10, 20), (30, 90), (210, 250), (260, 300)]
    assert subtract(a, []) == a
    assert subtract(a, [(-1000, 1000)]) == []
    assert subtract([(0, 10)], [(10, 20)]) == [(0, 10)]  # half-open: touching is not overlap


def test_clip():
    intervals = [(0, 10), (20, 30), (40, 50)]
    assert clip(intervals, 5, 45) == [(5, 10), (20, 30), (40, 45)]
    assert clip(intervals, 10, 20) == []
    assert clip(intervals, 30, 30) == []
    assert clip(intervals, -100, 100) == intervals


def test_from_datetimes_converts_any_offset_and_never_shrinks():
    stockholm = ZoneInfo("Europe/Stockholm")
    start = datetime(2026, 3, 2, 9, 0, 0, 500_000, tzinfo=stockholm)
    end = datetime(2026, 3, 2, 10, 0, 0, 1, tzinfo=stockholm)
    expected_start = int(datetime(2026, 3, 2, 8, tzinfo=timezone.utc).timestamp())
    assert from_datetimes([(start, end)]) == [(expected_start, expected_start + 3601)]


def test_from_datetimes_rejects_naive():
    with pytest.raises(ValueError, match="naive"):
        from_datetimes([(datetime(2026, 3, 2, 9), datetime(2026, 3, 2, 10))])


def test_to_datetimes_gives_aware_utc():
    start = datetime(2026, 3, 2, 8, tzinfo=timezone.utc)
    pairs = to_datetimes([(int(start.timestamp()), int(start.timestamp()) + 60)])
    assert pairs == [(start, start + timedelta(minutes=1))]
    assert pairs[0][0].tzinfo is timezone.utc
