"""Matching a meeting's participants to the people of an interview, and merging sightings."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from hub.attendance.people import (CANDIDATE, INTERVIEWER, OTHER, Person, Sighting, attendee_key, first_join,
                                   lines, match, minutes_late)

T0 = datetime(2026, 3, 2, 13, 0, tzinfo=timezone.utc)
GRACE = Person(CANDIDATE, "grace@candidates.example", "Grace Hopper", frozenset({"grace@candidates.example"}),
               key=attendee_key("evt_1", "grace@candidates.example"))
ADA = Person(INTERVIEWER, "ada@acme.example", "Ada Lovelace",
             frozenset({"ada@acme.example", "ada.zoom@acme.example"}), frozenset({"1234567890"}))
PEOPLE = [GRACE, ADA]


def test_email_wins_over_everything_else():
    assert match(Sighting("Somebody Else", T0, email="ADA.ZOOM@acme.example"), PEOPLE) is ADA


def test_the_hubs_key_then_the_account_id_then_the_name():
    assert match(Sighting("Guest 1", T0, key=GRACE.key), PEOPLE) is GRACE
    assert match(Sighting("Ada L.", T0, account_id="1234567890"), PEOPLE) is ADA
    assert match(Sighting("  grace   HOPPER ", T0, email=""), PEOPLE) is GRACE


def test_an_ambiguous_or_unknown_name_matches_nobody():
    twin = Person(INTERVIEWER, "other@acme.example", "Grace Hopper", frozenset({"other@acme.example"}))
    assert match(Sighting("Grace Hopper", T0), [GRACE, twin]) is None
    assert match(Sighting("Mallory", T0, email="mallory@example.com"), PEOPLE) is None


def test_a_leave_is_paired_with_its_join_by_the_providers_id():
    merged = lines([Sighting("Guest", T0, ref="p1"), Sighting("", T0 + timedelta(minutes=5), joined=False, ref="p1")],
                   PEOPLE)
    assert len(merged) == 1 and merged[0].role == OTHER and merged[0].left_at == T0 + timedelta(minutes=5)


def test_rejoining_after_leaving_means_still_in():
    merged = lines([Sighting("Grace Hopper", T0), Sighting("Grace Hopper", T0 + timedelta(minutes=2), joined=False),
                    Sighting("Grace Hopper", T0 + timedelta(minutes=3))], PEOPLE)
    assert merged[0].joined_at == T0 and merged[0].left_at is None


def test_the_key_is_short_enough_for_zoom_and_hides_the_address():
    key = attendee_key("evt_1", "Grace@Candidates.example")
    assert key == GRACE.key and len(key) <= 35 and "grace" not in key


@given(st.lists(st.integers(min_value=-60, max_value=120), min_size=1, max_size=8))
def test_the_first_join_is_the_earliest_whatever_the_order(minutes):
    sightings = [Sighting("Grace Hopper", T0 + timedelta(minutes=m), email=e)
                 for m, e in zip(minutes, ["", "grace@candidates.example"] * 4)]
    joined = first_join(lines(sightings, PEOPLE), GRACE)
    assert joined == T0 + timedelta(minutes=min(minutes))
    assert minutes_late(joined, T0) == max(0, min(minutes))
