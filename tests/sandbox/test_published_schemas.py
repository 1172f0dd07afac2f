"""The schema check itself: it must catch what the providers' documents do not allow, or the
"0 violations" of every other sandbox test would mean nothing."""

from __future__ import annotations

from tests.schemas.published import violations


def test_graph_schedule_item_extras_and_error_shapes_are_caught():
    body = {"value": [{"scheduleId": "a@b.c", "availabilityView": "0", "scheduleItems": [
        {"isPrivate": False, "status": "busy", "isMeeting": True,
         "start": {"dateTime": "2026-03-02T09:00:00", "timeZone": "UTC"}}]}]}
    assert violations("POST", "/microsoft/v1.0/me/calendar/getSchedule", 200, body) == [
        "microsoft:POST /microsoft/v1.0/me/calendar/getSchedule [collection.scheduleInformation]"
        ".value[0].scheduleItems[0].isMeeting: not a property of the published schema"]
    assert violations("GET", "/microsoft/v1.0/me/nothing", 404, {"message": "Not Found"})
    assert violations("GET", "/microsoft/v1.0/me/events/x", 200, {"showAs": "maybe"})


def test_google_and_zoom_types_and_enums_are_caught():
    assert violations("GET", "/google/calendar/v3/calendars/primary/events/e1", 200, {"status": 1, "extra": True}) == [
        "google:GET /google/calendar/v3/calendars/primary/events/e1 [Event].status: expected string, got int",
        "google:GET /google/calendar/v3/calendars/primary/events/e1 [Event].extra: not a property of the published schema"]
    problems = violations("GET", "/zoom/v2/meetings/123", 200, {"id": 123, "settings": {"audio": "smoke", "nope": 1}})
    assert [p.rsplit(" ", 1)[-1] if "not in" not in p else "enum" for p in problems] == ["enum", "schema"]


def test_responses_without_a_published_schema_are_not_judged():
    assert violations("POST", "/google/token", 200, {"anything": 1}) == []
    assert violations("GET", "/zoom/v2/meetings/1", 404, {"code": 3001}) == []
