"""Services through the HTTP API with a hand-written fake calendar: the hub's own logic
(resolution, concurrency, merging, availability, undo) without any provider."""
from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from tests.sql_count import request_statements

from hub.app import create_app
from hub.services import fanout
from hub.services.directory import create_api_key
from hub.storage.models import Connection, User
from oauth.flows import Grant
from oauth.tokens import access_binding, refresh_binding
from oauth.vault import TokenVault
from providers.base import (BusyBlock, CalendarEvent, ConferenceLink, ErrorKind, ProviderError)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


class FakeCalendar:
    name = "google"

    def __init__(self) -> None:
        self.busy: dict[str, list[BusyBlock] | ProviderError] = {}
        self.delay = 0.0
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self.created: list = []
        self.cancelled: list[str] = []
        self.link = True

    def free_busy(self, token, emails, start, end):
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            time.sleep(self.delay)
            return {e: self.busy.get(e, []) for e in emails}
        finally:
            with self.lock:
                self.in_flight -= 1

    def create_event(self, token, draft):
        self.created.append(draft)
        conf = ConferenceLink("google_meet", "https://meet.google.com/abc-defg-hij") if (
            draft.native_conferencing and self.link) else None
        return CalendarEvent(f"ev{len(self.created)}", None, conf)

    def update_event(self, token, event_id, changes):
        return CalendarEvent(event_id, None, None)

    def cancel_event(self, token, event_id, send_updates=True):
        self.cancelled.append(event_id)

    def conferencing_allowed(self, token):
        return True

    def verify_mailbox(self, token):
        return None


@pytest.fixture
def env(database_url):
    app = create_app({"database_url": database_url, "encryption_keys": TokenVault.generate_key_spec("u"),
                      "log_json": False})
    hub = app.extensions["hub"]
    hub.clock = lambda: NOW
    fake = FakeCalendar()
    hub.use("calendar", "google", fake)
    _, key = create_api_key(hub.db, f"fake-{uuid.uuid4().hex[:8]}")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}

    def person(user_id: str, connected: bool = True, **body) -> str:
        email = f"{user_id}.{uuid.uuid4().hex[:6]}@example.com"
        r = client.put(f"/v1/users/{user_id}", json={"email": email, **body}, headers=headers)
        assert r.status_code in (200, 201), r.json
        if connected:
            with hub.db.session() as s:
                user = s.query(User).filter_by(external_id=user_id, email=email).one()
                conn = Connection(tenant_id=user.tenant_id, user_id=user.id, provider="google",
                                  provider_account_id=email, account_email=email,
                                  capabilities=["calendar", "google_meet"], scopes=[])
                s.add(conn)
                s.flush()
                hub.tokens.store_grant(conn, Grant("tok", "ref", NOW + timedelta(hours=1), ()))
        return email

    yield client, headers, fake, person
    hub.close()


def test_availability_lunch_example_in_users_zone(env):
    client, headers, fake, person = env
    person("ana", timezone="Europe/Stockholm", working_hours={
        "timezone": "Europe/Stockholm", "weekly": {"mon": [["09:00", "13:00"], ["14:00", "17:00"]]}})
    r = client.post("/v1/availability", headers=headers, json={
        "participants": [{"user_id": "ana"}], "start": "2026-03-02T00:00:00+01:00",
        "end": "2026-03-03T00:00:00+01:00", "duration_minutes": 30, "interval_minutes": 30})
    assert r.status_code == 200, r.json
    starts = [s["start"] for s in r.json["slots"]]
    # Stockholm is UTC+1 in March: 09:00…12:30 and 14:00…16:30 local
    expected = [f"2026-03-02T{h:02d}:{m:02d}:00Z" for h in range(8, 12) for m in (0, 30)] + \
               [f"2026-03-02T{h:02d}:{m:02d}:00Z" for h in range(13, 16) for m in (0, 30)]
    assert starts == expected
    assert r.json["complete"] is True and r.json["participants"]["ana"] == {
        "status": "ok", "error": None, "source": "live", "fresh_as_of": "2026-03-01T12:00:00Z"}


