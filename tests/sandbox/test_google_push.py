"""The Google emulator's push channels, received by a real HTTP server: `sync` when a channel
opens, `exists` after every change to the watched calendar (API writes, control-API busy blocks
and the changes people make), with Google's headers and an empty body; nothing for stopped or
expired channels; 410 when the sync token is declared invalid; channels kept by a snapshot."""
from __future__ import annotations

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import pytest
import requests
from googleapiclient.errors import HttpError

from providers.emulator_kit.config import SandboxConfig
from providers.emulator_kit.snapshot import restore, snapshot
from providers.sandbox import create_sandbox_app, serve
from tests.push_receiver import Receiver, notifications
from tests.push_receiver import wait_delivered as wait_logged
from tests.sandbox.test_google_emulator import calendar_api, event_body

ADA = "ada@example.com"


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.close()


def logged(base_url: str, channel_id: str) -> list[dict]:
    return notifications(base_url, "google", "X-Goog-Channel-ID", channel_id)


def wait_delivered(base_url: str, receiver: Receiver, channel_id: str, count: int) -> list[dict[str, str]]:
    """Wait until `count` messages of the channel are delivered; their headers as the receiver
    got them, oldest first (and every body empty)."""
    notes = wait_logged(base_url, "google", "X-Goog-Channel-ID", channel_id, count)
    received = receiver.messages("X-Goog-Channel-Id", channel_id)
    assert len(received) == len(notes) == count, (notes, received)
    assert all(body == b"" for _, body in received)
    return [headers for headers, _ in received]


def watch(api, channel_id: str, address: str, token: str | None = "s3cret", **extra) -> dict:
    body = {"id": channel_id, "type": "web_hook", "address": address, **extra}
    if token:
        body["token"] = token
    return api.events().watch(calendarId="primary", body=body).execute(num_retries=0)


@pytest.fixture
def api(google, base_url):
    return calendar_api(base_url, google.connect(ADA)["access_token"])


def test_sync_then_exists_on_every_change_with_googles_headers(api, base_url, receiver, control, http):
    channel = watch(api, "chan-push-1", receiver.url)
    [sync] = wait_delivered(base_url, receiver, "chan-push-1", 1)
    expiration = datetime.fromtimestamp(int(channel["expiration"]) / 1000, tz=timezone.utc).replace(microsecond=0)
    assert sync["X-Goog-Channel-Id"] == "chan-push-1"
    assert sync["X-Goog-Channel-Token"] == "s3cret"
    assert sync["X-Goog-Channel-Expiration"].endswith(" GMT")  # RFC 1123, not milliseconds
    assert parsedate_to_datetime(sync["X-Goog-Channel-Expiration"]) == expiration
    assert sync["X-Goog-Resource-Id"] == channel["resourceId"]
    assert sync["X-Goog-Resource-Uri"] == channel["resourceUri"]
    assert (sync["X-Goog-Resource-State"], sync["X-Goog-Message-Number"]) == ("sync", "1")
    assert sync.get("Content-Length", "0") == "0"

    # API writes: insert, patch, delete.
    event = api.events().insert(calendarId="primary", body=event_body()).execute(num_retries=0)
    api.events().patch(calendarId="primary", eventId=event["id"], body={"summary": "Renamed"}).execute(num_retries=0)
    api.events().delete(calendarId="primary", eventId=event["id"]).execute(num_retries=0)
    # The control API: a busy block, then what people do in their own calendar.
    block = control.post("/events", {"provider": "google", "email": ADA,
                                     "start": "2026-03-02T13:00:00Z", "end": "2026-03-02T14:00:00Z"})
    invite = api.events().insert(calendarId="primary", body=event_body(
        "11:00", "12:00", attendees=[{"email": "cand@example.com"}])).execute(num_retries=0)
    moved = http.patch(f"{base_url}/_control/events/{block['id']}", json={"start": "2026-03-02T15:00:00Z"}, timeout=5)
    assert moved.status_code == 200, moved.text
    answered = http.post(f"{base_url}/_control/events/{invite['id']}/responses",
                         json={"email": "cand@example.com", "response": "declined"}, timeout=5)
    assert answered.status_code == 201, answered.text
    deleted = http.delete(f"{base_url}/_control/events/{block['id']}", timeout=5)
    assert deleted.status_code == 204, deleted.text

    messages = wait_delivered(base_url, receiver, "chan-push-1", 9)
    assert [m["X-Goog-Resource-State"] for m in messages] == ["sync"] + ["exists"] * 8
    numbers = [int(m["X-Goog-Message-Number"]) for m in messages]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    assert all(m["X-Goog-Channel-Token"] == "s3cret" and m["X-Goog-Resource-Id"] == channel["resourceId"]
               for m in messages)


