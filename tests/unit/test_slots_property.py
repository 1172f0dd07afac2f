"""Property tests: the engine against brute-force oracles.

- find_slots vs tests/oracle_availability.py (minute walk in local time), over random zones
  (Lord Howe's 30-minute DST, Santiago's and Havana's midnight DST, Casablanca's Ramadan
  switches, Chatham's +12:45, ...), windows around DST transitions, random working hours
  (overnight, "24:00", touching, overrides), busy sets, buffers, notice and now.
- merge / intersect / subtract / clip / sorted_columns (and the free time find_slots reads off
  it) vs sets of integer points.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import cache
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hub.availability import DAY_NAMES, Participant, WorkingHours, find_slots
from hub.availability.intervals import clip, intersect, merge, merge_columns, merge_groups, sorted_columns, subtract
from hub.availability.slots import _free_slots, _grid_starts, _slots_inside, _intersect_blocks, _required_blocks
from hub.availability.working_hours import _wall_to_utc  # the DST rule itself
from tests.oracle_availability import oracle_slots

ZONES = (
    "Australia/Lord_Howe",
    "Europe/Stockholm",
    "America/New_York",
    "America/Santiago",
    "America/Havana",
    "Africa/Casablanca",
    "Pacific/Chatham",
    "America/St_Johns",
    "Asia/Kolkata",
    "Europe/Dublin",
    "UTC",
)
UTC = timezone.utc
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)

SETTINGS = settings(
    max_examples=120,
    deadline=None,
    database=None,  # keep the working tree clean (no .hypothesis/ directory)
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@cache
def transitions_2026(name: str) -> tuple[datetime, ...]:
    """UTC instants (to the hour) where zone ``name`` changes offset in 2026."""
    zone = ZoneInfo(name)
    found = []
    previous = None
    for hour in range(0, 366 * 24):
        instant = YEAR_START + timedelta(hours=hour)
        offset = instant.astimezone(zone).utcoffset()
        if previous is not None and offset != previous:
            found.append(instant)
        previous = offset
    return tuple(found)


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@st.composite
def day_intervals(draw) -> list[list[str]]:
    """0-3 valid intervals of one day: may touch, may end at 24:00, the last may be overnight."""
    step = draw(st.sampled_from([5, 15, 30, 60]))
    points = sorted(draw(st.lists(st.integers(0, 1440 // step), min_size=0, max_size=6)))
    intervals = []
    for first, last in zip(points[::2], points[1::2]):
        start, end = first * step, last * step
        if start < end and start < 1440:
            intervals.append([start, end])
    if intervals and intervals[-1][0] >= step and draw(st.integers(0, 3)) == 0:
        # Make the last one overnight: an end earlier than its start is on the next day.
        intervals[-1][1] = step * draw(st.integers(0, intervals[-1][0] // step - 1))
    return [[hhmm(start), hhmm(end)] for start, end in intervals]


@st.composite
def working_hours(draw, window_start: datetime, zone: str) -> WorkingHours:
    weekly = {}
    for day in DAY_NAMES:
        if draw(st.integers(0, 4)):  # mostly working days
            weekly[day] = draw(day_intervals())
    overrides = []
    for offset in draw(st.lists(st.integers(-1, 3), max_size=2, unique=True)):
        overrides.append(
            {"date": (window_start.date() + timedelta(days=offset)).isoformat(), "intervals": draw(day_intervals())}
        )
    return WorkingHours.from_dict({"timezone": zone, "weekly": weekly, "overrides": overrides})


@st.composite
def scenarios(draw) -> dict:
    # Windows are drawn around a DST change of the first participant's zone half the time.
    focus = draw(st.sampled_from(ZONES))
    if transitions_2026(focus) and draw(st.booleans()):
        around = draw(st.sampled_from(transitions_2026(focus)))
        start = around + timedelta(minutes=draw(st.integers(-1500, 60)))
    else:
        start = YEAR_START + timedelta(minutes=draw(st.integers(0, 364 * 1440)))
    end = start + timedelta(minutes=draw(st.integers(30, 3 * 1440)))
    window_start, window_end = int(start.timestamp()), int(end.timestamp())
    people = []
    count = draw(st.integers(1, 3))
    for index in range(count):
        busy = []
        for _ in range(draw(st.integers(0, 10))):
            first = window_start + 60 * draw(st.integers(-1440, (window_end - window_start) // 60 + 60))
            busy.append((first, first + 60 * draw(st.integers(-10, 300))))
        optional = index > 0 and draw(st.booleans())
        if people and draw(st.integers(0, 2)) == 0:
            hours = people[0].working_hours  # a shared schedule (and the engine's memo)
        else:
            zone = focus if index == 0 or draw(st.booleans()) else draw(st.sampled_from(ZONES))
            hours = draw(working_hours(start, zone))
        people.append(Participant(f"p{index}", hours, busy, optional))
    return dict(
        start=start,
        end=end,
        participants=people,
        duration_minutes=draw(st.sampled_from([5, 15, 25, 30, 45, 60, 90])),
        interval_minutes=draw(st.sampled_from([5, 10, 15, 30, 60])),
        buffer_before_minutes=draw(st.sampled_from([0, 0, 5, 15, 30])),
        buffer_after_minutes=draw(st.sampled_from([0, 0, 10, 15])),
        minimum_notice_minutes=draw(st.sampled_from([0, 0, 30, 240])),
        respect_working_hours=draw(st.integers(0, 5)) > 0,
        max_results=draw(st.sampled_from([1, 7, 500, 500])),
        now=start + timedelta(seconds=draw(st.integers(-86400, 2 * 86400))),
    )


def lord_howe_spring_forward() -> dict:
    """A fixed case on Lord Howe's 30-minute spring-forward night, two people, buffers."""
    start = datetime(2026, 10, 3, 12, tzinfo=UTC)
    night = WorkingHours.from_dict(
        {"timezone": "Australia/Lord_Howe", "weekly": {"sat": [["20:00", "04:00"]], "sun": [["02:10", "05:00"]]}}
    )
    stockholm = WorkingHours.from_dict({"timezone": "Europe/Stockholm", "weekly": {"sat": [["00:00", "24:00"]]}})
    busy = [(int(datetime(2026, 10, 3, 15, 40, tzinfo=UTC).timestamp()),
             int(datetime(2026, 10, 3, 15, 50, tzinfo=UTC).timestamp()))]
    return dict(
        start=start, end=start + timedelta(days=1),
        participants=[Participant("a", night, busy), Participant("b", stockholm, [], optional=True)],
        duration_minutes=30, interval_minutes=15, buffer_before_minutes=5, buffer_after_minutes=0,
        minimum_notice_minutes=0, respect_working_hours=True, max_results=500, now=start,
    )


