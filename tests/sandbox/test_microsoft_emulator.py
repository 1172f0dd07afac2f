"""The sandbox's Microsoft over real HTTP: the identity platform driven by the real msal (through
the hub's flow) and by hand where the wire itself is the point, and Graph driven by the real
msgraph-sdk (through the hub's runtime) and by hand."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from hub.config import Settings
from providers.microsoft import endpoints
from providers.microsoft.oauth import MicrosoftFlow
from providers.base import ErrorKind, ProviderError
from providers.microsoft.calendar import MicrosoftCalendar

REDIRECT = "http://127.0.0.1:5999/oauth/callback/microsoft"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


class MicrosoftSession:
    """One sandbox account connected through the hub's msal flow."""

    def __init__(self, base_url: str, http, control, email: str) -> None:
        self.base, self.http, self.control, self.email = base_url, http, control, email
        self.settings = Settings.from_env({}, sandbox_url=base_url)
        self.flow = MicrosoftFlow(endpoints(self.settings.provider("microsoft")), "common", timeout=10)
        self.graph = f"{base_url}/microsoft/v1.0"

    def consent(self, decision: str = "allow", **form) -> dict:
        self.verifier, self.nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(8)
        self.state = secrets.token_urlsafe(12)
        url = self.flow.authorization_url(redirect_uri=REDIRECT, state=self.state, code_verifier=self.verifier,
                                          nonce=self.nonce, login_hint=self.email)
        page = self.http.get(url, timeout=10)
        assert page.status_code == 200 and self.email in page.text
        answer = self.http.post(url, data={"account": self.email, "decision": decision, **form},
                                allow_redirects=False, timeout=10)
        assert answer.status_code == 302, answer.text
        assert answer.headers["Location"].startswith(REDIRECT)
        return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}

    def connect(self):
        redirect = self.consent()
        return self.flow.exchange(code=redirect["code"], redirect_uri=REDIRECT, code_verifier=self.verifier,
                                  nonce=self.nonce)

    def fault(self, scenario: str, **kw):
        return self.control.fault(scenario, email=self.email, provider="microsoft", **kw)

    def get(self, path: str, token: str, **kw):
        return self.http.get(self.graph + path, headers={"Authorization": f"Bearer {token}"}, timeout=10, **kw)

    def post(self, path: str, token: str, body, **kw):
        return self.http.post(self.graph + path, headers={"Authorization": f"Bearer {token}", **kw.pop("headers", {})},
                              json=body, timeout=10, **kw)


@pytest.fixture
def ms(base_url, http, control) -> MicrosoftSession:
    email = f"megan.{secrets.token_hex(4)}@contoso.example"
    control.post("/accounts", {"provider": "microsoft", "email": email, "name": "Megan Bowen"})
    return MicrosoftSession(base_url, http, control, email)


def _claims(jwt: str) -> dict:
    part = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


# -- identity platform ---------------------------------------------------------------------------
def test_discovery_document_names_the_real_login_host(ms):
    doc = ms.http.get(f"{ms.base}/microsoft/common/v2.0/.well-known/openid-configuration", timeout=10).json()
    assert doc["token_endpoint"] == "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    assert doc["authorization_endpoint"] == "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
    assert doc["issuer"] == "https://login.microsoftonline.com/{tenantid}/v2.0"
    keys = ms.http.get(f"{ms.base}/microsoft/common/discovery/v2.0/keys", timeout=10).json()["keys"]
    assert keys and keys[0]["kty"] == "RSA"


def test_msal_connect_returns_identity_client_info_and_nonce(ms, control):
    redirect = ms.consent()
    assert set(redirect) >= {"code", "state", "session_state", "client_info"}
    info = json.loads(base64.urlsafe_b64decode(redirect["client_info"] + "==="))
    grant = ms.flow.exchange(code=redirect["code"], redirect_uri=REDIRECT, code_verifier=ms.verifier, nonce=ms.nonce)
    assert grant.identity.account_id == f"{info['uid']}.{info['utid']}"
    assert grant.identity.email == ms.email and grant.identity.name == "Megan Bowen"
    assert set(grant.scopes) >= {"Calendars.ReadWrite", "MailboxSettings.Read", "User.Read"}
    assert "offline_access" not in grant.scopes and grant.refresh_token
    # The wire carried msal's SHA-256 of our nonce, and the id_token echoed it.
    token_call = [r for r in control.get("/requests", provider="microsoft") if r["path"].endswith("/token")][-1]
    assert token_call["body"]["code_verifier"] == ms.verifier
    authorize = [r for r in control.get("/requests", provider="microsoft") if r["path"].endswith("/authorize")][0]
    assert authorize["query"]["nonce"] == hashlib.sha256(ms.nonce.encode()).hexdigest()
    assert authorize["query"]["code_challenge_method"] == "S256"


