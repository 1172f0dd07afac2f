"""CalDAV, tried as a person and a scheduling backend would: the connect form in the live hub,
free/busy and events checked at the sandbox's real Radicale, Zoom on a CalDAV event, and every
bad input — a wrong password, a URL that is not CalDAV, a server that times out, a calendar
that disappears — answered with a cause and a fix, never a 500, losing nothing."""
from __future__ import annotations

import uuid

import pytest
import requests

from hub.services.directory import create_api_key
from hub.storage.models import Connection
from oauth.tokens import access_binding
from providers.caldav.credential import Credential
from tests.e2e.support import Api, connect, fill_credential_form, form_inputs, start_hub

DAY = "2026-03-02"
WINDOW = {"start": f"{DAY}T00:00:00Z", "end": f"{DAY}T23:59:00Z"}
BACKEND = "https://backend.example/done"


def person(api: Api, sandbox, password: str | None = None) -> tuple[str, str]:
    tag = uuid.uuid4().hex[:8]
    email, user_id = f"dave.{tag}@demo.example", f"dave-{tag}"
    sandbox.account("caldav", email, **({"password": password} if password else {}))
    assert api.put(f"/v1/users/{user_id}", json={"email": email, "name": "Dave"}).status_code == 201
    return user_id, email


def open_form(api: Api, user_id: str) -> tuple[requests.Session, str, requests.Response]:
    link = api.post(f"/v1/users/{user_id}/connect-links", json={"provider": "caldav", "return_url": BACKEND})
    assert link.status_code == 201, link.text
    browser = requests.Session()
    browser.trust_env = False
    page = browser.get(link.json()["url"], timeout=30)
    return browser, link.json()["url"], page


def connected(api: Api, sandbox, **kw) -> tuple[str, str, str]:
    user_id, email = person(api, sandbox, **kw)
    result = connect(api, user_id, "caldav", email, password=kw.get("password") or "app-password")
    assert result.status == "connected", result
    return user_id, email, result.params["connection_id"]


def stored_events(sandbox, email: str) -> list[dict]:
    return sandbox.events("caldav", email)


def test_connect_through_the_form_retry_and_reconnect_in_place(api, sandbox, live_hub):
    user_id, email = person(api, sandbox, password="s3cret-app-pw")
    browser, url, page = open_form(api, user_id)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    shown = form_inputs(page.text)
    assert shown["server_url"] == f"{live_hub.sandbox_url}/caldav/" and shown["password"] == ""

    wrong = browser.post(url, data={**shown, "username": email, "password": "account-password"}, timeout=30)
    assert wrong.status_code == 422
    assert 'data-cause="credentials_invalid"' in wrong.text and "app-specific password" in wrong.text
    again = form_inputs(wrong.text)
    assert (again["username"], again["password"]) == (email, ""), "what was typed is kept, never the password"
    assert "account-password" not in wrong.text
    stale = browser.post(url, data={**shown, "username": email, "password": "s3cret-app-pw"}, allow_redirects=False,
                         timeout=30)
    # The form's CSRF state is single-use: a replayed (or forged) post ends like a bad OAuth state.
    assert stale.status_code == 302 and "status=error&code=state_invalid" in stale.headers["Location"]
    _, _, page = open_form(api, user_id)  # a fresh link
    result = fill_credential_form(browser, page.url, page.text, {"username": email, "password": "s3cret-app-pw"})
    assert (result.status, result.final_url.split("?")[0]) == ("connected", BACKEND)
    [conn] = api.get(f"/v1/users/{user_id}/connections").json()["connections"]
    assert (conn["id"], conn["provider"], conn["account_email"], conn["status"], conn["capabilities"]) == (
        result.params["connection_id"], "caldav", email, "active", ["calendar"])
    assert "s3cret-app-pw" not in api.get(f"/v1/users/{user_id}/connections").text
    with live_hub.hub.db.session() as session:
        row = session.get(Connection, conn["id"])
        assert "s3cret-app-pw" not in (row.access_token_enc or "")  # encrypted at rest
        assert (row.access_expires_at, row.refresh_token_enc) == (None, None)
    # Opened once more: the link is spent.
    spent = browser.get(page.url, allow_redirects=False, timeout=30)
    assert spent.status_code == 302 and "status=error&code=link_used" in spent.headers["Location"]
    # The password changes at the server; reconnecting replaces it in place.
    sandbox.account("caldav", email, password="new-app-pw")
    again = connect(api, user_id, "caldav", email, password="new-app-pw")
    assert again.status == "connected" and again.params["connection_id"] == conn["id"]


