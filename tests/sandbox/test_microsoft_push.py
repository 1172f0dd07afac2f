"""The sandbox's Graph change notifications and calendarView/delta over real HTTP: a real local
receiver answers (or fails) the validation handshake, notifications are read back from what the
receiver got, and waits poll with a deadline."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from providers.emulator_kit.snapshot import restore, snapshot
from providers.sandbox import create_sandbox_app, serve
from tests.push_receiver import Receiver, wait_for
from tests.sandbox.conftest import Control
from tests.sandbox.test_microsoft_emulator import MicrosoftSession

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.close()


class Mailbox(MicrosoftSession):
    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.token = self.connect().access_token

    def call(self, method: str, path: str, body=None, **headers):
        return self.http.request(method, self.graph + path, json=body, timeout=20,
                                 headers={"Authorization": f"Bearer {self.token}", **headers})

    def subscribe(self, receiver: Receiver, lifecycle: bool = True, **overrides):
        body = {"changeType": "created,updated,deleted", "notificationUrl": receiver.base + "/webhooks/microsoft",
                "resource": "me/events", "clientState": "s3cret-" + secrets.token_hex(8),
                "expirationDateTime": (datetime.now(timezone.utc) + timedelta(days=2)).isoformat()}
        if lifecycle:
            body["lifecycleNotificationUrl"] = receiver.base + "/webhooks/microsoft/lifecycle"
        body.update(overrides)
        return self.call("POST", "/subscriptions", body)

    def create_event(self, subject: str, start: datetime, minutes: int = 30, **extra) -> dict:
        answer = self.call("POST", "/me/events", {
            "subject": subject, "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "end": {"dateTime": (start + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            **extra})
        assert answer.status_code == 201, answer.text
        return answer.json()


@pytest.fixture
def mailbox(base_url, http, control) -> Mailbox:
    email = f"adele.{secrets.token_hex(4)}@contoso.example"
    control.post("/accounts", {"provider": "microsoft", "email": email, "name": "Adele Vance"})
    return Mailbox(base_url, http, control, email)


# -- subscriptions and the validation handshake ------------------------------------------------------
def test_subscription_is_created_only_after_both_urls_echo_the_token(mailbox, receiver):
    answer = mailbox.subscribe(receiver)
    assert answer.status_code == 201, answer.text
    sub = answer.json()
    assert sub["resource"] == "me/events" and sub["changeType"] == "created,updated,deleted"
    assert sub["notificationUrl"].endswith("/webhooks/microsoft") and sub["id"]
    checks = receiver.validations()
    assert sorted(c["path"] for c in checks) == ["/webhooks/microsoft", "/webhooks/microsoft/lifecycle"]
    # Graph's token is a sentence; it arrives URL-encoded and must be echoed decoded.
    assert all(c["args"]["validationToken"].startswith("Validation: ") for c in checks)
    assert mailbox.call("GET", f"/subscriptions/{sub['id']}").json()["clientState"] == sub["clientState"]


@pytest.mark.parametrize("mode,code,words", [
    ("wrong", "ValidationError", "must exactly match validationToken"),
    ("json", "ValidationError", "must exactly match validationToken"),
    ("error", "ValidationError", "must respond with 200 OK"),
])
def test_subscription_is_refused_when_the_receiver_does_not_echo(mailbox, receiver, mode, code, words):
    receiver.mode = mode
    answer = mailbox.subscribe(receiver)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == code and words in answer.json()["error"]["message"]
    assert mailbox.call("GET", "/subscriptions").json()["value"] == []


def test_users_resource_is_the_own_mailbox_only(mailbox, receiver, control, base_url, http):
    assert mailbox.subscribe(receiver, resource=f"/users/{mailbox.email}/events").status_code == 201
    other = f"alex.{secrets.token_hex(4)}@contoso.example"
    control.post("/accounts", {"provider": "microsoft", "email": other})
    refused = mailbox.subscribe(receiver, resource=f"/users/{other}/events")
    assert refused.status_code == 403
    assert [s["resource"] for s in mailbox.call("GET", "/subscriptions").json()["value"]] == [
        f"/users/{mailbox.email}/events"]


def test_unreachable_receiver_is_refused(mailbox, receiver):
    receiver.close()
    answer = mailbox.subscribe(receiver)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "ValidationError"


def test_expiration_beyond_the_events_maximum_is_refused(mailbox, receiver):
    too_far = (datetime.now(timezone.utc) + timedelta(minutes=10_080 + 5)).isoformat()
    answer = mailbox.subscribe(receiver, expirationDateTime=too_far)
    assert answer.status_code == 400
    assert answer.json()["error"] == {**answer.json()["error"], "code": "ExtensionError",
                                      "message": "Subscription expiration can only be 10080 minutes in the future."}
    assert receiver.validations() == []  # refused before any handshake
    assert mailbox.subscribe(receiver, clientState="x" * 129).status_code == 400
    assert mailbox.subscribe(receiver, resource="me/messages").status_code == 400


def test_renew_and_delete(mailbox, receiver):
    sub = mailbox.subscribe(receiver).json()
    [listed] = mailbox.control.get("/channels", provider="microsoft", email=mailbox.email)
    assert listed["id"] == sub["id"] and listed["clientState"] == sub["clientState"]
    later = datetime.now(timezone.utc) + timedelta(days=6)
    renewed = mailbox.call("PATCH", f"/subscriptions/{sub['id']}", {"expirationDateTime": later.isoformat()})
    assert renewed.status_code == 200, renewed.text
    assert abs(datetime.fromisoformat(renewed.json()["expirationDateTime"].replace("Z", "+00:00")) - later) < timedelta(seconds=1)
    assert mailbox.call("DELETE", f"/subscriptions/{sub['id']}").status_code == 204
    assert mailbox.control.get("/channels", provider="microsoft", email=mailbox.email) == []
    for method, body in (("GET", None), ("PATCH", {"expirationDateTime": later.isoformat()}), ("DELETE", None)):
        gone = mailbox.call(method, f"/subscriptions/{sub['id']}", body)
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "ResourceNotFound"
    mailbox.create_event("After delete", T0)
    # Nothing is sent for a deleted subscription: the log has no change for this receiver.
    assert not [n for n in mailbox.control.get("/notifications", provider="microsoft") if n["url"].startswith(receiver.base)]


# -- change notifications --------------------------------------------------------------------------
def test_api_changes_are_pushed_with_client_state(mailbox, receiver):
    sub = mailbox.subscribe(receiver).json()
    event = mailbox.create_event("Interview", T0)
    moved = mailbox.call("PATCH", f"/me/events/{event['id']}", {"subject": "Interview (moved)"})
    assert moved.status_code == 200
    assert mailbox.call("DELETE", f"/me/events/{event['id']}").status_code == 204
    got = wait_for(lambda: (lambda n: n if len(n) >= 3 else None)(receiver.json_posts("/webhooks/microsoft")))
    items = [n["value"][0] for n in got]
    assert [i["changeType"] for i in items] == ["created", "updated", "deleted"]
    for item in items:
        assert item["subscriptionId"] == sub["id"] and item["clientState"] == sub["clientState"]
        assert item["resourceData"]["id"] == event["id"]
        assert item["resourceData"]["@odata.type"] == "#Microsoft.Graph.Event"
        assert item["resource"].endswith(f"/Events/{event['id']}") and item["tenantId"]
        assert item["subscriptionExpirationDateTime"]
    assert items[1]["resourceData"]["@odata.etag"] == moved.json()["@odata.etag"]
    # The sandbox's log says so too (its sender records the answer just after the receiver has it).
    wait_for(lambda: all(n["status"] == "delivered" for n in mailbox.control.get("/notifications", provider="microsoft")
                         if n["url"].startswith(receiver.base)))


def test_changes_people_make_are_pushed(mailbox, receiver, control):
    mailbox.subscribe(receiver)
    busy = control.post("/events", {"provider": "microsoft", "email": mailbox.email, "start": T0.isoformat(),
                                    "end": (T0 + timedelta(hours=1)).isoformat(), "subject": "Dentist"})
    event = mailbox.create_event("Interview", T0 + timedelta(hours=2),
                                 attendees=[{"emailAddress": {"address": "cand@example.com"}, "type": "required"}])
    moved = mailbox.http.patch(f"{control.base}/events/{event['id']}",
                               json={"start": (T0 + timedelta(hours=4)).isoformat()}, timeout=10)
    assert moved.status_code == 200
    assert moved.json()["end"]["dateTime"].startswith("2026-03-02T13:30:00")  # the length stays
    answered = control.post(f"/events/{event['id']}/responses", {"email": "CAND@example.com", "response": "tentative"})
    assert answered["attendees"][0]["status"]["response"] == "tentativelyAccepted"
    refused = mailbox.http.post(f"{control.base}/events/{event['id']}/responses",
                                json={"email": "stranger@example.com", "response": "accepted"}, timeout=10)
    assert refused.status_code == 422 and refused.json()["error"] == "not_an_attendee"
    assert mailbox.http.delete(f"{control.base}/events/{busy['id']}", timeout=10).status_code == 204
    got = wait_for(lambda: (lambda n: n if len(n) >= 5 else None)(receiver.json_posts("/webhooks/microsoft")))
    seen = [(n["value"][0]["changeType"], n["value"][0]["resourceData"]["id"]) for n in got]
    assert seen == [("created", busy["id"]), ("created", event["id"]), ("updated", event["id"]),
                    ("updated", event["id"]), ("deleted", busy["id"])]


def test_other_mailboxes_and_expired_subscriptions_send_nothing(mailbox, receiver, control, base_url, http):
    sub = mailbox.subscribe(receiver).json()
    other_email = f"alex.{secrets.token_hex(4)}@contoso.example"
    control.post("/accounts", {"provider": "microsoft", "email": other_email})
    other = Mailbox(base_url, http, control, other_email)
    other.create_event("Not watched", T0)
    soon = datetime.now(timezone.utc) + timedelta(seconds=1)
    assert mailbox.call("PATCH", f"/subscriptions/{sub['id']}", {"expirationDateTime": soon.isoformat()}).status_code == 200
    wait_for(lambda: mailbox.call("GET", f"/subscriptions/{sub['id']}").status_code == 404, deadline=5)
    mailbox.create_event("After expiry", T0)
    marker = mailbox.subscribe(receiver).json()  # a fresh one: its first change proves the queue is drained
    mailbox.create_event("Watched again", T0)
    got = wait_for(lambda: receiver.json_posts("/webhooks/microsoft"))
    assert [n["value"][0]["subscriptionId"] for n in got] == [marker["id"]]


# -- lifecycle notifications -----------------------------------------------------------------------
@pytest.mark.parametrize("scenario,event", [("subscription_removed", "subscriptionRemoved"), ("missed", "missed"),
                                            ("reauthorization_required", "reauthorizationRequired")])
def test_lifecycle_faults_reach_the_lifecycle_url(mailbox, receiver, control, scenario, event):
    sub = mailbox.subscribe(receiver).json()
    armed = control.fault(scenario, email=mailbox.email, provider="microsoft")
    assert armed["applied"] is True
    got = wait_for(lambda: receiver.json_posts("/webhooks/microsoft/lifecycle"))
    item = got[0]["value"][0]
    assert item["lifecycleEvent"] == event and item["subscriptionId"] == sub["id"]
    assert item["clientState"] == sub["clientState"] and item["tenantId"] and item["subscriptionExpirationDateTime"]
    still_there = mailbox.call("GET", f"/subscriptions/{sub['id']}").status_code
    assert still_there == (404 if scenario == "subscription_removed" else 200)


def test_missed_swallows_changes_then_says_so(mailbox, receiver, control):
    mailbox.subscribe(receiver)
    control.fault("missed", email=mailbox.email, provider="microsoft", params={"changes": 2})
    lost = [mailbox.create_event(f"Lost {i}", T0 + timedelta(hours=i)) for i in range(2)]
    assert wait_for(lambda: receiver.json_posts("/webhooks/microsoft/lifecycle"))[0]["value"][0]["lifecycleEvent"] \
        == "missed"
    seen = mailbox.create_event("Seen", T0 + timedelta(hours=5))
    got = wait_for(lambda: receiver.json_posts("/webhooks/microsoft"))
    assert [n["value"][0]["resourceData"]["id"] for n in got] == [seen["id"]]
    assert not {e["id"] for e in lost} & {n["value"][0]["resourceData"]["id"] for n in got}


# -- delta -----------------------------------------------------------------------------------------
def _delta_round(mailbox: Mailbox, first: str, page: int = 2) -> tuple[list[dict], str, int]:
    items, url, pages = [], first, 0
    while True:
        answer = mailbox.http.get(url, headers={"Authorization": f"Bearer {mailbox.token}",
                                                "Prefer": f"odata.maxpagesize={page}"}, timeout=10)
        assert answer.status_code == 200, answer.text
        assert "odata.track-changes" in answer.headers["Preference-Applied"]
        body, pages = answer.json(), pages + 1
        assert len(body["value"]) <= page
        items += body["value"]
        if "@odata.deltaLink" in body:
            assert "@odata.nextLink" not in body and "$deltatoken=" in body["@odata.deltaLink"]
            return items, body["@odata.deltaLink"], pages
        assert "$skiptoken=" in body["@odata.nextLink"]
        url = body["@odata.nextLink"]


def test_delta_pages_then_returns_only_changes_in_the_fixed_window(mailbox):
    inside = [mailbox.create_event(f"In {i}", T0 + timedelta(hours=i)) for i in range(5)]
    mailbox.create_event("Outside", T0 + timedelta(days=10))
    window = f"startDateTime={T0.isoformat()}&endDateTime={(T0 + timedelta(days=1)).isoformat()}".replace("+", "%2B")
    items, delta_link, pages = _delta_round(mailbox, f"{mailbox.graph}/me/calendarView/delta?{window}")
    assert sorted(i["id"] for i in items) == sorted(e["id"] for e in inside) and pages == 3
    assert all(i["@odata.type"] == "#microsoft.graph.event" and "subject" in i for i in items)

    unchanged, delta_link, _ = _delta_round(mailbox, delta_link)
    assert unchanged == []

    mailbox.call("PATCH", f"/me/events/{inside[0]['id']}", {"subject": "Retitled"})
    mailbox.call("DELETE", f"/me/events/{inside[1]['id']}")
    mailbox.call("PATCH", f"/me/events/{inside[2]['id']}", {
        "start": {"dateTime": "2026-04-01T09:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-04-01T10:00:00", "timeZone": "UTC"}})  # out of the window
    added = mailbox.create_event("New", T0 + timedelta(hours=8))
    mailbox.create_event("New but far", T0 + timedelta(days=20))
    changes, delta_link, _ = _delta_round(mailbox, delta_link)
    by_id = {c["id"]: c for c in changes}
    assert by_id[inside[0]["id"]]["subject"] == "Retitled"
    assert by_id[inside[1]["id"]]["@removed"] == {"reason": "deleted"}
    assert by_id[inside[2]["id"]]["@removed"] == {"reason": "deleted"}
    assert by_id[added["id"]]["subject"] == "New"
    assert inside[3]["id"] not in by_id and inside[4]["id"] not in by_id
    assert len(changes) == 5  # the far new event reads as removed from this view (never as present)
    assert _delta_round(mailbox, delta_link)[0] == []


def test_delta_answers_what_msgraph_sdk_sends_and_needs_a_window(mailbox):
    missing = mailbox.call("GET", "/me/calendar/calendarView/delta()")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "ErrorInvalidParameter"
    ok = mailbox.call("GET", "/me/calendar/calendarView/delta()?startDateTime=2026-03-01T00:00:00Z"
                             "&endDateTime=2026-03-05T00:00:00Z")
    assert ok.status_code == 200 and "@odata.deltaLink" in ok.json()


def test_stale_or_foreign_delta_tokens_need_a_full_sync(mailbox, control, base_url, http):
    first = mailbox.call("GET", "/me/calendarView/delta?startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-03-05T00:00:00Z")
    delta_link = first.json()["@odata.deltaLink"]
    query = parse_qs(urlsplit(delta_link).query)
    assert set(query) == {"$deltatoken"}
    bogus = mailbox.call("GET", "/me/calendarView/delta?$deltatoken=not-a-token")
    assert bogus.status_code == 410 and bogus.json()["error"]["code"] == "SyncStateNotFound"
    control.fault("sync_token_invalid", email=mailbox.email, provider="microsoft", times=1)
    gone = mailbox.http.get(delta_link, headers={"Authorization": f"Bearer {mailbox.token}"}, timeout=10)
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "SyncStateNotFound"
    assert mailbox.http.get(delta_link, headers={"Authorization": f"Bearer {mailbox.token}"}, timeout=10).status_code == 200
    other_email = f"alex.{secrets.token_hex(4)}@contoso.example"
    control.post("/accounts", {"provider": "microsoft", "email": other_email})
    other = Mailbox(base_url, http, control, other_email)
    foreign = other.http.get(delta_link, headers={"Authorization": f"Bearer {other.token}"}, timeout=10)
    assert foreign.status_code == 410


def test_subscriptions_and_delta_tokens_survive_the_demo_snapshot(http, receiver):
    first = create_sandbox_app()
    running = serve(first)
    try:
        control = Control(running.base_url, http)
        control.post("/accounts", {"provider": "microsoft", "email": "carol@demo.example"})
        mailbox = Mailbox(running.base_url, http, control, "carol@demo.example")
        sub = mailbox.subscribe(receiver).json()
        mailbox.create_event("Before restart", T0)
        window = "startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-03-05T00:00:00Z"
        _, delta_link, _ = _delta_round(mailbox, f"{mailbox.graph}/me/calendarView/delta?{window}")
        blob = snapshot(first)
    finally:
        running.shutdown()
    second = create_sandbox_app()
    assert restore(second, blob)
    running = serve(second)
    try:
        old_graph, mailbox.graph = mailbox.graph, f"{running.base_url}/microsoft/v1.0"
        assert mailbox.call("GET", f"/subscriptions/{sub['id']}").status_code == 200
        after = mailbox.create_event("After restart", T0 + timedelta(hours=2))
        changes, _, _ = _delta_round(mailbox, delta_link.replace(old_graph, mailbox.graph))
        assert [c["id"] for c in changes] == [after["id"]]
        got = wait_for(lambda: [n for n in receiver.json_posts("/webhooks/microsoft")
                                if n["value"][0]["resourceData"]["id"] == after["id"]])
        assert got[0]["value"][0]["subscriptionId"] == sub["id"]
    finally:
        running.shutdown()