def test_token_answer_shape_and_rotation(ms, http):
    verifier, challenge = _pkce()
    params = {"client_id": "sandbox-microsoft-client", "response_type": "code", "redirect_uri": REDIRECT,
              "scope": "openid profile email offline_access User.Read Calendars.ReadWrite", "state": "s",
              "code_challenge": challenge, "code_challenge_method": "S256", "nonce": "n-123"}
    url = f"{ms.base}/microsoft/common/oauth2/v2.0/authorize"
    page = http.get(url, params=params, timeout=10)
    answer = http.post(page.url, data={"account": ms.email, "decision": "allow"}, allow_redirects=False, timeout=10)
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    token_url = f"{ms.base}/microsoft/common/oauth2/v2.0/token"
    secret = {"client_id": "sandbox-microsoft-client", "client_secret": "sandbox-microsoft-secret"}
    body = http.post(token_url, data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                      "code_verifier": verifier, "client_info": "1", **secret}, timeout=10).json()
    assert list(body)[:5] == ["token_type", "scope", "expires_in", "ext_expires_in", "access_token"]
    assert "offline_access" not in body["scope"].split()
    claims = _claims(body["id_token"])
    assert claims["nonce"] == "n-123" and claims["ver"] == "2.0" and claims["aud"] == "sandbox-microsoft-client"
    assert claims["iss"] == f"https://login.microsoftonline.com/{claims['tid']}/v2.0"
    assert claims["preferred_username"] == ms.email and claims["oid"]
    first = body["refresh_token"]
    second = http.post(token_url, data={"grant_type": "refresh_token", "refresh_token": first, **secret}, timeout=10).json()
    assert second["refresh_token"] != first  # a new one on every refresh
    again = http.post(token_url, data={"grant_type": "refresh_token", "refresh_token": first, **secret}, timeout=10)
    assert again.status_code == 200  # and the old one is not killed by the rotation


def test_no_refresh_token_without_offline_access(ms, http):
    verifier, challenge = _pkce()
    params = {"client_id": "sandbox-microsoft-client", "response_type": "code", "redirect_uri": REDIRECT,
              "scope": "openid User.Read", "code_challenge": challenge, "code_challenge_method": "S256"}
    page = http.get(f"{ms.base}/microsoft/common/oauth2/v2.0/authorize", params=params, timeout=10)
    answer = http.post(page.url, data={"account": ms.email, "decision": "allow"}, allow_redirects=False, timeout=10)
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    body = http.post(f"{ms.base}/microsoft/common/oauth2/v2.0/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier,
        "client_id": "sandbox-microsoft-client", "client_secret": "sandbox-microsoft-secret"}, timeout=10).json()
    assert "refresh_token" not in body and "access_token" in body


def test_denied_consent_redirects_with_aadsts65004(ms):
    redirect = ms.consent(decision="deny")
    assert redirect["error"] == "access_denied" and redirect["error_description"].startswith("AADSTS65004:")
    assert redirect["state"] == ms.state


@pytest.mark.parametrize("code,cause", [(700082, "token_expired_inactivity"), (50173, "password_reset_revoked"),
                                        (70008, "token_revoked"), (50076, "mfa_required"),
                                        (53003, "conditional_access_blocked"), (50057, "account_disabled")])
def test_invalid_grant_answers_the_chosen_aadsts(ms, http, code, cause):
    grant = ms.connect()
    ms.fault("invalid_grant", params={"aadsts": code})
    raw = http.post(f"{ms.base}/microsoft/common/oauth2/v2.0/token", data={
        "grant_type": "refresh_token", "refresh_token": grant.refresh_token, "client_id": "sandbox-microsoft-client",
        "client_secret": "sandbox-microsoft-secret"}, timeout=10)
    body = raw.json()
    assert raw.status_code == 400 and body["error"] == "invalid_grant" and body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert "\r\nTrace ID: " in body["error_description"] and "\r\nCorrelation ID: " in body["error_description"]
    assert set(body) >= {"timestamp", "trace_id", "correlation_id", "error_uri"}
    assert body["error_uri"] == f"https://login.microsoftonline.com/error?code={code}"
    with pytest.raises(ProviderError) as info:
        ms.flow.refresh(grant.refresh_token)
    assert (info.value.kind, info.value.cause, info.value.provider_code) == (ErrorKind.AUTH_REVOKED, cause, f"AADSTS{code}")
    assert ms.get("/me", grant.access_token).status_code == 401  # the grant's access tokens died too


