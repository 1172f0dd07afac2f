"""The Google sync adapter (`providers/google/sync.py`) over real HTTP against the sandbox's
Google: a full sync, then incremental syncs that show what people changed in their calendar
(a moved event, a deleted one as cancelled, an attendee's answer); a sync token Google no
longer accepts; channels opened and stopped at the provider, and its messages read back."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests

from hub.config import Settings
from providers.base import (FULL_SYNC_REQUIRED, Attendee, ChannelRequest, ErrorKind, EventDraft,
                            ProviderError, PushChannel)
from providers.google.calendar_api import CalendarApi
from providers.google.sync import GoogleSync
from tests.contract.support import CalendarUnderTest, calendar_under_test, oauth_token, sync_under_test
from tests.push_receiver import Receiver, notifications, wait_delivered

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
WINDOW = (T0 - timedelta(days=1), T0 + timedelta(days=7))


def settings(sandbox_url: str) -> Settings:
    return Settings.from_env({}, sandbox_url=sandbox_url, public_url="http://127.0.0.1:9")


@pytest.fixture
def cal(sandbox_url) -> CalendarUnderTest:
    return calendar_under_test("google", sandbox_url)


@pytest.fixture
def sync(sandbox_url) -> GoogleSync:
    adapter = sync_under_test("google", sandbox_url)
    assert isinstance(adapter, GoogleSync)
    return adapter


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.close()


def control(sandbox_url: str, method: str, path: str, **body) -> requests.Response:
    return requests.request(method, f"{sandbox_url}/_control{path}", json=body or None, timeout=10)


def by_id(batch) -> dict:
    return {e.event_id: e for e in batch.events}


def test_full_sync_then_incremental_shows_what_people_changed(cal, sync, sandbox_url):
    interview = cal.adapter.create_event(cal.token, EventDraft(
        title="Interview", start=T0, end=T0 + timedelta(hours=1), attendees=(Attendee("cand@example.com"),),
        idempotency_handle=uuid.uuid4().hex))
    busy = cal.sandbox.busy("google", cal.email, (T0 + timedelta(hours=3)).isoformat(), (T0 + timedelta(hours=4)).isoformat())
    shown = {status: cal.sandbox.busy("google", cal.email, (T0 + timedelta(days=1, hours=i)).isoformat(),
                                      (T0 + timedelta(days=1, hours=i + 1)).isoformat(), status=status)["id"]
             for i, status in enumerate(("free", "tentative", "oof"))}
    cal.sandbox.busy("google", cal.email, "2026-06-01T09:00:00Z", "2026-06-01T10:00:00Z")  # outside the window

    full = sync.sync(cal.token, None, *WINDOW)
    assert full.full and full.cursor
    events = by_id(full)
    assert set(events) == {interview.event_id, busy["id"], *shown.values()}
    first = events[interview.event_id]
    assert (first.start, first.end, first.title, first.show_as, first.cancelled) == (
        T0, T0 + timedelta(hours=1), "Interview", "busy", False)
    assert [(a.email, a.response_status) for a in first.attendees] == [("cand@example.com", "needs_action")]
    assert {status: events[i].show_as for status, i in shown.items()} == {
        "free": "free", "tentative": "tentative", "oof": "oof"}

    assert sync.sync(cal.token, full.cursor, *WINDOW).events == ()  # nothing changed yet

    moved = control(sandbox_url, "PATCH", f"/events/{interview.event_id}",
                    start=(T0 + timedelta(hours=5)).isoformat(), subject="Interview (moved)")
    assert moved.status_code == 200, moved.text
    assert control(sandbox_url, "DELETE", f"/events/{busy['id']}").status_code == 204
    answered = control(sandbox_url, "POST", f"/events/{interview.event_id}/responses",
                       email="cand@example.com", response="declined")
    assert answered.status_code == 201, answered.text

    changes = sync.sync(cal.token, full.cursor, *WINDOW)
    assert not changes.full and changes.cursor != full.cursor
    changed = by_id(changes)
    assert set(changed) == {interview.event_id, busy["id"]}
    again = changed[interview.event_id]
    assert (again.start, again.end, again.title) == (T0 + timedelta(hours=5), T0 + timedelta(hours=6), "Interview (moved)")
    assert [(a.email, a.response_status) for a in again.attendees] == [("cand@example.com", "declined")]
    assert changed[busy["id"]].cancelled is True
    assert sync.sync(cal.token, changes.cursor, *WINDOW).events == ()


def test_all_day_events_are_whole_days_in_the_calendars_zone(sync, sandbox_url):
    email = f"contract.{uuid.uuid4().hex[:8]}@example.com"
    requests.post(f"{sandbox_url}/_control/accounts", json={"provider": "google", "email": email,
                                                           "timezone": "Europe/Stockholm"}, timeout=10).raise_for_status()
    token = oauth_token("google", settings(sandbox_url), email)
    CalendarApi(f"{sandbox_url}/google/calendar/v3/").call(token, lambda s: s.events().insert(
        calendarId="primary", body={"summary": "Off", "start": {"date": "2026-03-03"}, "end": {"date": "2026-03-04"}}))
    [day] = sync.sync(token, None, *WINDOW).events
    assert (day.start, day.end) == (datetime(2026, 3, 2, 23, tzinfo=timezone.utc), datetime(2026, 3, 3, 23, tzinfo=timezone.utc))


@pytest.mark.parametrize("how", ["fault", "garbage"])
def test_a_cursor_google_no_longer_accepts_asks_for_a_full_sync(cal, sync, how):
    cursor = sync.sync(cal.token, None, *WINDOW).cursor
    if how == "fault":
        cal.sandbox.fault("google", "sync_token_invalid", email=cal.email, times=1)
    else:
        cursor = "bm9wZQ"
    with pytest.raises(ProviderError) as caught:
        sync.sync(cal.token, cursor, *WINDOW)
    assert (caught.value.kind, caught.value.cause, caught.value.http_status) == (ErrorKind.CONFLICT, FULL_SYNC_REQUIRED, 410)
    assert sync.sync(cal.token, None, *WINDOW).full  # and a full sync starts over


def test_channel_opened_and_stopped_at_the_provider(cal, sync, sandbox_url, receiver):
    channel_id = str(uuid.uuid4())
    wanted = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=2)
    channel = sync.open_channel(cal.token, ChannelRequest(channel_id=channel_id, address=receiver.url,
                                                          secret="s3cret-token", expires_at=wanted))
    assert channel.channel_id == channel_id and channel.resource_id
    assert abs(channel.expires_at - wanted) < timedelta(seconds=5)
    [watch] = [r for r in cal.sandbox.requests_log("google", "/google/calendar/v3/calendars/")
               if r["path"].endswith("/events/watch") and channel_id in str(r["body"])]
    assert watch["method"] == "POST"
    assert {k: watch["body"][k] for k in ("id", "type", "address", "token")} == {
        "id": channel_id, "type": "web_hook", "address": receiver.url, "token": "s3cret-token"}
    assert abs(int(watch["body"]["params"]["ttl"]) - 2 * 86400) < 5

    [opened] = wait_delivered(sandbox_url, "google", "X-Goog-Channel-ID", channel_id, 1)
    [notice] = sync.read_notices(opened["headers"], opened["body"].encode(), lifecycle=False)
    assert (notice.channel_id, notice.secret, notice.kind, notice.resource_id, notice.dedupe_key) == (
        channel_id, "s3cret-token", "opened", channel.resource_id, f"{channel_id}:1")

    cal.sandbox.busy("google", cal.email, T0.isoformat(), (T0 + timedelta(hours=1)).isoformat())
    changed = wait_delivered(sandbox_url, "google", "X-Goog-Channel-ID", channel_id, 2)[-1]
    [notice] = sync.read_notices(changed["headers"], b"", lifecycle=False)
    assert (notice.kind, notice.dedupe_key) == ("changed", f"{channel_id}:2")

    sync.close_channel(cal.token, channel)
    cal.sandbox.busy("google", cal.email, T0.isoformat(), (T0 + timedelta(hours=1)).isoformat())
    assert len(notifications(sandbox_url, "google", "X-Goog-Channel-ID", channel_id)) == 2
    sync.close_channel(cal.token, channel)  # already stopped: still fine


def test_channels_are_not_renewable_and_live_at_most_a_week(cal, sync):
    assert sync.renewable is False and sync.max_channel_lifetime == timedelta(days=7)
    channel = PushChannel("c", datetime.now(timezone.utc), "r")
    with pytest.raises(ProviderError):
        sync.renew_channel(cal.token, channel, datetime.now(timezone.utc) + timedelta(days=1))


def test_read_notices_reads_headers_only_and_refuses_what_is_not_a_channel_message(sync):
    headers = {"x-goog-channel-id": "c1", "x-goog-resource-state": "exists", "x-goog-message-number": "7"}
    [notice] = sync.read_notices(headers, b"", lifecycle=False)
    assert (notice.channel_id, notice.secret, notice.kind, notice.dedupe_key) == ("c1", None, "changed", "c1:7")
    [unknown] = sync.read_notices({**headers, "X-Goog-Resource-State": "sideways"}, b"", lifecycle=False)
    assert unknown.kind == "changed"  # looking again is always safe
    assert sync.validation_echo({"validationToken": "x"}) is None
    for bad_headers, lifecycle in (({"X-Goog-Resource-State": "exists"}, False), (headers, True)):
        with pytest.raises(ValueError):
            sync.read_notices(bad_headers, b"", lifecycle)


def test_read_event_tells_a_moved_event_from_a_deleted_one(cal, sync, sandbox_url):
    made = cal.adapter.create_event(cal.token, EventDraft(title="Interview", start=T0, end=T0 + timedelta(hours=1),
                                                          idempotency_handle=uuid.uuid4().hex))
    far = T0 + timedelta(days=90)
    assert control(sandbox_url, "PATCH", f"/events/{made.event_id}", start=far.isoformat()).status_code == 200
    read = sync.read_event(cal.token, made.event_id)
    assert (read.cancelled, read.start, read.end, read.title) == (False, far, far + timedelta(hours=1), "Interview")
    assert control(sandbox_url, "DELETE", f"/events/{made.event_id}").status_code == 204
    assert sync.read_event(cal.token, made.event_id).cancelled is True
    assert sync.read_event(cal.token, "never-there").cancelled is True
