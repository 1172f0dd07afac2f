"""json_post builds the request msgraph's own builder would, with a plain-JSON body: same URL
(once the adapter has added its base URL), same headers, the same JSON on the wire."""
from __future__ import annotations

import json

import pytest

from providers.microsoft.graph_runtime import _build_client, json_post

BASE = "http://graph.test/v1.0"


@pytest.fixture
def client():
    return _build_client(BASE, 5.0)[0]


def _sent_url(client, info) -> str:
    client.request_adapter.set_base_url_for_request_information(info)  # what sending does first
    return str(info.url)


def test_the_same_request_as_the_sdk_builder(client):
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
    from msgraph.generated.users.item.calendar.get_schedule.get_schedule_post_request_body import (
        GetSchedulePostRequestBody,
    )

    config: RequestConfiguration = RequestConfiguration()
    config.headers.add("Prefer", 'outlook.timezone="UTC"')
    model = GetSchedulePostRequestBody(schedules=["a@example.com"], availability_view_interval=30,
                                       start_time=DateTimeTimeZone(date_time="2026-03-02T00:00:00", time_zone="UTC"))
    sdk = client.me.calendar.get_schedule.to_post_request_information(model, config)
    ours = json_post(client.me.calendar.get_schedule,
                     {"AvailabilityViewInterval": 30, "Schedules": ["a@example.com"],
                      "StartTime": {"dateTime": "2026-03-02T00:00:00", "timeZone": "UTC"}}, config)
    assert _sent_url(client, ours) == _sent_url(client, sdk) == f"{BASE}/users/me-token-to-replace/calendar/getSchedule"
    assert ours.http_method == sdk.http_method
    assert ours.headers.get_all() == sdk.headers.get_all()
    assert json.loads(ours.content) == json.loads(sdk.content)


def test_query_parameters_are_kept(client):
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.users.item.calendar_view.calendar_view_request_builder import CalendarViewRequestBuilder

    config: RequestConfiguration = RequestConfiguration()
    config.query_parameters = CalendarViewRequestBuilder.CalendarViewRequestBuilderGetQueryParameters(top=5)
    info = json_post(client.me.calendar_view, {}, config)
    assert _sent_url(client, info).startswith(f"{BASE}/users/me-token-to-replace/calendarView?")
    assert "%24top=5" in _sent_url(client, info)


def test_the_builders_path_parameters_are_left_alone(client):
    builder = client.me.calendar.get_schedule
    before = dict(builder.path_parameters)
    json_post(builder, {"schedules": []})
    assert builder.path_parameters == before
    assert str(client.me.calendar.get_schedule.to_post_request_information(
        _empty_schedule_body()).url).endswith("/users/me-token-to-replace/calendar/getSchedule")


def _empty_schedule_body():
    from msgraph.generated.users.item.calendar.get_schedule.get_schedule_post_request_body import (
        GetSchedulePostRequestBody,
    )

    return GetSchedulePostRequestBody()
