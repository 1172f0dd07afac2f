"""WorkingHours: validation (field paths), JSON round trip, expansion across DST."""

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from hub.availability import WorkingHours, WorkingHoursError, load_zone

STOCKHOLM = ZoneInfo("Europe/Stockholm")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")


def ts(*args: int, tz=timezone.utc, fold: int = 0) -> int:
    return int(datetime(*args, tzinfo=tz, fold=fold).timestamp())


def utc(*args: int) -> int:
    return ts(*args)


def hours(weekly, tz="Europe/Stockholm", overrides=()) -> WorkingHours:
    return WorkingHours.from_dict({"timezone": tz, "weekly": weekly, "overrides": list(overrides)})


def fields(excinfo) -> list[str]:
    return [e.field for e in excinfo.value.errors]


# --- parsing and round trip -------------------------------------------------------------


def test_from_dict_round_trips():
    data = {
        "timezone": "Europe/Stockholm",
        "weekly": {"mon": [["09:00", "13:00"], ["14:00", "17:00"]], "sat": [], "sun": [["22:00", "02:00"]]},
        "overrides": [
            {"date": "2026-03-04", "intervals": []},
            {"date": "2026-03-05", "intervals": [["10:00", "24:00"]]},
        ],
    }
    wh = WorkingHours.from_dict(data)
    assert wh.to_dict() == data
    assert WorkingHours.from_dict(wh.to_dict()) == wh
    assert wh.weekly["mon"] == (("09:00", "13:00"), ("14:00", "17:00"))
    assert wh.overrides[0].date == date(2026, 3, 4)


def test_default_is_monday_to_friday_nine_to_five():
    wh = WorkingHours.default("Asia/Tokyo")
    assert wh.to_dict() == {
        "timezone": "Asia/Tokyo",
        "weekly": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
        "overrides": [],
    }


def test_absent_working_hours_and_absent_parts_fall_back():
    assert WorkingHours.from_dict(None, "Europe/Stockholm") == WorkingHours.default("Europe/Stockholm")
    assert WorkingHours.from_dict(None) == WorkingHours.default("UTC")
    only_zone = WorkingHours.from_dict({"timezone": "Europe/Stockholm"})
    assert only_zone == WorkingHours.default("Europe/Stockholm")
    no_zone = WorkingHours.from_dict({"weekly": {"mon": [["08:00", "12:00"]]}}, "America/New_York")
    assert no_zone.timezone == "America/New_York"
    assert WorkingHours.from_dict({"weekly": {}}).weekly == {}  # explicitly no working days
    nulls = {"timezone": None, "weekly": None, "overrides": None}
    assert WorkingHours.from_dict(nulls, "Europe/Oslo") == WorkingHours.default("Europe/Oslo")


def test_equal_schedules_hash_equal():
    a = hours({"mon": [["09:00", "17:00"]]})
    b = hours({"mon": [["09:00", "17:00"]]})
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != hours({"mon": [["09:00", "16:00"]]})


# --- validation ---------------------------------------------------------------------------


def test_unknown_zone_names_the_field():
    with pytest.raises(WorkingHoursError) as excinfo:
        hours({"mon": [["09:00", "17:00"]]}, tz="Mars/Olympus_Mons")
    assert fields(excinfo) == ["working_hours.timezone"]
    assert "Mars/Olympus_Mons" in excinfo.value.message


@pytest.mark.parametrize("bad", ["", "europe/stockholm", "../etc/passwd", "Europe", 42])
def test_other_invalid_zone_names(bad):
    with pytest.raises(WorkingHoursError) as excinfo:
        hours({}, tz=bad)
    assert fields(excinfo) == ["working_hours.timezone"]


def test_invalid_default_zone_is_the_users_timezone_field():
    with pytest.raises(WorkingHoursError) as excinfo:
        WorkingHours.from_dict({"weekly": {}}, "Nowhere/City")
    assert fields(excinfo) == ["timezone"]
    with pytest.raises(WorkingHoursError) as excinfo:
        load_zone("Nowhere/City", "participants[0].timezone")
    assert fields(excinfo) == ["participants[0].timezone"]


def test_bad_day_name():
    with pytest.raises(WorkingHoursError) as excinfo:
        hours({"monday": [["09:00", "17:00"]]})
    assert fields(excinfo) == ["working_hours.weekly.monday"]
    assert "mon, tue" in excinfo.value.message


