"""find_slots examples (the grid, zones, notice, buffers, DST, validation)."""

from dataclasses import FrozenInstanceError
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from hub.availability import (
    AvailabilityInputError,
    Participant,
    Slot,
    WorkingHours,
    find_slots,
)

STOCKHOLM = ZoneInfo("Europe/Stockholm")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
UTC = timezone.utc
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def sthlm(*args: int) -> datetime:
    return datetime(*args, tzinfo=STOCKHOLM)


def busy(*pairs: tuple[datetime, datetime]) -> list[tuple[int, int]]:
    return [(int(a.timestamp()), int(b.timestamp())) for a, b in pairs]


def person(user_id="ann", weekly=None, tz="Europe/Stockholm", busy_blocks=(), optional=False, overrides=()):
    data = {"timezone": tz, "overrides": list(overrides)}
    if weekly is not None:
        data["weekly"] = weekly
    return Participant(user_id, WorkingHours.from_dict(data), list(busy_blocks), optional)


LUNCH_WEEK = {"mon": [["09:00", "13:00"], ["14:00", "17:00"]]}


def slots(participants, start, end, **kwargs) -> list[Slot]:
    kwargs.setdefault("duration_minutes", 30)
    kwargs.setdefault("interval_minutes", 30)
    kwargs.setdefault("now", LONG_AGO)
    return find_slots(start=start, end=end, participants=participants, **kwargs)


def local_starts(found: list[Slot], tz=STOCKHOLM) -> list[str]:
    return [s.start.astimezone(tz).strftime("%a %H:%M") for s in found]


def hhmm(found: list[Slot], tz=STOCKHOLM) -> list[str]:
    return [s.start.astimezone(tz).strftime("%H:%M") for s in found]


MONDAY = (sthlm(2026, 3, 2), sthlm(2026, 3, 3))  # a CET Monday, window of one local day


def test_lunch_example_from_the_api_contract():
    found = slots([person(weekly=LUNCH_WEEK)], *MONDAY)
    assert hhmm(found) == [
        "09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "12:00", "12:30",
        "14:00", "14:30", "15:00", "15:30", "16:00", "16:30",
    ]
    first = found[0]
    assert first.start == datetime(2026, 3, 2, 8, tzinfo=UTC)
    assert first.end - first.start == timedelta(minutes=30)
    assert first.start.tzinfo == UTC
    assert first.optional_available == []


def test_grid_is_counted_from_the_block_start_not_the_window_start():
    found = slots([person(weekly={"mon": [["09:10", "11:00"]]})], sthlm(2026, 3, 2, 9, 20), MONDAY[1])
    assert hhmm(found) == ["09:40", "10:10"]  # 09:10 + k*30, inside 09:20..11:00


def test_window_end_cuts_slots():
    found = slots([person(weekly=LUNCH_WEEK)], MONDAY[0], sthlm(2026, 3, 2, 10, 15))
    assert hhmm(found) == ["09:00", "09:30"]


def test_duration_longer_than_interval():
    found = slots([person(weekly=LUNCH_WEEK)], *MONDAY, duration_minutes=60, interval_minutes=30)
    assert hhmm(found) == [
        "09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "12:00",
        "14:00", "14:30", "15:00", "15:30", "16:00",
    ]


def test_participants_in_different_zones_get_only_the_overlap():
    # CET +1, London +0, New York -5 (US DST starts 8 March): Stockholm 09-17 = 08-16Z,
    # London 09-17 = 09-17Z, New York 09-17 = 14-22Z.
    ann = person("ann", weekly={"mon": [["09:00", "17:00"]]})
    bob = person("bob", weekly={"mon": [["09:00", "17:00"]]}, tz="Europe/London")
    cat = person("cat", weekly={"mon": [["09:00", "17:00"]]}, tz="America/New_York")
    two = slots([ann, bob], *MONDAY, interval_minutes=60, duration_minutes=60)
    assert hhmm(two) == ["10:00", "11:00", "12:00", "13:00", "14:00", "15:00", "16:00"]
    three = slots([ann, bob, cat], MONDAY[0], MONDAY[1] + timedelta(days=1), interval_minutes=60,
                  duration_minutes=60)
    assert [s.start for s in three] == [datetime(2026, 3, 2, 14, tzinfo=UTC), datetime(2026, 3, 2, 15, tzinfo=UTC)]


