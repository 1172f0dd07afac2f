"""The Microsoft `CalendarSync` adapter (msgraph-sdk) over real HTTP against the sandbox's Graph:
subscriptions through the validation handshake to a real local receiver, notifications read
from what the receiver got, and calendarView delta rounds."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from providers.base import (FULL_SYNC_REQUIRED, Attendee, CalendarSync, ChannelRequest, ErrorKind, EventDraft,
                            ProviderError)
from tests.contract.support import CalendarUnderTest, calendar_under_test, sync_under_test
from tests.push_receiver import Receiver, wait_for

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
WINDOW = (T0 - timedelta(days=1), T0 + timedelta(days=7))


@pytest.fixture
def cal(sandbox_url) -> CalendarUnderTest:
    return calendar_under_test("microsoft", sandbox_url)


@pytest.fixture
def sync(sandbox_url) -> CalendarSync:
    return sync_under_test("microsoft", sandbox_url)


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.close()


def _request(receiver: Receiver, days: float = 2, secret: str = "client-state-1") -> ChannelRequest:
    return ChannelRequest(channel_id="hub-chan-1", address=receiver.base + "/webhooks/microsoft",
                          lifecycle_address=receiver.base + "/webhooks/microsoft/lifecycle", secret=secret,
                          expires_at=datetime.now(timezone.utc) + timedelta(days=days))


def _bodies(receiver: Receiver, path: str, count: int) -> list[bytes]:
    def enough():
        with receiver.lock:
            found = [g["body"] for g in receiver.got if g["path"] == path and "validationToken" not in g["args"]]
        return found if len(found) >= count else None
    return wait_for(enough)


def test_channel_opens_through_the_handshake_and_notices_read_back(cal, sync, receiver):
    channel = sync.open_channel(cal.token, _request(receiver))
    assert channel.channel_id and channel.expires_at.tzinfo is not None
    assert abs(channel.expires_at - (datetime.now(timezone.utc) + timedelta(days=2))) < timedelta(minutes=1)
    assert sorted(v["path"] for v in receiver.validations()) == ["/webhooks/microsoft", "/webhooks/microsoft/lifecycle"]

    event = cal.sandbox.busy("microsoft", cal.email, T0.isoformat(), (T0 + timedelta(hours=1)).isoformat())
    body = _bodies(receiver, "/webhooks/microsoft", 1)[0]
    notices = sync.read_notices({"Content-Type": "application/json"}, body, lifecycle=False)
    assert [(n.channel_id, n.secret, n.kind, n.event_id) for n in notices] == [
        (channel.channel_id, "client-state-1", "changed", event["id"])]
    assert notices[0].dedupe_key and notices[0].dedupe_key == sync.read_notices({}, body, False)[0].dedupe_key

    cal.sandbox.fault("microsoft", "missed", cal.email)
    lifecycle = _bodies(receiver, "/webhooks/microsoft/lifecycle", 1)[0]
    [missed] = sync.read_notices({}, lifecycle, lifecycle=True)
    assert (missed.channel_id, missed.secret, missed.kind) == (channel.channel_id, "client-state-1", "missed")


def test_lifetime_is_capped_below_graphs_maximum(cal, sync, receiver):
    assert sync.renewable is True
    assert timedelta(days=6) < sync.max_channel_lifetime < timedelta(minutes=10_080)
    channel = sync.open_channel(cal.token, _request(receiver, days=30))
    assert channel.expires_at <= datetime.now(timezone.utc) + timedelta(minutes=10_080)


def test_renew_then_close_then_renew_is_not_found(cal, sync, receiver):
    channel = sync.open_channel(cal.token, _request(receiver, days=1))
    renewed = sync.renew_channel(cal.token, channel, datetime.now(timezone.utc) + timedelta(days=5))
    assert renewed.channel_id == channel.channel_id and renewed.expires_at > channel.expires_at + timedelta(days=3)
    sync.close_channel(cal.token, renewed)
    sync.close_channel(cal.token, renewed)  # already gone counts as stopped
    with pytest.raises(ProviderError) as gone:
        sync.renew_channel(cal.token, renewed, datetime.now(timezone.utc) + timedelta(days=5))
    assert gone.value.kind is ErrorKind.NOT_FOUND


def test_a_receiver_that_does_not_echo_gets_no_channel(cal, sync, receiver):
    receiver.mode = "wrong"
    with pytest.raises(ProviderError) as refused:
        sync.open_channel(cal.token, _request(receiver))
    assert refused.value.kind is ErrorKind.INVALID_REQUEST and refused.value.provider_code == "ValidationError"


def test_full_then_incremental_sync(cal, sync):
    sandbox = cal.sandbox
    busy = sandbox.busy("microsoft", cal.email, T0.isoformat(), (T0 + timedelta(hours=1)).isoformat(), subject="Dentist")
    away = sandbox.busy("microsoft", cal.email, (T0 + timedelta(hours=2)).isoformat(),
                        (T0 + timedelta(hours=3)).isoformat(), status="oof")
    remote = sandbox.busy("microsoft", cal.email, (T0 + timedelta(hours=4)).isoformat(),
                          (T0 + timedelta(hours=5)).isoformat(), status="workingElsewhere")
    sandbox.busy("microsoft", cal.email, (T0 + timedelta(days=30)).isoformat(),
                 (T0 + timedelta(days=30, hours=1)).isoformat())  # outside the window
    interview = cal.adapter.create_event(cal.token, EventDraft(
        title="Interview", start=T0 + timedelta(hours=6), end=T0 + timedelta(hours=7),
        attendees=(Attendee("cand@example.com"),), idempotency_handle="sync-contract-1"))

    sync.page_size = 2  # several pages, so paging is exercised
    full = sync.sync(cal.token, None, *WINDOW)
    assert full.full is True and full.cursor
    by_id = {e.event_id: e for e in full.events}
    assert set(by_id) == {busy["id"], away["id"], remote["id"], interview.event_id}
    assert by_id[busy["id"]].title == "Dentist" and by_id[busy["id"]].start == T0
    assert by_id[busy["id"]].end == T0 + timedelta(hours=1) and by_id[busy["id"]].show_as == "busy"
    assert by_id[away["id"]].show_as == "oof" and by_id[remote["id"]].show_as == "free"
    assert [(a.email, a.response_status) for a in by_id[interview.event_id].attendees] == [
        ("cand@example.com", "needs_action")]
    pages = [r for r in sandbox.requests_log("microsoft", "/microsoft/v1.0/me/calendarView/delta")
             if "skiptoken" in json.dumps(r["query"])]
    assert len(pages) == 1  # 4 events, 2 a page: the second page came through its nextLink

    assert sync.sync(cal.token, full.cursor, *WINDOW).events == ()

    http = sandbox.http
    assert http.patch(f"{sandbox.base}/_control/events/{busy['id']}",
                      json={"start": (T0 + timedelta(hours=8)).isoformat()}, timeout=10).status_code == 200
    assert http.post(f"{sandbox.base}/_control/events/{interview.event_id}/responses",
                     json={"email": "cand@example.com", "response": "declined"}, timeout=10).status_code == 201
    assert http.delete(f"{sandbox.base}/_control/events/{away['id']}", timeout=10).status_code == 204
    changes = sync.sync(cal.token, full.cursor, *WINDOW)
    assert changes.full is False and changes.cursor != full.cursor
    got = {e.event_id: e for e in changes.events}
    assert set(got) == {busy["id"], interview.event_id, away["id"]}
    assert got[busy["id"]].start == T0 + timedelta(hours=8) and not got[busy["id"]].cancelled
    assert [(a.email, a.response_status) for a in got[interview.event_id].attendees] == [("cand@example.com", "declined")]
    assert got[away["id"]].cancelled is True


def test_a_dropped_delta_token_asks_for_a_full_sync(cal, sync):
    first = sync.sync(cal.token, None, *WINDOW)
    cal.sandbox.fault("microsoft", "sync_token_invalid", cal.email, times=1)
    with pytest.raises(ProviderError) as dropped:
        sync.sync(cal.token, first.cursor, *WINDOW)
    assert dropped.value.kind is ErrorKind.CONFLICT and dropped.value.cause == FULL_SYNC_REQUIRED
    with pytest.raises(ProviderError) as foreign:  # never followed to another host with the user's token
        sync.sync(cal.token, "https://elsewhere.example/v1.0/me/calendarView/delta?$deltatoken=x", *WINDOW)
    assert foreign.value.cause == FULL_SYNC_REQUIRED


def test_inbound_shapes(sync):
    assert sync.validation_echo({"validationToken": "Validation: Testing client application"}) == \
        "Validation: Testing client application"
    assert sync.validation_echo({}) is None
    for body in (b"", b"{}", b"[]", b'{"value":[]}', b'{"value":[{"changeType":"updated"}]}', b"not json"):
        with pytest.raises(ValueError):
            sync.read_notices({}, body, lifecycle=False)
    change = json.dumps({"value": [{"subscriptionId": "s", "changeType": "created", "clientState": "c",
                                    "resourceData": {"id": "e1", "@odata.etag": 'W/"1"'}}]}).encode()
    with pytest.raises(ValueError):  # a change notification is not a lifecycle one
        sync.read_notices({}, change, lifecycle=True)
    removed = json.dumps({"value": [{"subscriptionId": "s", "clientState": "c", "lifecycleEvent": "subscriptionRemoved"},
                                    {"subscriptionId": "s", "clientState": "c",
                                     "lifecycleEvent": "reauthorizationRequired"}]}).encode()
    assert [n.kind for n in sync.read_notices({}, removed, lifecycle=True)] == ["removed", "reauthorize"]



def test_building_the_adapter_imports_no_sdk():
    """The hub builds adapters on its start path; msgraph's ~1,200 modules load on first use."""
    code = ("import sys; from hub.config import Settings; from providers.registry import PROVIDERS; "
            "PROVIDERS['microsoft'].sync(Settings.from_env({}, sandbox_url='http://127.0.0.1:9').provider('microsoft')); "
            "assert not [m for m in sys.modules if m.startswith(('msgraph', 'kiota'))], 'SDK imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_read_event_tells_a_moved_event_from_a_deleted_one(cal, sync):
    made = cal.adapter.create_event(cal.token, EventDraft(title="Interview", start=T0, end=T0 + timedelta(hours=1),
                                                          idempotency_handle="sync-contract-read"))
    far = T0 + timedelta(days=90)
    control = f"{cal.sandbox.base}/_control/events/{made.event_id}"
    assert cal.sandbox.http.patch(control, json={"start": far.isoformat()}, timeout=10).status_code == 200
    read = sync.read_event(cal.token, made.event_id)
    assert (read.cancelled, read.start, read.end, read.title) == (False, far, far + timedelta(hours=1), "Interview")
    assert cal.sandbox.http.delete(control, timeout=10).status_code == 204
    assert sync.read_event(cal.token, made.event_id).cancelled is True
