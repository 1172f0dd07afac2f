"""Issue 2's promises, tried as a scheduling backend and a person would: over HTTP, through the
real OAuth dance against the sandbox, with google-api-python-client doing the Google calls."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select, text

from hub.services.explanations import explain
from hub.storage.models import Connection
from oauth.tokens import refresh_binding
from tests.e2e.support import connect
from tests.e2e.sync_support import wait_for

DAY = "2026-03-02"
WINDOW = {"start": f"{DAY}T08:00:00+01:00", "end": f"{DAY}T18:00:00+01:00"}


@pytest.fixture
def person(api, sandbox):
    """A hub user with a Google account in the sandbox, not yet connected."""
    tag = uuid.uuid4().hex[:8]
    email = f"ada.{tag}@example.com"
    sandbox.account("google", email, name="Ada Lovelace", timezone="Europe/Stockholm")
    r = api.put(f"/v1/users/ada-{tag}", json={"email": email, "name": "Ada", "timezone": "Europe/Stockholm"})
    assert r.status_code == 201, r.text
    return {"user_id": f"ada-{tag}", "email": email}


def connected(api, person):
    result = connect(api, person["user_id"], "google", person["email"])
    assert result.status == "connected", result
    return result.params["connection_id"]


def test_connect_read_busy_create_move_cancel(api, sandbox, person):
    connection_id = connected(api, person)
    conns = api.get(f"/v1/users/{person['user_id']}/connections").json()["connections"]
    assert [(c["id"], c["provider"], c["status"], c["account_email"]) for c in conns] == [
        (connection_id, "google", "active", person["email"])]
    assert set(conns[0]["capabilities"]) == {"calendar", "google_meet"}

    sandbox.busy("google", person["email"], f"{DAY}T10:00:00+01:00", f"{DAY}T11:00:00+01:00")
    sandbox.busy("google", person["email"], f"{DAY}T10:30:00+01:00", f"{DAY}T12:00:00+01:00")
    sandbox.busy("google", person["email"], f"{DAY}T06:00:00+01:00", f"{DAY}T09:00:00+01:00")
    fb = api.post("/v1/freebusy", json={"users": [person["user_id"]], **WINDOW})
    assert fb.status_code == 200, fb.text
    entry = fb.json()["users"][person["user_id"]]
    assert entry["status"] == "ok" and entry["error"] is None
    # merged (10:00–12:00) and clipped to the window (08:00 start), returned in UTC
    assert entry["busy"] == [
        {"start": f"{DAY}T07:00:00Z", "end": f"{DAY}T08:00:00Z", "status": "busy"},
        {"start": f"{DAY}T09:00:00Z", "end": f"{DAY}T11:00:00Z", "status": "busy"},
    ]

    body = {"organizer": person["user_id"], "title": "Interview: Grace", "start": f"{DAY}T14:00:00+01:00",
            "end": f"{DAY}T15:00:00+01:00", "timezone": "Europe/Stockholm", "conferencing": "google_meet",
            "attendees": [{"email": "grace@candidates.example", "name": "Grace"}]}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    created = api.post("/v1/events", json=body, headers=key)
    assert created.status_code == 201, created.text
    event = created.json()
    assert event["conferencing"]["provider"] == "google_meet"
    assert event["conferencing"]["join_url"].startswith("https://meet.google.com/")
    assert event["start"] == f"{DAY}T13:00:00Z" and event["status"] == "confirmed"

    replay = api.post("/v1/events", json=body, headers=key)
    assert replay.status_code == 201 and replay.json() == event
    reused = api.post("/v1/events", json={**body, "title": "Other"}, headers=key)
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"

    held = [e for e in sandbox.events("google", person["email"]) if e.get("summary") == "Interview: Grace"]
    assert len(held) == 1, "a replayed Idempotency-Key must not make a second event"
    assert held[0]["hangoutLink"] == event["conferencing"]["join_url"]
    assert held[0]["id"] == event["calendar"]["event_id"]

    moved = api.patch(f"/v1/events/{event['id']}", json={"start": f"{DAY}T16:00:00+01:00",
                                                        "end": f"{DAY}T16:45:00+01:00"})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["start"], moved.json()["end"]) == (f"{DAY}T15:00:00Z", f"{DAY}T15:45:00Z")
    held = next(e for e in sandbox.events("google", person["email"]) if e["id"] == event["calendar"]["event_id"])
    assert held["start"]["dateTime"].replace("Z", "+00:00").startswith(f"{DAY}T15:00:00") or \
        held["start"]["dateTime"].startswith(f"{DAY}T16:00:00+01:00")

    assert api.delete(f"/v1/events/{event['id']}").status_code == 204
    assert api.delete(f"/v1/events/{event['id']}").status_code == 204  # idempotent
    assert api.get(f"/v1/events/{event['id']}").json()["status"] == "cancelled"
    remaining = [e for e in sandbox.events("google", person["email"])
                 if e["id"] == event["calendar"]["event_id"] and e.get("status") != "cancelled"]
    assert remaining == []


def test_concurrent_same_idempotency_key_makes_one_event(api, sandbox, person):
    connected(api, person)
    body = {"organizer": person["user_id"], "title": "Race", "start": f"{DAY}T09:00:00Z",
            "end": f"{DAY}T09:30:00Z", "conferencing": "none"}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(lambda _: api.post("/v1/events", json=body, headers=key).status_code, range(6)))
    assert codes.count(201) >= 1 and set(codes) <= {201, 409}
    assert len([e for e in sandbox.events("google", person["email"]) if e.get("summary") == "Race"]) == 1


def test_other_tenant_sees_nothing(api, sandbox, person, live_hub):
    connection_id = connected(api, person)
    from hub.services.directory import create_api_key
    from tests.e2e.support import Api
    _, other_key = create_api_key(live_hub.hub.db, f"other-{uuid.uuid4().hex[:6]}")
    other = Api(live_hub.url, other_key)
    assert other.get(f"/v1/users/{person['user_id']}").status_code == 404
    assert other.get(f"/v1/users/{person['user_id']}/connections").status_code == 404
    assert other.delete(f"/v1/connections/{connection_id}").status_code == 404
    fb = other.post("/v1/freebusy", json={"users": [person["user_id"]], **WINDOW})
    assert fb.status_code == 200  # another tenant's user is unknown here, reported in place like any other
    assert fb.json()["users"][person["user_id"]]["error"]["cause"] == "user_not_found"
    assert fb.json()["users"][person["user_id"]]["busy"] == []
    ev = api.post("/v1/events", json={"organizer": person["user_id"], "title": "x", "start": f"{DAY}T09:00:00Z",
                                      "end": f"{DAY}T09:30:00Z", "conferencing": "none"}).json()
    assert other.get(f"/v1/events/{ev['id']}").status_code == 404
    assert other.delete(f"/v1/events/{ev['id']}").status_code == 404
    assert api.get(f"/v1/events/{ev['id']}").json()["status"] == "confirmed"


def test_no_token_readable_in_database(api, sandbox, person, live_hub):
    connection_id = connected(api, person)
    from oauth.tokens import access_binding, refresh_binding
    vault = live_hub.hub.vault
    with live_hub.hub.db.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM connections WHERE id = :id"), {"id": connection_id}).mappings().all()
    [row] = [dict(r) for r in rows]
    # This row's own tokens (not whichever token the sandbox logged last, maybe another test's).
    access = vault.decrypt(row["access_token_enc"], access_binding(connection_id))
    refresh = vault.decrypt(row["refresh_token_enc"], refresh_binding(connection_id))
    assert access and refresh
    dump = repr(row)
    assert access not in dump and refresh not in dump
    assert "v1." in dump  # vault ciphertexts are there instead


def test_revoked_grant_reported_in_place_and_reconnect_restores(api, sandbox, person, live_hub):
    connection_id = connected(api, person)
    tag = uuid.uuid4().hex[:8]
    healthy_email = f"bob.{tag}@example.com"
    sandbox.account("google", healthy_email)
    api.put(f"/v1/users/bob-{tag}", json={"email": healthy_email})
    assert connect(api, f"bob-{tag}", "google", healthy_email).status == "connected"

    sandbox.fault("google", "invalid_grant", email=person["email"])
    sandbox.fault("google", "expire_access_tokens", email=person["email"])
    fb = api.post("/v1/freebusy", json={"users": [person["user_id"], f"bob-{tag}"], **WINDOW}).json()
    broken = fb["users"][person["user_id"]]
    assert broken["status"] == "error" and broken["busy"] == []
    assert (broken["error"]["kind"], broken["error"]["cause"]) == ("auth_revoked", "token_revoked")
    assert fb["users"][f"bob-{tag}"]["status"] == "ok"

    conn = api.get(f"/v1/users/{person['user_id']}/connections").json()["connections"][0]
    assert conn["status"] == "needs_reauth" and conn["last_error"]["cause"] == "token_revoked"
    blocked = api.post("/v1/events", json={"organizer": person["user_id"], "title": "x",
                                           "start": f"{DAY}T09:00:00Z", "end": f"{DAY}T09:30:00Z"})
    assert blocked.status_code == 409 and blocked.json()["code"] == "connection_needs_reauth"
    assert "/connect/" in blocked.json()["fix"]["url"]

    again = connect(api, person["user_id"], "google", person["email"])
    assert again.status == "connected" and again.params["connection_id"] == connection_id  # in place
    fb = api.post("/v1/freebusy", json={"users": [person["user_id"]], **WINDOW}).json()
    assert fb["users"][person["user_id"]]["status"] == "ok"
    conn = api.get(f"/v1/users/{person['user_id']}/connections").json()["connections"][0]
    assert conn["status"] == "active" and conn["last_error"] is None


def test_expired_access_token_is_refreshed_transparently(api, sandbox, person, live_hub):
    connection_id = connected(api, person)
    with live_hub.hub.db.session() as s:
        refresh = live_hub.hub.vault.decrypt(s.get(Connection, connection_id).refresh_token_enc,
                                             refresh_binding(connection_id))

    def refreshes() -> int:  # the shared sandbox also serves other tests' hubs: this grant's only
        return sum(1 for e in sandbox.requests_log("google", "/google/token")
                   if (e["body"] or {}).get("refresh_token") == refresh)

    sandbox.fault("google", "expire_access_tokens", email=person["email"])
    before = refreshes()
    fb = api.post("/v1/freebusy", json={"users": [person["user_id"]], **WINDOW}).json()
    assert fb["users"][person["user_id"]]["status"] == "ok"
    assert refreshes() == before + 1
    with live_hub.hub.db.session() as s:
        assert s.get(Connection, connection_id).last_refresh_at is not None


def test_denied_consent_and_missing_scopes(api, sandbox, person):
    denied = connect(api, person["user_id"], "google", person["email"], decision="deny")
    assert (denied.status, denied.params.get("code")) == ("error", "access_denied")
    partial = connect(api, person["user_id"], "google", person["email"],
                      scope="openid email https://www.googleapis.com/auth/calendar.readonly")
    assert (partial.status, partial.params.get("code")) == ("error", "scopes_missing")
    assert api.get(f"/v1/users/{person['user_id']}/connections").json()["connections"] == []


def test_connect_link_is_single_use(api, person):
    url = api.post(f"/v1/users/{person['user_id']}/connect-links", json={"provider": "google"}).json()["url"]
    import requests
    first = requests.get(url, allow_redirects=False, timeout=10)
    second = requests.get(url, allow_redirects=False, timeout=10)
    assert first.status_code == 302
    assert second.status_code == 410 and "already used" in second.text


def test_meet_unavailable_is_a_clear_422(api, sandbox, person):
    sandbox.fault("google", "meet_unavailable", email=person["email"])
    connected(api, person)
    conns = api.get(f"/v1/users/{person['user_id']}/connections").json()["connections"]
    assert conns[0]["capabilities"] == ["calendar"]
    r = api.post("/v1/events", json={"organizer": person["user_id"], "title": "x", "start": f"{DAY}T09:00:00Z",
                                     "end": f"{DAY}T09:30:00Z", "conferencing": "google_meet"})
    assert r.status_code == 422
    assert (r.json()["code"], r.json()["cause"]) == ("conferencing_unavailable", "meet_unavailable")
    assert sandbox.events("google", person["email"]) == []


def test_meet_switched_off_after_connecting_gives_steps_not_the_provider_text(api, sandbox, person):
    connected(api, person)
    sandbox.fault("google", "meet_unavailable", email=person["email"])
    r = api.post("/v1/events", json={"organizer": person["user_id"], "title": "x", "start": f"{DAY}T09:00:00Z",
                                     "end": f"{DAY}T09:30:00Z", "conferencing": "google_meet"})
    assert r.status_code == 422, r.text
    problem = r.json()
    assert (problem["code"], problem["cause"]) == ("conferencing_unavailable", "meet_unavailable")
    assert problem["fix"]["steps"] == list(explain("meet_unavailable").steps)
    assert all("conference type" not in step for step in problem["fix"]["steps"])
    assert sandbox.events("google", person["email"]) == []


@pytest.mark.parametrize("payload,code,field", [
    ({"users": ["x"], "start": "2026-03-02T10:00:00", "end": "2026-03-02T11:00:00Z"}, "validation_failed", "start"),
    ({"users": ["x"], "start": "2026-03-02T11:00:00Z", "end": "2026-03-02T10:00:00Z"}, "validation_failed", ""),
    ({"users": ["x"], "start": "2026-03-01T00:00:00Z", "end": "2026-05-15T00:00:00Z"}, "window_too_long", "end"),
    ({"start": "2026-03-02T10:00:00Z", "end": "2026-03-02T11:00:00Z"}, "validation_failed", "users"),
])
def test_freebusy_bad_input(api, person, payload, code, field):
    payload = {**payload, "users": [person["user_id"]]} if "users" in payload else payload
    r = api.post("/v1/freebusy", json=payload)
    assert r.status_code == 422 and r.headers["Content-Type"].startswith("application/problem+json")
    assert r.json()["code"] == code
    if field:
        assert field in [e["field"] for e in r.json()["errors"]]


def test_event_bad_input_changes_nothing(api, sandbox, person):
    connected(api, person)
    base = {"organizer": person["user_id"], "title": "t", "start": f"{DAY}T09:00:00Z", "end": f"{DAY}T09:30:00Z"}
    cases = [
        ({**base, "end": f"{DAY}T08:00:00Z"}, 422, "validation_failed"),
        ({**base, "organizer": "nobody"}, 404, "user_not_found"),
        ({k: v for k, v in base.items() if k != "title"}, 422, "validation_failed"),
        ({**base, "conferencing": "skype"}, 422, "validation_failed"),
        ({**base, "attendees": [{"email": "not-an-email"}]}, 422, "validation_failed"),
    ]
    for payload, status, code in cases:
        r = api.post("/v1/events", json=payload)
        assert (r.status_code, r.json()["code"]) == (status, code), (payload, r.text)
    r = api.request("POST", "/v1/events", data="{not json", headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["code"]) == (400, "malformed_json")
    assert sandbox.events("google", person["email"]) == []


def test_wrong_or_missing_key(live_hub):
    import requests
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        r = requests.get(f"{live_hub.url}/v1/users/x", headers=headers, timeout=10)
        assert r.status_code == 401 and r.json()["code"] == "unauthorized"


def test_unknown_provider_and_user(api, person):
    r = api.post(f"/v1/users/{person['user_id']}/connect-links", json={"provider": "yahoo"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "provider"
    r = api.post("/v1/users/ghost/connect-links", json={"provider": "google"})
    assert r.status_code == 404 and r.json()["code"] == "user_not_found"


def _alive_grants(sandbox, email: str) -> list[dict]:
    return [g for g in sandbox.grants("google", email) if g["alive"]]


def test_disconnect_revokes_at_provider(api, sandbox, person, live_hub):
    connection_id = connected(api, person)
    assert _alive_grants(sandbox, person["email"])
    assert api.delete(f"/v1/connections/{connection_id}").status_code == 204
    # Revoked by a background job right after (hub/services/disconnect.py).
    wait_for(lambda: not _alive_grants(sandbox, person["email"]), "the grant revoked at Google")
    assert api.get(f"/v1/users/{person['user_id']}/connections").json()["connections"] == []
    with live_hub.hub.db.session() as s:
        assert s.execute(select(Connection).where(Connection.id == connection_id)).first() is None


def test_delete_user_revokes_and_forgets_everything(api, sandbox, person, live_hub):
    connection_id = connected(api, person)
    assert _alive_grants(sandbox, person["email"])
    assert api.delete(f"/v1/users/{person['user_id']}").status_code == 204
    wait_for(lambda: not _alive_grants(sandbox, person["email"]), "the grant revoked at Google")
    assert api.get(f"/v1/users/{person['user_id']}").status_code == 404
    assert api.delete(f"/v1/users/{person['user_id']}").status_code == 404
    with live_hub.hub.db.session() as s:
        assert s.get(Connection, connection_id) is None