def test_no_token_no_token_header_and_other_calendars_do_not_notify(api, google, base_url, receiver):
    watch(api, "chan-no-token", receiver.url, token=None)
    [sync] = wait_delivered(base_url, receiver, "chan-no-token", 1)
    assert "X-Goog-Channel-Token" not in sync
    bob = calendar_api(base_url, google.connect("bob@example.com")["access_token"])
    bob.events().insert(calendarId="primary", body=event_body()).execute(num_retries=0)
    assert len(logged(base_url, "chan-no-token")) == 1  # queued before the answer: nothing came


def test_people_move_retitle_answer_and_delete_like_googles_client(api, base_url, http):
    event = api.events().insert(calendarId="primary", body=event_body(
        "09:00", "10:00", attendees=[{"email": "cand@example.com"}, {"email": "ada@example.com"}])).execute(num_retries=0)
    sync_token = api.events().list(calendarId="primary").execute(num_retries=0)["nextSyncToken"]
    # A new start alone moves the event and keeps its length, as dragging it does.
    moved = http.patch(f"{base_url}/_control/events/{event['id']}",
                       json={"start": "2026-03-02T14:00:00Z", "subject": "Moved"}, timeout=5).json()
    assert moved["summary"] == "Moved"
    assert moved["sequence"] == event["sequence"] + 1 and moved["etag"] != event["etag"]
    now = api.events().get(calendarId="primary", eventId=event["id"]).execute(num_retries=0)
    assert (now["start"]["dateTime"], now["end"]["dateTime"]) == ("2026-03-02T15:00:00+01:00", "2026-03-02T16:00:00+01:00")
    retitled = http.patch(f"{base_url}/_control/events/{event['id']}", json={"subject": "Again"}, timeout=5).json()
    assert retitled["sequence"] == moved["sequence"] and retitled["updated"] >= moved["updated"]

    answer = http.post(f"{base_url}/_control/events/{event['id']}/responses",
                       json={"email": "CAND@example.com", "response": "tentative"}, timeout=5)
    assert answer.status_code == 201
    statuses = {a["email"]: a["responseStatus"] for a in answer.json()["attendees"]}
    assert statuses == {"cand@example.com": "tentative", "ada@example.com": "accepted"}
    assert answer.json()["sequence"] == retitled["sequence"]  # an answer is not the organizer's change
    stranger = http.post(f"{base_url}/_control/events/{event['id']}/responses",
                         json={"email": "eve@example.com", "response": "accepted"}, timeout=5)
    assert stranger.status_code == 422 and stranger.json()["error"] == "not_an_attendee"

    assert http.delete(f"{base_url}/_control/events/{event['id']}", timeout=5).status_code == 204
    assert http.delete(f"{base_url}/_control/events/{event['id']}", timeout=5).status_code == 404
    assert http.patch(f"{base_url}/_control/events/{event['id']}", json={"subject": "x"}, timeout=5).status_code == 404
    changes = api.events().list(calendarId="primary", syncToken=sync_token).execute(num_retries=0)
    assert [(e["id"], e["status"]) for e in changes["items"]] == [(event["id"], "cancelled")]
    assert http.patch(f"{base_url}/_control/events/nosuchevent", json={"subject": "x"}, timeout=5).status_code == 404


