"""Details where the emulators must answer as the real providers do, because clients no one here
wrote depend on them (issue 18): Zoom's meeting settings, Graph's routes and errors, Google's
preconditions and read-only resources, OAuth's error for a refresh without a refresh token,
Windows time-zone names, msal's instance discovery, ``times`` on every fault, PKCE per client."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from hub.config import Settings
from providers.microsoft import endpoints as microsoft_endpoints
from providers.microsoft.oauth import LOGIN, LoginSession
from providers.base import ProviderError
from providers.microsoft.calendar import MicrosoftCalendar, parse_date_time_zone
from providers.microsoft.timezones import iana_name, windows_name, zone_named
from providers.zoom.emulator_settings import DEFAULTS as ZOOM_SETTING_DEFAULTS
from tests.sandbox.test_microsoft_emulator import MicrosoftSession
from tests.sandbox.test_third_party_clients import consent_without_pkce
from tests.sandbox.test_zoom_emulator import ZoomFlow

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)  # 09:00 in Singapore


@pytest.fixture
def ms(base_url, http, control) -> MicrosoftSession:
    email = f"wei.{secrets.token_hex(4)}@contoso.example"
    control.post("/accounts", {"provider": "microsoft", "email": email, "name": "Wei Tan"})
    return MicrosoftSession(base_url, http, control, email)


@pytest.fixture
def adapter(base_url):
    calendar = MicrosoftCalendar(microsoft_endpoints(Settings.from_env({}, sandbox_url=base_url).provider("microsoft")).api_base, timeout=10)
    yield calendar
    calendar.graph.close()


@pytest.fixture
def zoom(base_url, http) -> ZoomFlow:
    return ZoomFlow(base_url, http)


# -- 1. Zoom meeting settings ----------------------------------------------------------------------
def test_zoom_meetings_keep_every_documented_setting(zoom, control):
    token = zoom.connect("host@example.com")["access_token"]
    sent = {"host_video": True, "jbh_time": 5, "join_before_host": True, "audio": "voip",
            "alternative_hosts": "a@example.com", "breakout_room": {"enable": True, "rooms": []},
            "continuous_meeting_chat": {"enable": True}, "not_a_zoom_setting": 1}
    created = zoom.api("POST", "/users/me/meetings", token, json={"topic": "T", "settings": sent})
    assert created.status_code == 201, created.text
    settings = created.json()["settings"]
    assert set(settings) == set(ZOOM_SETTING_DEFAULTS) and len(settings) >= 60
    assert {k: settings[k] for k in ("host_video", "jbh_time", "join_before_host", "audio", "alternative_hosts")} == {
        "host_video": True, "jbh_time": 5, "join_before_host": True, "audio": "voip", "alternative_hosts": "a@example.com"}
    assert settings["breakout_room"] == {"enable": True, "rooms": []}
    assert settings["continuous_meeting_chat"]["enable"] is True
    assert settings["continuous_meeting_chat"]["auto_add_invited_external_users"] is False
    # Zoom's documented defaults for what was not sent.
    assert (settings["approval_type"], settings["registration_type"], settings["auto_recording"],
            settings["waiting_room"], settings["alternative_hosts_email_notification"]) == (2, 1, "none", False, True)
    meeting_id = created.json()["id"]
    assert zoom.api("PATCH", f"/meetings/{meeting_id}", token, json={"settings": {"mute_upon_entry": True}}).status_code == 204
    stored = control.get("/meetings", email="host@example.com")[0]["settings"]
    assert stored["mute_upon_entry"] is True and stored["host_video"] is True  # a PATCH merges
    refused = zoom.api("PATCH", f"/meetings/{meeting_id}", token, json={"topic": "X", "settings": {"audio": "smoke"}})
    assert refused.status_code == 400 and refused.json()["errors"] == [{"field": "settings.audio", "message": "Invalid field."}]
    assert control.get("/meetings", email="host@example.com")[0]["topic"] == "T"  # nothing half-applied


# -- 2. Graph routes, entities and errors ------------------------------------------------------------
def test_graph_event_lists_calendars_and_odata_context(ms):
    token = ms.connect().access_token
    body = {"subject": "Interview", "start": {"dateTime": "2026-03-02T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-03-02T10:00:00", "timeZone": "UTC"}}
    calendars = ms.get("/me/calendars", token).json()
    assert calendars["@odata.context"].endswith("/calendars") and [c["name"] for c in calendars["value"]] == ["Calendar"]
    calendar_id = calendars["value"][0]["id"]
    assert ms.get(f"/me/calendars/{calendar_id}", token).json()["id"] == calendar_id
    created = ms.post(f"/me/calendars/{calendar_id}/events", token, body)
    assert created.status_code == 201
    event_id = created.json()["id"]
    for path in ("/me/events", "/me/calendar/events", f"/me/calendars/{calendar_id}/events"):
        listed = ms.get(path, token).json()
        assert [e["id"] for e in listed["value"]] == [event_id], path
        assert listed["@odata.context"].endswith("/events")
    window = {"startDateTime": "2026-03-02T00:00:00Z", "endDateTime": "2026-03-03T00:00:00Z"}
    for path in ("/me/calendarView", f"/me/calendars/{calendar_id}/calendarView"):
        assert [e["id"] for e in ms.get(path, token, params=window).json()["value"]] == [event_id]
    got = ms.get(f"/me/events/{event_id}", token).json()
    patched = ms.http.patch(f"{ms.graph}/me/events/{event_id}", json={"subject": "Moved"},
                            headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    for entity in (got, patched):
        assert entity["@odata.context"] == (
            f"https://graph.microsoft.com/v1.0/$metadata#users('{ms.email.replace('@', '%40')}')/events/$entity")
    assert ms.get("/me/calendars/AAMkADnope=/events", token).json()["error"]["code"] == "ErrorItemNotFound"


def test_graph_schedule_items_carry_only_declared_properties(ms, control):
    token = ms.connect().access_token
    control.post("/events", {"provider": "microsoft", "email": ms.email, "start": T0.isoformat(),
                             "end": (T0 + timedelta(hours=1)).isoformat(), "subject": "Busy"})
    answer = ms.post("/me/calendar/getSchedule", token, {
        "schedules": [ms.email], "startTime": {"dateTime": "2026-03-02T00:00:00", "timeZone": "UTC"},
        "endTime": {"dateTime": "2026-03-02T04:00:00", "timeZone": "UTC"}}).json()
    items = answer["value"][0]["scheduleItems"]
    assert [set(i) for i in items] == [{"isPrivate", "status", "subject", "location", "start", "end"}]


def test_graph_unknown_paths_and_methods_answer_graph_json(ms):
    token = ms.connect().access_token
    unknown = ms.get("/me/nothingHere", token)
    assert unknown.status_code == 400 and unknown.headers["Content-Type"].startswith("application/json")
    assert unknown.json()["error"]["code"] == "BadRequest"
    assert unknown.json()["error"]["message"] == "Resource not found for the segment 'nothingHere'."
    wrong_method = ms.http.put(f"{ms.graph}/me", json={}, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert wrong_method.status_code == 405 and wrong_method.headers["Content-Type"].startswith("application/json")
    assert set(wrong_method.json()["error"]) >= {"code", "message", "innerError"}


# -- 3. Google: If-Match, settings, colors ---------------------------------------------------------
def test_google_if_match_with_a_stale_etag_is_refused(google, http, control):
    token = google.connect("ada@example.com")["access_token"]
    api = f"{google.base}/google/calendar/v3/calendars/primary/events"
    auth = {"Authorization": f"Bearer {token}"}
    event = http.post(api, json={"summary": "v1", "start": {"dateTime": "2026-03-02T09:00:00Z"},
                                 "end": {"dateTime": "2026-03-02T10:00:00Z"}}, headers=auth, timeout=5).json()
    first = http.patch(f"{api}/{event['id']}", json={"summary": "v2"}, timeout=5,
                       headers={**auth, "If-Match": event["etag"]})
    assert first.status_code == 200
    for method in ("PATCH", "PUT", "DELETE"):
        stale = http.request(method, f"{api}/{event['id']}", json={**event, "summary": "v3"}, timeout=5,
                             headers={**auth, "If-Match": event["etag"]})
        assert stale.status_code == 412, method
        assert stale.json()["error"]["errors"][0]["reason"] == "conditionNotMet"
    assert [e["summary"] for e in control.get("/events", provider="google", email="ada@example.com")] == ["v2"]
    assert http.delete(f"{api}/{event['id']}", headers={**auth, "If-Match": first.json()["etag"]},
                       timeout=5).status_code == 204


def test_google_settings_and_colors(google, http, control):
    control.post("/accounts", {"provider": "google", "email": "ada@example.com", "timezone": "Europe/Stockholm"})
    token = google.connect("ada@example.com")["access_token"]
    base, auth = f"{google.base}/google/calendar/v3", {"Authorization": f"Bearer {token}"}
    settings = http.get(f"{base}/users/me/settings", headers=auth, timeout=5).json()
    assert settings["kind"] == "calendar#settings"
    assert {s["id"]: s["value"] for s in settings["items"]}["timezone"] == "Europe/Stockholm"
    one = http.get(f"{base}/users/me/settings/weekStart", headers=auth, timeout=5).json()
    assert (one["kind"], one["id"], one["value"]) == ("calendar#setting", "weekStart", "0")
    assert http.get(f"{base}/users/me/settings/nope", headers=auth, timeout=5).status_code == 404
    colors = http.get(f"{base}/colors", headers=auth, timeout=5).json()
    assert (len(colors["calendar"]), len(colors["event"])) == (24, 11)
    assert colors["event"]["11"] == {"background": "#dc2127", "foreground": "#1d1d1d"}


# -- 4. OAuth: a refresh without refresh_token is the client's bug ------------------------------------
def test_refresh_without_refresh_token_is_invalid_request(google, ms, zoom, http, base_url):
    answer = google.refresh(None)
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_request", "error_description": "Missing required parameter: refresh_token"}
    answer = http.post(f"{base_url}/microsoft/common/oauth2/v2.0/token", timeout=5, data={
        "grant_type": "refresh_token", "client_id": "sandbox-microsoft-client", "client_secret": "sandbox-microsoft-secret"})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert answer.json()["error_codes"] == [900144] and "'refresh_token'" in answer.json()["error_description"]
    answer = zoom.token({"grant_type": "refresh_token"})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"


def test_zoom_says_when_an_access_token_has_expired(zoom, control):
    token = zoom.connect("host@example.com")["access_token"]
    control.fault("expire_access_tokens", "host@example.com", provider="zoom")
    expired = zoom.api("GET", "/users/me", token)
    assert expired.status_code == 401 and expired.json() == {"code": 124, "message": "Access token is expired."}
    unknown = zoom.api("GET", "/users/me", "nonsense")
    assert unknown.json() == {"code": 124, "message": "Invalid access token."}


# -- 5. Windows time-zone names, end to end (issue 10 item 6) ------------------------------------------
def test_windows_names_map_through_the_cldr_table():
    assert iana_name("Singapore Standard Time") == "Asia/Singapore"
    assert windows_name("Asia/Singapore") == "Singapore Standard Time"
    assert iana_name("Europe/Berlin") == "Europe/Berlin" and iana_name("Mars Standard Time") is None
    assert zone_named("Nowhere Standard Time") is None


def test_an_unknown_zone_is_an_error_never_utc():
    with pytest.raises(ProviderError) as info:
        parse_date_time_zone("2026-03-02T09:00:00.0000000", "Atlantis Standard Time")
    assert (info.value.cause, info.value.provider_code) == ("unknown_time_zone", "Atlantis Standard Time")


def test_windows_style_mailbox_reads_back_the_right_instant(ms, adapter, control):
    control.post("/accounts", {"provider": "microsoft", "email": ms.email, "timezone": "Asia/Singapore",
                               "timezone_style": "windows"})
    token = ms.connect().access_token
    settings = ms.get("/me/mailboxSettings", token).json()
    assert settings["timeZone"] == settings["workingHours"]["timeZone"]["name"] == "Singapore Standard Time"
    control.post("/events", {"provider": "microsoft", "email": ms.email, "start": "2026-03-02T09:00:00+08:00",
                             "end": "2026-03-02T10:00:00+08:00"})
    blocks = adapter.free_busy(token, [ms.email], T0 - timedelta(hours=1), T0 + timedelta(hours=3))[ms.email]
    assert [(b.start, b.end) for b in blocks] == [(T0, T0 + timedelta(hours=1))]  # 01:00Z, not 09:00Z
    # The wire really carried the Windows name and Singapore's wall-clock time.
    item = ms.post("/me/calendar/getSchedule", token, {
        "schedules": [ms.email], "startTime": {"dateTime": "2026-03-02T00:00:00", "timeZone": "UTC"},
        "endTime": {"dateTime": "2026-03-02T04:00:00", "timeZone": "UTC"}}).json()["value"][0]["scheduleItems"][0]
    assert item["start"] == {"dateTime": "2026-03-02T09:00:00.0000000", "timeZone": "Singapore Standard Time"}
    event = ms.get("/me/events", token).json()["value"][0]
    assert event["start"]["timeZone"] == "Singapore Standard Time"



def test_schedule_statuses_and_per_address_errors_reach_the_adapter(ms, adapter, control):
    """getSchedule read as plain JSON: each status kept or dropped as documented, and an address
    Graph cannot read (errors inside HTTP 200) fails alone, with its own code."""
    token = ms.connect().access_token
    colleague = f"li.{secrets.token_hex(4)}@contoso.example"
    control.post("/accounts", {"provider": "microsoft", "email": colleague})
    for status, hour in (("tentative", 1), ("busy", 2), ("oof", 3), ("workingElsewhere", 4), ("free", 5)):
        control.post("/events", {"provider": "microsoft", "email": ms.email, "status": status,
                                 "start": (T0 + timedelta(hours=hour)).isoformat(),
                                 "end": (T0 + timedelta(hours=hour, minutes=30)).isoformat()})
    control.fault("schedule_error", email=colleague, provider="microsoft", times=1)
    ghost = "ghost@nowhere.example"
    found = adapter.free_busy(token, [ms.email, colleague, ghost], T0, T0 + timedelta(hours=8))
    assert [(b.start - T0, b.status) for b in found[ms.email]] == [
        (timedelta(hours=1), "tentative"), (timedelta(hours=2), "busy"), (timedelta(hours=3), "oof")]
    failed, unknown = found[colleague], found[ghost]
    assert isinstance(failed, ProviderError) and isinstance(unknown, ProviderError)
    assert (failed.kind.value, failed.cause, failed.provider_code) == (
        "provider_down", "provider_unavailable", "ErrorFreeBusyGenerationFailed")
    assert (unknown.kind.value, unknown.provider_code) == ("not_found", "5009")
    assert "Unable to resolve" in unknown.message

# -- 6. msal's instance discovery ------------------------------------------------------------------
def test_instance_discovery_answers_as_microsoft(ms, http, base_url, control):
    answer = http.get(f"{base_url}/microsoft/common/discovery/instance", timeout=5, params={
        "api-version": "1.1", "authorization_endpoint": f"{LOGIN}/common/oauth2/authorize"}).json()
    assert answer["tenant_discovery_endpoint"] == f"{LOGIN}/common/.well-known/openid-configuration"
    assert answer["api-version"] == "1.1"
    assert {"login.microsoftonline.com", "login.windows.net"} <= set(answer["metadata"][0]["aliases"])
    unknown = http.get(f"{base_url}/microsoft/common/discovery/instance", timeout=5, params={
        "api-version": "1.1", "authorization_endpoint": "https://login.example.org/common/oauth2/authorize"})
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_instance"
    # msal itself asks for it when it looks up cached accounts, and gets on with the answer.
    import msal

    token = consent_without_pkce(http, base_url, "microsoft", "/common/oauth2/v2.0/authorize",
                                 "/common/oauth2/v2.0/token", ms.email, "openid profile User.Read", client_info="1")
    app = msal.ConfidentialClientApplication("sandbox-microsoft-app", client_credential="sandbox-microsoft-app-secret",
                                             authority=f"{LOGIN}/common", http_client=LoginSession(base_url + "/microsoft", 10))
    app.token_cache.add({"client_id": "sandbox-microsoft-app", "scope": ["User.Read"], "response": token,
                         "token_endpoint": f"{LOGIN}/common/oauth2/v2.0/token", "environment": "login.microsoftonline.com"})
    assert [a["username"] for a in app.get_accounts()] == [ms.email]
    assert any(r["path"] == "/microsoft/common/discovery/instance" for r in control.get("/requests", provider="microsoft"))


# -- 7. times on every fault ---------------------------------------------------------------------------
def test_mailbox_faults_are_used_up_after_times_requests(ms):
    token = ms.connect().access_token
    ms.fault("mailbox_unlicensed", times=2)
    assert [ms.get("/me/calendar", token).status_code for _ in range(3)] == [404, 404, 200]
    ms.fault("shared_mailbox", times=1)
    purposes = [ms.get("/me/mailboxSettings", token).json()["userPurpose"] for _ in range(2)]
    assert purposes == ["shared", "user"]
    ms.fault("teams_unavailable", times=1)
    providers = [ms.get("/me/calendar", token).json()["allowedOnlineMeetingProviders"] for _ in range(2)]
    assert providers == [[], ["teamsForBusiness"]]
    assert ms.control.get("/faults") == []


# -- 8. PKCE: required of the hub's clients, optional for other apps -----------------------------------
def test_pkce_is_required_of_the_hub_client_only(google, http, control):
    params, _ = google.authorize_params(code_challenge=None, code_challenge_method=None)
    refused = http.get(f"{google.base}/google/o/oauth2/v2/auth", params=params, timeout=5)
    assert refused.status_code == 400 and "code_challenge" in refused.text
    app = {**params, "client_id": "sandbox-google-app"}
    page = http.get(f"{google.base}/google/o/oauth2/v2/auth", params=app, timeout=5)
    assert page.status_code == 200
    answer = http.post(page.url, data={"account": "ada@example.com", "decision": "allow"}, allow_redirects=False, timeout=5)
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    token = http.post(google.token_url, timeout=5, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": params["redirect_uri"],
        "client_id": "sandbox-google-app", "client_secret": "sandbox-google-app-secret"})
    assert token.status_code == 200, token.text
    clients = control.get("/clients")["google"]
    assert clients["require_pkce"] is True
    assert [(c["client_id"], c["require_pkce"]) for c in clients["other_clients"]] == [("sandbox-google-app", False)]