def test_consent_required_fault(ms):
    grant = ms.connect()
    ms.fault("consent_required")
    with pytest.raises(ProviderError) as info:
        ms.flow.refresh(grant.refresh_token)
    assert info.value.cause == "consent_required" and info.value.provider_code == "AADSTS65001"


def test_msal_does_not_answer_a_retry_from_its_error_cache(ms):
    """msal caches a 400 for 60 s and a 5xx for 5 s keyed on the request body: the hub switches
    that off, so the same refresh token works the moment the failure has passed."""
    grant = ms.connect()
    ms.fault("token_error", times=1, params={"aadsts": 50076})
    with pytest.raises(ProviderError) as info:
        ms.flow.refresh(grant.refresh_token)
    assert info.value.cause == "mfa_required"
    assert ms.flow.refresh(grant.refresh_token).access_token
    ms.fault("server_error", times=1, params={"endpoint": "token"})
    with pytest.raises(ProviderError) as info:
        ms.flow.refresh(grant.refresh_token)
    assert info.value.kind is ErrorKind.PROVIDER_DOWN and info.value.http_status == 503
    assert ms.flow.refresh(grant.refresh_token).access_token


def test_bad_client_secret_is_client_misconfigured(ms, base_url):
    grant = ms.connect()
    settings = Settings.from_env({}, sandbox_url=base_url, microsoft_client_secret="wrong")
    with pytest.raises(ProviderError) as info:
        MicrosoftFlow(endpoints(settings.provider("microsoft")), "common").refresh(grant.refresh_token)
    assert (info.value.cause, info.value.provider_code) == ("client_misconfigured", "AADSTS7000215")


# -- Graph by hand ---------------------------------------------------------------------------------
def test_get_schedule_both_key_casings_errors_and_availability_view(ms, control):
    token = ms.connect().access_token
    for status, hour in (("tentative", 1), ("busy", 2), ("oof", 3), ("workingElsewhere", 4), ("free", 5)):
        control.post("/events", {"provider": "microsoft", "email": ms.email, "status": status,
                                 "start": (T0 + timedelta(hours=hour)).isoformat(),
                                 "end": (T0 + timedelta(hours=hour, minutes=30)).isoformat()})
    camel = {"schedules": [ms.email, "ghost@nowhere.example"], "availabilityViewInterval": 30,
             "startTime": {"dateTime": "2026-03-02T09:00:00", "timeZone": "UTC"},
             "endTime": {"dateTime": "2026-03-02T15:00:00", "timeZone": "UTC"}}
    pascal = {"Schedules": camel["schedules"], "AvailabilityViewInterval": 30,
              "StartTime": camel["startTime"], "EndTime": camel["endTime"]}
    answers = [ms.post("/me/calendar/getSchedule", token, body).json() for body in (camel, pascal)]
    assert answers[0] == answers[1]
    mine, ghost = answers[0]["value"]
    assert mine["availabilityView"] == "001020300000"  # working elsewhere and free read as 0
    assert [i["status"] for i in mine["scheduleItems"]] == ["tentative", "busy", "oof", "workingElsewhere"]
    assert mine["scheduleItems"][0]["start"] == {"dateTime": "2026-03-02T10:00:00.0000000", "timeZone": "UTC"}
    assert ghost == {"scheduleId": "ghost@nowhere.example", "error": {
        "message": "Unable to resolve e-mail address ghost@nowhere.example to an Active Directory object.",
        "responseCode": "5009"}}
    shifted = ms.post("/me/calendar/getSchedule", token, camel,
                      headers={"Prefer": 'outlook.timezone="Pacific Standard Time"'}).json()
    assert shifted["value"][0]["scheduleItems"][0]["start"]["dateTime"] == "2026-03-02T02:00:00.0000000"