def test_a_stopped_channel_gets_nothing_more(api, base_url, receiver, control):
    kept = watch(api, "chan-kept", receiver.url)
    stopped = watch(api, "chan-stopped", receiver.url)
    wait_delivered(base_url, receiver, "chan-kept", 1)
    wait_delivered(base_url, receiver, "chan-stopped", 1)
    open_now = {c["id"]: c for c in control.get("/channels", provider="google", email=ADA)}
    assert {"chan-kept", "chan-stopped"} <= set(open_now) and open_now["chan-stopped"] == stopped  # wire format
    api.channels().stop(body={"id": "chan-stopped", "resourceId": stopped["resourceId"]}).execute(num_retries=0)
    open_now = {c["id"] for c in control.get("/channels", provider="google", email=ADA)}
    assert "chan-kept" in open_now and "chan-stopped" not in open_now
    api.events().insert(calendarId="primary", body=event_body()).execute(num_retries=0)
    wait_delivered(base_url, receiver, "chan-kept", 2)
    assert len(logged(base_url, "chan-stopped")) == 1
    assert kept["id"] == "chan-kept"


def test_ttl_param_sets_the_lifetime_and_an_expired_channel_gets_nothing(google_flow, receiver):
    clock = [1_772_000_000.0]
    app = create_sandbox_app(SandboxConfig(clock=lambda: clock[0]))
    running = serve(app)
    try:
        api = calendar_api(running.base_url, google_flow(running.base_url).connect(ADA)["access_token"])
        channel = watch(api, "chan-short", receiver.url, params={"ttl": "60"})
        assert int(channel["expiration"]) == int((clock[0] + 60) * 1000)
        wait_delivered(running.base_url, receiver, "chan-short", 1)
        clock[0] += 61
        requests.post(f"{running.base_url}/_control/events", json={
            "provider": "google", "email": ADA, "start": "2026-03-02T13:00:00Z", "end": "2026-03-02T14:00:00Z",
        }, timeout=5).raise_for_status()
        assert len(logged(running.base_url, "chan-short")) == 1
    finally:
        running.shutdown()


@pytest.mark.parametrize("scenario", ["sync_token_invalid", "full_sync_required"])
def test_sync_token_invalid_answers_410_once(api, control, scenario):
    token = api.events().list(calendarId="primary").execute(num_retries=0)["nextSyncToken"]
    control.fault(scenario, ADA, times=1)
    with pytest.raises(HttpError) as caught:
        api.events().list(calendarId="primary", syncToken=token, singleEvents=True).execute(num_retries=0)
    assert caught.value.status_code == 410
    assert api.events().list(calendarId="primary", syncToken=token, singleEvents=True).execute(num_retries=0)["items"] == []


def test_channels_and_their_message_numbers_survive_a_snapshot(receiver):
    first = create_sandbox_app()
    account = first.extensions["sandbox"].state.ensure_account("google", ADA)
    with first.test_request_context():  # the sync message leaves when the request ends
        first.extensions["sandbox_emulators"]["google"].calendar.watch(
            account, {"id": "chan-kept", "type": "web_hook", "address": receiver.url, "token": "t"}, False)
    assert len(first.extensions["sandbox"].push.entries("google")) == 1
    second = create_sandbox_app()
    assert restore(second, snapshot(first))
    second.extensions["sandbox_emulators"]["google"].calendar.add_busy_block(
        account, datetime(2026, 3, 2, 9, tzinfo=timezone.utc), datetime(2026, 3, 2, 10, tzinfo=timezone.utc), "busy", None)
    notes = second.extensions["sandbox"].push.entries("google")
    assert [(n["headers"]["X-Goog-Resource-State"], n["headers"]["X-Goog-Message-Number"]) for n in notes] == [
        ("exists", "2")]