def test_busy_and_tentative_remove_slots_and_optional_is_listed(env):
    client, headers, fake, person = env
    a = person("a1")
    b = person("b1")
    fake.busy[a] = [BusyBlock(datetime(2026, 3, 2, 9, tzinfo=timezone.utc), datetime(2026, 3, 2, 10, tzinfo=timezone.utc))]
    fake.busy[b] = [BusyBlock(datetime(2026, 3, 2, 11, tzinfo=timezone.utc),
                              datetime(2026, 3, 2, 12, tzinfo=timezone.utc), "tentative")]
    r = client.post("/v1/availability", headers=headers, json={
        "participants": [{"user_id": "a1"}, {"user_id": "b1", "optional": True}],
        "start": "2026-03-02T09:00:00Z", "end": "2026-03-02T13:00:00Z", "duration_minutes": 60,
        "interval_minutes": 60})
    slots = {s["start"]: s["optional_available"] for s in r.json["slots"]}
    assert slots == {"2026-03-02T10:00:00Z": ["b1"], "2026-03-02T11:00:00Z": [], "2026-03-02T12:00:00Z": ["b1"]}


def test_required_participant_failure_means_no_guess(env):
    client, headers, fake, person = env
    a = person("a2")
    person("b2")
    fake.busy[a] = ProviderError(ErrorKind.MAILBOX_UNAVAILABLE, "no mailbox", provider="google", cause="mailbox_unlicensed")
    r = client.post("/v1/availability", headers=headers, json={
        "participants": [{"user_id": "a2"}, {"user_id": "b2"}],
        "start": "2026-03-02T09:00:00Z", "end": "2026-03-02T17:00:00Z"})
    assert r.json["complete"] is False and r.json["slots"] == []
    assert r.json["participants"]["a2"]["error"]["cause"] == "mailbox_unlicensed"
    assert r.json["participants"]["b2"]["status"] == "ok"


def test_unconnected_participant_is_reported(env):
    client, headers, fake, person = env
    person("lonely", connected=False)
    r = client.post("/v1/freebusy", headers=headers, json={
        "users": ["lonely"], "start": "2026-03-02T09:00:00Z", "end": "2026-03-02T17:00:00Z"})
    assert r.json["users"]["lonely"]["error"]["cause"] == "calendar_not_connected"


def test_freebusy_reads_all_calendars_concurrently(env):
    client, headers, fake, person = env
    ids = [f"p{i}" for i in range(6)]
    for uid in ids:
        person(uid)
    fake.delay = 0.2
    r = client.post("/v1/freebusy", headers=headers, json={
        "users": ids, "start": "2026-03-02T09:00:00Z", "end": "2026-03-02T17:00:00Z"})
    assert r.status_code == 200 and all(v["status"] == "ok" for v in r.json["users"].values())
    assert fake.max_in_flight == len(ids)


def test_missing_meet_link_is_reported_and_event_undone(env):
    client, headers, fake, person = env
    person("org")
    fake.link = False
    r = client.post("/v1/events", headers=headers, json={
        "organizer": "org", "title": "t", "start": "2026-03-02T09:00:00Z", "end": "2026-03-02T09:30:00Z",
        "conferencing": "google_meet"})
    assert r.status_code == 502 and r.json["cause"] == "meet_unavailable"
    assert fake.cancelled == ["ev1"]


def test_default_conferencing_is_the_calendars_own(env):
    client, headers, fake, person = env
    person("org2")
    r = client.post("/v1/events", headers=headers, json={
        "organizer": "org2", "title": "t", "start": "2026-03-02T09:00:00Z", "end": "2026-03-02T09:30:00Z"})
    assert r.status_code == 201 and r.json["conferencing"]["provider"] == "google_meet"
    assert fake.created[-1].native_conferencing is True


def test_zoom_without_connection_is_a_clear_422(env):
    client, headers, fake, person = env
    person("org3")
    r = client.post("/v1/events", headers=headers, json={
        "organizer": "org3", "title": "t", "start": "2026-03-02T09:00:00Z", "end": "2026-03-02T09:30:00Z",
        "conferencing": "zoom"})
    assert r.status_code == 422 and r.json["reason"] == "zoom_not_connected"
    assert fake.created == []


