"""Pure parts of scheduling requests: the slot grid inside windows (property-tested), odd hours
in the candidate's zone, and placeholder checks."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.services.scheduling.grid import Interval, grid_slots, odd_hour, placement_error
from hub.services.scheduling.texts import render, unknown_placeholders

T0 = datetime(2027, 3, 1, tzinfo=UTC)
minutes = st.integers(min_value=0, max_value=3 * 24 * 60)
windows_st = st.lists(st.tuples(minutes, st.integers(min_value=1, max_value=600)), min_size=1, max_size=4).map(
    lambda pairs: [Interval(T0 + timedelta(minutes=a), T0 + timedelta(minutes=a + n)) for a, n in pairs])


@settings(max_examples=300, deadline=None, database=None)  # no wall-clock deadline on a shared machine
@given(windows_st, st.sampled_from([15, 30, 45, 60]), st.sampled_from([5, 15, 30]), minutes)
def test_grid_and_placement_agree(windows, duration, interval, probe):
    d, i = timedelta(minutes=duration), timedelta(minutes=interval)
    slots = grid_slots(windows, d, i)
    for s in slots:
        assert s.end - s.start == d
        assert any(w.start <= s.start and s.end <= w.end and (s.start - w.start) % i == timedelta(0) for w in windows)
        assert placement_error(s.start, windows, d, i) is None
    start = T0 + timedelta(minutes=probe)
    assert (placement_error(start, windows, d, i) is None) == (Interval(start, start + d) in set(slots))


def test_odd_hours_are_judged_in_the_candidates_zone():
    nine_utc = Interval(datetime(2027, 1, 12, 9, tzinfo=UTC), datetime(2027, 1, 12, 9, 30, tzinfo=UTC))
    assert odd_hour(nine_utc, "Europe/Stockholm", None) is False  # 10:00
    assert odd_hour(nine_utc, "America/Los_Angeles", None) is True  # 01:00
    assert odd_hour(nine_utc, "Asia/Tokyo", None) is False  # 18:00
    assert odd_hour(nine_utc, "Asia/Tokyo", {"start": "08:00", "end": "18:00"}) is True  # ends 18:30
    late = Interval(datetime(2027, 1, 12, 22, 30, tzinfo=UTC), datetime(2027, 1, 12, 23, tzinfo=UTC))
    assert odd_hour(late, "UTC", {"start": "00:00", "end": "23:30"}) is False


def test_placeholders():
    assert unknown_placeholders("Hi {candidate_name}, {join_url}") == []
    assert unknown_placeholders("Hi {name}") == ["name"]
    assert unknown_placeholders("Hi {candidate_name") != []
    assert render("{candidate_name} / {cancel_url}", {"candidate_name": "Ada"}) == "Ada / "
