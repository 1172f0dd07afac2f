"""The sandbox's Zoom records who joins a meeting: it sends Zoom's signed participant webhooks
to the configured URL (verified here with the hub's own verifier) and lists the participants in
Zoom's Dashboard shape while the meeting runs."""
from __future__ import annotations

import json
import threading
import time

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.sandbox.test_zoom_emulator import ZoomFlow
from webhooks.zoom_signature import refusal

SECRET = "sandbox-webhook-secret"


@pytest.fixture
def receiver():
    calls: list[tuple[dict, bytes]] = []

    def app(environ, start_response):
        request = Request(environ)
        calls.append((dict(request.headers), request.get_data()))
        return Response("{}", 200)(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/webhooks/zoom", calls
    server.shutdown()


def test_participants_are_signed_webhooks_and_a_live_list(base_url, http, control, receiver):
    url, calls = receiver
    zoom = ZoomFlow(base_url, http)
    token = zoom.connect("host@acme.example")["access_token"]
    meeting = zoom.api("POST", "/users/me/meetings", token, json={"topic": "Interview", "type": 2}).json()
    mid = str(meeting["id"])
    assert zoom.api("GET", f"/metrics/meetings/{mid}/participants?type=live", token).json()["code"] == 3001
    control.post("/webhooks", {"provider": "zoom", "url": url, "secret": SECRET})
    out = control.post(f"/meetings/zoom/{mid}/participants",
                       {"name": "Grace Hopper", "email": "", "joined_at": "2026-03-02T13:01:00Z"})
    assert [w["status"] for w in out["webhooks"]] == [200, 200]
    events = []
    for headers, raw in calls:
        assert refusal(SECRET, headers["X-Zm-Request-Timestamp"], headers["X-Zm-Signature"], raw, time.time()) is None
        events.append(json.loads(raw))
    assert [e["event"] for e in events] == ["meeting.started", "meeting.participant_joined"]
    joined = events[1]["payload"]["object"]
    assert joined["id"] == mid and joined["uuid"] == meeting["uuid"]
    assert joined["participant"]["user_name"] == "Grace Hopper" and joined["participant"]["email"] == ""
    listed = zoom.api("GET", f"/metrics/meetings/{mid}/participants?type=live", token).json()
    assert [(p["user_name"], p["join_time"]) for p in listed["participants"]] == [("Grace Hopper", "2026-03-02T13:01:00Z")]
    other = zoom.connect("someone@else.example")["access_token"]
    assert zoom.api("GET", f"/metrics/meetings/{mid}/participants?type=live", other).status_code == 404


def test_lost_webhooks_and_bad_requests(base_url, http, control, receiver):
    url, calls = receiver
    zoom = ZoomFlow(base_url, http)
    token = zoom.connect("host@acme.example")["access_token"]
    mid = str(zoom.api("POST", "/users/me/meetings", token, json={"topic": "Interview"}).json()["id"])
    control.post("/webhooks", {"provider": "zoom", "url": url, "secret": SECRET})
    control.fault("webhook_lost", "host@acme.example", provider="zoom")
    out = control.post(f"/meetings/zoom/{mid}/participants", {"name": "Grace"})
    assert {w["status"] for w in out["webhooks"]} == {"lost"} and calls == []
    assert control.post("/meetings/zoom/99999999999/participants", {"name": "Grace"}, expect=404)
    assert control.post(f"/meetings/zoom/{mid}/participants", {"email": "x@y.example"}, expect=422)
    assert control.post("/webhooks", {"provider": "zoom", "url": "ftp://x", "secret": "s"}, expect=422)


def test_the_last_one_out_ends_the_meeting_and_its_list_becomes_the_past_meetings(base_url, http, control, receiver):
    url, calls = receiver
    zoom = ZoomFlow(base_url, http)
    token = zoom.connect("host@acme.example")["access_token"]
    mid = str(zoom.api("POST", "/users/me/meetings", token, json={"topic": "Interview", "type": 2}).json()["id"])
    control.post("/webhooks", {"provider": "zoom", "url": url, "secret": SECRET})
    control.post(f"/meetings/zoom/{mid}/participants", {"name": "Ada", "email": "host@acme.example",
                                                        "joined_at": "2026-03-02T13:00:00Z"})
    control.post(f"/meetings/zoom/{mid}/participants", {"name": "Grace Hopper", "joined_at": "2026-03-02T13:02:00Z"})
    out = control.post(f"/meetings/zoom/{mid}/participants", {"name": "Grace Hopper",
                                                              "left_at": "2026-03-02T13:40:00Z"})
    assert out["meeting_status"] == "started" and [w["event"] for w in out["webhooks"]] == ["meeting.participant_left"]
    out = control.post(f"/meetings/zoom/{mid}/participants", {"name": "Ada", "email": "host@acme.example",
                                                              "left_at": "2026-03-02T13:45:00Z"})
    assert [w["event"] for w in out["webhooks"]] == ["meeting.participant_left", "meeting.ended"]
    ended = json.loads(calls[-1][1])
    assert (ended["event"], ended["payload"]["object"]["end_time"]) == ("meeting.ended", "2026-03-02T13:45:00Z")
    assert zoom.api("GET", f"/metrics/meetings/{mid}/participants?type=live", token).json()["code"] == 3001
    past = zoom.api("GET", f"/past_meetings/{mid}/participants", token).json()["participants"]
    assert [(p["name"], p["join_time"], p["leave_time"]) for p in past] == [
        ("Ada", "2026-03-02T13:00:00Z", "2026-03-02T13:45:00Z"),
        ("Grace Hopper", "2026-03-02T13:02:00Z", "2026-03-02T13:40:00Z")]
    assert zoom.api("GET", f"/meetings/{mid}", token).json()["status"] == "waiting"  # may start again


def test_a_refused_dashboard_leaves_the_meeting_and_its_status_readable(base_url, http, control):
    zoom = ZoomFlow(base_url, http)
    token = zoom.connect("host@acme.example")["access_token"]
    mid = str(zoom.api("POST", "/users/me/meetings", token, json={"topic": "Interview", "type": 2}).json()["id"])
    control.post(f"/meetings/zoom/{mid}/participants", {"name": "Ada", "joined_at": "2026-03-02T13:00:00Z"})
    control.fault("dashboard_unavailable", "host@acme.example", provider="zoom")
    refused = zoom.api("GET", f"/metrics/meetings/{mid}/participants?type=live", token)
    assert (refused.status_code, refused.json()["code"]) == (400, 4711)
    assert "dashboard_meetings:read:admin" in refused.json()["message"]
    assert zoom.api("GET", f"/meetings/{mid}", token).json()["status"] == "started"
    assert zoom.api("GET", f"/past_meetings/{mid}/participants", token).json()["code"] == 3001