def test_availability_view_marks_every_slot_an_item_touches_with_the_highest_status(ms, control):
    token = ms.connect().access_token
    for status, start, end in (("oof", "08:00", "09:10"),        # began before the window
                               ("tentative", "09:45", "11:00"),  # part of its first slot
                               ("busy", "10:15", "10:20"),       # inside the tentative one
                               ("busy", "11:30", "12:00"),       # ends where the next slot starts
                               ("tentative", "13:50", "16:00")):  # past the window's end
        control.post("/events", {"provider": "microsoft", "email": ms.email, "status": status,
                                 "start": f"2026-03-02T{start}:00+00:00", "end": f"2026-03-02T{end}:00+00:00"})
    body = {"schedules": [ms.email], "availabilityViewInterval": 30,
            "startTime": {"dateTime": "2026-03-02T09:00:00", "timeZone": "UTC"},
            "endTime": {"dateTime": "2026-03-02T14:15:00", "timeZone": "UTC"}}  # a last, partial slot
    view = ms.post("/me/calendar/getSchedule", token, body).json()["value"][0]["availabilityView"]
    assert view == "3" "1" "2" "1" "0" "2" "0" "0" "0" "1" "1"


def test_get_schedule_refuses_more_than_62_days(ms):
    token = ms.connect().access_token
    body = {"schedules": [ms.email], "startTime": {"dateTime": "2026-01-01T00:00:00", "timeZone": "UTC"},
            "endTime": {"dateTime": "2026-03-05T00:00:00", "timeZone": "UTC"}}
    r = ms.post("/me/calendar/getSchedule", token, body)
    assert r.status_code == 400 and r.json()["error"]["code"] == "ErrorTimeIntervalTooBig"
    assert "The allowed limit = 62 days; the actual limit = 63 days." in r.json()["error"]["message"]