def test_grid_is_anchored_at_the_start_of_the_intersected_block():
    ann = person("ann", weekly={"mon": [["09:00", "17:00"]]})
    bob = person("bob", weekly={"mon": [["08:20", "12:00"]]}, tz="Europe/London")  # 09:20 CET
    found = slots([ann, bob], *MONDAY)
    assert hhmm(found) == ["09:20", "09:50", "10:20", "10:50", "11:20", "11:50", "12:20"]


def test_touching_blocks_of_a_day_are_one_block():
    split = person(weekly={"mon": [["09:00", "10:10"], ["10:10", "11:00"]]})
    assert hhmm(slots([split], *MONDAY, duration_minutes=60)) == ["09:00", "09:30", "10:00"]


def test_minimum_notice_and_now():
    ann = person(weekly=LUNCH_WEEK)
    found = slots([ann], *MONDAY, now=sthlm(2026, 3, 2, 10, 10), minimum_notice_minutes=60)
    assert hhmm(found)[0] == "11:30"  # >= 11:10, on the grid
    assert hhmm(slots([ann], *MONDAY, now=sthlm(2026, 3, 2, 12, 0)))[0] == "12:00"  # at now is fine
    late = sthlm(2026, 3, 2, 12, 0) + timedelta(seconds=1)
    assert hhmm(slots([ann], *MONDAY, now=late))[0] == "12:30"  # never in the past
    assert slots([ann], *MONDAY, now=sthlm(2026, 3, 2, 16, 31)) == []
    assert slots([ann], *MONDAY, now=sthlm(2026, 3, 1), minimum_notice_minutes=3 * 24 * 60) == []


def test_busy_time_is_half_open():
    ann = person(weekly=LUNCH_WEEK, busy_blocks=busy((sthlm(2026, 3, 2, 10), sthlm(2026, 3, 2, 10, 30))))
    assert hhmm(slots([ann], *MONDAY))[:4] == ["09:00", "09:30", "10:30", "11:00"]


def test_buffers_guard_neighbouring_events_not_working_hour_edges():
    ann = person(weekly=LUNCH_WEEK, busy_blocks=busy((sthlm(2026, 3, 2, 11), sthlm(2026, 3, 2, 12))))
    found = slots([ann], *MONDAY, buffer_before_minutes=15, buffer_after_minutes=15)
    # 10:30-11:00 needs 15 min after it (busy at 11:00); 12:00 needs 15 min before it.
    assert hhmm(found) == [
        "09:00", "09:30", "10:00", "12:30",
        "14:00", "14:30", "15:00", "15:30", "16:00", "16:30",
    ]
    only_after = slots([ann], *MONDAY, buffer_after_minutes=15)
    assert "10:30" not in hhmm(only_after) and "12:00" in hhmm(only_after)
    only_before = slots([ann], *MONDAY, buffer_before_minutes=15)
    assert "10:30" in hhmm(only_before) and "12:00" not in hhmm(only_before)


def test_every_required_participants_busy_time_counts():
    ann = person("ann", weekly=LUNCH_WEEK, busy_blocks=busy((sthlm(2026, 3, 2, 9), sthlm(2026, 3, 2, 12))))
    bob = person("bob", weekly=LUNCH_WEEK, busy_blocks=busy((sthlm(2026, 3, 2, 12), sthlm(2026, 3, 2, 17))))
    assert slots([ann, bob], *MONDAY) == []
    assert hhmm(slots([ann], *MONDAY))[0] == "12:00"


