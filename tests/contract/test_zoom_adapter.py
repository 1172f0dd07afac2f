"""The Zoom adapter (zoomus) and the Zoom OAuth flow (authlib), through the sandbox's Zoom over
real HTTP: what the hub relies on, and zoomus's traps handled (no constructor token fetch,
raw responses, naive-UTC time formatting, no shared token between concurrent users)."""
from __future__ import annotations

import secrets
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests

from hub.config import Settings
from oauth.flows import Grant
from providers.base import ConferencingProvider, ErrorKind, MeetingDraft, ProviderError
from providers.zoom import SPEC as zoom_spec
from tests.contract.support import REDIRECT_URI
from tests.e2e.support import Sandbox

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=ZoneInfo("Europe/Stockholm"))  # 13:00 UTC


@pytest.fixture
def settings(sandbox_url) -> Settings:
    return Settings.from_env({}, sandbox_url=sandbox_url, public_url="http://127.0.0.1:9")


@pytest.fixture
def sandbox(sandbox_url) -> Sandbox:
    return Sandbox(sandbox_url)


@pytest.fixture
def adapter(settings):
    return zoom_spec.conferencing(settings.provider("zoom"))


@pytest.fixture
def flow(settings):
    return zoom_spec.connect.flow(settings.provider("zoom"))


def dance(flow, email: str) -> Grant:
    """Consent in the sandbox and the code exchange through the hub's own Zoom flow."""
    verifier, state, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16), secrets.token_urlsafe(8)
    url = flow.authorization_url(redirect_uri=REDIRECT_URI, state=state, code_verifier=verifier, nonce=nonce,
                                 login_hint=email)
    assert "scope=" not in url  # the Marketplace app holds the scopes
    http = requests.Session()
    http.trust_env = False
    answer = http.post(url, data={"account": email, "decision": "allow"}, allow_redirects=False, timeout=30)
    params = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert params["state"] == [state]
    return flow.exchange(code=params["code"][0], redirect_uri=REDIRECT_URI, code_verifier=verifier, nonce=nonce)


@pytest.fixture
def user(flow, sandbox):
    email = f"zoom.{uuid.uuid4().hex[:8]}@acme.example"
    sandbox.account("zoom", email, name="Ada Lovelace")
    return email, dance(flow, email)


def zoom_meetings(sandbox, email):
    return sandbox.http.get(f"{sandbox.base}/_control/meetings", params={"email": email}, timeout=10).json()


def test_the_adapter_is_a_conferencing_provider(adapter):
    assert isinstance(adapter, ConferencingProvider) and adapter.name == "zoom"


def test_identity_and_scopes_from_the_flow(user):
    email, grant = user
    assert grant.identity.email == email and len(grant.identity.account_id) == 22
    assert grant.identity.name == "Ada Lovelace" and grant.identity.extra["zoom_user_type"] == 2
    assert {"meeting:write", "user:read"} <= set(grant.scopes) and grant.refresh_token


def test_create_update_delete_with_times_in_utc(adapter, user, sandbox):
    email, grant = user
    meeting = adapter.create_meeting(grant.access_token, MeetingDraft("Interview", T0, 45, "Europe/Stockholm", "Agenda"))
    assert meeting.join_url.startswith(f"https://us05web.zoom.us/j/{meeting.meeting_id}?pwd=") and meeting.passcode
    [held] = zoom_meetings(sandbox, email)
    # zoomus writes wall-clock digits + "Z": without the adapter's conversion this would be 14:00Z.
    assert (held["start_time"], held["duration"], held["timezone"], held["agenda"]) == (
        "2026-03-02T13:00:00Z", 45, "Europe/Stockholm", "Agenda")

    adapter.update_meeting(grant.access_token, meeting.meeting_id,
                           MeetingDraft("Moved", T0 + timedelta(hours=2), 30, "Europe/Stockholm"))
    [held] = zoom_meetings(sandbox, email)
    assert (held["topic"], held["start_time"], held["duration"]) == ("Moved", "2026-03-02T15:00:00Z", 30)

    adapter.delete_meeting(grant.access_token, meeting.meeting_id)
    adapter.delete_meeting(grant.access_token, meeting.meeting_id)  # already gone counts as deleted
    assert zoom_meetings(sandbox, email) == []


def test_a_naive_start_is_taken_as_utc(adapter, user, sandbox):
    email, grant = user
    adapter.create_meeting(grant.access_token, MeetingDraft("Naive", datetime(2026, 3, 2, 9, 30), 30))
    assert zoom_meetings(sandbox, email)[0]["start_time"] == "2026-03-02T09:30:00Z"