def as_tuples(found) -> list[tuple[int, int, tuple[str, ...]]]:
    return [(int(s.start.timestamp()), int(s.end.timestamp()), tuple(s.optional_available)) for s in found]


@SETTINGS
@given(scenarios())
@example(lord_howe_spring_forward())
def test_find_slots_matches_the_minute_walking_oracle(case):
    offered = as_tuples(find_slots(**case))
    assert offered == oracle_slots(**case)


@SETTINGS
@given(scenarios())
def test_offered_slots_respect_busy_time_window_and_notice(case):
    """Direct checks, not via the oracle: what is offered is always safe to book."""
    offered = as_tuples(find_slots(**case))
    before, after = case["buffer_before_minutes"] * 60, case["buffer_after_minutes"] * 60
    earliest = case["now"].timestamp() + case["minimum_notice_minutes"] * 60
    assert len(offered) <= case["max_results"]
    assert [s for s, _, _ in offered] == sorted({s for s, _, _ in offered})
    for start, end, _ in offered:
        assert end - start == case["duration_minutes"] * 60
        assert case["start"].timestamp() <= start and end <= case["end"].timestamp()
        assert start >= earliest
        for person in case["participants"]:
            if person.optional:
                continue
            for busy_start, busy_end in person.busy:
                if busy_start < busy_end:
                    assert not (start - before < busy_end and busy_start < end + after)
            if case["respect_working_hours"]:
                blocks = person.working_hours.expand(start, end)
                assert any(b[0] <= start and end <= b[1] for b in blocks)