def test_free_busy_and_events_with_attendees_at_the_server(api, sandbox):
    user_id, email, _ = connected(api, sandbox)
    sandbox.busy("caldav", email, f"{DAY}T08:00:00Z", f"{DAY}T09:00:00Z")
    sandbox.busy("caldav", email, f"{DAY}T12:00:00Z", f"{DAY}T13:00:00Z", status="tentative")
    sandbox.busy("caldav", email, f"{DAY}T15:00:00Z", f"{DAY}T16:00:00Z", status="free")
    fb = api.post("/v1/freebusy", json={"users": [user_id], **WINDOW}).json()
    assert fb["users"][user_id]["status"] == "ok", fb
    assert [(b["start"], b["status"]) for b in fb["users"][user_id]["busy"]] == [
        (f"{DAY}T08:00:00Z", "busy"), (f"{DAY}T12:00:00Z", "tentative")]

    body = {"organizer": user_id, "title": "Interview: Grace", "start": f"{DAY}T14:00:00+01:00",
            "end": f"{DAY}T15:00:00+01:00", "attendees": [{"email": "grace@cand.example", "name": "Grace"}],
            "conferencing": "default", "description": "Hi"}
    key = uuid.uuid4().hex
    created = api.post("/v1/events", json=body, headers={"Idempotency-Key": key})
    assert created.status_code == 201, created.text
    event = created.json()
    assert event["conferencing"] is None and event["calendar"]["provider"] == "caldav"
    assert api.post("/v1/events", json=body, headers={"Idempotency-Key": key}).json()["id"] == event["id"]
    [held] = [e for e in stored_events(sandbox, email) if e["summary"] == "Interview: Grace"]
    assert (held["uid"], held["start"], held["end"]) == (event["calendar"]["event_id"], f"{DAY}T13:00:00Z",
                                                         f"{DAY}T14:00:00Z")
    assert [a["email"] for a in held["attendees"]] == ["grace@cand.example"] and held["organizer"] == f"mailto:{email}"

    moved = api.patch(f"/v1/events/{event['id']}", json={"start": f"{DAY}T16:00:00+01:00",
                                                        "end": f"{DAY}T16:30:00+01:00"})
    assert moved.status_code == 200, moved.text
    [held] = [e for e in stored_events(sandbox, email) if e["summary"] == "Interview: Grace"]
    assert (held["start"], held["end"], held["sequence"]) == (f"{DAY}T15:00:00Z", f"{DAY}T15:30:00Z", 1)
    assert api.delete(f"/v1/events/{event['id']}").status_code == 204
    assert api.delete(f"/v1/events/{event['id']}").status_code == 204
    assert [e for e in stored_events(sandbox, email) if e["summary"] == "Interview: Grace"] == []


def test_no_native_conferencing_is_a_clear_422(api, sandbox):
    user_id, _, _ = connected(api, sandbox)
    r = api.post("/v1/events", json={"organizer": user_id, "title": "x", "start": f"{DAY}T14:00:00Z",
                                     "end": f"{DAY}T15:00:00Z", "attendees": [], "conferencing": "google_meet"})
    assert r.status_code == 422 and r.json()["code"] == "conferencing_unavailable", r.text


def test_form_refusals_name_the_cause(api, sandbox, live_hub):
    user_id, email = person(api, sandbox)
    browser, url, page = open_form(api, user_id)
    for server_url, cause in ((f"{live_hub.sandbox_url}/google/", "client_misconfigured"),
                              (f"{live_hub.sandbox_url}/", "client_misconfigured"),
                              ("http://127.0.0.1:9/", "provider_unavailable"),
                              ("not a url at all", "client_misconfigured")):
        state = form_inputs(page.text)["state"]
        page = browser.post(url, data={"state": state, "server_url": server_url, "username": email,
                                       "password": "app-password"}, timeout=30)
        assert page.status_code == 422, (server_url, page.text)
        assert f'data-cause="{cause}"' in page.text, server_url
    assert api.get(f"/v1/users/{user_id}/connections").json()["connections"] == []


def failing(report: dict) -> dict[str, dict]:
    return {c["cause"]: c for c in report["checks"] if c["status"] == "fail" and c.get("cause")}


