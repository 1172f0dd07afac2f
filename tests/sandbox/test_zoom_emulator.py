"""The sandbox's Zoom speaks Zoom's wire formats (PROVIDERS.md, Zoom section): OAuth with HTTP
Basic client auth and rotating refresh tokens, a new authorization revoking older ones, users/me,
meetings, the error bodies, and the faults of the control API."""
from __future__ import annotations

import re
import secrets
import time
from urllib.parse import parse_qs, urlsplit

import pytest

REDIRECT_URI = "http://127.0.0.1:5999/oauth/callback/zoom"
CLIENT = ("sandbox-zoom-client", "sandbox-zoom-secret")
JOIN_URL = re.compile(r"^https://us05web\.zoom\.us/j/(\d{11})\?pwd=[A-Za-z0-9_-]+$")
DEAD = {"reason": "Invalid Token!", "error": "invalid_grant"}


class ZoomFlow:
    def __init__(self, base_url, http):
        self.base = f"{base_url}/zoom"
        self.http = http

    def consent(self, email, decision="allow", scope=None, **overrides):
        from tests.sandbox.conftest import pkce_pair
        verifier, challenge = pkce_pair()
        params = {"response_type": "code", "client_id": CLIENT[0], "redirect_uri": REDIRECT_URI,
                  "state": secrets.token_urlsafe(8), "code_challenge": challenge, "code_challenge_method": "S256",
                  **overrides}
        page = self.http.get(f"{self.base}/oauth/authorize", params={k: v for k, v in params.items() if v is not None},
                             timeout=5)
        form = {"account": email, "decision": decision}
        if scope is not None:
            form["scope"] = scope
        answer = self.http.post(page.url, data=form, allow_redirects=False, timeout=5)
        assert answer.status_code == 302, answer.text
        query = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}
        return page, query, verifier, params["state"]

    def token(self, form, auth=CLIENT):
        return self.http.post(f"{self.base}/oauth/token", data=form, auth=auth, timeout=5)

    def connect(self, email, **kw) -> dict:
        _, query, verifier, _ = self.consent(email, **kw)
        r = self.token({"grant_type": "authorization_code", "code": query["code"], "redirect_uri": REDIRECT_URI,
                        "code_verifier": verifier})
        assert r.status_code == 200, r.text
        return r.json()

    def refresh(self, refresh_token, auth=CLIENT):
        return self.token({"grant_type": "refresh_token", "refresh_token": refresh_token}, auth)

    def api(self, method, path, token, headers=None, **kw):
        headers = {**({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
        return self.http.request(method, f"{self.base}/v2{path}", headers=headers, timeout=5, **kw)


@pytest.fixture
def zoom(base_url, http) -> ZoomFlow:
    return ZoomFlow(base_url, http)


def zoom_fault(control, scenario, email=None, **kw):
    return control.fault(scenario, email, provider="zoom", **kw)


# --- OAuth --------------------------------------------------------------------------------------

def test_consent_page_lists_accounts_and_the_apps_scopes(zoom, control):
    control.post("/accounts", {"provider": "zoom", "email": "ann@acme.example", "name": "Ann Smith"})
    page, query, _, state = zoom.consent("ann@acme.example")
    assert page.status_code == 200 and "Sign in with Zoom" in page.text and "ann@acme.example" in page.text
    for scope in ("meeting:read", "meeting:write", "user:read"):
        assert scope in page.text  # no scope in the URL: the app's scopes are shown
    assert query["state"] == state and query["code"]


def test_deny_redirects_with_access_denied(zoom):
    _, query, _, state = zoom.consent("ann@acme.example", decision="deny")
    assert query == {"error": "access_denied", "state": state}


def test_token_answer_shape(zoom):
    tokens = zoom.connect("ann@acme.example")
    assert list(tokens) == ["access_token", "token_type", "refresh_token", "expires_in", "scope", "api_url"]
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 3599
    assert tokens["scope"] == "meeting:read meeting:write user:read"
    assert tokens["api_url"].endswith("/zoom") and "id_token" not in tokens


def test_client_auth_is_http_basic_only(zoom):
    _, query, verifier, _ = zoom.consent("ann@acme.example")
    form = {"grant_type": "authorization_code", "code": query["code"], "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier, "client_id": CLIENT[0], "client_secret": CLIENT[1]}
    in_form = zoom.token(form, auth=None)
    assert in_form.status_code == 401 and in_form.json() == {"reason": "Invalid client_id or client_secret",
                                                              "error": "invalid_client"}
    wrong = zoom.token(form, auth=(CLIENT[0], "nope"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"


def test_pkce_and_single_use_codes(zoom):
    page = zoom.http.get(f"{zoom.base}/oauth/authorize", params={
        "response_type": "code", "client_id": CLIENT[0], "redirect_uri": REDIRECT_URI}, timeout=5)
    assert page.status_code == 400 and "code_challenge" in page.text
    _, query, verifier, _ = zoom.consent("ann@acme.example")
    form = {"grant_type": "authorization_code", "code": query["code"], "redirect_uri": REDIRECT_URI}
    bad = zoom.token({**form, "code_verifier": "x" * 50})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_request"
    assert zoom.token({**form, "code_verifier": verifier}).status_code == 200
    again = zoom.token({**form, "code_verifier": verifier})
    assert again.status_code == 400 and again.json() == {"reason": "Invalid authorization code",
                                                          "error": "invalid_request"}


def test_redirect_uri_mismatch_is_an_error_page(zoom):
    page = zoom.http.get(f"{zoom.base}/oauth/authorize", params={
        "response_type": "code", "client_id": CLIENT[0], "redirect_uri": "https://evil.example/cb",
        "code_challenge": "x" * 43, "code_challenge_method": "S256"}, timeout=5)
    assert page.status_code == 400 and "4709" in page.text


def test_refresh_rotates_and_the_old_refresh_token_dies_at_once(zoom):
    first = zoom.connect("ann@acme.example")
    second = zoom.refresh(first["refresh_token"])
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    replay = zoom.refresh(first["refresh_token"])
    assert (replay.status_code, replay.json()) == (400, DEAD)
    assert zoom.refresh(rotated["refresh_token"]).status_code == 200


def test_a_new_authorization_of_the_same_user_revokes_the_earlier_tokens(zoom, sandbox_server):
    earlier = zoom.connect("ann@acme.example")
    later = zoom.connect("ann@acme.example")
    refused = zoom.refresh(earlier["refresh_token"])
    assert (refused.status_code, refused.json()) == (400, DEAD)  # [seen]: no code in the body
    dead = zoom.api("GET", "/users/me", earlier["access_token"])
    assert (dead.status_code, dead.json()) == (401, {"code": 124, "message": "Invalid access token."})
    assert zoom.api("GET", "/users/me", later["access_token"]).status_code == 200

    dialect = sandbox_server.server.app.extensions["sandbox_emulators"]["zoom"].oauth.dialect
    dialect.report_superseded_code = True  # the [?] variant that names 4741
    try:
        newest = zoom.connect("ann@acme.example")
        coded = zoom.refresh(later["refresh_token"])
        assert coded.json() == {**DEAD, "code": 4741}
        assert zoom.refresh(newest["refresh_token"]).status_code == 200
    finally:
        dialect.report_superseded_code = False


def test_revoke_needs_basic_and_kills_the_grant(zoom):
    tokens = zoom.connect("ann@acme.example")
    url = f"{zoom.base}/oauth/revoke"
    assert zoom.http.post(url, params={"token": tokens["access_token"]}, timeout=5).status_code == 401
    ok = zoom.http.post(url, params={"token": tokens["access_token"]}, auth=CLIENT, timeout=5)
    assert (ok.status_code, ok.json()) == (200, {"status": "success"})
    assert zoom.refresh(tokens["refresh_token"]).json() == DEAD


# --- users/me ------------------------------------------------------------------------------------

def test_users_me(zoom, control):
    control.post("/accounts", {"provider": "zoom", "email": "ann@acme.example", "name": "Ann Smith"})
    control.post("/accounts", {"provider": "zoom", "email": "bob@acme.example", "name": "Bob", "zoom_can_host": False})
    ann = zoom.api("GET", "/users/me", zoom.connect("ann@acme.example")["access_token"]).json()
    bob = zoom.api("GET", "/users/me", zoom.connect("bob@acme.example")["access_token"]).json()
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", ann["id"]) and ann["id"] != bob["id"]
    assert ann["account_id"] == bob["account_id"]  # one company domain, one Zoom account
    assert (ann["email"], ann["first_name"], ann["last_name"], ann["type"]) == ("ann@acme.example", "Ann", "Smith", 2)
    assert bob["type"] == 4  # "Unassigned without Meetings Basic": cannot host


def test_missing_and_bad_tokens_answer_124(zoom):
    for token in (None, "garbage"):
        r = zoom.api("GET", "/users/me", token)
        assert (r.status_code, r.json()) == (401, {"code": 124, "message": "Invalid access token."})


def test_scopes_are_enforced(zoom):
    tokens = zoom.connect("ann@acme.example", scope="user:read")
    assert tokens["scope"] == "user:read"
    r = zoom.api("POST", "/users/me/meetings", tokens["access_token"], json={"topic": "x"})
    assert r.status_code == 400 and r.json()["code"] == 4711
    assert "does not contain scopes" in r.json()["message"]


# --- meetings ------------------------------------------------------------------------------------

def test_meeting_lifecycle(zoom, control):
    token = zoom.connect("ann@acme.example")["access_token"]
    created = zoom.api("POST", "/users/me/meetings", token, json={
        "topic": "Interview", "type": 2, "start_time": "2026-03-02T13:00:00Z", "duration": 45,
        "timezone": "Europe/Stockholm", "agenda": "Bring code", "user_id": "me"})  # zoomus sends user_id too
    assert created.status_code == 201, created.text
    m = created.json()
    assert JOIN_URL.match(m["join_url"]) and str(m["id"]) == JOIN_URL.match(m["join_url"]).group(1)
    assert isinstance(m["id"], int) and m["password"] and m["start_url"].startswith("https://us05web.zoom.us/s/")
    assert (m["topic"], m["type"], m["start_time"], m["duration"], m["timezone"], m["agenda"]) == (
        "Interview", 2, "2026-03-02T13:00:00Z", 45, "Europe/Stockholm", "Bring code")
    mid = str(m["id"])
    assert zoom.api("GET", f"/meetings/{mid}", token).json()["join_url"] == m["join_url"]

    patched = zoom.api("PATCH", f"/meetings/{mid}", token, json={"start_time": "2026-03-02T15:00:00Z", "duration": 30})
    assert patched.status_code == 204 and patched.content == b""
    got = zoom.api("GET", f"/meetings/{mid}", token).json()
    assert (got["start_time"], got["duration"], got["topic"]) == ("2026-03-02T15:00:00Z", 30, "Interview")
    assert [x["id"] for x in control.get("/meetings", email="ann@acme.example")] == [m["id"]]

    assert zoom.api("DELETE", f"/meetings/{mid}", token).status_code == 204
    gone = zoom.api("GET", f"/meetings/{mid}", token)
    assert (gone.status_code, gone.json()) == (404, {"code": 3001, "message": f"Meeting does not exist: {mid}."})
    assert zoom.api("DELETE", f"/meetings/{mid}", token).json()["code"] == 3001
    assert control.get("/meetings", email="ann@acme.example") == []


def test_a_start_time_without_z_is_local_to_the_meeting_timezone(zoom):
    token = zoom.connect("ann@acme.example")["access_token"]
    m = zoom.api("POST", "/users/me/meetings", token, json={
        "topic": "Local", "type": 2, "start_time": "2026-03-02T14:00:00", "timezone": "Europe/Stockholm",
        "duration": 30}).json()
    assert m["start_time"] == "2026-03-02T13:00:00Z"


@pytest.mark.parametrize("body, field", [({"duration": "long"}, "duration"), ({"type": 7}, "type"),
                                         ({"timezone": "Mars/Olympus"}, "timezone"), ({"topic": "x" * 201}, "topic"),
                                         ({"start_time": "tomorrow"}, "start_time")])
def test_validation_failed_is_code_300(zoom, body, field):
    token = zoom.connect("ann@acme.example")["access_token"]
    r = zoom.api("POST", "/users/me/meetings", token, json={"topic": "t", **body})
    assert r.status_code == 400
    assert r.json() == {"code": 300, "message": "Validation Failed.", "errors": [{"field": field, "message": "Invalid field."}]}
    bad = zoom.api("POST", "/users/me/meetings", token, data="{not json", headers={"Content-Type": "application/json"})
    assert bad.json()["code"] == 300


def test_other_peoples_users_and_meetings(zoom, control):
    control.post("/accounts", {"provider": "zoom", "email": "bob@acme.example"})
    ann = zoom.connect("ann@acme.example")["access_token"]
    bob = zoom.connect("bob@acme.example")["access_token"]
    mid = str(zoom.api("POST", "/users/me/meetings", bob, json={"topic": "Bob's"}).json()["id"])
    assert zoom.api("GET", f"/meetings/{mid}", ann).json()["code"] == 3001
    assert zoom.api("DELETE", f"/meetings/{mid}", ann).json()["code"] == 3001
    assert zoom.api("POST", "/users/bob@acme.example/meetings", ann, json={"topic": "x"}).json()["code"] == 1010
    missing = zoom.api("POST", "/users/nobody@acme.example/meetings", ann, json={"topic": "x"})
    assert (missing.status_code, missing.json()["code"]) == (404, 1001)
    assert zoom.api("GET", "/meetings/abc", ann).json()["code"] == 300


# --- faults --------------------------------------------------------------------------------------

def test_zoom_cannot_host_fault(zoom, control):
    token = zoom.connect("ann@acme.example")["access_token"]
    zoom_fault(control, "zoom_cannot_host", "ann@acme.example", times=1)
    assert zoom.api("GET", "/users/me", token).json()["type"] == 4  # reading only looks
    r = zoom.api("POST", "/users/me/meetings", token, json={"topic": "x"})
    assert r.status_code == 400 and r.json() == {
        "code": 3161, "message": "Meeting hosting and scheduling capabilities are not allowed for your user account."}
    assert zoom.api("POST", "/users/me/meetings", token, json={"topic": "x"}).status_code == 201


def test_accounts_that_may_not_host(zoom, control):
    control.post("/accounts", {"provider": "zoom", "email": "bob@acme.example", "zoom_can_host": False})
    token = zoom.connect("bob@acme.example")["access_token"]
    assert zoom.api("POST", "/users/me/meetings", token, json={"topic": "x"}).json()["code"] == 3161


@pytest.mark.parametrize("limit_type", ["QPS", "Daily-limit"])
def test_rate_limit_fault(zoom, control, limit_type):
    token = zoom.connect("ann@acme.example")["access_token"]
    zoom_fault(control, "rate_limit", "ann@acme.example", times=1, params={"retry_after": 2, "type": limit_type})
    r = zoom.api("POST", "/users/me/meetings", token, json={"topic": "x"})
    assert r.status_code == 429 and r.json()["code"] == 429
    assert r.headers["X-RateLimit-Type"] == limit_type and r.headers["Retry-After"] == "2"
    assert r.headers["X-RateLimit-Remaining"] == "0"
    assert zoom.api("POST", "/users/me/meetings", token, json={"topic": "x"}).status_code == 201


def test_server_error_fault(zoom, control):
    token = zoom.connect("ann@acme.example")["access_token"]
    zoom_fault(control, "server_error", "ann@acme.example", times=1, params={"status": 503})
    assert zoom.api("GET", "/users/me", token).status_code == 503
    assert zoom.api("GET", "/users/me", token).status_code == 200


def test_expire_access_tokens_then_refresh_works(zoom, control):
    tokens = zoom.connect("ann@acme.example")
    zoom_fault(control, "expire_access_tokens", "ann@acme.example")
    assert zoom.api("GET", "/users/me", tokens["access_token"]).json()["code"] == 124
    fresh = zoom.refresh(tokens["refresh_token"]).json()
    assert zoom.api("GET", "/users/me", fresh["access_token"]).status_code == 200


def test_invalid_grant_fault(zoom, control):
    tokens = zoom.connect("ann@acme.example")
    zoom_fault(control, "invalid_grant", "ann@acme.example")
    assert zoom.refresh(tokens["refresh_token"]).json() == DEAD
    assert zoom.api("GET", "/users/me", tokens["access_token"]).status_code == 401
    assert zoom.connect("ann@acme.example")["access_token"]  # consenting again works


def test_latency_fault(zoom, control):
    token = zoom.connect("ann@acme.example")["access_token"]
    zoom_fault(control, "latency", "ann@acme.example", times=1, params={"ms": 200})
    started = time.perf_counter()
    assert zoom.api("GET", "/users/me", token).status_code == 200
    assert time.perf_counter() - started >= 0.2


def test_control_lists_zoom_scenarios_and_refuses_unknown(control):
    scenarios = control.get("/providers")["zoom"]["scenarios"]
    assert {"invalid_grant", "expire_access_tokens", "zoom_cannot_host", "rate_limit", "server_error",
            "latency"} <= set(scenarios)
    refused = control.post("/faults", {"provider": "zoom", "scenario": "teams_unavailable"}, expect=422)
    assert refused["error"] == "unknown_scenario"
    clients = control.get("/clients")["zoom"]
    assert clients["client_id"] == CLIENT[0] and clients["endpoints"]["api_base"].endswith("/zoom/v2")


def test_request_log_records_refreshes(zoom, control):
    tokens = zoom.connect("ann@acme.example")
    zoom.refresh(tokens["refresh_token"])
    log = control.get("/requests", provider="zoom", path_prefix="/zoom/oauth/token")
    assert [e["body"]["grant_type"] for e in log] == ["authorization_code", "refresh_token"]
    assert log[1]["headers"]["Authorization"].startswith("Basic ")