def test_optional_participants_never_restrict_and_are_listed_when_free_and_working():
    ann = person("ann", weekly=LUNCH_WEEK)
    ola = person("ola", weekly=LUNCH_WEEK, optional=True,
                 busy_blocks=busy((sthlm(2026, 3, 2, 9, 45), sthlm(2026, 3, 2, 10, 15))))
    lon = person("lon", weekly={"mon": [["09:00", "12:00"]]}, tz="Europe/London", optional=True)  # 10-13 CET
    found = slots([ann, ola, lon], *MONDAY, buffer_after_minutes=10)
    assert len(found) == 14
    by_time = dict(zip(hhmm(found), (s.optional_available for s in found)))
    assert by_time["09:00"] == ["ola"]
    assert by_time["09:30"] == []  # ola busy from 09:45
    assert by_time["10:00"] == ["lon"]  # ola busy until 10:15
    assert by_time["10:30"] == ["ola", "lon"]
    assert by_time["12:30"] == ["ola", "lon"]
    assert by_time["14:00"] == ["ola"]  # lon stopped at 13:00 CET
    # The buffer applies to optional participants too: 09:30-10:00 + 10 min meets 09:45.


def test_optional_participant_working_across_touching_blocks_counts_as_working():
    ann = person("ann", weekly={"sun": [["22:00", "02:00"]]})
    # Two blocks touching at midnight: a required person could not get a slot across it,
    # but an optional one is simply working throughout.
    ola = person("ola", weekly={"sun": [["22:00", "24:00"]], "mon": [["00:00", "02:00"]]}, optional=True)
    found = slots([ann, ola], sthlm(2026, 3, 1), sthlm(2026, 3, 3), duration_minutes=60)
    assert local_starts(found) == ["Sun 22:00", "Sun 22:30", "Sun 23:00", "Sun 23:30", "Mon 00:00",
                                   "Mon 00:30", "Mon 01:00"]
    assert all(s.optional_available == ["ola"] for s in found)


def test_ignoring_working_hours_anchors_the_grid_at_the_window_start():
    ann = person(weekly=LUNCH_WEEK, busy_blocks=busy((sthlm(2026, 3, 1, 23), sthlm(2026, 3, 2, 1))))
    found = slots([ann], sthlm(2026, 3, 1, 21, 10), sthlm(2026, 3, 2, 2, 10), respect_working_hours=False,
                  interval_minutes=60, duration_minutes=60)
    # Sunday is not a working day, 22:10-23:10 meets the busy block, 01:10 ends at the window end.
    assert local_starts(found) == ["Sun 21:10", "Mon 01:10"]


def test_max_results_keeps_the_earliest():
    found = slots([person(weekly=LUNCH_WEEK)], *MONDAY, max_results=3)
    assert hhmm(found) == ["09:00", "09:30", "10:00"]


def test_24_00_end_and_overnight_blocks():
    late = person(weekly={"fri": [["20:00", "24:00"]], "sat": [["22:00", "01:00"]]})
    found = slots([late], sthlm(2026, 3, 6), sthlm(2026, 3, 9), interval_minutes=60, duration_minutes=60)
    assert local_starts(found) == ["Fri 20:00", "Fri 21:00", "Fri 22:00", "Fri 23:00",
                                   "Sat 22:00", "Sat 23:00", "Sun 00:00"]


def test_24_00_followed_by_00_00_does_not_give_a_slot_across_midnight():
    split = person(weekly={"fri": [["23:00", "24:00"]], "sat": [["00:00", "01:00"]]})
    found = slots([split], sthlm(2026, 3, 6), sthlm(2026, 3, 8), interval_minutes=30, duration_minutes=60)
    assert local_starts(found) == ["Fri 23:00", "Sat 00:00"]


def test_overrides_day_off_and_other_hours():
    ann = person(weekly={"mon": [["09:00", "17:00"]], "tue": [["09:00", "17:00"]]},
                 overrides=[{"date": "2026-03-02", "intervals": []},
                            {"date": "2026-03-03", "intervals": [["10:15", "12:00"]]}])
    found = slots([ann], sthlm(2026, 3, 2), sthlm(2026, 3, 4), interval_minutes=45, duration_minutes=45)
    assert local_starts(found) == ["Tue 10:15", "Tue 11:00"]