@pytest.mark.parametrize(
    "pair",
    [["9:00", "17:00"], ["09:00", "25:00"], ["09:60", "17:00"], ["24:00", "17:00"], ["09:00", "17"],
     ["09:00", 1700], ["09:00"], "09:00-17:00", ["09:00", "17:00", "18:00"]],
)
def test_bad_time_pairs_name_the_interval(pair):
    with pytest.raises(WorkingHoursError) as excinfo:
        hours({"tue": [["07:00", "08:00"], pair]})
    assert fields(excinfo) == ["working_hours.weekly.tue[1]"]


def test_24_00_is_only_an_end():
    assert hours({"fri": [["20:00", "24:00"]]}).weekly["fri"] == (("20:00", "24:00"),)
    with pytest.raises(WorkingHoursError, match="only allowed as an end"):
        hours({"fri": [["24:00", "02:00"]]})


def test_equal_start_and_end_is_rejected():
    with pytest.raises(WorkingHoursError) as excinfo:
        hours({"wed": [["09:00", "09:00"]]})
    assert fields(excinfo) == ["working_hours.weekly.wed[0]"]
    assert "overnight" in excinfo.value.message  # tells how to write what they may have meant


def test_overlapping_intervals_in_a_day_are_rejected_touching_ones_are_not():
    with pytest.raises(WorkingHoursError) as excinfo:
        hours({"mon": [["09:00", "13:00"], ["12:00", "17:00"]]})
    assert fields(excinfo) == ["working_hours.weekly.mon[1]"]
    assert "overlaps working_hours.weekly.mon[0]" in excinfo.value.message
    # Order in the input does not matter for the check; the later-starting one is named.
    with pytest.raises(WorkingHoursError) as excinfo:
        hours({"mon": [["12:00", "17:00"], ["09:00", "13:00"]]})
    assert fields(excinfo) == ["working_hours.weekly.mon[0]"]
    # An overnight interval overlaps a later one of the same day.
    with pytest.raises(WorkingHoursError):
        hours({"mon": [["20:00", "02:00"], ["21:00", "22:00"]]})
    hours({"mon": [["09:00", "13:00"], ["13:00", "17:00"]]})  # touching: fine


def test_shape_errors():
    with pytest.raises(WorkingHoursError) as excinfo:
        WorkingHours.from_dict(["mon"])
    assert fields(excinfo) == ["working_hours"]
    with pytest.raises(WorkingHoursError) as excinfo:
        WorkingHours.from_dict({"weekly": [], "overrides": {}, "extra": 1})
    assert sorted(fields(excinfo)) == ["working_hours.extra", "working_hours.overrides", "working_hours.weekly"]
    with pytest.raises(WorkingHoursError) as excinfo:
        hours({"mon": "09:00-17:00"})
    assert fields(excinfo) == ["working_hours.weekly.mon"]


def test_override_errors():
    with pytest.raises(WorkingHoursError) as excinfo:
        hours(
            {},
            overrides=[
                {"date": "2026-02-30", "intervals": []},
                {"date": "20260304", "intervals": []},
                {"date": "2026-03-05", "intervals": [["10:00", "09:00"], ["08:00", "08:00"]]},
                {"date": "2026-03-05", "intervals": []},
                {"date": "2026-03-06"},
                "2026-03-07",
            ],
        )
    assert fields(excinfo) == [
        "working_hours.overrides[0].date",
        "working_hours.overrides[1].date",
        "working_hours.overrides[2].intervals[1]",
        "working_hours.overrides[3].date",
        "working_hours.overrides[4].intervals",
        "working_hours.overrides[5]",
    ]
    assert excinfo.value.errors[3].message == "duplicate date"


def test_all_errors_are_reported_at_once_and_serialise_for_problem_json():
    with pytest.raises(WorkingHoursError) as excinfo:
        hours({"mon": [["9", "17:00"]], "xyz": []}, tz="Bad/Zone")
    problems = excinfo.value.as_problem_errors()
    assert [p["field"] for p in problems] == [
        "working_hours.timezone",
        "working_hours.weekly.mon[0]",
        "working_hours.weekly.xyz",
    ]
    assert all(p["message"] for p in problems)


def test_direct_construction_is_validated_too():
    with pytest.raises(WorkingHoursError) as excinfo:
        WorkingHours("Europe/Stockholm", {"mon": (("17:00", "17:00"),)})
    assert fields(excinfo) == ["working_hours.weekly.mon[0]"]