@SETTINGS
@given(scenarios(), st.integers(1, 3 * 1440), st.integers(1, 3 * 1440))
def test_expansion_does_not_depend_on_the_window(case, cut_start, cut_end):
    """Blocks seen through a smaller window are exactly the same blocks (same anchors): the
    offset guesses and the look-back must not leak into the result."""
    hours = case["participants"][0].working_hours
    start, end = int(case["start"].timestamp()), int(case["end"].timestamp())
    whole = hours.expand(start - 3 * 86400, end + 3 * 86400)
    inner_start, inner_end = start - cut_start * 60, end + cut_end * 60 - 3 * 86400
    if inner_start < inner_end:
        inner = hours.expand(inner_start, inner_end)
        assert inner == [b for b in whole if b[1] > inner_start and b[0] < inner_end]


@SETTINGS
@given(scenarios(), st.integers(0, 3 * 1440))
def test_memoised_common_blocks_equal_intersecting_fresh_windowed_expansions(case, cut):
    """find_slots intersects whole days once per set of schedules (memoised) and then keeps
    what meets the window: that must equal intersecting everyone's windowed expansion, made
    afresh without any cache, and a second (cached) answer must be the same."""
    start, end = int(case["start"].timestamp()) + cut * 60, int(case["end"].timestamp())
    if start >= end:
        return
    schedules = tuple(dict.fromkeys(p.working_hours for p in case["participants"]))
    expected = None
    for hours in schedules:
        own = [b for b in hours._expand_days(*hours.day_span(start, end)) if b[1] > start and b[0] < end]
        expected = own if expected is None else _intersect_blocks(expected, own)
    assert _required_blocks(schedules, start, end) == expected
    assert _required_blocks(schedules, start, end) == expected


@st.composite
def walls_near_transitions(draw) -> tuple[ZoneInfo, int, timedelta]:
    name = draw(st.sampled_from(ZONES))
    zone = ZoneInfo(name)
    change = draw(st.sampled_from(transitions_2026(name) or (YEAR_START,)))
    offsets = [(change + timedelta(hours=h)).astimezone(zone).utcoffset() for h in (-3, 3)]
    naive_wall = (change + offsets[0]).replace(tzinfo=None) + timedelta(minutes=draw(st.integers(-150, 150)))
    wall = int((naive_wall - datetime(1970, 1, 1)).total_seconds())
    guess = draw(st.sampled_from(offsets + [timedelta(0), timedelta(hours=5, minutes=45)]))
    return zone, wall, guess


@settings(max_examples=200, deadline=None, database=None)
@given(walls_near_transitions())
def test_wall_time_rule_is_the_earliest_instant_reading_at_least_that_time(case):
    """The DST rule (gap -> first instant after it, repeated time -> first occurrence), for
    any offset guess, checked by scanning minutes."""
    zone, wall, guess = case
    instant = wall - 18 * 3600  # reads earlier than `wall` in every zone (offsets < 18 h)

    def reading(u: int) -> int:
        local = datetime.fromtimestamp(u, zone).replace(tzinfo=None)
        return int((local - datetime(1970, 1, 1)).total_seconds())

    while reading(instant) < wall:
        instant += 60
    assert _wall_to_utc(zone, wall, guess)[0] == instant


# --- interval algebra against sets of points ----------------------------------------------

raw_intervals = st.lists(st.tuples(st.integers(-20, 60), st.integers(-20, 60)), max_size=12)


def points(intervals) -> set[int]:
    return {x for start, end in intervals for x in range(start, end)}


def is_normalised(intervals) -> bool:
    return all(s < e for s, e in intervals) and all(e < s2 for (_, e), (s2, _) in zip(intervals, intervals[1:]))


@settings(max_examples=300, deadline=None, database=None)
@given(raw_intervals)
def test_merge_is_the_union_normalised(raw):
    merged = merge(raw)
    assert points(merged) == points(raw)
    assert is_normalised(merged)


