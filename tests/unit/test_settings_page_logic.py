"""The settings page's pure parts: the hours form and what the cards say, without a server."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from hub.services.working_hours import parse_working_hours
from hub.storage.models import Connection
from hub.web.settings_forms import FormErrors, add_api_error, form_values, parse_day, read_hours_form
from hub.web.settings_view import conferencing_options, conferencing_warning, provider_cards, return_notice

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def conn(provider="google", status="active", capabilities=("calendar", "google_meet"), last_error=None, id="con_1"):
    return Connection(id=id, tenant_id="t", user_id="u", provider=provider, provider_account_id="1",
                      account_email="a@example.com", status=status, capabilities=list(capabilities),
                      connected_at=NOW, last_used_at=None, last_error=last_error)


@pytest.mark.parametrize("text, intervals", [
    ("", []),
    ("09:00-17:00", [["09:00", "17:00"]]),
    ("9:00 - 12:00; 13:00–17:00", [["09:00", "12:00"], ["13:00", "17:00"]]),
    ("22:00 to 02:00,", [["22:00", "02:00"]]),
])
def test_day_text_is_read(text, intervals):
    errors = FormErrors()
    assert parse_day(text, "mon", errors) == intervals and not errors


@pytest.mark.parametrize("text", ["09:00", "09:00-", "-17:00", "9 till 5"])
def test_day_text_of_the_wrong_shape_is_named(text):
    errors = FormErrors()
    assert parse_day(text, "tue", errors) is None
    assert errors.fields["hours_tue"][0].startswith("Interval 1: write it as start-end")


def test_api_errors_land_next_to_their_fields():
    errors = FormErrors()
    add_api_error(errors, "working_hours.weekly.wed[1]", "overlaps working_hours.weekly.wed[0]")
    add_api_error(errors, "working_hours.timezone", "unknown time zone 'X'")
    add_api_error(errors, "timezone", "unknown time zone 'X'")  # the same message once only
    add_api_error(errors, "working_hours.overrides[0].date", "duplicate date")
    assert errors.fields == {"hours_wed": ["Interval 2: overlaps interval 1"], "timezone": ["unknown time zone 'X'"]}
    assert errors.general == ["A date exception set by your scheduling tool is not valid "
                              "(working_hours.overrides[0].date: duplicate date)."]


def test_form_round_trips_what_the_api_stored():
    stored = parse_working_hours({"timezone": "Europe/Oslo", "weekly": {"mon": [["08:00", "12:00"], ["13:00", "16:00"]]}}, "UTC")
    values = form_values(stored, "UTC")
    assert values["timezone"] == "Europe/Oslo" and values["hours_mon"] == "08:00-12:00, 13:00-16:00"
    assert values["hours_tue"] == ""
    update, errors = read_hours_form(values, stored, parse_working_hours)
    assert not errors and update.working_hours == stored


def test_nothing_stored_shows_the_api_default():
    values = form_values(None, "America/Chicago")
    assert values["timezone"] == "America/Chicago"
    assert [values[f"hours_{d}"] for d in ("mon", "fri", "sat")] == ["09:00-17:00", "09:00-17:00", ""]


def test_cards_follow_the_registry_and_say_what_is_wrong():
    cards = {c.name: c for c in provider_cards([
        conn(status="needs_reauth", last_error={"kind": "auth_revoked", "cause": "token_revoked"}),
        conn(provider="myspace", id="con_2", capabilities=("calendar",)),
    ])}
    google = cards["google"].connections[0]
    assert not google.healthy and google.offer_reconnect and google.problem.code == "token_revoked"
    assert cards["myspace"].connectable is False and cards["myspace"].connections  # still disconnectable


def test_a_calendar_without_its_meetings_gets_a_warning():
    view = provider_cards([conn(capabilities=("calendar",))])[0].connections[0]
    assert view.healthy and view.problem.code == "meet_unavailable" and not view.problem_is_failure
    assert view.status_text == "Connected, with a problem"


def test_transient_errors_are_warnings_not_reconnects():
    view = provider_cards([conn(last_error={"kind": "rate_limited", "cause": "rate_limited"})])[0].connections[0]
    assert view.healthy and view.problem.code == "rate_limited" and not view.offer_reconnect


def test_conferencing_choices_and_warning():
    options = conferencing_options([conn()], "zoom")
    by_value = {o.value: o.available for o in options}
    assert by_value["default"] and by_value["google_meet"] and by_value["none"]
    assert by_value.get("zoom") is False
    assert conferencing_warning(options, "zoom").code == "conferencing_not_connected"
    assert conferencing_warning(options, "google_meet") is None


def test_notice_claims_nothing_for_a_foreign_connection():
    assert return_notice({"status": "connected", "connection_id": "con_other", "provider": "google"}, [conn()]) is None
    ok = return_notice({"status": "connected", "connection_id": "con_1", "provider": "google"}, [conn()])
    assert ok.ok and ok.title == "Google Calendar is connected."
    bad = return_notice({"status": "error", "code": "<script>", "provider": "nope"}, [])
    assert not bad.ok and bad.title == "The account was not connected." and bad.explanation.code == "unknown"