# --- expansion ----------------------------------------------------------------------------


def test_expand_plain_week_with_lunch():
    wh = hours({"mon": [["09:00", "13:00"], ["14:00", "17:00"]], "tue": [["09:00", "17:00"]]})
    blocks = wh.expand(utc(2026, 3, 2), utc(2026, 3, 4))  # Mon 2 and Tue 3 March, CET (+1)
    assert blocks == [
        (utc(2026, 3, 2, 8), utc(2026, 3, 2, 12), utc(2026, 3, 2, 8)),
        (utc(2026, 3, 2, 13), utc(2026, 3, 2, 16), utc(2026, 3, 2, 13)),
        (utc(2026, 3, 3, 8), utc(2026, 3, 3, 16), utc(2026, 3, 3, 8)),
    ]


def test_expand_does_not_clip_blocks_to_the_window():
    wh = hours({"mon": [["09:00", "17:00"]]})
    assert wh.expand(utc(2026, 3, 2, 10), utc(2026, 3, 2, 11)) == [
        (utc(2026, 3, 2, 8), utc(2026, 3, 2, 16), utc(2026, 3, 2, 8))
    ]
    assert wh.expand(utc(2026, 3, 2, 16), utc(2026, 3, 2, 18)) == []  # half-open


def test_expand_joins_touching_intervals_of_a_day():
    wh = hours({"mon": [["13:00", "17:00"], ["09:00", "13:00"]]})
    assert wh.expand(utc(2026, 3, 2), utc(2026, 3, 3)) == [
        (utc(2026, 3, 2, 8), utc(2026, 3, 2, 16), utc(2026, 3, 2, 8))
    ]


def test_expand_24_00_and_a_following_midnight_stay_separate_blocks():
    wh = hours({"fri": [["20:00", "24:00"]], "sat": [["00:00", "02:00"]]})
    assert wh.expand(utc(2026, 3, 6), utc(2026, 3, 8)) == [
        (utc(2026, 3, 6, 19), utc(2026, 3, 6, 23), utc(2026, 3, 6, 19)),
        (utc(2026, 3, 6, 23), utc(2026, 3, 7, 1), utc(2026, 3, 6, 23)),
    ]


def test_expand_overnight_interval_runs_into_the_next_day():
    wh = hours({"mon": [["22:00", "02:00"]]})
    assert wh.expand(utc(2026, 3, 2), utc(2026, 3, 4)) == [
        (utc(2026, 3, 2, 21), utc(2026, 3, 3, 1), utc(2026, 3, 2, 21))
    ]
    # A window starting inside the tail still sees the block (it started the day before).
    assert wh.expand(utc(2026, 3, 3, 0), utc(2026, 3, 3, 1)) == [
        (utc(2026, 3, 2, 21), utc(2026, 3, 3, 1), utc(2026, 3, 2, 21))
    ]


def test_expand_overnight_tail_overlapping_next_morning_trims_but_keeps_anchor():
    wh = hours({"sun": [["20:00", "10:00"]], "mon": [["09:00", "17:00"]]})
    blocks = wh.expand(utc(2026, 3, 1), utc(2026, 3, 3))
    assert blocks == [
        (utc(2026, 3, 1, 19), utc(2026, 3, 2, 9), utc(2026, 3, 1, 19)),
        (utc(2026, 3, 2, 9), utc(2026, 3, 2, 16), utc(2026, 3, 2, 8)),  # anchored at 09:00 local
    ]


def test_expand_overrides_replace_a_day_and_empty_means_day_off():
    wh = hours(
        {"mon": [["09:00", "17:00"]], "tue": [["09:00", "17:00"]], "sun": [["22:00", "02:00"]]},
        overrides=[
            {"date": "2026-03-02", "intervals": []},
            {"date": "2026-03-03", "intervals": [["10:00", "12:00"]]},
            {"date": "2026-03-07", "intervals": [["08:00", "09:00"]]},  # a Saturday
        ],
    )
    blocks = wh.expand(utc(2026, 3, 1), utc(2026, 3, 8))
    assert blocks == [
        # Sunday's overnight block still runs into the overridden Monday.
        (utc(2026, 3, 1, 21), utc(2026, 3, 2, 1), utc(2026, 3, 1, 21)),
        (utc(2026, 3, 3, 9), utc(2026, 3, 3, 11), utc(2026, 3, 3, 9)),
        (utc(2026, 3, 7, 7), utc(2026, 3, 7, 8), utc(2026, 3, 7, 7)),
    ]