@settings(max_examples=300, deadline=None, database=None)
@given(raw_intervals, raw_intervals)
def test_intersect_and_subtract_match_set_operations(raw_a, raw_b):
    a, b = merge(raw_a), merge(raw_b)
    both = intersect(a, b)
    only_a = subtract(a, b)
    assert points(both) == points(a) & points(b)
    assert points(only_a) == points(a) - points(b)
    assert is_normalised(only_a)
    assert all(s < e for s, e in both) and both == sorted(both)


@settings(max_examples=200, deadline=None, database=None)
@given(raw_intervals, st.integers(-25, 65), st.integers(-25, 65))
def test_clip_matches_set_intersection_with_the_window(raw, start, end):
    a = merge(raw)
    clipped = clip(a, start, end)
    assert points(clipped) == points(a) & set(range(start, end))
    assert clipped == [] or is_normalised(clipped)


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(raw_intervals, max_size=4), st.integers(0, 3), st.integers(0, 3))
def test_merge_groups_is_merge_columns_of_all_the_groups(groups, pad_start, pad_end):
    """find_slots merges the required people's lists without concatenating them first."""
    everything = [interval for group in groups for interval in group]
    assert merge_groups(groups, pad_start, pad_end) == merge_columns(everything, pad_start, pad_end)
    starts, ends = merge_groups(groups, pad_start, pad_end)
    widened = [(s - pad_start, e + pad_end) for s, e in everything if s < e]
    assert points(zip(starts, ends)) == points(widened)
    assert is_normalised(list(zip(starts, ends)))


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(raw_intervals, max_size=4))
def test_sorted_columns_gaps_are_the_gaps_of_the_union(groups):
    """The non-empty [ends[k-1], starts[k]) of the unmerged sorted columns are the gaps between
    the merged intervals, and the columns span the union."""
    everything = [interval for group in groups for interval in group]
    starts, ends = sorted_columns(groups)
    kept = [(s, e) for s, e in everything if s < e]  # empty and reversed ones are ignored
    assert (starts, ends) == (sorted(s for s, _ in kept), sorted(e for _, e in kept))
    merged = merge(everything)
    assert [(e, s) for e, s in zip(ends, starts[1:]) if e < s] == [
        (previous[1], following[0]) for previous, following in zip(merged, merged[1:])
    ]
    assert (starts[:1], ends[-1:]) == ([s for s, _ in merged[:1]], [e for _, e in merged[-1:]])


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.lists(raw_intervals, max_size=3),
    st.integers(-25, 65),
    st.integers(-25, 65),
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(1, 4),
)
def test_grid_starts_finds_the_free_points_from_unmerged_columns(groups, low, high, before, after, duration):
    """find_slots' grid walk on one block, step 1: every start whose slot, widened by the
    buffers, meets no busy point; the busy time is given unmerged and unpadded."""
    starts, ends = sorted_columns(groups)
    found = _grid_starts(
        [(low, high, low)], starts, ends, before=before, after=after,
        earliest=low, latest_end=high, duration=duration, step=1, limit=10**6,
    )
    busy = points((s - after, e + before) for group in groups for s, e in group if s < e)
    assert found == [t for t in range(low, high - duration + 1) if not busy & set(range(t, t + duration))]


@settings(max_examples=300, deadline=None, database=None)
@given(raw_intervals, st.lists(st.integers(-25, 65), unique=True), st.integers(1, 5), st.integers(0, 3), st.integers(0, 3))
def test_free_slots_reads_busy_time_off_unmerged_columns(busy, starts, duration, before, after):
    """An optional person's busy check: the slots whose widened span meets no busy point,
    among all slots (a range) or some of them (a list of indexes)."""
    starts.sort()
    lows = [s - before for s in starts]
    highs = [s + duration + after for s in starts]
    taken = points(busy)
    expected = [i for i, (low, high) in enumerate(zip(lows, highs)) if not taken & set(range(low, high))]
    odd = list(range(1, len(starts), 2))
    # _free_slots reads blocks sorted by start as given and sorts the others: the same answer
    # for the order drawn, sorted by start (as providers return it), and sorted but with the
    # earliest block last (found out of order during the walk, or among the blocks not read).
    in_order = sorted(busy, key=lambda block: block[0])
    for blocks in (busy, in_order, in_order[1:] + in_order[:1]):
        assert _free_slots(blocks, range(len(starts)), lows, highs) == expected
        assert _free_slots(blocks, odd, lows, highs) == [i for i in expected if i % 2]


