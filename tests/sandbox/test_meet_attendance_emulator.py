"""The sandbox's Meet conference records over real HTTP, read by the hub's own reader
(google-api-python-client's `meet v2` discovery): a calendar-only token is refused (403) and the
hub names that a missing scope; with meetings.space.readonly the organizer sees who joined —
a signed-in Google account as `users/{sub}`, a guest by display name only — and nobody else
sees the organizer's conferences."""
from __future__ import annotations

import pytest

from providers.base import ErrorKind, ProviderError
from providers.google.attendance import SCOPE, MeetAttendance, meeting_code
from tests.sandbox.conftest import FULL_SCOPES
from tests.sandbox.test_google_emulator import calendar_api, event_body, meet_request


@pytest.fixture
def reader(base_url) -> MeetAttendance:
    return MeetAttendance(f"{base_url}/google/meet/", timeout=10)


def meet_event(base_url: str, token: str) -> dict:
    api = calendar_api(base_url, token)
    return api.events().insert(calendarId="primary", body=event_body(conferenceData=meet_request()),
                               conferenceDataVersion=1).execute(num_retries=0)


def test_a_calendar_only_token_is_refused_and_named_a_missing_scope(google, control, reader, base_url):
    token = google.connect("ada@example.com")["access_token"]
    conference = {"join_url": meet_event(base_url, token)["hangoutLink"]}
    control.post(f"/meetings/google/{meeting_code(conference)}/participants", {"name": "Grace Hopper"})
    with pytest.raises(ProviderError) as refused:
        reader.participants(token, conference)
    assert (refused.value.kind, refused.value.http_status) == (ErrorKind.SCOPE_MISSING, 403)
    assert refused.value.cause == "scopes_missing"  # the fix diagnostics give: reconnect


def test_the_organizer_reads_who_joined_and_nobody_else_does(google, control, reader, base_url):
    ada = google.connect("ada@example.com", [*FULL_SCOPES, SCOPE])
    conference = {"join_url": meet_event(base_url, ada["access_token"])["hangoutLink"]}
    code = meeting_code(conference)
    assert reader.participants(ada["access_token"], conference).participants == ()  # nobody yet: no record
    control.post(f"/meetings/google/{code}/participants",
                 {"name": "Ada L.", "email": "ada@example.com", "joined_at": "2026-03-02T08:59:00Z"})
    control.post(f"/meetings/google/{code}/participants",
                 {"name": "Grace Hopper", "joined_at": "2026-03-02T09:04:00Z", "left_at": "2026-03-02T09:50:00Z"})
    read = reader.participants(ada["access_token"], conference)
    assert read.source == "meet_api"
    by_name = {p.name: p for p in read.participants}
    sub = next(a["subject"] for a in control.get("/accounts", provider="google") if a["email"] == "ada@example.com")
    # users/{id} is the account's OpenID subject, which is how the hub knows a connected
    # interviewer; Meet never reports addresses.
    assert (by_name["Ada L."].account_id, by_name["Ada L."].email) == (sub, None)
    grace = by_name["Grace Hopper"]
    assert (grace.account_id, grace.joined_at.isoformat(), grace.left_at.isoformat()) == (
        None, "2026-03-02T09:04:00+00:00", "2026-03-02T09:50:00+00:00")
    other = google.connect("someone@else.example", [*FULL_SCOPES, SCOPE])
    assert reader.participants(other["access_token"], conference).participants == ()