def test_events_teams_transaction_id_and_strict_properties(ms, control):
    token = ms.connect().access_token
    body = {"subject": "Interview", "body": {"contentType": "html", "content": "<p>hi</p>"},
            "start": {"dateTime": "2026-03-02T10:00:00", "timeZone": "Europe/Stockholm"},
            "end": {"dateTime": "2026-03-02T11:00:00", "timeZone": "Europe/Stockholm"},
            "attendees": [{"emailAddress": {"address": "cand@example.com", "name": "Cand"}, "type": "required"}],
            "isOnlineMeeting": True, "onlineMeetingProvider": "teamsForBusiness", "transactionId": "tx-1"}
    first = ms.post("/me/events", token, body)
    assert first.status_code == 201, first.text
    event = first.json()
    assert event["onlineMeeting"]["joinUrl"].startswith("https://teams.microsoft.com/l/meetup-join/19%3ameeting_")
    assert event["start"] == {"dateTime": "2026-03-02T09:00:00.0000000", "timeZone": "UTC"}
    assert event["originalStartTimeZone"] == "Europe/Stockholm" and event["transactionId"] == "tx-1"
    assert "Microsoft Teams meeting" in event["body"]["content"]
    again = ms.post("/me/events", token, body).json()
    assert again["id"] == event["id"]
    assert len(control.get("/events", provider="microsoft", email=ms.email)) == 1
    wrong = ms.post("/me/events", token, {**body, "transactionId": "tx-2", "summary": "google's name"})
    assert wrong.status_code == 400 and "does not exist on type 'microsoft.graph.event'" in wrong.json()["error"]["message"]
    gone = ms.http.delete(f"{ms.graph}/me/events/{event['id']}", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert gone.status_code == 204
    missing = ms.get(f"/me/events/{event['id']}", token)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ErrorItemNotFound"
    assert set(missing.json()["error"]["innerError"]) == {"date", "request-id", "client-request-id"}


def test_calendar_view_pages(ms, control):
    token = ms.connect().access_token
    for i in range(12):
        control.post("/events", {"provider": "microsoft", "email": ms.email,
                                 "start": (T0 + timedelta(minutes=30 * i)).isoformat(),
                                 "end": (T0 + timedelta(minutes=30 * i + 15)).isoformat()})
    query = {"startDateTime": "2026-03-02T00:00:00Z", "endDateTime": "2026-03-03T00:00:00Z"}
    page = ms.get("/me/calendarView", token, params=query).json()
    assert len(page["value"]) == 10 and "@odata.nextLink" in page
    rest = ms.http.get(page["@odata.nextLink"], headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    assert len(rest["value"]) == 2 and "@odata.nextLink" not in rest
    assert ms.get("/me/calendarView", token).json()["error"]["code"] == "ErrorInvalidParameter"


def test_mailbox_kinds_and_unlicensed(ms, control):
    token = ms.connect().access_token
    assert ms.get("/me/mailboxSettings", token).json()["userPurpose"] == "user"
    control.post("/accounts", {"provider": "microsoft", "email": ms.email, "kind": "shared"})
    assert ms.get("/me/mailboxSettings", token).json()["userPurpose"] == "shared"
    control.post("/accounts", {"provider": "microsoft", "email": ms.email, "kind": "room"})
    assert ms.get("/me/mailboxSettings", token).json()["userPurpose"] == "room"
    ms.fault("mailbox_unlicensed")
    r = ms.get("/me/calendar", token)
    assert r.status_code == 404 and r.json()["error"]["code"] == "MailboxNotEnabledForRESTAPI"
    assert ms.get("/me", token).status_code == 200  # the directory object still exists


def test_rate_limit_server_error_and_missing_token(ms):
    token = ms.connect().access_token
    ms.fault("rate_limit", times=1, params={"retry_after": 3})
    r = ms.get("/me/calendar", token)
    assert r.status_code == 429 and r.headers["Retry-After"] == "3"
    assert r.json()["error"]["code"] == "ApplicationThrottled"
    ms.fault("server_error", times=1)
    assert ms.get("/me/calendar", token).status_code == 503
    assert ms.get("/me/calendar", token).status_code == 200
    empty = ms.http.get(f"{ms.graph}/me", timeout=10)
    assert empty.status_code == 401 and empty.json()["error"]["message"] == "Access token is empty."


def test_mailbox_concurrency_is_enforced(ms):
    token = ms.connect().access_token
    ms.fault("latency", params={"ms": 300})
    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(lambda _: ms.get("/me/calendar", token).status_code, range(6)))
    assert codes.count(200) == 4 and codes.count(429) == 2


# -- Graph through msgraph-sdk ---------------------------------------------------------------------
@pytest.fixture
def adapter(base_url):
    calendar = MicrosoftCalendar(endpoints(Settings.from_env({}, sandbox_url=base_url).provider("microsoft")).api_base, timeout=10)
    yield calendar
    calendar.graph.close()


def test_sdk_reads_statuses_and_reports_schedule_errors(ms, adapter, control):
    token = ms.connect().access_token
    control.post("/events", {"provider": "microsoft", "email": ms.email, "status": "oof",
                             "start": T0.isoformat(), "end": (T0 + timedelta(hours=1)).isoformat()})
    ms.fault("schedule_error", times=1)
    failed = adapter.free_busy(token, [ms.email], T0, T0 + timedelta(hours=4))[ms.email]
    assert isinstance(failed, ProviderError) and failed.kind is ErrorKind.PROVIDER_DOWN
    blocks = adapter.free_busy(token, [ms.email], T0, T0 + timedelta(hours=4))[ms.email]
    assert [(b.start, b.status) for b in blocks] == [(T0, "oof")]
    sent = [r for r in control.get("/requests", provider="microsoft") if r["path"].endswith("getSchedule")][-1]
    assert set(sent["body"]) == {"AvailabilityViewInterval", "EndTime", "Schedules", "StartTime"}  # PascalCase
    assert sent["headers"]["Prefer"] == 'outlook.timezone="UTC"'


def test_sdk_splits_long_windows(ms, adapter, control):
    token = ms.connect().access_token
    late = T0 + timedelta(days=80)
    control.post("/events", {"provider": "microsoft", "email": ms.email,
                             "start": late.isoformat(), "end": (late + timedelta(hours=1)).isoformat()})
    blocks = adapter.free_busy(token, [ms.email], T0, T0 + timedelta(days=100))[ms.email]
    assert [(b.start, b.end) for b in blocks] == [(late, late + timedelta(hours=1))]
    calls = [r for r in control.get("/requests", provider="microsoft") if r["path"].endswith("getSchedule")]
    assert len(calls) == 2


def test_sdk_does_not_retry_and_reports_retry_after(ms, adapter, control):
    token = ms.connect().access_token
    ms.fault("rate_limit", times=1, params={"retry_after": 2})
    with pytest.raises(ProviderError) as info:
        adapter.conferencing_allowed(token)
    assert (info.value.kind, info.value.retry_after) == (ErrorKind.RATE_LIMITED, 2)
    # Retry-After is honoured: the mailbox stays closed without another request reaching Graph.
    before = len(control.get("/requests", provider="microsoft"))
    with pytest.raises(ProviderError) as info:
        adapter.conferencing_allowed(token)
    assert info.value.kind is ErrorKind.RATE_LIMITED and 0 < info.value.retry_after <= 2
    assert len(control.get("/requests", provider="microsoft")) == before
    real_clock = adapter.graph.gate.clock  # the adapter's own: moved past the window, no sleeping
    adapter.graph.gate.clock = lambda: real_clock() + 2.05
    assert adapter.conferencing_allowed(token) is True
    assert len(control.get("/requests", provider="microsoft")) > before


def test_sdk_mailbox_checks(ms, adapter, control):
    token = ms.connect().access_token
    assert adapter.verify_mailbox(token) is None
    control.post("/accounts", {"provider": "microsoft", "email": ms.email, "kind": "shared"})
    with pytest.raises(ProviderError) as info:
        adapter.verify_mailbox(token)
    assert (info.value.kind, info.value.cause) == (ErrorKind.MAILBOX_UNAVAILABLE, "shared_mailbox")
    ms.fault("mailbox_unlicensed")
    with pytest.raises(ProviderError) as info:
        adapter.verify_mailbox(token)
    assert (info.value.cause, info.value.provider_code) == ("mailbox_unlicensed", "MailboxNotEnabledForRESTAPI")


def test_sdk_keeps_four_in_flight_per_mailbox(ms, adapter):
    token = ms.connect().access_token
    ms.fault("latency", params={"ms": 100})
    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(lambda _: adapter.conferencing_allowed(token), range(12)))
    assert results == [True] * 12  # the emulator 429s a fifth concurrent request
    assert adapter.graph.gate.peak_in_flight == 4