def test_stockholm_dst_days():
    ann = person(weekly={"sun": [["01:00", "05:00"]], "mon": [["09:00", "10:00"]]})
    spring = slots([ann], sthlm(2026, 3, 29), sthlm(2026, 3, 31), interval_minutes=60, duration_minutes=60)
    assert [s.start for s in spring] == [
        datetime(2026, 3, 29, 0, tzinfo=UTC),  # 01:00 CET
        datetime(2026, 3, 29, 1, tzinfo=UTC),  # 03:00 CEST: 02:00 does not exist
        datetime(2026, 3, 29, 2, tzinfo=UTC),  # 04:00 CEST
        datetime(2026, 3, 30, 7, tzinfo=UTC),  # Monday 09:00 CEST
    ]
    autumn = slots([ann], sthlm(2026, 10, 25), sthlm(2026, 10, 27), interval_minutes=60, duration_minutes=60)
    assert [s.start.astimezone(STOCKHOLM).strftime("%H:%M%z") for s in autumn] == [
        "01:00+0200", "02:00+0200", "02:00+0100", "03:00+0100", "04:00+0100",  # five real hours
        "09:00+0100",
    ]


def test_lord_howe_half_hour_dst_days():
    lhi = person(weekly={"sun": [["01:00", "04:00"]]}, tz="Australia/Lord_Howe")
    window = (datetime(2026, 10, 3, tzinfo=LORD_HOWE), datetime(2026, 10, 5, tzinfo=LORD_HOWE))
    spring = slots([lhi], *window)
    assert [s.start.astimezone(LORD_HOWE).strftime("%H:%M%z") for s in spring] == [
        "01:00+1030", "01:30+1030", "02:30+1100", "03:00+1100", "03:30+1100",
    ]
    window = (datetime(2026, 4, 4, tzinfo=LORD_HOWE), datetime(2026, 4, 6, tzinfo=LORD_HOWE))
    autumn = slots([lhi], *window)
    assert [s.start.astimezone(LORD_HOWE).strftime("%H:%M%z") for s in autumn] == [
        "01:00+1100", "01:30+1100", "01:30+1030", "02:00+1030", "02:30+1030", "03:00+1030", "03:30+1030",
    ]
    in_gap = person(weekly={"sun": [["02:00", "04:00"]]}, tz="Australia/Lord_Howe")
    window = (datetime(2026, 10, 3, tzinfo=LORD_HOWE), datetime(2026, 10, 5, tzinfo=LORD_HOWE))
    assert [s.start.astimezone(LORD_HOWE).strftime("%H:%M") for s in slots([in_gap], *window)] == [
        "02:30", "03:00", "03:30",
    ]


def test_busy_given_in_any_order_and_overlapping():
    blocks = busy(
        (sthlm(2026, 3, 2, 15), sthlm(2026, 3, 2, 17)),
        (sthlm(2026, 3, 2, 9), sthlm(2026, 3, 2, 10)),
        (sthlm(2026, 3, 2, 9, 30), sthlm(2026, 3, 2, 12, 30)),
    )
    assert hhmm(slots([person(weekly=LUNCH_WEEK, busy_blocks=blocks)], *MONDAY)) == [
        "12:30", "14:00", "14:30",
    ]


def test_no_required_participant_is_a_validation_error():
    with pytest.raises(AvailabilityInputError) as excinfo:
        slots([person(optional=True)], *MONDAY)
    assert excinfo.value.field == "participants"
    with pytest.raises(AvailabilityInputError):
        slots([], *MONDAY)


def test_invalid_arguments_name_their_fields():
    with pytest.raises(AvailabilityInputError) as excinfo:
        find_slots(start=datetime(2026, 3, 2), end=MONDAY[0], participants=[person()],
                   duration_minutes=0, interval_minutes=-5, now=LONG_AGO, buffer_before_minutes=True,
                   max_results=0)
    assert [e.field for e in excinfo.value.errors] == [
        "start", "duration_minutes", "interval_minutes", "buffer_before_minutes", "max_results",
    ]
    with pytest.raises(AvailabilityInputError) as excinfo:
        slots([person()], MONDAY[1], MONDAY[0])
    assert excinfo.value.field == "end"
    with pytest.raises(AvailabilityInputError) as excinfo:
        slots([Participant("x")], *MONDAY)
    assert excinfo.value.field == "participants[0].working_hours"
    assert slots([Participant("x")], *MONDAY, respect_working_hours=False)  # not needed then