def test_expand_stockholm_spring_forward():
    # 2026-03-29 02:00 CET -> 03:00 CEST (01:00Z). 01:00-05:00 lasts three real hours.
    wh = hours({"sun": [["01:00", "05:00"]], "mon": [["09:00", "17:00"]]})
    assert wh.expand(utc(2026, 3, 28), utc(2026, 3, 31)) == [
        (utc(2026, 3, 29, 0), utc(2026, 3, 29, 3), utc(2026, 3, 29, 0)),
        (utc(2026, 3, 30, 7), utc(2026, 3, 30, 15), utc(2026, 3, 30, 7)),  # now CEST (+2)
    ]


def test_expand_start_inside_the_gap_moves_to_the_first_existing_instant():
    wh = hours({"sun": [["02:30", "05:00"]]})
    assert wh.expand(utc(2026, 3, 28), utc(2026, 3, 30)) == [
        (utc(2026, 3, 29, 1), utc(2026, 3, 29, 3), utc(2026, 3, 29, 1))  # 03:00 CEST
    ]
    # An interval entirely inside the gap does not exist.
    assert hours({"sun": [["02:10", "02:50"]]}).expand(utc(2026, 3, 28), utc(2026, 3, 30)) == []


def test_expand_stockholm_fall_back_uses_first_occurrence():
    # 2026-10-25 03:00 CEST -> 02:00 CET (01:00Z): 02:00-03:00 happens twice.
    wh = hours({"sun": [["02:30", "04:00"]]})
    assert wh.expand(utc(2026, 10, 24), utc(2026, 10, 26)) == [
        # 02:30 CEST (00:30Z) to 04:00 CET (03:00Z): 2.5 real hours
        (utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 3), utc(2026, 10, 25, 0, 30))
    ]
    # An end in the repeated hour is its first occurrence too.
    wh = hours({"sun": [["01:00", "02:30"]]})
    assert wh.expand(utc(2026, 10, 24), utc(2026, 10, 26)) == [
        (utc(2026, 10, 24, 23), utc(2026, 10, 25, 0, 30), utc(2026, 10, 24, 23))
    ]


def test_expand_does_not_depend_on_where_the_window_starts_around_a_fold():
    # Starting the window after the fall-back makes the first offset guess the later one,
    # which first finds the *second* 02:30; the rule still picks the first.
    wh = hours({"sun": [["02:30", "04:00"]]})
    expected = [(utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 3), utc(2026, 10, 25, 0, 30))]
    for window_start in (utc(2026, 10, 25, 0), utc(2026, 10, 25, 1, 45), utc(2026, 10, 25, 2, 59)):
        assert wh.expand(window_start, utc(2026, 10, 26)) == expected


def test_expand_lord_howe_half_hour_spring_forward():
    # 2026-10-04 02:00 +10:30 -> 02:30 +11:00 (at 15:30Z on the 3rd).
    wh = hours({"sun": [["01:00", "04:00"]]}, tz="Australia/Lord_Howe")
    assert wh.expand(utc(2026, 10, 2), utc(2026, 10, 5)) == [
        (utc(2026, 10, 3, 14, 30), utc(2026, 10, 3, 17), utc(2026, 10, 3, 14, 30))  # 2.5 h
    ]
    in_gap = hours({"sun": [["02:10", "04:00"]]}, tz="Australia/Lord_Howe")
    assert in_gap.expand(utc(2026, 10, 2), utc(2026, 10, 5)) == [
        (utc(2026, 10, 3, 15, 30), utc(2026, 10, 3, 17), utc(2026, 10, 3, 15, 30))
    ]


def test_expand_lord_howe_half_hour_fall_back():
    # 2026-04-05 02:00 +11:00 -> 01:30 +10:30 (at 15:00Z on the 4th): 01:30-02:00 twice.
    wh = hours({"sun": [["01:45", "03:00"]]}, tz="Australia/Lord_Howe")
    first_0145 = ts(2026, 4, 5, 1, 45, tz=LORD_HOWE, fold=0)
    assert first_0145 == utc(2026, 4, 4, 14, 45)
    assert wh.expand(utc(2026, 4, 3), utc(2026, 4, 6)) == [
        (first_0145, utc(2026, 4, 4, 16, 30), first_0145)  # 1 h 45 min real
    ]