def test_no_server_to_server_token_is_ever_fetched(adapter, user, sandbox, monkeypatch):
    import zoomus.util

    def forbidden(*_a, **_k):
        raise AssertionError("ZoomClient's constructor token fetch ran")

    monkeypatch.setattr(zoomus.util, "generate_token", forbidden)
    email, grant = user
    adapter.create_meeting(grant.access_token, MeetingDraft("x", T0, 30))
    assert adapter.can_host(grant.access_token)
    grants = [e["body"].get("grant_type") for e in sandbox.requests_log("zoom", "/zoom/oauth/token")
              if isinstance(e["body"], dict)]
    assert "account_credentials" not in grants


def test_concurrent_users_never_share_a_token(adapter, flow, sandbox):
    people = []
    for i in range(6):
        email = f"par{i}.{uuid.uuid4().hex[:6]}@acme.example"
        sandbox.account("zoom", email)
        people.append((email, dance(flow, email)))
    with ThreadPoolExecutor(6) as pool:
        made = list(pool.map(lambda p: adapter.create_meeting(p[1].access_token, MeetingDraft(p[0], T0, 30)), people))
    for (email, _), meeting in zip(people, made):
        [held] = zoom_meetings(sandbox, email)
        assert held["topic"] == email and str(held["id"]) == meeting.meeting_id


def test_can_host_follows_the_account(adapter, flow, sandbox):
    email = f"nohost.{uuid.uuid4().hex[:8]}@acme.example"
    sandbox.account("zoom", email, zoom_can_host=False)
    grant = dance(flow, email)
    assert adapter.can_host(grant.access_token) is False


def error_of(call) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        call()
    return info.value


def test_api_errors_classify(adapter, user, sandbox):
    email, grant = user
    draft = MeetingDraft("x", T0, 30)
    bad = error_of(lambda: adapter.create_meeting("not-a-token", draft))
    assert (bad.kind, bad.provider_code, bad.http_status) == (ErrorKind.AUTH_EXPIRED, "124", 401)

    sandbox.fault("zoom", "zoom_cannot_host", email, times=1)
    host = error_of(lambda: adapter.create_meeting(grant.access_token, draft))
    assert (host.kind, host.cause, host.provider_code) == (ErrorKind.ACCESS_DENIED, "zoom_cannot_host", "3161")

    sandbox.fault("zoom", "rate_limit", email, times=1, params={"retry_after": 2})
    limited = error_of(lambda: adapter.create_meeting(grant.access_token, draft))
    assert (limited.kind, limited.cause, limited.retry_after) == (ErrorKind.RATE_LIMITED, "rate_limited", 2.0)

    sandbox.fault("zoom", "server_error", email, times=1)
    down = error_of(lambda: adapter.create_meeting(grant.access_token, draft))
    assert (down.kind, down.cause) == (ErrorKind.PROVIDER_DOWN, "provider_unavailable")

    missing = error_of(lambda: adapter.get_meeting(grant.access_token, "12345678901"))
    assert (missing.kind, missing.provider_code) == (ErrorKind.NOT_FOUND, "3001")
    invalid = error_of(lambda: adapter.update_meeting(grant.access_token, "12345678901",
                                                      MeetingDraft("x" * 10, T0, 30)))
    assert invalid.kind is ErrorKind.NOT_FOUND


def test_unreachable_zoom_is_provider_down():
    adapter = zoom_spec.conferencing(Settings.from_env({}, sandbox_url="http://127.0.0.1:9", provider_timeout_seconds=1).provider("zoom"))
    err = error_of(lambda: adapter.create_meeting("t", MeetingDraft("x", T0, 30)))
    assert (err.kind, err.cause) == (ErrorKind.PROVIDER_DOWN, "provider_unavailable")


def test_refresh_rotates_and_a_replay_is_a_dead_grant(flow, user):
    _, grant = user
    rotated = flow.refresh(grant.refresh_token)
    assert rotated.refresh_token and rotated.refresh_token != grant.refresh_token
    replay = error_of(lambda: flow.refresh(grant.refresh_token))
    assert (replay.kind, replay.cause, replay.http_status) == (ErrorKind.AUTH_REVOKED, "zoom_token_revoked", 400)
    assert replay.message == "Invalid Token!"  # Zoom's `reason` reaches the classifier intact


def test_a_wrong_client_secret_is_our_misconfiguration(sandbox_url, user):
    flow = zoom_spec.connect.flow(Settings.from_env({}, sandbox_url=sandbox_url, zoom_client_secret="wrong").provider("zoom"))
    err = error_of(lambda: flow.refresh(user[1].refresh_token))
    assert (err.kind, err.cause, err.http_status) == (ErrorKind.INVALID_REQUEST, "client_misconfigured", 401)


def test_revoke(flow, user, adapter):
    _, grant = user
    flow.revoke(grant.refresh_token)
    assert error_of(lambda: adapter.can_host(grant.access_token)).kind is ErrorKind.AUTH_EXPIRED


def test_the_flow_declares_zoom_grant_behaviour(flow):
    assert flow.new_grant_revokes_previous is True and flow.required_scopes == ("meeting:write", "user:read")