def test_free_slots_sorts_blocks_found_out_of_order_after_the_walk():
    # The walk stops at the first block starting at/after the last slot's end; an earlier
    # block after that one (out of order) still counts.
    lows, highs = [0, 10], [5, 15]
    assert _free_slots([(20, 30), (1, 2)], range(2), lows, highs) == [1]
    assert _free_slots([(1, 2), (20, 30), (11, 12)], range(2), lows, highs) == []
    # ... and one found out of order during the walk.
    assert _free_slots([(3, 4), (1, 2), (11, 12)], range(2), lows, highs) == []
    assert _free_slots([(3, 4), (11, 12), (1, 2)], range(2), lows, highs) == []
    assert _free_slots([(11, 12), (3, 4)], range(2), lows, highs) == []


def test_free_slots_sorts_blocks_of_mixed_sequence_types_by_start():
    # Busy blocks may be lists (from JSON) as well as tuples; out of order, they are sorted by
    # their starts only (a list and a tuple do not compare).
    lows, highs = [0, 10], [5, 15]
    assert _free_slots([(3, 4), [1, 2]], range(2), lows, highs) == [1]
    assert _free_slots([(1, 2), [20, 30], (11, 12)], range(2), lows, highs) == []


def test_free_slots_walk_stops_at_a_block_starting_where_the_slot_ends():
    # Read after one that starts before the slot, a block starting at the slot's (widened)
    # end does not meet it; the next slot reads it.
    assert _free_slots([(0, 1), (5, 9)], range(2), [2, 4], [5, 7]) == [0]


@settings(max_examples=300, deadline=None, database=None)
@given(raw_intervals, st.lists(st.integers(-25, 65), unique=True), st.integers(1, 5))
def test_slots_inside_are_those_covered_by_the_working_time(working, starts, duration):
    """An optional person's working-time check: merged spans, sorted slots of one length."""
    starts.sort()
    ends = [s + duration for s in starts]
    merged = merge(working)
    spans = ([s for s, _ in merged], [e for _, e in merged])
    covered = points(merged)
    assert _slots_inside(spans, starts, ends) == [
        i for i, (s, e) in enumerate(zip(starts, ends)) if set(range(s, e)) <= covered
    ]


def test_slots_inside_a_later_span_may_end_with_it():
    # Reached by moving on from an earlier span, a slot ending exactly where the span ends is
    # inside it; one starting before the span is not, even right after one that is.
    spans = ([0, 10], [5, 15])
    assert _slots_inside(spans, [0, 10], [5, 15]) == [0, 1]
    assert _slots_inside(spans, [0, 9, 10], [5, 14, 15]) == [0, 2]


@st.composite
def block_lists(draw) -> list[tuple[int, int, int]]:
    """Sorted, disjoint blocks that may touch (a day's "24:00" and the next "00:00"), each
    anchored at or before its start (a block trimmed by an earlier overnight one)."""
    bounds = sorted(draw(st.lists(st.integers(-20, 60), unique=True, max_size=12)))
    keep = draw(st.lists(st.booleans(), min_size=len(bounds), max_size=len(bounds)))
    return [(start, end, start - draw(st.integers(0, 5)))
            for start, end, kept in zip(bounds, bounds[1:], keep) if kept]


@settings(max_examples=300, deadline=None, database=None)
@given(block_lists(), block_lists())
def test_intersect_blocks_is_every_overlapping_pair_anchored_at_the_later_anchor(a, b):
    """Required people's common blocks: each non-empty overlap of one block of each list,
    anchored at the later of the two anchors, in order."""
    overlaps = [(max(a_start, b_start), min(a_end, b_end), max(a_anchor, b_anchor))
                for a_start, a_end, a_anchor in a for b_start, b_end, b_anchor in b]
    assert _intersect_blocks(a, b) == sorted(block for block in overlaps if block[0] < block[1])