def test_wrong_password_after_connecting(api, sandbox):
    """The app password is revoked at the server: diagnostics names it, the next read marks the
    connection needs_reauth with the same cause and a reconnect fix; nothing else is lost."""
    user_id, email, connection_id = connected(api, sandbox)
    other_id, _, _ = connected(api, sandbox)
    sandbox.account("caldav", email, password="rotated")
    report = api.get(f"/v1/diagnostics/users/{user_id}").json()
    check = failing(report)["credentials_invalid"]
    assert check["fix"]["action"] == "reconnect" and check["fix"]["url"].startswith("http")
    fb = api.post("/v1/freebusy", json={"users": [user_id, other_id], **WINDOW}).json()
    assert fb["users"][user_id]["error"]["cause"] == "credentials_invalid"
    assert fb["users"][other_id]["status"] == "ok"
    [conn] = api.get(f"/v1/users/{user_id}/connections").json()["connections"]
    assert (conn["status"], conn["last_error"]["cause"]) == ("needs_reauth", "credentials_invalid")
    r = api.post("/v1/events", json={"organizer": user_id, "title": "x", "start": f"{DAY}T14:00:00Z",
                                     "end": f"{DAY}T15:00:00Z", "attendees": [], "conferencing": "none"})
    assert r.status_code == 409 and r.json()["code"] == "connection_needs_reauth"
    again = connect(api, user_id, "caldav", email, password="rotated")
    assert again.params["connection_id"] == connection_id
    [conn] = api.get(f"/v1/users/{user_id}/connections").json()["connections"]
    assert conn["status"] == "active"


def test_deleted_calendar(api, sandbox):
    user_id, email, _ = connected(api, sandbox)
    sandbox.fault("caldav", "calendar_deleted", email=email)
    assert "calendar_not_found" in failing(api.get(f"/v1/diagnostics/users/{user_id}").json())
    fb = api.post("/v1/freebusy", json={"users": [user_id], **WINDOW}).json()
    assert fb["users"][user_id]["error"]["cause"] == "calendar_not_found"
    r = api.post("/v1/events", json={"organizer": user_id, "title": "x", "start": f"{DAY}T14:00:00Z",
                                     "end": f"{DAY}T15:00:00Z", "attendees": [], "conferencing": "none"})
    assert r.status_code == 502 and r.json()["code"] == "provider_error", r.text


def test_a_server_that_moved_away_from_caldav(api, sandbox, live_hub):
    """The stored server URL stops being a CalDAV server (the provider moved): diagnostics says so."""
    user_id, _, connection_id = connected(api, sandbox)
    hub = live_hub.hub
    with hub.db.session() as session:
        row = session.get(Connection, connection_id)
        cred = Credential.decode(hub.vault.decrypt(row.access_token_enc, access_binding(connection_id)))
        moved = Credential(**{**cred.__dict__, "server_url": f"{live_hub.sandbox_url}/google/"})
        row.access_token_enc = hub.vault.encrypt(moved.encode(), access_binding(connection_id))
    assert "client_misconfigured" in failing(api.get(f"/v1/diagnostics/users/{user_id}").json())


@pytest.fixture(scope="module")
def impatient_hub(database_url, sandbox_url):
    server, live = start_hub(database_url, sandbox_url, provider_timeout_seconds=0.5)
    yield live
    server.shutdown()
    live.hub.close()


def test_a_server_that_times_out(impatient_hub, sandbox):
    _, key = create_api_key(impatient_hub.hub.db, f"tenant-{uuid.uuid4().hex[:8]}")
    api = Api(impatient_hub.url, key)
    user_id, email, _ = connected(api, sandbox)
    sandbox.fault("caldav", "latency", email=email, times=1, params={"ms": 2000})
    # The answer would come after 2 s and be fine: naming the cause proves the hub stopped waiting.
    report = api.get(f"/v1/diagnostics/users/{user_id}").json()
    assert "provider_unavailable" in failing(report)
    sandbox.fault("caldav", "latency", email=email, times=1, params={"ms": 2000})
    fb = api.post("/v1/freebusy", json={"users": [user_id], **WINDOW}).json()
    assert fb["users"][user_id]["error"]["cause"] == "provider_unavailable"
    [conn] = api.get(f"/v1/users/{user_id}/connections").json()["connections"]
    assert conn["status"] == "active", "a slow server is not a dead credential"


def test_report_reads_well_and_disconnect_is_clean(api, sandbox):
    user_id, email, connection_id = connected(api, sandbox)
    report = api.get(f"/v1/diagnostics/users/{user_id}").json()
    assert report["healthy"] is True, report
    [grant] = [c for c in report["checks"] if c["id"] == "caldav.token_refresh"]
    assert "does not expire" in grant["summary"], grant
    assert api.delete(f"/v1/connections/{connection_id}").status_code == 204
    assert api.get(f"/v1/users/{user_id}/connections").json()["connections"] == []
    assert sandbox.events("caldav", email) == []  # the calendar itself is the person's: untouched
