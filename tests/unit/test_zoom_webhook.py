"""POST /webhooks/zoom: forged, replayed and stale deliveries are refused before the body is
parsed; valid ones are acknowledged at once."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

import pytest
import structlog
from sqlalchemy import select

import webhooks.zoom as zoom_webhook
from hub.app import create_app
from hub.storage.models import WebhookDelivery, WebhookEndpoint
from oauth.vault import TokenVault
from tests.unit.test_zoom_events_rules import World, meeting_id
from webhooks.zoom_signature import ReplayGuard, encrypted_token, refusal, signature

SECRET = "whsec-unit"


@pytest.fixture
def client(database_url):
    app = create_app({"database_url": database_url, "zoom_webhook_secret": SECRET, "log_json": False,
                      "encryption_keys": TokenVault.generate_key_spec("unit")})
    yield app.test_client()
    app.extensions["hub"].close()


class NoParsing:
    """Stands in for the json module inside webhooks.zoom: parsing a refused body fails the test."""

    @staticmethod
    def loads(_raw):
        raise AssertionError("the body was parsed before the delivery was verified")


def signed(raw: bytes, ts: int | None = None, secret: str = SECRET) -> dict[str, str]:
    ts = int(time.time()) if ts is None else ts
    return {"x-zm-request-timestamp": str(ts), "x-zm-signature": signature(secret, str(ts), raw),
            "Content-Type": "application/json"}


def post(client, raw: bytes, headers: dict[str, str]):
    return client.post("/webhooks/zoom", data=raw, headers=headers)


@pytest.mark.parametrize("case", ["forged", "wrong_secret", "missing", "stale", "future", "tampered"])
def test_bad_deliveries_are_refused_before_parsing(client, monkeypatch, case):
    raw = json.dumps({"event": "meeting.started", "payload": {"object": {"id": 1}}}).encode()
    headers = signed(raw)
    if case == "forged":
        headers["x-zm-signature"] = "v0=" + "0" * 64
    elif case == "wrong_secret":
        headers = signed(raw, secret="not-the-secret")
    elif case == "missing":
        headers = {"Content-Type": "application/json"}
    elif case == "stale":
        headers = signed(raw, ts=int(time.time()) - 301)
    elif case == "future":
        headers = signed(raw, ts=int(time.time()) + 400)  # not 301: a slow run would bring it inside
    elif case == "tampered":  # signed, then the body was changed in transit
        raw = raw.replace(b'"id": 1', b'"id": 2')
    monkeypatch.setattr(zoom_webhook, "json", NoParsing)
    r = post(client, raw, headers)
    assert r.status_code == 401
    assert r.json["code"] == "webhook_signature_invalid"
    assert r.json["reason"].replace("_", " ") in r.json["detail"] and r.json["title"] != r.json["detail"]
    assert r.json["reason"] == {"forged": "bad_signature", "wrong_secret": "bad_signature", "tampered": "bad_signature",
                                "missing": "missing_signature", "stale": "stale_timestamp",
                                "future": "stale_timestamp"}[case]


@pytest.mark.parametrize("resent_signature", ["same", "trailing_space", "leading_tab"])
def test_a_repeated_delivery_is_acknowledged_and_not_acted_on(client, monkeypatch, resent_signature):
    """Zoom re-sends a delivery it thinks was lost; a 401 would make it retry again. Whitespace
    around the signature still verifies, so it must not make the repeat look new either."""
    raw = json.dumps({"event": "meeting.unknown_kind", "payload": {}}).encode()
    headers = signed(raw)
    assert post(client, raw, headers).json == {"status": "ignored"}
    again = dict(headers)
    again["x-zm-signature"] = {"same": headers["x-zm-signature"], "trailing_space": headers["x-zm-signature"] + " ",
                               "leading_tab": "\t" + headers["x-zm-signature"]}[resent_signature]
    handled = []
    monkeypatch.setattr(zoom_webhook.zoom_events, "handle", lambda *a, **k: handled.append(a))
    monkeypatch.setattr(zoom_webhook, "json", NoParsing)
    r = post(client, raw, again)
    assert r.status_code == 200 and r.json == {"status": "duplicate"}
    assert handled == []


@pytest.mark.parametrize("timestamp", ["\u00b2", "1" * 4400, "\u00b9\u00b2", "-1", "+1700000000", " 1700000000", "0x10"])
def test_odd_timestamps_are_refused_not_500(client, timestamp):
    raw = b"{}"
    headers = {"x-zm-request-timestamp": timestamp, "x-zm-signature": "v0=" + "0" * 64,
               "Content-Type": "application/json"}
    r = client.post("/webhooks/zoom", data=raw, headers=headers)  # "²" travels as the latin-1 byte 0xB2
    assert r.status_code == 401 and r.json["reason"] == "stale_timestamp"


def test_the_signature_covers_the_raw_bytes(client):
    body = {"event": "meeting.unknown_kind", "payload": {}}
    signed_raw = json.dumps(body, separators=(",", ":")).encode()
    sent_raw = json.dumps(body, indent=2).encode()  # same JSON, other bytes
    assert post(client, sent_raw, signed(signed_raw)).status_code == 401


def test_url_validation_is_answered_with_the_encrypted_token(client):
    raw = json.dumps({"event": "endpoint.url_validation", "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"},
                      "event_ts": 1654503849680}).encode()
    r = post(client, raw, signed(raw))
    assert r.status_code == 200
    expected = hmac.new(SECRET.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert r.json == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected}


def test_a_valid_event_is_acknowledged_quickly(client):
    raw = json.dumps({"event": "meeting.participant_joined", "event_ts": 1, "payload": {"object": {
        "id": 85746065432, "uuid": "u==", "host_id": "nobody", "participant": {
            "user_name": "Grace", "participant_uuid": "p", "join_time": "2026-03-02T13:02:00Z"}}}}).encode()
    r = post(client, raw, signed(raw))
    assert r.status_code == 200
    assert r.json == {"status": "ignored"}  # not a meeting the hub made: nothing stored
    # Zoom waits 3 s at most: the answer does not wait on any provider call (no wall-clock
    # assertion: one flaked under load).


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"', b"null"])
def test_a_signed_body_that_is_not_a_json_object_is_a_400(client, raw):
    r = post(client, raw, signed(raw))
    assert r.status_code == 400 and r.json["code"] == "bad_request"
    assert r.json["title"] != r.json["detail"]  # a title, and the detail saying what is wrong


def test_without_a_secret_nothing_is_accepted(database_url):
    app = create_app({"database_url": database_url, "log_json": False,
                      "encryption_keys": TokenVault.generate_key_spec("unit")})
    raw = b"{}"
    r = app.test_client().post("/webhooks/zoom", data=raw, headers=signed(raw))
    assert r.status_code == 503 and r.json["code"] == "webhook_not_configured"
    assert "HUB_ZOOM_WEBHOOK_SECRET" in r.json["detail"] and r.json["title"] != r.json["detail"]  # the fix
    app.extensions["hub"].close()


def test_refusal_and_tokens_pure():
    raw = b'{"a":1}'
    now = 1_700_000_000
    good = signature(SECRET, str(now), raw)
    assert good.startswith("v0=") and len(good) == 3 + 64
    assert refusal(SECRET, str(now), good, raw, now) is None
    assert refusal(SECRET, str(now), good, raw, now + 300) is None
    assert refusal(SECRET, str(now), good, raw, now + 301) == "stale_timestamp"
    assert refusal(SECRET, "12x", good, raw, now) == "stale_timestamp"
    assert refusal(SECRET, None, good, raw, now) == "missing_signature"
    assert encrypted_token("k", "p") == hmac.new(b"k", b"p", hashlib.sha256).hexdigest()


def test_replay_guard_forgets_after_the_window():
    now = [1000.0]
    guard = ReplayGuard(window=300, clock=lambda: now[0])
    assert guard.first_time("a") and not guard.first_time("a")
    now[0] += 301
    assert guard.first_time("b") and guard.first_time("a")


@pytest.mark.parametrize("payload", [None, [], {}, {"plainToken": None}, {"plainToken": ""}])
def test_url_validation_without_a_token_answers_for_the_empty_one(client, payload):
    sent = {"event": "endpoint.url_validation", **({} if payload is None else {"payload": payload})}
    raw = json.dumps(sent).encode()
    r = post(client, raw, signed(raw))
    assert r.status_code == 200
    assert r.json == {"plainToken": "", "encryptedToken": hmac.new(SECRET.encode(), b"", hashlib.sha256).hexdigest()}


def test_different_deliveries_are_each_handled(client):
    """The replay guard remembers each signature, not "a signature": a second, different
    delivery is not a repeat of the first."""
    for n in range(2):
        raw = json.dumps({"event": f"meeting.unknown_{n}", "payload": {}}).encode()
        assert post(client, raw, signed(raw)).json == {"status": "ignored"}


def test_refusals_repeats_and_events_are_logged(client):
    raw = json.dumps({"event": "meeting." + "x" * 80, "payload": {}}).encode()
    headers = signed(raw)
    with structlog.testing.capture_logs() as logs:
        post(client, raw, {**headers, "x-zm-signature": "v0=" + "0" * 64})
        post(client, raw, headers)
        post(client, raw, headers)
    assert [(e["event"], e.get("reason"), e.get("zoom_event"), e.get("outcome")) for e in logs
            if e["event"].startswith("zoom_webhook")] == [
        ("zoom_webhook_refused", "bad_signature", None, None),
        ("zoom_webhook", None, ("meeting." + "x" * 80)[:64], "ignored"),  # what Zoom sent, cut short
        ("zoom_webhook_duplicate", None, None, None)]


def hub_meeting(app, host_account: str | None = None) -> tuple[World, str, str, str]:
    """A hub event holding a Zoom meeting, in the app's database: (world, meeting id, event id, host)."""
    world = World(app.extensions["hub"].db)
    conn = world.connection(host_account)
    mid = meeting_id()
    return world, mid, world.event(mid, conn), world.account(conn)