def test_calls_abandoned_at_the_deadline_free_their_place_and_read_as_unavailable(ms, base_url):
    """Hung reads of one mailbox: every answer says Graph is not answering (never rate_limited),
    the gate holds no place for a call nobody waits for, and the mailbox works once Graph does."""
    adapter = MicrosoftCalendar(endpoints(Settings.from_env({}, sandbox_url=base_url).provider("microsoft")).api_base,
                                timeout=0.5)
    try:
        token = ms.connect().access_token
        ms.fault("latency", times=4, params={"ms": 1500})  # the first four reads hang past the deadline

        def call(_):
            try:
                return adapter.conferencing_allowed(token)
            except ProviderError as err:
                return (err.kind, err.cause)

        answers = []
        for _wave in range(3):
            with ThreadPoolExecutor(8) as pool:
                answers += list(pool.map(call, range(8)))
        assert answers == [(ErrorKind.PROVIDER_DOWN, "provider_unavailable")] * 24
        assert adapter.graph.gate.in_flight == {}  # nobody waits, nothing is held
        deadline = time.monotonic() + 10
        while call(0) is not True:  # Graph finishes the hung reads, the Retry-After passes
            assert time.monotonic() < deadline, "the mailbox never opened again"
            time.sleep(0.1)
    finally:
        adapter.graph.close()


def test_sdk_runs_on_one_loop_thread(ms, adapter):
    token = ms.connect().access_token
    adapter.conferencing_allowed(token)
    adapter.free_busy(token, [ms.email], T0, T0 + timedelta(hours=1))
    loops = [t for t in threading.enumerate() if t.name == "msgraph-loop"]
    assert len([t for t in loops if t.is_alive()]) >= 1
    assert adapter.graph._loop is not None and adapter.graph._loop.is_running()


def test_unknown_tenant_and_unreachable_login_are_told_apart(ms, base_url):
    settings = Settings.from_env({}, sandbox_url=base_url, microsoft_tenant="not-a-tenant")
    with pytest.raises(ProviderError) as info:
        MicrosoftFlow(endpoints(settings.provider("microsoft")), "not-a-tenant").authorization_url(
            redirect_uri=REDIRECT, state="s", code_verifier="v" * 43, nonce="n", login_hint=None)
    assert (info.value.kind, info.value.cause) == (ErrorKind.INVALID_REQUEST, "client_misconfigured")
    down = MicrosoftFlow(endpoints(Settings.from_env({}, sandbox_url="http://127.0.0.1:9").provider("microsoft")), "common", timeout=2)
    with pytest.raises(ProviderError) as info:
        down.authorization_url(redirect_uri=REDIRECT, state="s", code_verifier="v" * 43, nonce="n", login_hint=None)
    assert (info.value.kind, info.value.cause) == (ErrorKind.PROVIDER_DOWN, "provider_unavailable")
    down.http.target = f"{base_url}/microsoft"  # Microsoft answers again: nothing was cached
    assert down.authorization_url(redirect_uri=REDIRECT, state="s", code_verifier="v" * 43, nonce="n",
                                  login_hint=None).startswith(f"{base_url}/microsoft/common/oauth2/v2.0/authorize?")
