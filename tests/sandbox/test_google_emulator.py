"""The sandbox's Google over real HTTP: OAuth with `requests` and authlib, Calendar API v3 with
the real google-api-python-client, every fault, and the responses checked against Google's
own discovery document so the emulator cannot drift from the published schema."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httplib2
import pytest
import requests
from google.oauth2.credentials import Credentials
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build
from googleapiclient.discovery_cache import get_static_doc
from googleapiclient.errors import HttpError

from providers.emulator_kit.config import SandboxConfig
from providers.sandbox import create_sandbox_app, serve
from tests.push_receiver import Receiver, wait_delivered

REDIRECT_URI = "http://127.0.0.1:5999/oauth/google/callback"  # the conftest's GoogleFlow default
CALENDAR_EVENTS = "https://www.googleapis.com/auth/calendar.events"
CALENDAR_READONLY = "https://www.googleapis.com/auth/calendar.readonly"
CALENDAR_FREEBUSY = "https://www.googleapis.com/auth/calendar.freebusy"

USERINFO_EMAIL = "https://www.googleapis.com/auth/userinfo.email"
USERINFO_PROFILE = "https://www.googleapis.com/auth/userinfo.profile"
AUTH_ERROR_BODY = {
    "error": {
        "code": 401,
        "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, "
        "login cookie or other valid authentication credential. See "
        "https://developers.google.com/identity/sign-in/web/devconsole-project.",
        "errors": [
            {
                "message": "Invalid Credentials",
                "domain": "global",
                "reason": "authError",
                "location": "Authorization",
                "locationType": "header",
            }
        ],
        "status": "UNAUTHENTICATED",
    }
}
MEET_URL = re.compile(r"^https://meet\.google\.com/[a-z]{3}-[a-z]{4}-[a-z]{3}$")
DAY = "2026-03-02"


# -- helpers ----------------------------------------------------------------------------------
def calendar_api(base_url: str, credentials):
    """The real SDK against the sandbox. A bare access token gets an HTTP layer that does not
    try to refresh on 401, so tests see the 401 itself instead of google-auth's RefreshError."""
    options = {"api_endpoint": base_url + "/google/calendar/v3/"}
    if isinstance(credentials, str):
        http = AuthorizedHttp(Credentials(credentials), http=httplib2.Http(), refresh_status_codes=())
        return build("calendar", "v3", http=http, static_discovery=True, client_options=options)
    return build("calendar", "v3", credentials=credentials, static_discovery=True, client_options=options)


def error_of(http_error: HttpError) -> dict:
    return json.loads(http_error.content)["error"]


def meet_request(request_id: str = "req-1") -> dict:
    return {"createRequest": {"requestId": request_id, "conferenceSolutionKey": {"type": "hangoutsMeet"}}}


def event_body(start: str = "09:00", end: str = "10:00", **extra) -> dict:
    return {
        "summary": "Interview",
        "start": {"dateTime": f"{DAY}T{start}:00+01:00", "timeZone": "Europe/Stockholm"},
        "end": {"dateTime": f"{DAY}T{end}:00+01:00", "timeZone": "Europe/Stockholm"},
        **extra,
    }


@pytest.fixture
def ada(google) -> dict:
    """Ada connected with calendar read + write scopes: the token response."""
    return google.connect("ada@example.com")


@pytest.fixture
def api(base_url, ada):
    return calendar_api(base_url, ada["access_token"])


# -- serving ----------------------------------------------------------------------------------
def test_serve_picks_a_free_port_and_shuts_down_cleanly():
    running = serve(create_sandbox_app(), "127.0.0.1", 0)
    server, thread, base_url = running
    assert re.match(r"^http://127\.0\.0\.1:\d+$", base_url) and server.server_port != 0
    assert requests.get(base_url + "/_control/providers", timeout=5).json()["google"]["prefix"] == "/google"
    running.shutdown()
    assert not thread.is_alive()
    with pytest.raises(requests.ConnectionError):
        requests.get(base_url + "/", timeout=2)


def test_importing_the_sandbox_has_no_side_effects():
    code = (
        "import sys, providers.sandbox as s; "
        "assert 'providers.google.emulator' not in sys.modules; "
        "assert 'googleapiclient' not in sys.modules; print('clean')"
    )
    repo_root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=repo_root, check=True)
    assert out.stdout.strip() == "clean"


# -- OAuth and OpenID Connect -----------------------------------------------------------------
def test_openid_configuration_and_jwks_point_at_the_sandbox(base_url, http):
    config = http.get(f"{base_url}/google/.well-known/openid-configuration", timeout=5).json()
    assert config["issuer"] == "https://accounts.google.com"
    assert config["authorization_endpoint"] == f"{base_url}/google/o/oauth2/v2/auth"
    assert config["token_endpoint"] == f"{base_url}/google/token"
    assert config["revocation_endpoint"] == f"{base_url}/google/revoke"
    assert config["jwks_uri"] == f"{base_url}/google/oauth2/v3/certs"
    keys = http.get(config["jwks_uri"], timeout=5).json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and keys[0]["kid"]