def test_slots_are_ordinary_frozen_slots_with_utc_ends_and_own_lists():
    # find_slots builds Slot objects without calling Slot() (see _make_slots): they must be
    # indistinguishable from constructed ones.
    found = slots([person(weekly=LUNCH_WEEK), person("ola", weekly=LUNCH_WEEK, optional=True)], *MONDAY)
    first, second = found[:2]
    assert first == Slot(datetime(2026, 3, 2, 8, tzinfo=UTC), datetime(2026, 3, 2, 8, 30, tzinfo=UTC), ["ola"])
    assert first.end.tzinfo is UTC and first.end == second.start
    assert first.optional_available is not second.optional_available
    with pytest.raises(FrozenInstanceError):
        first.start = second.start  # type: ignore[misc]


def test_slot_times_are_the_utc_instants_of_their_epoch_seconds_across_gaps_and_days():
    # _make_slots reaches each start by adding the step from the previous one; over busy gaps,
    # lunch, nights and the weekend the steps differ, and every start must still be exact.
    week = {day: [["09:00", "12:00"], ["13:10", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
    ann = person(weekly=week, busy_blocks=busy((sthlm(2026, 3, 9, 9, 20), sthlm(2026, 3, 9, 10, 5))))
    found = slots([ann], sthlm(2026, 3, 5), sthlm(2026, 3, 31), duration_minutes=45, interval_minutes=20)
    starts = [s.start for s in found]
    assert starts == [datetime.fromtimestamp(int(s.timestamp()), UTC) for s in starts]
    assert all(s.start.tzinfo is UTC and s.end - s.start == timedelta(minutes=45) for s in found)
    assert sthlm(2026, 3, 9, 13, 10) in starts and sthlm(2026, 3, 30, 16, 10) in starts  # DST 29 March
    assert len({b - a for a, b in zip(starts, starts[1:])}) > 3


def test_optional_people_sharing_working_hours_are_each_checked_against_their_own_busy_time():
    # find_slots finds the slots inside a schedule once per request and reuses them for
    # everyone with an equal schedule; busy time stays each person's own.
    required = person(weekly={"mon": [["09:00", "12:00"]]})
    morning = {"mon": [["09:00", "10:30"]]}
    bo = person("bo", weekly=morning, optional=True, busy_blocks=busy((sthlm(2026, 3, 2, 9), sthlm(2026, 3, 2, 9, 30))))
    cy = person("cy", weekly=morning, optional=True, busy_blocks=busy((sthlm(2026, 3, 2, 10), sthlm(2026, 3, 2, 11))))
    di = person("di", weekly={"mon": [["10:00", "12:00"]]}, optional=True)
    found = slots([required, bo, cy, di], *MONDAY)
    assert [(t, s.optional_available) for t, s in zip(hhmm(found), found)] == [
        ("09:00", ["cy"]), ("09:30", ["bo", "cy"]), ("10:00", ["bo", "di"]), ("10:30", ["di"]),
        ("11:00", ["di"]), ("11:30", ["di"]),
    ]


def test_optional_person_listed_only_for_slots_inside_their_working_time_edges_included():
    # A slot exactly filling a working block counts; one sticking out by a minute does not;
    # someone with no working day is never listed.
    required = person(weekly={"mon": [["09:00", "12:00"]]})
    ola = person("ola", weekly={"mon": [["09:00", "09:30"], ["10:00", "11:59"]]}, optional=True)
    off = person("off", weekly={}, optional=True)
    found = slots([required, ola, off], *MONDAY)
    assert [(t, s.optional_available) for t, s in zip(hhmm(found), found)] == [
        ("09:00", ["ola"]), ("09:30", []), ("10:00", ["ola"]), ("10:30", ["ola"]), ("11:00", ["ola"]),
        ("11:30", []),
    ]


def test_every_invalid_argument_is_reported_with_its_field_and_message():
    # find_slots is a library entry point as well as the API's engine: callers read the
    # errors (the API answers with them as RFC 9457 "errors"), so each names its own field.
    naive = datetime(2026, 3, 2)
    with pytest.raises(AvailabilityInputError) as excinfo:
        find_slots(start=naive, end=naive, now=naive, participants=[Participant("x", optional=True)],
                   duration_minutes=0, interval_minutes=0, buffer_before_minutes=-1, buffer_after_minutes=-1,
                   minimum_notice_minutes=-1, max_results=0)
    assert excinfo.value.as_problem_errors() == [
        {"field": "start", "message": "must be a date-time with a UTC offset"},
        {"field": "end", "message": "must be a date-time with a UTC offset"},
        {"field": "now", "message": "must be a date-time with a UTC offset"},
        {"field": "duration_minutes", "message": "must be a whole number >= 1"},
        {"field": "interval_minutes", "message": "must be a whole number >= 1"},
        {"field": "buffer_before_minutes", "message": "must be a whole number >= 0"},
        {"field": "buffer_after_minutes", "message": "must be a whole number >= 0"},
        {"field": "minimum_notice_minutes", "message": "must be a whole number >= 0"},
        {"field": "max_results", "message": "must be a whole number >= 1"},
        {"field": "participants", "message": "at least one participant must be required (optional: false)"},
        {"field": "participants[0].working_hours", "message": "is needed to respect working hours"},
    ]
    with pytest.raises(AvailabilityInputError) as excinfo:
        slots([person()], MONDAY[0], MONDAY[0])  # an empty window
    assert excinfo.value.as_problem_errors() == [{"field": "end", "message": "must be after start"}]


def test_the_smallest_valid_arguments_are_accepted():
    found = slots([person(weekly=LUNCH_WEEK)], MONDAY[0], sthlm(2026, 3, 2, 9, 3), duration_minutes=1,
                  interval_minutes=1, buffer_before_minutes=0, buffer_after_minutes=0, minimum_notice_minutes=0,
                  max_results=1)
    assert hhmm(found) == ["09:00"]


def test_max_results_defaults_to_the_apis_500():
    # Six days at a 15-minute step would be 576 slots.
    found = find_slots(start=MONDAY[0], end=MONDAY[0] + timedelta(days=6), participants=[Participant("x")],
                       duration_minutes=15, interval_minutes=15, now=LONG_AGO, respect_working_hours=False)
    assert len(found) == 500
    assert found[-1].start == MONDAY[0] + timedelta(minutes=15 * 499)


def test_a_slot_exactly_filling_what_is_left_of_the_window_is_offered():
    ann = person(weekly=LUNCH_WEEK)
    assert hhmm(slots([ann], MONDAY[0] + timedelta(hours=9), MONDAY[0] + timedelta(hours=9, minutes=30))) == ["09:00"]
    assert hhmm(slots([ann], *MONDAY, now=sthlm(2026, 3, 2, 16, 30))) == ["16:30"]  # ends at 17:00, the block's end


def test_sub_second_window_start_and_now_round_up():
    # A slot never starts before the window's start or before now, not even by half a second.
    ann = person(weekly=LUNCH_WEEK)
    half = timedelta(milliseconds=500)
    assert hhmm(slots([ann], MONDAY[0] + timedelta(hours=9) + half, MONDAY[1]))[0] == "09:30"
    assert hhmm(slots([ann], *MONDAY, now=sthlm(2026, 3, 2, 12) + half))[0] == "12:30"
    anywhere = slots([ann], MONDAY[0] + half, MONDAY[1], respect_working_hours=False)
    assert anywhere[0].start == MONDAY[0] + timedelta(seconds=1)


def test_buffers_may_end_exactly_at_busy_time_and_see_it_outside_working_hours():
    ann = person(weekly=LUNCH_WEEK, busy_blocks=busy(
        (sthlm(2026, 3, 2, 8), sthlm(2026, 3, 2, 8, 55)),  # before work: 09:00 - 15 min meets it
        (sthlm(2026, 3, 2, 10, 0), sthlm(2026, 3, 2, 10, 15)),  # 10:30 - 15 min is its end: free
        (sthlm(2026, 3, 2, 12, 15), sthlm(2026, 3, 2, 13, 45)),  # 11:30 + 45 min is its start, 14:00 - 15 its end
        (sthlm(2026, 3, 2, 17, 10), sthlm(2026, 3, 2, 18)),  # after work: 16:30 + 45 min meets it
    ))
    found = slots([ann], *MONDAY, buffer_before_minutes=15, buffer_after_minutes=15)
    assert hhmm(found) == ["10:30", "11:00", "11:30", "14:00", "14:30", "15:00", "15:30", "16:00"]


def test_buffers_apply_to_optional_participants_to_the_minute():
    # Slots widened to [start - 15 min, end + 10 min); an optional person's busy time may
    # touch that span but not enter it.
    ann = person("ann", weekly=LUNCH_WEEK)
    ola = person("ola", weekly=LUNCH_WEEK, optional=True, busy_blocks=busy(
        (sthlm(2026, 3, 2, 9, 40), sthlm(2026, 3, 2, 9, 45)),  # from the 09:00 slot's widened end
        (sthlm(2026, 3, 2, 10, 40), sthlm(2026, 3, 2, 10, 45)),  # up to the 11:00 slot's widened start
    ))
    bo = person("bo", weekly=LUNCH_WEEK, optional=True, busy_blocks=busy(
        (sthlm(2026, 3, 2, 9, 35), sthlm(2026, 3, 2, 9, 45)),  # in the 09:00 slot's after-buffer
        (sthlm(2026, 3, 2, 10, 50), sthlm(2026, 3, 2, 10, 55)),  # in the 11:00 slot's before-buffer
    ))
    found = slots([ann, ola, bo], MONDAY[0], sthlm(2026, 3, 2, 12), buffer_before_minutes=15,
                  buffer_after_minutes=10)
    assert [(t, s.optional_available) for t, s in zip(hhmm(found), found)] == [
        ("09:00", ["ola"]), ("09:30", []), ("10:00", ["ola", "bo"]), ("10:30", []), ("11:00", ["ola"]),
        ("11:30", ["ola", "bo"]),
    ]


def test_minimum_notice_is_counted_to_the_minute():
    ann = person(weekly=LUNCH_WEEK)
    assert hhmm(slots([ann], *MONDAY, now=sthlm(2026, 3, 2, 10), minimum_notice_minutes=60))[0] == "11:00"
    assert hhmm(slots([ann], *MONDAY, now=sthlm(2026, 3, 2, 10), minimum_notice_minutes=61))[0] == "11:30"


def test_a_block_too_short_for_the_slot_is_skipped_and_later_blocks_still_count():
    short_first = person(weekly={"mon": [["09:00", "09:20"], ["10:00", "11:00"]]})
    assert hhmm(slots([short_first], *MONDAY)) == ["10:00", "10:30"]
    # Notice leaves 15 minutes of the morning block: the afternoon is still offered.
    assert hhmm(slots([person(weekly=LUNCH_WEEK)], *MONDAY, now=sthlm(2026, 3, 2, 12, 45)))[:2] == ["14:00", "14:30"]


def test_ignoring_working_hours_lists_optional_people_outside_theirs_too():
    ann = person("ann", weekly=LUNCH_WEEK)
    ola = person("ola", weekly={"mon": [["09:00", "10:00"]]}, optional=True)  # not ann's schedule
    found = slots([ann, ola], sthlm(2026, 3, 1, 21), sthlm(2026, 3, 1, 22), respect_working_hours=False)
    assert [(t, s.optional_available) for t, s in zip(hhmm(found), found)] == [("21:00", ["ola"]), ("21:30", ["ola"])]