def test_a_recorded_join_is_handed_to_attendance_at_once(client, monkeypatch):
    app = client.application
    attendance = app.extensions["hub_services"].attendance
    seen: list[str] = []
    real = attendance.observed
    monkeypatch.setattr(attendance, "observed", lambda event_id: (seen.append(event_id), real(event_id)))
    world, mid, event_id, host = hub_meeting(app)
    joined = {"event": "meeting.participant_joined", "payload": {"object": {
        "id": mid, "uuid": "u==", "host_id": host, "participant": {
            "user_name": "Grace", "participant_uuid": "p", "join_time": "2026-03-02T13:02:00Z"}}}}
    raw = json.dumps(joined).encode()
    with structlog.testing.capture_logs() as logs:
        assert post(client, raw, signed(raw)).json == {"status": "recorded"}
    assert seen == [event_id]
    assert [e["event_id"] for e in logs if e["event"] == "zoom_webhook"] == [event_id]
    again = json.dumps({**joined, "event_ts": 2}).encode()  # another delivery of the same join
    assert post(client, again, signed(again)).json == {"status": "duplicate"}
    assert seen == [event_id]  # told once


def test_a_deauthorization_tells_the_backend(database_url):
    """The hub's status listener is passed on: the connection's end is announced
    (connection.needs_reauth) with Zoom's cause."""
    app = create_app({"database_url": database_url, "zoom_webhook_secret": SECRET, "log_json": False,
                      "encryption_keys": TokenVault.generate_key_spec("unit"), "webhook_worker": False,
                      "public_url": "https://hub.example"})
    try:
        account = f"zu-{uuid.uuid4().hex[:8]}"
        world, _, _, _ = hub_meeting(app, account)
        with world.db.session() as s:
            s.add(WebhookEndpoint(tenant_id=world.tenant_id, url="https://backend.example/hook",
                                  events=["connection.needs_reauth"], secret_enc="x"))
        raw = json.dumps({"event": "app_deauthorized", "payload": {"user_id": account}}).encode()
        assert post(app.test_client(), raw, signed(raw)).json == {"status": "recorded"}
        with world.db.session() as s:
            [payload] = s.execute(select(WebhookDelivery.payload).where(
                WebhookDelivery.tenant_id == world.tenant_id)).scalars().all()
        message = json.loads(payload)
        assert (message["type"], message["data"]["cause"]) == ("connection.needs_reauth", "zoom_token_revoked")
    finally:
        app.extensions["hub"].close()