def test_consent_page_lists_accounts_and_honours_login_hint(google, control, http):
    control.post("/accounts", {"provider": "google", "email": "grace@example.com", "name": "Grace Hopper"})
    params, _ = google.authorize_params(login_hint="ada@example.com")
    page = http.get(f"{google.base}/google/o/oauth2/v2/auth", params=params, timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "grace@example.com" in page.text and "Grace Hopper" in page.text
    assert 'value="ada@example.com"' in page.text  # the hinted account is preselected
    assert 'method=post' in page.text and 'name=decision value=allow' in page.text
    for scope in (CALENDAR_EVENTS, CALENDAR_READONLY):
        assert f'name=scope value="{scope}" checked' in page.text


def test_full_consent_with_pkce_gives_googles_token_response(google, control):
    consent = google.consent("ada@example.com")
    assert consent.redirect["state"] == consent.params["state"]
    granted = consent.redirect["scope"].split()
    # Google answers with the long names of the OpenID shorthands.
    assert set(granted) == {"openid", USERINFO_EMAIL, USERINFO_PROFILE, CALENDAR_EVENTS, CALENDAR_READONLY}
    response = google.exchange(consent)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    tokens = response.json()
    assert set(tokens) == {"access_token", "expires_in", "refresh_token", "scope", "token_type", "id_token"}
    assert tokens["expires_in"] == 3599 and tokens["token_type"] == "Bearer"
    assert tokens["access_token"].startswith("ya29.") and tokens["refresh_token"].startswith("1//")
    assert tokens["scope"].split() == granted
    # The account was created on demand by the consent.
    accounts = control.get("/accounts", provider="google")
    assert [a["email"] for a in accounts] == ["ada@example.com"]


def test_authlib_client_completes_the_flow_and_verifies_the_id_token(google, http):
    from authlib.integrations.requests_client import OAuth2Session
    from authlib.oidc.core import CodeIDToken

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # authlib.jose is deprecated in favour of joserfc
        from authlib.jose import JsonWebKey, jwt

    config = http.get(f"{google.base}/google/.well-known/openid-configuration", timeout=5).json()
    session = OAuth2Session(
        google.client_id,
        google.client_secret,
        scope="openid email profile " + CALENDAR_EVENTS,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
    )
    session.trust_env = False
    verifier = "v" * 64
    url, state = session.create_authorization_url(
        config["authorization_endpoint"], code_verifier=verifier, nonce="n-0S6", access_type="offline", prompt="consent"
    )
    page = http.get(url, timeout=5)
    answer = http.post(page.url, data={"account": "ada@example.com", "decision": "allow"}, allow_redirects=False, timeout=5)
    token = session.fetch_token(
        config["token_endpoint"], authorization_response=answer.headers["Location"], code_verifier=verifier
    )
    assert token["refresh_token"] and token["id_token"]
    keys = JsonWebKey.import_key_set(http.get(config["jwks_uri"], timeout=5).json())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        claims = jwt.decode(
            token["id_token"],
            keys,
            claims_cls=CodeIDToken,
            claims_options={"iss": {"values": [config["issuer"]]}},
            claims_params={"nonce": "n-0S6", "client_id": google.client_id, "access_token": token["access_token"]},
        )
        claims.validate()
    assert claims["aud"] == google.client_id and claims["email"] == "ada@example.com"
    assert claims["email_verified"] is True and claims["name"] == "Ada"
    assert claims["sub"].isdigit() and len(claims["sub"]) == 21
    assert claims["exp"] > claims["iat"]


def test_sub_is_stable_per_account(google):
    def sub(email):
        payload = google.connect(email)["id_token"].split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "==="))["sub"]

    assert sub("ada@example.com") == sub("ADA@example.com") != sub("grace@example.com")


def test_authorize_shows_an_error_page_for_untrusted_clients(google, http):
    url = f"{google.base}/google/o/oauth2/v2/auth"
    cases = {
        "invalid_client": {"client_id": "someone-else"},
        "redirect_uri_mismatch": {"redirect_uri": "https://evil.example.com/cb"},
        "unsupported_response_type": {"response_type": "token"},
        "invalid_request": {"code_challenge_method": "plain"},
        "invalid_scope": {"scope": "openid https://www.googleapis.com/auth/drive"},
    }
    for code, override in cases.items():
        params, _ = google.authorize_params(**override)
        page = http.get(url, params=params, allow_redirects=False, timeout=5)
        assert page.status_code == 400, code
        assert f"Error 400: {code}" in page.text, code
        assert "Location" not in page.headers
    missing_pkce, _ = google.authorize_params(code_challenge=None, code_challenge_method=None)
    assert http.get(url, params=missing_pkce, timeout=5).status_code == 400


def test_denied_consent_redirects_with_access_denied_and_state(google):
    consent = google.consent("ada@example.com", decision="deny")
    assert consent.redirect == {"error": "access_denied", "state": consent.params["state"]}


def test_reduced_scope_is_reported_and_enforced(google, base_url):
    consent = google.consent("ada@example.com", grant=["openid", "email", CALENDAR_EVENTS])
    tokens = google.exchange(consent).json()
    assert tokens["scope"].split() == ["openid", USERINFO_EMAIL, CALENDAR_EVENTS]
    api = calendar_api(base_url, tokens["access_token"])
    api.events().list(calendarId="primary").execute(num_retries=0)  # calendar.events may read events
    with pytest.raises(HttpError) as caught:
        api.freebusy().query(
            body={"timeMin": f"{DAY}T00:00:00Z", "timeMax": f"{DAY}T23:00:00Z", "items": [{"id": "primary"}]}
        ).execute(num_retries=0)
    assert caught.value.status_code == 403
    body = error_of(caught.value)
    assert body["message"] == "Request had insufficient authentication scopes."
    assert body["status"] == "PERMISSION_DENIED"
    assert body["errors"] == [{"domain": "global", "reason": "insufficientPermissions", "message": "Insufficient Permission"}]
    assert body["details"] == [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
            "domain": "googleapis.com",
            "metadata": {"service": "calendar-json.googleapis.com", "method": "calendar.v3.Freebusy.Query"},
        }
    ]
    assert 'error="insufficient_scope"' in caught.value.resp["www-authenticate"]


def test_read_only_grant_cannot_write(google, base_url):
    tokens = google.connect("ada@example.com", scopes=["openid", CALENDAR_READONLY])
    with pytest.raises(HttpError) as caught:
        calendar_api(base_url, tokens["access_token"]).events().insert(calendarId="primary", body=event_body()).execute(
            num_retries=0
        )
    assert caught.value.status_code == 403
    assert error_of(caught.value)["details"][0]["metadata"]["method"] == "calendar.v3.Events.Insert"


def test_code_is_single_use(google):
    consent = google.consent("ada@example.com")
    assert google.exchange(consent).status_code == 200
    again = google.exchange(consent)
    assert again.status_code == 400
    assert again.json() == {"error": "invalid_grant", "error_description": "Code was already redeemed."}