def test_openapi_lists_every_v1_route_with_schemas(env):
    client, headers, fake, person = env
    doc = client.get("/openapi.json").json
    assert doc["openapi"].startswith("3.1")
    for path in ("/v1/users/{user_id}", "/v1/freebusy", "/v1/availability", "/v1/events", "/v1/events/{event_id}"):
        assert path in doc["paths"], path
    body = doc["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body.endswith("/EventIn") and "EventIn" in doc["components"]["schemas"]
    page = client.get("/docs")
    assert page.status_code == 200 and b"/v1/availability" in page.data and b"cdn" not in page.data.lower()


# --- contract details a first run trips over ---------------------------------------------------
@pytest.mark.parametrize("body,field,needle", [
    ({"users": ["x"], "start": 123, "end": "2026-03-02T11:00:00Z"}, "start", "RFC 3339"),
    ({"users": ["x"], "start": "2026-03-02T10:00:00Z", "end": 1772449200.0}, "end", "RFC 3339"),
])
def test_a_number_is_not_a_time(env, body, field, needle):
    client, headers, fake, person = env
    r = client.post("/v1/freebusy", headers=headers, json=body)
    assert r.status_code == 422, r.json
    assert [(e["field"], needle in e["message"]) for e in r.json["errors"]] == [(field, True)]


def test_validation_messages_name_no_internal_class(env):
    client, headers, fake, person = env
    r = client.post("/v1/availability", headers=headers, json={
        "participants": ["bob"], "start": "2026-03-02T09:00:00Z", "end": "2026-03-02T17:00:00Z"})
    assert r.status_code == 422
    assert r.json["errors"] == [{"field": "participants[0]", "message": "expected an object"}]
    assert "ParticipantIn" not in r.get_data(as_text=True)


def test_no_content_has_no_content_type(env):
    client, headers, fake, person = env
    person("gone")
    r = client.delete("/v1/users/gone", headers=headers)
    assert r.status_code == 204 and r.data == b"" and "Content-Type" not in r.headers


def test_times_in_health_records_leave_as_z(env):
    client, headers, fake, person = env
    email = person("sick")
    fake.busy[email] = ProviderError(ErrorKind.PROVIDER_DOWN, "down", provider="google", cause="provider_unavailable")
    client.post("/v1/freebusy", headers=headers, json={
        "users": ["sick"], "start": "2026-03-02T09:00:00Z", "end": "2026-03-02T17:00:00Z"})
    conn = client.get("/v1/users/sick/connections", headers=headers).json["connections"][0]
    assert conn["last_error"]["at"] == "2026-03-01T12:00:00Z"


# --- the free/busy read path: failures in place, one deadline, constant SQL --------------------
WORKDAY = {"start": "2026-03-02T09:00:00Z", "end": "2026-03-02T17:00:00Z"}


def _hub(client):
    return client.application.extensions["hub"]


def test_unreadable_credentials_are_reported_in_place(env):
    client, headers, fake, person = env
    hub = _hub(client)
    person("fine")
    bad = person("tampered")
    other_vault = TokenVault.from_config(TokenVault.generate_key_spec("gone"))
    with hub.db.session() as s:  # as if the key that sealed these was removed before rotation finished
        conn = s.query(Connection).filter_by(account_email=bad).one()
        conn.access_token_enc = other_vault.encrypt("tok", access_binding(conn.id))
        conn.refresh_token_enc = other_vault.encrypt("ref", refresh_binding(conn.id))
        conn_id = conn.id
    r = client.post("/v1/freebusy", headers=headers, json={"users": ["fine", "tampered"], **WORKDAY})
    assert r.status_code == 200, r.json
    assert r.json["users"]["fine"]["status"] == "ok"
    assert r.json["users"]["tampered"]["error"] == {
        "kind": "auth_revoked", "cause": "credentials_unreadable", "message": "the stored credentials cannot be decrypted"}
    conn = client.get("/v1/users/tampered/connections", headers=headers).json["connections"][0]
    assert (conn["id"], conn["status"], conn["last_error"]["cause"]) == (conn_id, "needs_reauth", "credentials_unreadable")

    event = client.post("/v1/events", headers=headers, json={
        "organizer": "tampered", "title": "t", "start": "2026-03-02T09:00:00Z", "end": "2026-03-02T09:30:00Z"})
    assert event.status_code == 409, event.json
    assert (event.json["code"], event.json["cause"]) == ("connection_needs_reauth", "credentials_unreadable")
    assert event.json["fix"]["action"] == "reconnect" and "/connect/" in event.json["fix"]["url"]
    assert fake.created == []


def test_unknown_user_is_reported_in_place(env):
    client, headers, fake, person = env
    person("known")
    r = client.post("/v1/freebusy", headers=headers, json={"users": ["known", "nobody"], **WORKDAY})
    assert r.status_code == 200, r.json
    assert r.json["users"]["known"]["status"] == "ok"
    assert (r.json["users"]["nobody"]["status"], r.json["users"]["nobody"]["error"]["cause"]) == ("error", "user_not_found")

    required = client.post("/v1/availability", headers=headers, json={
        "participants": [{"user_id": "known"}, {"user_id": "nobody"}], **WORKDAY})
    assert required.status_code == 200 and required.json["complete"] is False and required.json["slots"] == []
    assert required.json["participants"]["nobody"]["error"]["cause"] == "user_not_found"
    optional = client.post("/v1/availability", headers=headers, json={
        "participants": [{"user_id": "known"}, {"user_id": "nobody", "optional": True}], **WORKDAY})
    assert optional.json["complete"] is True and optional.json["slots"]
    assert all("nobody" not in s["optional_available"] for s in optional.json["slots"])


def test_participant_errors_carry_retry_after(env):
    client, headers, fake, person = env
    email = person("throttled")
    fake.busy[email] = ProviderError(ErrorKind.RATE_LIMITED, "slow down", provider="google", cause="rate_limited",
                                     retry_after=7)
    r = client.post("/v1/freebusy", headers=headers, json={"users": ["throttled"], **WORKDAY})
    assert r.json["users"]["throttled"]["error"]["retry_after"] == 7
    a = client.post("/v1/availability", headers=headers, json={"participants": [{"user_id": "throttled"}], **WORKDAY})
    assert a.json["participants"]["throttled"]["error"]["retry_after"] == 7


def test_hung_calendars_share_one_deadline(env, monkeypatch):
    client, headers, fake, person = env
    hub = _hub(client)
    hub.settings = hub.settings.with_overrides(provider_timeout_seconds=0.2)  # one deadline: 1.2 s
    release = threading.Event()
    hung = {person(f"hung{i}") for i in range(4)}
    person("quick")
    answer = fake.free_busy

    def free_busy(token, emails, start, end):
        if emails[0] in hung:
            release.wait(30)  # an adapter that ignores its own timeout
        return answer(token, emails, start, end)

    # The fan-out's waits, seen directly (no wall-clock measure: a loaded machine stretches it).
    waits: list[tuple[int, float]] = []
    real_wait = fanout.wait

    def wait(futures, timeout=None, **kw):
        futures = list(futures)
        waits.append((len(futures), timeout))
        return real_wait(futures, timeout=timeout, **kw)

    monkeypatch.setattr(fanout, "wait", wait)
    fake.free_busy = free_busy
    try:
        r = client.post("/v1/freebusy", headers=headers,
                        json={"users": [f"hung{i}" for i in range(4)] + ["quick"], **WORKDAY})
    finally:
        release.set()
    assert r.json["users"]["quick"]["status"] == "ok"
    assert {r.json["users"][f"hung{i}"]["error"]["cause"] for i in range(4)} == {"provider_unavailable"}
    # one wait for all five calls, the provider's timeout plus a second, not one per calendar
    assert waits == [(5, pytest.approx(1.2))]


def test_sql_per_free_busy_does_not_grow_with_participants(env):
    client, headers, fake, person = env
    hub = _hub(client)
    ids = [f"n{i}" for i in range(12)]
    for uid in ids:
        person(uid)

    def run(users: list[str]) -> int:
        client.post("/v1/freebusy", headers=headers, json={"users": users, **WORKDAY})  # first use writes last_used_at
        statements.clear()
        r = client.post("/v1/freebusy", headers=headers, json={"users": users, **WORKDAY})
        assert all(u["status"] == "ok" for u in r.json["users"].values())
        return len(statements)

    with request_statements(hub.db.engine) as statements:
        one, many = run(ids[:1]), run(ids)
    assert one == many, statements
    assert not any(s.lstrip().upper().startswith(("UPDATE", "INSERT")) for s in statements)  # nothing written
