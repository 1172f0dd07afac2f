"""Issue 6 without a browser: the settings-link API, the session it starts, and what that session
may reach. A `requests.Session` plays the browser (real cookies over real HTTP); the live hub and
sandbox are the e2e fixtures. The Playwright tests in tests/browser cover what a person sees."""
from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
import requests
from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from hub.app import create_app
from hub.services.directory import create_api_key
from hub.storage.models import Connection, SettingsSession
from tests.e2e.support import Api, connect

DAY = "2026-03-02"
WINDOW = {"start": f"{DAY}T08:00:00+01:00", "end": f"{DAY}T18:00:00+01:00"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """Cookies and redirects as a browser keeps them, nothing else."""

    def __init__(self, hub_url: str) -> None:
        self.hub_url = hub_url
        self.http = requests.Session()
        self.http.trust_env = False

    def get(self, url: str, **kw) -> requests.Response:
        return self.http.get(url if url.startswith("http") else self.hub_url + url, timeout=30, **kw)

    def post(self, path: str, data: dict, **kw) -> requests.Response:
        return self.http.post(self.hub_url + path, data=data, timeout=60, **kw)

    def enter(self, link: str) -> requests.Response:
        page = self.get(link)
        assert page.status_code == 200 and urlsplit(page.url).path == "/settings", (page.status_code, page.url)
        return page

    def csrf(self) -> str:
        page = self.get("/settings")
        assert page.status_code == 200, page.text
        return CSRF.search(page.text).group(1)


def new_person(api: Api, sandbox, name: str = "ada") -> dict:
    tag = uuid.uuid4().hex[:8]
    email = f"{name}.{tag}@example.com"
    sandbox.account("google", email, name=name.capitalize(), timezone="Europe/Stockholm")
    user_id = f"{name}-{tag}"
    r = api.put(f"/v1/users/{user_id}", json={"email": email, "name": name.capitalize(), "timezone": "Europe/Stockholm"})
    assert r.status_code == 201, r.text
    return {"user_id": user_id, "email": email}


def settings_link(api: Api, user_id: str, **body) -> str:
    r = api.post(f"/v1/users/{user_id}/settings-links", json=body)
    assert r.status_code == 201, r.text
    return r.json()["url"]


def connected(api: Api, person: dict) -> str:
    result = connect(api, person["user_id"], "google", person["email"])
    assert result.status == "connected", result
    return result.params["connection_id"]


@pytest.fixture
def person(api, sandbox):
    return new_person(api, sandbox)


# --- the API ----------------------------------------------------------------------------------
def test_link_is_created_for_an_existing_user(api, person, live_hub):
    before = datetime.now(timezone.utc)
    r = api.post(f"/v1/users/{person['user_id']}/settings-links", json={"return_url": "https://ats.example/me"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"url", "expires_at"}
    assert body["url"].startswith(live_hub.url + "/settings/enter/")
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=14) < expires - before <= timedelta(minutes=15, seconds=5)
    # No body at all is fine too: return_url is optional.
    assert api.post(f"/v1/users/{person['user_id']}/settings-links").status_code == 201


@pytest.mark.parametrize("body, field", [
    ({"return_url": "javascript:alert(1)"}, "return_url"),
    ({"return_url": "/relative"}, "return_url"),
    ({"unexpected": 1}, "unexpected"),
])
def test_link_request_is_validated(api, person, body, field):
    r = api.post(f"/v1/users/{person['user_id']}/settings-links", json=body)
    assert r.status_code == 422 and r.headers["Content-Type"].startswith("application/problem+json")
    assert r.json()["code"] == "validation_failed"
    assert [e["field"] for e in r.json()["errors"]] == [field]


def test_link_needs_a_key_and_a_user_of_that_tenant(api, person, live_hub):
    anonymous = requests.post(f"{live_hub.url}/v1/users/{person['user_id']}/settings-links", json={}, timeout=10)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "unauthorized"
    assert api.post("/v1/users/nobody-here/settings-links", json={}).json()["code"] == "user_not_found"
    _, other_key = create_api_key(live_hub.hub.db, f"tenant-{uuid.uuid4().hex[:8]}")
    other = Api(live_hub.url, other_key)
    r = other.post(f"/v1/users/{person['user_id']}/settings-links", json={})
    assert r.status_code == 404 and r.json()["code"] == "user_not_found"


def test_openapi_documents_the_operation(live_hub):
    doc = requests.get(f"{live_hub.url}/openapi.json", timeout=10).json()
    op = doc["paths"]["/v1/users/{user_id}/settings-links"]["post"]
    assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/SettingsLinkIn")
    assert op["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith("/LinkOut")
    assert {"401", "404", "422"} <= set(op["responses"])


# --- entering: the link and the session -------------------------------------------------------
def test_link_opens_a_session_with_a_safe_cookie(api, person, live_hub):
    link = settings_link(api, person["user_id"], return_url="https://ats.example/me")
    browser = Browser(live_hub.url)
    first = browser.get(link, allow_redirects=False)
    assert first.status_code == 303 and first.headers["Location"] == "/settings"
    assert first.headers["Referrer-Policy"] == "no-referrer"
    cookie = first.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/settings" in cookie
    assert "Secure" not in cookie  # plain http on loopback; see the https test below
    page = browser.get("/settings")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert person["email"] in page.text and 'href="https://ats.example/me"' in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    # The session row keeps a hash, never the cookie's value.
    token = browser.http.cookies.get("hub_settings")
    with live_hub.hub.db.session() as session:
        rows = session.execute(select(SettingsSession.token_hash)).scalars().all()
    assert token and token not in rows and len(rows) >= 1


def test_cookie_is_secure_when_the_hub_is_served_over_https(database_url):
    app = create_app({"database_url": database_url, "public_url": "https://hub.example", "log_json": False})
    hub = app.extensions["hub"]
    try:
        _, key = create_api_key(hub.db, f"tenant-{uuid.uuid4().hex[:8]}")
        client = app.test_client()
        auth = {"Authorization": f"Bearer {key}"}
        assert client.put("/v1/users/u1", json={"email": "u1@example.com"}, headers=auth).status_code == 201
        url = client.post("/v1/users/u1/settings-links", json={}, headers=auth).get_json()["url"]
        assert url.startswith("https://hub.example/settings/enter/")
        resp = client.get(urlsplit(url).path, base_url="https://hub.example")
        assert resp.status_code == 303
        assert "Secure" in resp.headers["Set-Cookie"] and "HttpOnly" in resp.headers["Set-Cookie"]
    finally:
        hub.close()


def test_link_works_once(api, person, live_hub):
    link = settings_link(api, person["user_id"])
    owner = Browser(live_hub.url)
    owner.enter(link)
    # The same browser clicking its link again just gets its page back …
    assert owner.get(link).url.endswith("/settings")
    # … anyone else (a forwarded email) gets a friendly refusal.
    stranger = Browser(live_hub.url)
    again = stranger.get(link)
    assert again.status_code == 410 and again.headers["Content-Type"].startswith("text/html")
    assert "This link was already used" in again.text and "Traceback" not in again.text
    assert stranger.get("/settings").status_code == 403


def test_two_tabs_opening_one_link_get_one_session(api, person, live_hub):
    link = settings_link(api, person["user_id"])
    # A HEAD (mail scanners, link previews) does not spend it.
    assert requests.head(link, timeout=10).status_code == 200
    browsers = [Browser(live_hub.url) for _ in range(6)]
    with ThreadPoolExecutor(len(browsers)) as pool:
        answers = list(pool.map(lambda b: b.get(link, allow_redirects=False), browsers))
    assert sorted(a.status_code for a in answers) == [303] + [410] * 5
    assert sum("hub_settings=" in a.headers.get("Set-Cookie", "") for a in answers) == 1


def test_expired_link_is_refused(api, person, live_hub):
    hub = live_hub.hub
    real = hub.clock
    hub.clock = lambda: real() - timedelta(minutes=16)  # the link was made 16 minutes ago
    try:
        link = settings_link(api, person["user_id"])
    finally:
        hub.clock = real
    page = Browser(live_hub.url).get(link)
    assert page.status_code == 410 and "This link has expired" in page.text


@pytest.mark.parametrize("mangle", ["garbage", "truncated", "other_key", "flipped"])
def test_forged_links_are_refused_without_a_trace(api, person, live_hub, mangle):
    link = settings_link(api, person["user_id"])
    token = link.rsplit("/", 1)[1]
    if mangle == "garbage":
        token = "not-a-link"
    elif mangle == "truncated":
        token = token[:-6]
    elif mangle == "other_key":  # well-formed, signed with a key the hub does not have
        token = URLSafeSerializer("attacker", salt="hub.settings-link").dumps({"l": "sln_x", "s": "y"})
    else:  # signed correctly but for a different secret part: caught by the stored hash
        payload = URLSafeSerializer(live_hub.app.secret_key, salt="hub.settings-link").loads(token)
        token = URLSafeSerializer(live_hub.app.secret_key, salt="hub.settings-link").dumps(
            {"l": payload["l"], "s": payload["s"] + "x"})
    page = Browser(live_hub.url).get(f"/settings/enter/{token}")
    assert page.status_code == 404 and "This link does not work" in page.text
    assert "Traceback" not in page.text and not page.headers["Content-Type"].startswith("application/")
    if mangle == "flipped":  # the real link still works: a forgery does not burn it
        Browser(live_hub.url).enter(link)


def test_no_session_no_page(live_hub):
    browser = Browser(live_hub.url)
    page = browser.get("/settings")
    assert page.status_code == 403 and "Your settings session has ended" in page.text
    browser.http.cookies.set("hub_settings", "made-up", path="/settings")
    assert browser.get("/settings").status_code == 403
    assert browser.post("/settings/disconnect", {"connection_id": "x", "csrf_token": "y"}).status_code == 403
    assert browser.get("/settings/nothing-here").status_code == 404


def test_session_expires_and_can_be_ended(api, person, live_hub):
    browser = Browser(live_hub.url)
    browser.enter(settings_link(api, person["user_id"]))
    hub = live_hub.hub
    real = hub.clock
    hub.clock = lambda: real() + timedelta(hours=9)
    try:
        assert browser.get("/settings").status_code == 403
    finally:
        hub.clock = real
    browser = Browser(live_hub.url)
    browser.enter(settings_link(api, person["user_id"]))
    out = browser.post("/settings/sign-out", {"csrf_token": browser.csrf()})
    assert out.status_code == 200 and "You are signed out" in out.text
    browser.http.cookies.set("hub_settings", "", path="/settings")
    assert browser.get("/settings").status_code == 403


def test_deleting_the_user_ends_the_session(api, sandbox, live_hub):
    someone = new_person(api, sandbox, "gone")
    browser = Browser(live_hub.url)
    browser.enter(settings_link(api, someone["user_id"]))
    assert api.delete(f"/v1/users/{someone['user_id']}").status_code == 204
    assert browser.get("/settings").status_code == 403


# --- what a session can reach -----------------------------------------------------------------
def test_session_reaches_only_its_own_user(api, sandbox, person, live_hub):
    mine = connected(api, person)
    neighbour = new_person(api, sandbox, "bob")  # same tenant
    theirs = connected(api, neighbour)
    _, other_key = create_api_key(live_hub.hub.db, f"tenant-{uuid.uuid4().hex[:8]}")
    other_api = Api(live_hub.url, other_key)
    stranger = new_person(other_api, sandbox, "eve")  # another tenant
    foreign = connected(other_api, stranger)

    browser = Browser(live_hub.url)
    page = browser.enter(settings_link(api, person["user_id"]))
    assert mine in page.text and theirs not in page.text and neighbour["email"] not in page.text
    token = browser.csrf()
    for victim in (theirs, foreign, "con_does_not_exist"):
        r = browser.post("/settings/disconnect", {"csrf_token": token, "connection_id": victim})
        assert r.status_code == 404 and "Connection not found" in r.text, victim
        r = browser.post("/settings/connect", {"csrf_token": token, "provider": "google", "connection_id": victim},
                         allow_redirects=False)
        assert r.status_code == 404, victim
    with live_hub.hub.db.session() as session:
        left = set(session.execute(select(Connection.id).where(Connection.id.in_([theirs, foreign]))).scalars())
    assert left == {theirs, foreign}
    # A connection id in the return URL does not reveal someone else's account either.
    shown = browser.get(f"/settings?status=connected&connection_id={theirs}&provider=google")
    assert neighbour["email"] not in shown.text

    # and the person's own connection can be disconnected
    r = browser.post("/settings/disconnect", {"csrf_token": token, "connection_id": mine})
    assert r.status_code == 200 and "Google Calendar was disconnected" in r.text
    assert api.get(f"/v1/users/{person['user_id']}/connections").json()["connections"] == []
    assert len(api.get(f"/v1/users/{neighbour['user_id']}/connections").json()["connections"]) == 1


def test_forms_need_this_sessions_csrf_token(api, sandbox, person, live_hub):
    mine = connected(api, person)
    browser = Browser(live_hub.url)
    browser.enter(settings_link(api, person["user_id"]))
    other = Browser(live_hub.url)
    other.enter(settings_link(api, new_person(api, sandbox, "cy")["user_id"]))
    foreign_token = other.csrf()
    for token in (None, "", foreign_token, "é" * 64):
        data = {"connection_id": mine}
        if token is not None:
            data["csrf_token"] = token
        r = browser.post("/settings/disconnect", data)
        assert r.status_code == 403 and "This form could not be sent" in r.text
    assert len(api.get(f"/v1/users/{person['user_id']}/connections").json()["connections"]) == 1


# --- the forms --------------------------------------------------------------------------------
def test_working_hours_are_validated_like_the_api_and_keep_overrides(api, person, live_hub):
    override = {"date": "2026-03-04", "intervals": []}
    r = api.put(f"/v1/users/{person['user_id']}", json={
        "email": person["email"], "working_hours": {"timezone": "Europe/Stockholm",
                                                    "weekly": {"mon": [["09:00", "17:00"]]}, "overrides": [override]}})
    assert r.status_code == 200, r.text
    browser = Browser(live_hub.url)
    page = browser.enter(settings_link(api, person["user_id"]))
    assert "1 date exception" in page.text
    token = browser.csrf()
    bad = browser.post("/settings/hours", {"csrf_token": token, "timezone": "Europe/Stockholm",
                                           "hours_mon": "09:00-12:00, 11:00-13:00", "hours_tue": "10:00-25:00",
                                           "hours_wed": "nine to five"})
    assert bad.status_code == 422
    assert "Interval 2: overlaps interval 1" in bad.text
    assert "Interval 1: end &#39;25:00&#39; is not a time" in bad.text
    assert 'value="09:00-12:00, 11:00-13:00"' in bad.text and 'value="nine to five"' in bad.text
    # the API refuses the same hours with the same words
    same = api.put(f"/v1/users/{person['user_id']}", json={"email": person["email"], "working_hours": {
        "weekly": {"tue": [["10:00", "25:00"]]}}})
    assert same.status_code == 422 and "end '25:00' is not a time" in same.json()["errors"][0]["message"]

    zone = browser.post("/settings/hours", {"csrf_token": token, "timezone": "Mars/Olympus", "hours_mon": "09:00-17:00"})
    assert zone.status_code == 422 and "unknown time zone" in zone.text and 'value="Mars/Olympus"' in zone.text

    good = browser.post("/settings/hours", {"csrf_token": token, "timezone": "America/New_York",
                                            "hours_mon": "9:00-12:00, 13:00–17:00", "hours_sat": "22:00-02:00"})
    assert good.status_code == 200 and "were saved" in good.text
    user = api.get(f"/v1/users/{person['user_id']}").json()
    assert user["timezone"] == "America/New_York"
    assert user["working_hours"] == {"timezone": "America/New_York",
                                     "weekly": {"mon": [["09:00", "12:00"], ["13:00", "17:00"]],
                                                "sat": [["22:00", "02:00"]]},
                                     "overrides": [override]}


def test_default_conferencing_is_saved(api, person, live_hub):
    connected(api, person)
    browser = Browser(live_hub.url)
    browser.enter(settings_link(api, person["user_id"]))
    token = browser.csrf()
    ok = browser.post("/settings/conferencing", {"csrf_token": token, "default_conferencing": "google_meet"})
    assert ok.status_code == 200 and "Your default video meeting was saved" in ok.text
    assert api.get(f"/v1/users/{person['user_id']}").json()["default_conferencing"] == "google_meet"
    bad = browser.post("/settings/conferencing", {"csrf_token": token, "default_conferencing": "carrier-pigeon"})
    assert bad.status_code == 422 and 'class="field-error"' in bad.text
    assert api.get(f"/v1/users/{person['user_id']}").json()["default_conferencing"] == "google_meet"


# --- connecting from the page -----------------------------------------------------------------
def test_connect_from_the_page_comes_back_to_it(api, sandbox, person, live_hub):
    browser = Browser(live_hub.url)
    browser.enter(settings_link(api, person["user_id"]))
    start = browser.post("/settings/connect", {"csrf_token": browser.csrf(), "provider": "google"},
                         allow_redirects=False)
    assert start.status_code == 303 and start.headers["Location"].startswith(live_hub.url + "/connect/")
    consent = browser.get(start.headers["Location"])
    assert consent.url.startswith(live_hub.sandbox_url + "/google/") and consent.status_code == 200
    back = browser.http.post(consent.url, data={"account": person["email"], "decision": "allow"}, timeout=60)
    assert urlsplit(back.url).path == "/settings" and "status=connected" in back.url
    assert "Google Calendar is connected." in back.text and f"Connected as {person['email']}" in back.text

    # denied consent: back on the page with the reason in plain words
    start = browser.post("/settings/connect", {"csrf_token": browser.csrf(), "provider": "google"},
                         allow_redirects=False)
    consent = browser.get(start.headers["Location"])
    back = browser.http.post(consent.url, data={"account": person["email"], "decision": "deny"}, timeout=60)
    assert "code=access_denied" in back.url
    assert "Google Calendar was not connected." in back.text
    assert "Access was not allowed on Google Calendar&#39;s consent screen" in back.text

    unknown = browser.post("/settings/connect", {"csrf_token": browser.csrf(), "provider": "myspace"})
    assert unknown.status_code == 404 and "Provider not available" in unknown.text


@pytest.mark.parametrize("code, words", [
    ("shared_mailbox", "This is a shared mailbox — connect your own account."),
    ("scopes_missing", "Some permissions were not granted"),
    ("no_such_code", "could not identify"),
])
def test_return_codes_are_explained(api, person, live_hub, code, words):
    browser = Browser(live_hub.url)
    browser.enter(settings_link(api, person["user_id"]))
    page = browser.get(f"/settings?status=error&code={code}&provider=google")
    assert page.status_code == 200 and words in page.text and 'role="alert"' in page.text


def test_broken_connection_shows_cause_and_reconnect(api, sandbox, person, live_hub):
    connection_id = connected(api, person)
    sandbox.fault("google", "invalid_grant", email=person["email"])
    sandbox.fault("google", "expire_access_tokens", email=person["email"])
    fb = api.post("/v1/freebusy", json={"users": [person["user_id"]], **WINDOW}).json()
    assert fb["users"][person["user_id"]]["error"]["cause"] == "token_revoked"
    browser = Browser(live_hub.url)
    page = browser.enter(settings_link(api, person["user_id"])).text
    assert "Needs reconnecting" in page and 'data-cause="token_revoked"' in page
    assert "no longer lets the hub into this account" in page
    assert f'name="connection_id" value="{connection_id}"' in page and ">Reconnect</button>" in page


def test_meet_switched_off_is_a_warning_with_a_fix(api, sandbox, person, live_hub):
    sandbox.fault("google", "meet_unavailable", email=person["email"])
    connected(api, person)
    browser = Browser(live_hub.url)
    page = browser.enter(settings_link(api, person["user_id"])).text
    assert 'data-cause="meet_unavailable"' in page and "Google Meet is switched off" in page