def test_code_is_bound_to_verifier_redirect_uri_and_client(google, http):
    consent = google.consent("ada@example.com")
    wrong_verifier = google.exchange(consent, code_verifier="x" * 50)
    assert (wrong_verifier.status_code, wrong_verifier.json()["error"]) == (400, "invalid_grant")
    assert google.exchange(consent, code_verifier=None).json()["error"] == "invalid_grant"
    wrong_redirect = google.exchange(consent, redirect_uri="http://127.0.0.1:5999/other")
    assert (wrong_redirect.status_code, wrong_redirect.json()["error"]) == (400, "redirect_uri_mismatch")
    wrong_secret = google.exchange(consent, client_secret="nope")
    assert wrong_secret.status_code == 401
    assert wrong_secret.json() == {"error": "invalid_client", "error_description": "Unauthorized"}
    unknown_client = google.exchange(consent, client_id="other-client")
    assert (unknown_client.status_code, unknown_client.json()["error"]) == (401, "invalid_client")
    # Failed attempts did not use the code up; HTTP Basic client authentication works too.
    basic = http.post(
        google.token_url,
        data={
            "grant_type": "authorization_code",
            "code": consent.redirect["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": consent.verifier,
        },
        auth=(google.client_id, google.client_secret),
        timeout=5,
    )
    assert basic.status_code == 200, basic.text


def test_unsupported_grant_type(google):
    response = google.http.post(
        google.token_url,
        data={"grant_type": "password", "client_id": google.client_id, "client_secret": google.client_secret},
        timeout=5,
    )
    assert (response.status_code, response.json()["error"]) == (400, "unsupported_grant_type")


def test_codes_are_short_lived(google_flow):
    now = [1_800_000_000.0]
    running = serve(create_sandbox_app(SandboxConfig(clock=lambda: now[0])), "127.0.0.1", 0)
    try:
        flow = google_flow(running.base_url)
        consent = flow.consent("ada@example.com")
        now[0] += 601
        late = flow.exchange(consent)
        assert (late.status_code, late.json()["error"]) == (400, "invalid_grant")
        tokens = flow.connect("ada@example.com")
        api = calendar_api(running.base_url, tokens["access_token"])
        api.calendars().get(calendarId="primary").execute(num_retries=0)
        now[0] += 3599  # access tokens expire after expires_in seconds
        with pytest.raises(HttpError) as caught:
            api.calendars().get(calendarId="primary").execute(num_retries=0)
        assert caught.value.status_code == 401
    finally:
        running.shutdown()


def test_refresh_does_not_rotate(google, ada, base_url):
    refreshed = google.refresh(ada["refresh_token"])
    assert refreshed.status_code == 200
    body = refreshed.json()
    assert "refresh_token" not in body
    assert set(body) == {"access_token", "expires_in", "scope", "token_type", "id_token"}
    assert body["access_token"] != ada["access_token"] and body["scope"] == ada["scope"]
    assert google.refresh(ada["refresh_token"]).status_code == 200  # the same refresh token again
    calendar_api(base_url, body["access_token"]).calendars().get(calendarId="primary").execute(num_retries=0)


def test_refresh_token_only_offline_and_again_only_with_prompt_consent(google):
    online = google.connect("ada@example.com", access_type=None)
    assert "refresh_token" not in online
    first = google.connect("grace@example.com", prompt=None)
    assert "refresh_token" in first
    second = google.connect("grace@example.com", prompt=None)
    assert "refresh_token" not in second  # Google hands out a second one only with prompt=consent
    assert "refresh_token" in google.connect("grace@example.com")


def test_include_granted_scopes_adds_earlier_grants(google):
    google.connect("ada@example.com", scopes=["openid", CALENDAR_READONLY])
    later = google.connect("ada@example.com", scopes=["openid", CALENDAR_EVENTS])
    assert set(later["scope"].split()) == {"openid", CALENDAR_EVENTS, CALENDAR_READONLY}


def test_revoke_kills_the_grant(google, ada, base_url, http, control):
    def hub_grants() -> list[dict]:  # other apps' consents of the account are not touched
        return [g for g in control.get("/grants", provider="google", email="ada@example.com")
                if g["client_id"] == google.client_id]

    alive = [g["id"] for g in hub_grants() if g["alive"]]
    assert alive
    response = http.post(f"{base_url}/google/revoke", params={"token": ada["refresh_token"]}, timeout=5)
    assert response.status_code == 200
    # Google ends every grant of the account to the app; the control API shows why.
    after = {g["id"]: g for g in hub_grants()}
    assert [(after[i]["alive"], after[i]["revoked_reason"]) for i in alive] == [(False, {"scenario": "revoked"})] * len(alive)
    dead = google.refresh(ada["refresh_token"])
    assert dead.status_code == 400
    assert dead.json() == {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
    with pytest.raises(HttpError) as caught:
        calendar_api(base_url, ada["access_token"]).calendars().get(calendarId="primary").execute(num_retries=0)
    assert caught.value.status_code == 401
    again = http.post(f"{base_url}/google/revoke", data={"token": ada["access_token"]}, timeout=5)
    assert again.status_code == 400 and again.json()["error"] == "invalid_token"
    # Revoking an access token (form body) ends the grant as well.
    tokens = google.connect("ada@example.com")
    assert http.post(f"{base_url}/google/revoke", data={"token": tokens["access_token"]}, timeout=5).status_code == 200
    assert google.refresh(tokens["refresh_token"]).status_code == 400


def test_userinfo_and_tokeninfo(google, ada, http):
    info = http.get(
        f"{google.base}/google/v1/userinfo", headers={"Authorization": f"Bearer {ada['access_token']}"}, timeout=5
    ).json()
    assert info["email"] == "ada@example.com" and info["email_verified"] is True and info["sub"].isdigit()
    token_info = http.get(f"{google.base}/google/tokeninfo", params={"access_token": ada["access_token"]}, timeout=5)
    assert token_info.json()["scope"] == ada["scope"]
    assert token_info.json()["aud"] == google.client_id and token_info.json()["access_type"] == "offline"
    assert http.get(f"{google.base}/google/tokeninfo", params={"access_token": "bogus"}, timeout=5).status_code == 400
    assert http.get(f"{google.base}/google/v1/userinfo", timeout=5).status_code == 401


# -- API authentication -----------------------------------------------------------------------
def test_unknown_bearer_gets_googles_auth_error(base_url, http):
    url = f"{base_url}/google/calendar/v3/calendars/primary"
    response = http.get(url, headers={"Authorization": "Bearer ya29.unknown"}, timeout=5)
    assert response.status_code == 401
    assert response.json() == AUTH_ERROR_BODY
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="https://accounts.google.com/"')


def test_missing_bearer_is_login_required(base_url, http):
    """No token at all is not "invalid credentials": Google answers reason required."""
    response = http.get(f"{base_url}/google/calendar/v3/calendars/primary", timeout=5)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["errors"] == [{"message": "Login Required.", "domain": "global", "reason": "required",
                                "location": "Authorization", "locationType": "header"}]
    assert error["message"].startswith("Request is missing required authentication credential.")
    assert error["status"] == "UNAUTHENTICATED"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="https://accounts.google.com/"'


# -- faults -----------------------------------------------------------------------------------
def test_invalid_grant_fault_revokes_until_new_consent(google, ada, control, base_url):
    grace = google.connect("grace@example.com")
    assert control.fault("invalid_grant", "ada@example.com")["applied"] is True
    assert control.get("/faults") == []  # acted at once, nothing left armed
    refused = google.refresh(ada["refresh_token"])
    assert refused.status_code == 400
    assert refused.json() == {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
    with pytest.raises(HttpError) as caught:
        calendar_api(base_url, ada["access_token"]).calendars().get(calendarId="primary").execute(num_retries=0)
    assert caught.value.status_code == 401 and error_of(caught.value)["errors"][0]["reason"] == "authError"
    assert google.refresh(grace["refresh_token"]).status_code == 200  # other accounts unaffected
    fresh = google.connect("ada@example.com")
    assert google.refresh(fresh["refresh_token"]).status_code == 200


def test_invalid_grant_fault_can_carry_googles_error_subtype(google, ada, control):
    control.fault("invalid_grant", "ada@example.com", params={"error_subtype": "invalid_rapt"})
    body = google.refresh(ada["refresh_token"]).json()
    assert body == {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
        "error_subtype": "invalid_rapt",
    }


def test_expire_access_tokens_fault_and_sdk_refreshes_transparently(google, ada, control, base_url):
    control.fault("expire_access_tokens", "ada@example.com")
    with pytest.raises(HttpError) as caught:
        calendar_api(base_url, ada["access_token"]).calendars().get(calendarId="primary").execute(num_retries=0)
    assert caught.value.status_code == 401
    credentials = Credentials(
        ada["access_token"],
        refresh_token=ada["refresh_token"],
        token_uri=google.token_url,
        client_id=google.client_id,
        client_secret=google.client_secret,
    )
    calendar = calendar_api(base_url, credentials).calendars().get(calendarId="primary").execute(num_retries=0)
    assert calendar["id"] == "ada@example.com"
    assert credentials.token != ada["access_token"]


@pytest.mark.parametrize("status", [429, 403])
def test_rate_limit_fault(api, control, status):
    control.fault("rate_limit", "ada@example.com", times=1, params={"retry_after": 2, "status": status})
    with pytest.raises(HttpError) as caught:
        api.calendars().get(calendarId="primary").execute(num_retries=0)
    assert caught.value.status_code == status
    assert error_of(caught.value) == {
        "errors": [{"domain": "usageLimits", "reason": "rateLimitExceeded", "message": "Rate Limit Exceeded"}],
        "code": status,
        "message": "Rate Limit Exceeded",
    }
    assert caught.value.resp.get("retry-after") == ("2" if status == 429 else None)
    api.calendars().get(calendarId="primary").execute(num_retries=0)  # times=1 used up


def test_server_error_and_quota_faults(api, control):
    control.fault("server_error", times=1)
    with pytest.raises(HttpError) as caught:
        api.events().list(calendarId="primary").execute(num_retries=0)
    assert caught.value.status_code == 500
    assert error_of(caught.value)["errors"][0] == {"domain": "global", "reason": "backendError", "message": "Backend Error"}
    control.fault("quota_exceeded", "ada@example.com", times=1)
    with pytest.raises(HttpError) as caught:
        api.events().list(calendarId="primary").execute(num_retries=0)
    assert caught.value.status_code == 403
    assert error_of(caught.value)["errors"][0] == {
        "domain": "usageLimits",
        "reason": "quotaExceeded",
        "message": "Calendar usage limits exceeded.",
    }
    api.events().list(calendarId="primary").execute(num_retries=0)


def test_faults_hit_only_their_account_and_count_down(google, api, control, base_url):
    grace_api = calendar_api(base_url, google.connect("grace@example.com")["access_token"])
    control.fault("server_error", "ada@example.com", times=2)
    grace_api.calendars().get(calendarId="primary").execute(num_retries=0)
    for _ in range(2):
        with pytest.raises(HttpError):
            api.calendars().get(calendarId="primary").execute(num_retries=0)
    api.calendars().get(calendarId="primary").execute(num_retries=0)
    assert control.get("/faults") == []


def test_latency_fault_on_api_and_token_calls(google, ada, api, control):
    control.fault("latency", "ada@example.com", times=2, params={"ms": 150})
    started = time.monotonic()
    api.calendars().get(calendarId="primary").execute(num_retries=0)
    assert time.monotonic() - started >= 0.15
    started = time.monotonic()
    assert google.refresh(ada["refresh_token"]).status_code == 200
    assert time.monotonic() - started >= 0.15
    started = time.monotonic()
    api.calendars().get(calendarId="primary").execute(num_retries=0)
    assert time.monotonic() - started < 0.15


def test_unknown_scenario_or_provider_is_refused(control):
    response = control.http.post(control.base + "/faults", json={"provider": "google", "scenario": "teams_unavailable"})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "unknown_scenario"
    assert {"invalid_grant", "rate_limit", "meet_unavailable", "latency"} <= set(body["known"])
    response = control.http.post(control.base + "/faults", json={"provider": "myspace", "scenario": "latency"})
    assert response.status_code == 422 and "google" in response.json()["known"]


def test_meet_unavailable(api, control):
    control.fault("meet_unavailable", "ada@example.com")
    calendar = api.calendars().get(calendarId="primary").execute(num_retries=0)
    assert calendar["conferenceProperties"] == {"allowedConferenceSolutionTypes": []}
    with pytest.raises(HttpError) as caught:
        api.events().insert(
            calendarId="primary", body=event_body(conferenceData=meet_request()), conferenceDataVersion=1
        ).execute(num_retries=0)
    assert caught.value.status_code == 400
    assert error_of(caught.value)["errors"][0] == {
        "domain": "global",
        "reason": "invalid",
        "message": "Invalid conference type value.",
    }
    assert api.events().list(calendarId="primary").execute(num_retries=0)["items"] == []


def test_meet_disabled_on_the_account(google, control, base_url):
    control.post("/accounts", {"provider": "google", "email": "ada@example.com", "meet_enabled": False})
    api = calendar_api(base_url, google.connect("ada@example.com")["access_token"])
    entry = api.calendarList().get(calendarId="primary").execute(num_retries=0)
    assert entry["conferenceProperties"]["allowedConferenceSolutionTypes"] == []


def test_meet_pending_then_created_on_next_get(api, control):
    control.fault("meet_pending", "ada@example.com", times=1)
    created = api.events().insert(
        calendarId="primary", body=event_body(conferenceData=meet_request()), conferenceDataVersion=1
    ).execute(num_retries=0)
    assert created["conferenceData"]["createRequest"]["status"] == {"statusCode": "pending"}
    assert "hangoutLink" not in created and "entryPoints" not in created["conferenceData"]
    fetched = api.events().get(calendarId="primary", eventId=created["id"]).execute(num_retries=0)
    assert fetched["conferenceData"]["createRequest"]["status"] == {"statusCode": "success"}
    assert MEET_URL.match(fetched["hangoutLink"])


def test_full_sync_required_fault(api, control):
    token = api.events().list(calendarId="primary").execute(num_retries=0)["nextSyncToken"]
    control.fault("full_sync_required", "ada@example.com", times=1)
    with pytest.raises(HttpError) as caught:
        api.events().list(calendarId="primary", syncToken=token).execute(num_retries=0)
    assert caught.value.status_code == 410
    assert error_of(caught.value)["errors"][0]["reason"] == "fullSyncRequired"
    api.events().list(calendarId="primary", syncToken=token).execute(num_retries=0)


# -- free/busy --------------------------------------------------------------------------------
def test_freebusy_merges_clips_and_reports_unknown_calendars_inside_200(api, control):
    for start, end, status in [
        ("08:00", "09:30", "busy"),
        ("09:00", "10:00", "tentative"),  # overlaps: merged with the first
        ("13:00", "14:00", "oof"),
        ("15:00", "16:00", "free"),  # transparent: not busy
        ("16:30", "18:00", "busy"),  # clipped at timeMax
    ]:
        control.post(
            "/events",
            {"provider": "google", "email": "grace@example.com", "start": f"{DAY}T{start}:00Z", "end": f"{DAY}T{end}:00Z", "status": status},
        )
    control.post("/events", {"provider": "google", "email": "ada@example.com", "start": f"{DAY}T12:00:00Z", "end": f"{DAY}T12:30:00Z"})
    result = api.freebusy().query(
        body={
            "timeMin": f"{DAY}T08:30:00Z",
            "timeMax": f"{DAY}T17:00:00Z",
            "items": [{"id": "primary"}, {"id": "grace@example.com"}, {"id": "nobody@example.com"}],
        }
    ).execute(num_retries=0)
    assert result["kind"] == "calendar#freeBusy"
    assert result["timeMin"] == f"{DAY}T08:30:00.000Z" and result["timeMax"] == f"{DAY}T17:00:00.000Z"
    assert result["calendars"]["primary"] == {"busy": [{"start": f"{DAY}T12:00:00Z", "end": f"{DAY}T12:30:00Z"}]}
    assert result["calendars"]["grace@example.com"] == {
        "busy": [
            {"start": f"{DAY}T08:30:00Z", "end": f"{DAY}T10:00:00Z"},
            {"start": f"{DAY}T13:00:00Z", "end": f"{DAY}T14:00:00Z"},
            {"start": f"{DAY}T16:30:00Z", "end": f"{DAY}T17:00:00Z"},
        ]
    }
    assert result["calendars"]["nobody@example.com"] == {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}


def test_freebusy_answers_in_the_requested_time_zone(api, control):
    control.post("/events", {"provider": "google", "email": "ada@example.com", "start": f"{DAY}T08:00:00Z", "end": f"{DAY}T09:00:00Z"})
    result = api.freebusy().query(
        body={"timeMin": f"{DAY}T00:00:00Z", "timeMax": f"{DAY}T23:00:00Z", "timeZone": "Europe/Stockholm", "items": [{"id": "primary"}]}
    ).execute(num_retries=0)
    assert result["calendars"]["primary"]["busy"] == [{"start": f"{DAY}T09:00:00+01:00", "end": f"{DAY}T10:00:00+01:00"}]


def test_freebusy_calendar_error_fault_keeps_other_calendars(api, control):
    control.post("/accounts", {"provider": "google", "email": "grace@example.com"})
    control.fault("freebusy_calendar_error", "grace@example.com", times=1)
    result = api.freebusy().query(
        body={"timeMin": f"{DAY}T00:00:00Z", "timeMax": f"{DAY}T23:00:00Z", "items": [{"id": "primary"}, {"id": "grace@example.com"}]}
    ).execute(num_retries=0)
    assert result["calendars"]["grace@example.com"]["errors"] == [{"domain": "global", "reason": "internalError"}]
    assert result["calendars"]["primary"] == {"busy": []}


def test_freebusy_rejects_bad_windows(api):
    cases = [
        (f"{DAY}T10:00:00Z", f"{DAY}T10:00:00Z", "timeRangeEmpty"),
        (f"{DAY}T10:00:00Z", f"{DAY}T09:00:00Z", "timeRangeEmpty"),
        ("2026-01-01T00:00:00Z", "2026-04-02T00:00:00Z", "timeRangeTooLong"),  # 91 days
    ]
    for time_min, time_max, reason in cases:
        with pytest.raises(HttpError) as caught:
            api.freebusy().query(body={"timeMin": time_min, "timeMax": time_max, "items": [{"id": "primary"}]}).execute(
                num_retries=0
            )
        assert caught.value.status_code == 400
        assert error_of(caught.value)["errors"][0]["reason"] == reason
        assert error_of(caught.value)["errors"][0]["domain"] == "calendar"
    api.freebusy().query(
        body={"timeMin": "2026-01-01T00:00:00Z", "timeMax": "2026-04-01T00:00:00Z", "items": [{"id": "primary"}]}
    ).execute(num_retries=0)


def test_freebusy_over_fifty_calendars(api):
    items = [{"id": f"person{i}@example.com"} for i in range(51)]
    result = api.freebusy().query(
        body={"timeMin": f"{DAY}T00:00:00Z", "timeMax": f"{DAY}T23:00:00Z", "items": items}
    ).execute(num_retries=0)
    assert result["calendars"]["person49@example.com"]["errors"][0]["reason"] == "notFound"
    assert result["calendars"]["person50@example.com"]["errors"][0]["reason"] == "tooManyCalendarsRequested"


# -- events -----------------------------------------------------------------------------------
def test_insert_with_meet(api, control):
    created = api.events().insert(
        calendarId="primary",
        body=event_body(
            conferenceData=meet_request("hub-key-1"),
            attendees=[{"email": "Candidate@Example.org"}, {"email": "ada@example.com"}],
        ),
        conferenceDataVersion=1,
        sendUpdates="all",
    ).execute(num_retries=0)
    data = created["conferenceData"]
    assert data["createRequest"] == {
        "requestId": "hub-key-1",
        "conferenceSolutionKey": {"type": "hangoutsMeet"},
        "status": {"statusCode": "success"},
    }
    video = [e for e in data["entryPoints"] if e["entryPointType"] == "video"]
    phone = [e for e in data["entryPoints"] if e["entryPointType"] == "phone"]
    assert len(video) == 1 and MEET_URL.match(video[0]["uri"]) and video[0]["label"]
    assert len(phone) == 1 and phone[0]["uri"].startswith("tel:+") and phone[0]["pin"].isdigit()
    assert created["hangoutLink"] == video[0]["uri"]
    assert data["conferenceId"] == video[0]["uri"].rsplit("/", 1)[1]
    assert data["conferenceSolution"]["key"] == {"type": "hangoutsMeet"} and data["conferenceSolution"]["name"] == "Google Meet"
    assert created["kind"] == "calendar#event" and created["status"] == "confirmed"
    assert created["organizer"] == {"email": "ada@example.com", "self": True}
    assert created["start"] == {"dateTime": f"{DAY}T09:00:00+01:00", "timeZone": "Europe/Stockholm"}
    assert created["iCalUID"] == f"{created['id']}@google.com" and created["sequence"] == 0
    assert created["htmlLink"].startswith("https://www.google.com/calendar/event?eid=")
    assert [a["email"] for a in created["attendees"]] == ["candidate@example.org", "ada@example.com"]
    assert created["attendees"][0]["responseStatus"] == "needsAction"
    assert created["attendees"][1]["organizer"] is True
    on_calendar = control.get("/events", provider="google", email="ada@example.com")
    assert [e["id"] for e in on_calendar] == [created["id"]]
    assert on_calendar[0]["hangoutLink"] == created["hangoutLink"]


def test_create_request_is_ignored_without_conference_data_version(api):
    created = api.events().insert(calendarId="primary", body=event_body(conferenceData=meet_request())).execute(num_retries=0)
    assert "conferenceData" not in created and "hangoutLink" not in created


def test_same_request_id_is_ignored(api):
    created = api.events().insert(
        calendarId="primary", body=event_body(conferenceData=meet_request("r1")), conferenceDataVersion=1
    ).execute(num_retries=0)
    patched = api.events().patch(
        calendarId="primary", eventId=created["id"], body={"conferenceData": meet_request("r1")}, conferenceDataVersion=1
    ).execute(num_retries=0)
    assert patched["hangoutLink"] == created["hangoutLink"]
    renewed = api.events().patch(
        calendarId="primary", eventId=created["id"], body={"conferenceData": meet_request("r2")}, conferenceDataVersion=1
    ).execute(num_retries=0)
    assert renewed["hangoutLink"] != created["hangoutLink"]
    # Updates without conferenceDataVersion leave the conference alone.
    updated = api.events().update(calendarId="primary", eventId=created["id"], body=event_body()).execute(num_retries=0)
    assert updated["hangoutLink"] == renewed["hangoutLink"]


def test_client_chosen_id_makes_insert_idempotent(api):
    body = event_body(id="hubevent0123456789abcdefuv")
    first = api.events().insert(calendarId="primary", body=body).execute(num_retries=0)
    assert first["id"] == "hubevent0123456789abcdefuv"
    with pytest.raises(HttpError) as caught:
        api.events().insert(calendarId="primary", body=body).execute(num_retries=0)
    assert caught.value.status_code == 409
    assert error_of(caught.value) == {
        "errors": [{"domain": "global", "reason": "duplicate", "message": "The requested identifier already exists."}],
        "code": 409,
        "message": "The requested identifier already exists.",
    }


@pytest.mark.parametrize("bad_id", ["abc", "UPPERCASE123", "hub-event-1", "wxyz12345", "a" * 1025])
def test_client_chosen_id_must_be_base32hex(api, bad_id):
    with pytest.raises(HttpError) as caught:
        api.events().insert(calendarId="primary", body=event_body(id=bad_id)).execute(num_retries=0)
    assert caught.value.status_code == 400
    assert error_of(caught.value)["errors"][0]["reason"] == "invalid"


def test_concurrent_inserts_with_one_id_create_one_event(api, base_url, ada):
    def insert(_):
        service = calendar_api(base_url, ada["access_token"])  # a built service is not thread-safe
        try:
            service.events().insert(calendarId="primary", body=event_body(id="racer00001")).execute(num_retries=0)
            return 200
        except HttpError as err:
            return err.status_code

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(insert, range(16)))
    assert sorted(results) == [200] + [409] * 15


def test_patch_update_and_delete(api):
    created = api.events().insert(calendarId="primary", body=event_body(description="Round 1")).execute(num_retries=0)
    patched = api.events().patch(
        calendarId="primary",
        eventId=created["id"],
        body={"summary": "Interview (moved)", "end": {"dateTime": f"{DAY}T10:30:00+01:00"}},
        sendUpdates="all",
    ).execute(num_retries=0)
    assert patched["summary"] == "Interview (moved)" and patched["description"] == "Round 1"
    assert patched["end"] == {"dateTime": f"{DAY}T10:30:00+01:00", "timeZone": "Europe/Stockholm"}
    assert patched["sequence"] == 1 and patched["etag"] != created["etag"]
    assert patched["created"] == created["created"]
    cleared = api.events().patch(calendarId="primary", eventId=created["id"], body={"description": None}).execute(num_retries=0)
    assert "description" not in cleared
    updated = api.events().update(
        calendarId="primary", eventId=created["id"], body=event_body("11:00", "12:00", summary="Replaced")
    ).execute(num_retries=0)
    assert updated["summary"] == "Replaced" and updated["start"]["dateTime"] == f"{DAY}T11:00:00+01:00"
    assert updated["id"] == created["id"] and updated["organizer"] == created["organizer"]
    assert api.events().delete(calendarId="primary", eventId=created["id"], sendUpdates="all").execute(num_retries=0) == ""
    with pytest.raises(HttpError) as caught:
        api.events().delete(calendarId="primary", eventId=created["id"]).execute(num_retries=0)
    assert caught.value.status_code == 410
    assert error_of(caught.value)["errors"][0] == {"domain": "global", "reason": "deleted", "message": "Resource has been deleted"}
    assert api.events().get(calendarId="primary", eventId=created["id"]).execute(num_retries=0)["status"] == "cancelled"
    with pytest.raises(HttpError) as caught:
        api.events().delete(calendarId="primary", eventId="unknown00000").execute(num_retries=0)
    assert caught.value.status_code == 404
    assert error_of(caught.value)["errors"][0]["reason"] == "notFound"


def test_event_validation(api):
    cases = [
        ({"summary": "no times"}, "required"),
        (event_body("10:00", "09:00"), "timeRangeEmpty"),
        ({"start": {"date": "2026-03-02"}, "end": {"dateTime": f"{DAY}T10:00:00Z"}}, "badRequest"),
        (event_body(transparency="see-through"), "invalid"),
        ({"start": {"dateTime": f"{DAY}T09:00:00"}, "end": {"dateTime": f"{DAY}T10:00:00", "timeZone": "Mars/Base"}}, "invalid"),
    ]
    for body, reason in cases:
        with pytest.raises(HttpError) as caught:
            api.events().insert(calendarId="primary", body=body).execute(num_retries=0)
        assert caught.value.status_code == 400, body
        assert error_of(caught.value)["errors"][0]["reason"] == reason, body


def test_other_peoples_calendars_are_not_found(api):
    for call in (
        api.events().list(calendarId="grace@example.com"),
        api.calendars().get(calendarId="grace@example.com"),
        api.events().insert(calendarId="grace@example.com", body=event_body()),
    ):
        with pytest.raises(HttpError) as caught:
            call.execute(num_retries=0)
        assert caught.value.status_code == 404


def test_events_list_filters_orders_pages_and_syncs(api, control):
    ids = []
    for hour in (13, 9, 11):
        ids.append(
            api.events().insert(
                calendarId="primary", body=event_body(f"{hour:02d}:00", f"{hour:02d}:30", summary=f"at {hour}")
            ).execute(num_retries=0)["id"]
        )
    control.post("/events", {"provider": "google", "email": "ada@example.com", "start": "2026-03-03T09:00:00Z", "end": "2026-03-03T10:00:00Z"})
    window = api.events().list(
        calendarId="primary", timeMin=f"{DAY}T00:00:00Z", timeMax=f"{DAY}T23:59:00Z", singleEvents=True, orderBy="startTime"
    ).execute(num_retries=0)
    assert window["kind"] == "calendar#events" and window["timeZone"] == "UTC"
    assert [e["summary"] for e in window["items"]] == ["at 9", "at 11", "at 13"]
    with pytest.raises(HttpError):
        api.events().list(calendarId="primary", orderBy="startTime").execute(num_retries=0)  # needs singleEvents
    pages, token, sync_token = [], None, None
    while True:
        page = api.events().list(calendarId="primary", maxResults=3, pageToken=token).execute(num_retries=0)
        pages.append([e["id"] for e in page["items"]])
        token = page.get("nextPageToken")
        if not token:
            sync_token = page["nextSyncToken"]
            break
    assert [len(p) for p in pages] == [3, 1]
    api.events().delete(calendarId="primary", eventId=ids[0]).execute(num_retries=0)
    api.events().patch(calendarId="primary", eventId=ids[1], body={"summary": "renamed"}).execute(num_retries=0)
    changes = api.events().list(calendarId="primary", syncToken=sync_token).execute(num_retries=0)
    assert [(e["id"], e["status"]) for e in changes["items"]] == [(ids[0], "cancelled"), (ids[1], "confirmed")]
    quiet = api.events().list(calendarId="primary", syncToken=changes["nextSyncToken"]).execute(num_retries=0)
    assert quiet["items"] == []
    with pytest.raises(HttpError) as caught:
        api.events().list(calendarId="primary", syncToken="bm9wZQ").execute(num_retries=0)
    assert caught.value.status_code == 410


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.close()


def test_watch_and_stop_channel(api, control, receiver):
    # A receiver that answers: the channel's sync message must not leave the sandbox's sender
    # retrying an address nobody listens on while later tests wait for theirs.
    channel = api.events().watch(
        calendarId="primary",
        body={"id": "chan-1", "type": "web_hook", "address": receiver.url, "token": "s3cret"},
    ).execute(num_retries=0)
    wait_delivered(control.base.removesuffix("/_control"), "google", "X-Goog-Channel-ID", "chan-1", 1)
    assert channel["kind"] == "api#channel" and channel["id"] == "chan-1" and channel["token"] == "s3cret"
    assert channel["resourceId"] and channel["expiration"].isdigit()
    assert channel["resourceUri"].endswith("/calendars/ada%40example.com/events?alt=json")
    with pytest.raises(HttpError):
        api.events().watch(calendarId="primary", body={"id": "chan-1", "type": "web_hook", "address": "http://x"}).execute(
            num_retries=0
        )
    assert api.channels().stop(body={"id": "chan-1", "resourceId": channel["resourceId"]}).execute(num_retries=0) == ""
    with pytest.raises(HttpError) as caught:
        api.channels().stop(body={"id": "chan-1", "resourceId": channel["resourceId"]}).execute(num_retries=0)
    assert caught.value.status_code == 404


# -- published schema -------------------------------------------------------------------------
def _discovery() -> dict:
    return json.loads(get_static_doc("calendar", "v3"))


_JSON_TYPES = {"string": str, "boolean": bool, "integer": int, "number": (int, float)}


def schema_violations(value, schema: dict, schemas: dict, path: str) -> list[str]:
    if "$ref" in schema:
        schema = schemas[schema["$ref"]]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema or "additionalProperties" in schema:
        if not isinstance(value, dict):
            return [f"{path}: expected an object"]
        problems = []
        properties, extra = schema.get("properties", {}), schema.get("additionalProperties")
        for key, item in value.items():
            if key in properties:
                problems += schema_violations(item, properties[key], schemas, f"{path}.{key}")
            elif extra:
                problems += schema_violations(item, extra, schemas, f"{path}[{key!r}]")
            else:
                problems.append(f"{path}.{key}: not a property of the published schema")
        return problems
    if kind == "array":
        if not isinstance(value, list):
            return [f"{path}: expected an array"]
        return [p for i, item in enumerate(value) for p in schema_violations(item, schema["items"], schemas, f"{path}[{i}]")]
    expected = _JSON_TYPES.get(kind)
    if expected and (not isinstance(value, expected) or (kind != "boolean" and isinstance(value, bool))):
        return [f"{path}: expected {kind}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{path}: {value!r} not in {schema['enum']}"]
    return []


def test_responses_match_the_discovery_document(api, control, receiver):
    control.post("/accounts", {"provider": "google", "email": "grace@example.com"})
    control.fault("meet_pending", "ada@example.com", times=1)
    pending = api.events().insert(
        calendarId="primary", body=event_body(conferenceData=meet_request("p1")), conferenceDataVersion=1
    ).execute(num_retries=0)
    full = api.events().insert(
        calendarId="primary",
        body=event_body(
            id="schemacheck01",
            description="d",
            location="Room 1",
            attendees=[{"email": "grace@example.com", "optional": True, "displayName": "Grace"}],
            reminders={"useDefault": False, "overrides": [{"method": "email", "minutes": 30}]},
            conferenceData=meet_request("p2"),
            visibility="private",
        ),
        conferenceDataVersion=1,
    ).execute(num_retries=0)
    oof = control.post(
        "/events", {"provider": "google", "email": "ada@example.com", "start": f"{DAY}T14:00:00Z", "end": f"{DAY}T15:00:00Z", "status": "oof"}
    )
    api.events().delete(calendarId="primary", eventId=full["id"]).execute(num_retries=0)
    samples = {
        "Event": [pending, full, oof, api.events().get(calendarId="primary", eventId=pending["id"]).execute(num_retries=0)],
        "Events": [api.events().list(calendarId="primary", showDeleted=True).execute(num_retries=0)],
        "FreeBusyResponse": [
            api.freebusy().query(
                body={"timeMin": f"{DAY}T00:00:00Z", "timeMax": f"{DAY}T23:00:00Z", "items": [{"id": "primary"}, {"id": "x@example.com"}]}
            ).execute(num_retries=0)
        ],
        "Calendar": [api.calendars().get(calendarId="primary").execute(num_retries=0)],
        "CalendarListEntry": [api.calendarList().get(calendarId="primary").execute(num_retries=0)],
        "CalendarList": [api.calendarList().list().execute(num_retries=0)],
        "Channel": [
            api.events().watch(calendarId="primary", body={"id": "c", "type": "web_hook", "address": receiver.url, "token": "t"}).execute(
                num_retries=0
            )
        ],
    }
    schemas = _discovery()["schemas"]
    problems = [
        problem
        for schema_name, responses in samples.items()
        for i, response in enumerate(responses)
        for problem in schema_violations(response, schemas[schema_name], schemas, f"{schema_name}#{i}")
    ]
    assert problems == []
    assert samples["Events"][0]["items"], "the list sample must contain events"
    wait_delivered(control.base.removesuffix("/_control"), "google", "X-Goog-Channel-ID", "c", 1)


def test_schema_checker_catches_drift():
    schemas = _discovery()["schemas"]
    assert schema_violations({"kind": "calendar#event", "joinUrl": "x"}, schemas["Event"], schemas, "Event") == [
        "Event.joinUrl: not a property of the published schema"
    ]
    assert schema_violations({"start": {"dateTime": 5}}, schemas["Event"], schemas, "Event")


def test_method_scopes_follow_the_discovery_document():
    emulator = create_sandbox_app().extensions["sandbox_emulators"]["google"]
    methods = {}
    for resource in _discovery()["resources"].values():
        for method in resource.get("methods", {}).values():
            methods[method["id"]] = frozenset(method["scopes"])
    for method_id, scopes in emulator.method_scopes.items():
        assert scopes == methods[method_id]
    assert "https://www.googleapis.com/auth/calendar.events" not in methods["calendar.freebusy.query"]
    assert CALENDAR_FREEBUSY in methods["calendar.freebusy.query"]


# -- control API ------------------------------------------------------------------------------
def test_control_accounts(control):
    created = control.post(
        "/accounts",
        {"provider": "google", "email": "Room.One@example.com", "name": "Room One", "kind": "room", "timezone": "Europe/Stockholm", "meet_enabled": False},
    )
    assert created == {
        "provider": "google",
        "email": "room.one@example.com",
        "name": "Room One",
        "subject": created["subject"],
        "kind": "room",
        "timezone": "Europe/Stockholm",
        "timezone_style": "iana",
        "teams_enabled": True,
        "meet_enabled": False,
        "zoom_can_host": True,
    }
    updated = control.post("/accounts", {"provider": "google", "email": "room.one@example.com", "meet_enabled": True})
    assert updated["meet_enabled"] is True and updated["kind"] == "room" and updated["subject"] == created["subject"]
    for bad in (
        {"provider": "google", "email": "x@example.com", "kind": "robot"},
        {"provider": "google", "email": "x@example.com", "timezone": "Mars/Base"},
        {"provider": "microsoft", "email": "x@example.com", "timezone_style": "posix"},
        {"provider": "google", "email": "not-an-email"},
        {"provider": "myspace", "email": "x@example.com"},
    ):
        assert control.http.post(control.base + "/accounts", json=bad).status_code == 422, bad


def test_control_events_and_meetings(control, api):
    block = control.post(
        "/events",
        {"provider": "google", "email": "ada@example.com", "start": "2026-03-02T09:00:00+01:00", "end": "2026-03-02T10:00:00+01:00", "status": "tentative", "subject": "Dentist"},
    )
    assert block["summary"] == "Dentist" and block["status"] == "tentative" and block["start"]["dateTime"] == f"{DAY}T08:00:00Z"
    listed = control.get("/events", provider="google", email="ada@example.com")
    assert [e["id"] for e in listed] == [block["id"]]
    assert api.events().get(calendarId="primary", eventId=block["id"]).execute(num_retries=0)["summary"] == "Dentist"
    assert control.get("/events", provider="google", email="nobody@example.com") == []
    assert control.get("/meetings", email="ada@example.com") == []
    bad = control.http.post(
        control.base + "/events",
        json={"provider": "google", "email": "ada@example.com", "start": f"{DAY}T10:00:00Z", "end": f"{DAY}T09:00:00Z"},
    )
    assert bad.status_code == 422
    bad = control.http.post(
        control.base + "/events",
        json={"provider": "google", "email": "ada@example.com", "start": f"{DAY}T09:00:00Z", "end": f"{DAY}T10:00:00Z", "status": "asleep"},
    )
    assert bad.status_code == 422 and bad.json()["field"] == "status"


def test_control_request_log(google, api, control):
    api.freebusy().query(body={"timeMin": f"{DAY}T00:00:00Z", "timeMax": f"{DAY}T23:00:00Z", "items": [{"id": "primary"}]}).execute(
        num_retries=0
    )
    logged = control.get("/requests", provider="google", path_prefix="/google/calendar/v3/freeBusy")
    assert len(logged) == 1
    entry = logged[0]
    assert entry["method"] == "POST" and entry["path"] == "/google/calendar/v3/freeBusy"
    assert entry["query"] == {"alt": "json"}
    assert entry["body"]["items"] == [{"id": "primary"}]
    assert entry["headers"]["Authorization"].startswith("Bearer ya29.")
    token_calls = control.get("/requests", provider="google", path_prefix="/google/token")
    assert token_calls[0]["body"]["grant_type"] == "authorization_code"
    everything = control.get("/requests")
    assert [e["id"] for e in everything] == sorted(e["id"] for e in everything)  # oldest first


def test_control_clients_and_reset(control, google, base_url):
    clients = control.get("/clients")
    assert clients["google"]["client_id"] == "sandbox-google-client"
    assert clients["google"]["client_secret"] == "sandbox-google-secret"
    endpoints = clients["google"]["endpoints"]
    assert endpoints["token"] == f"{base_url}/google/token"
    assert endpoints["jwks_uri"] == f"{base_url}/google/oauth2/v3/certs"
    assert endpoints["calendar_api"] == f"{base_url}/google/calendar/v3/"
    tokens = google.connect("ada@example.com")
    control.fault("server_error")
    control.post("/reset", {}, expect=204)
    assert control.get("/accounts") == [] and control.get("/faults") == [] and control.get("/requests") == []
    assert google.refresh(tokens["refresh_token"]).status_code == 400


def test_custom_clients_and_registered_redirects(google_flow, http):
    from providers.emulator_kit.config import OAuthClient

    client = OAuthClient("hub-prod", "s3cret", redirect_uris=("https://hub.example.com/cb",), allow_loopback_redirects=False)
    running = serve(create_sandbox_app(SandboxConfig(clients={"google": client})), "127.0.0.1", 0)
    try:
        flow = google_flow(running.base_url)
        flow.client_id, flow.client_secret = "hub-prod", "s3cret"
        params, _ = flow.authorize_params()
        page = http.get(f"{running.base_url}/google/o/oauth2/v2/auth", params=params, timeout=5)
        assert page.status_code == 400 and "redirect_uri_mismatch" in page.text  # loopback not registered
        params["redirect_uri"] = "https://hub.example.com/cb"
        page = http.get(f"{running.base_url}/google/o/oauth2/v2/auth", params=params, timeout=5)
        answer = http.post(page.url, data={"account": "ada@example.com", "decision": "allow"}, allow_redirects=False, timeout=5)
        assert answer.headers["Location"].startswith("https://hub.example.com/cb?")
        assert "code" in parse_qs(urlsplit(answer.headers["Location"]).query)
    finally:
        running.shutdown()
