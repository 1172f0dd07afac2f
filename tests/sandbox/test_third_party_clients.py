"""Client libraries no one here wrote, driven against the sandbox with only base-URL
configuration: gcsa (Google Calendar Simple API), python-o365, pyzoom and zoomus. Each step is
a call a user of the library would make; what it changed is checked at the provider through
``/_control``. They sign in with the sandbox's second app registration (``sandbox-<provider>-app``)
and no PKCE, as third-party apps may at the real providers.

Where a library hard-codes its host, the one line that points it at the sandbox says so:
- gcsa builds its Calendar service with no endpoint option, so its ``service`` is rebuilt with
  ``client_options={"api_endpoint": …}`` (the same google-api-python-client call it makes);
- python-o365's ``MSGraphProtocol`` takes its URL from the class attribute ``_protocol_url``
  (``Protocol`` subclasses are how the library expects other endpoints), and it signs in only
  through msal against login.microsoftonline.com, so the token from the sandbox's consent goes
  into its msal token cache with msal's own ``TokenCache.add``.
"""

from __future__ import annotations

import datetime as dt
import secrets
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

REDIRECT = "http://127.0.0.1:5999/callback"
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("UTC"))  # python-o365 insists on ZoneInfo


def consent_without_pkce(http, base: str, provider: str, authorize_path: str, token_path: str, email: str,
                         scope: str, basic_auth: bool = False, **extra) -> dict:
    """The authorization-code flow of a plain OAuth client (no code_challenge) with the
    sandbox's second app registration: the token answer."""
    client_id, secret = f"sandbox-{provider}-app", f"sandbox-{provider}-app-secret"
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "scope": scope,
              "state": secrets.token_urlsafe(8), **extra}
    page = http.get(f"{base}/{provider}{authorize_path}", params=params, timeout=5)
    assert page.status_code == 200, page.text
    answer = http.post(page.url, data={"account": email, "decision": "allow"}, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    auth = (client_id, secret) if basic_auth else None
    if not basic_auth:
        form.update(client_id=client_id, client_secret=secret)
    token = http.post(f"{base}/{provider}{token_path}", data=form, auth=auth, timeout=5)
    assert token.status_code == 200, token.text
    return token.json()


class Steps:
    """Runs a library's steps and keeps going after a failure, so the report names each one."""

    def __init__(self) -> None:
        self.failed: list[str] = []
        self.passed: list[str] = []

    def __call__(self, name: str, step):
        try:
            result = step()
        except Exception as exc:  # noqa: BLE001 - the point is to list every failing step
            self.failed.append(f"{name}: {type(exc).__name__}: {exc}"[:400])
            return None
        self.passed.append(name)
        return result


# -- Google: gcsa ---------------------------------------------------------------------------------
def test_gcsa_against_the_sandbox(base_url, http, control):
    from gcsa.event import Event
    from gcsa.google_calendar import GoogleCalendar
    from google.oauth2.credentials import Credentials
    from googleapiclient.discovery import build

    email = "gcsa.user@example.com"
    scope = "openid email https://www.googleapis.com/auth/calendar"
    token = consent_without_pkce(http, base_url, "google", "/o/oauth2/v2/auth", "/token", email, scope,
                                 access_type="offline")
    credentials = Credentials(token["access_token"], refresh_token=token["refresh_token"],
                              token_uri=f"{base_url}/google/token", client_id="sandbox-google-app",
                              client_secret="sandbox-google-app-secret", scopes=scope.split())
    calendar = GoogleCalendar(credentials=credentials)
    calendar.service = build("calendar", "v3", credentials=credentials, static_discovery=True,
                             client_options={"api_endpoint": f"{base_url}/google/calendar/v3/"})
    step = Steps()
    step("get_calendar", lambda: calendar.get_calendar())
    step("get_calendar_list", lambda: list(calendar.get_calendar_list()))
    added = step("add_event", lambda: calendar.add_event(
        Event("Interview", start=START, end=START + dt.timedelta(hours=1), location="Room 1")))
    event_id = added.id if added else "missing"
    step("get_event", lambda: calendar.get_event(event_id))
    listed = step("get_events", lambda: list(calendar.get_events(START - dt.timedelta(days=1), START + dt.timedelta(days=1))))
    if added is not None:
        added.summary = "Interview (moved)"
        added.start, added.end = START + dt.timedelta(hours=2), START + dt.timedelta(hours=3)
    step("update_event", lambda: calendar.update_event(added))
    free_busy = step("get_free_busy", lambda: calendar.get_free_busy(
        time_min=START - dt.timedelta(hours=1), time_max=START + dt.timedelta(hours=5)))
    settings = step("get_settings", lambda: calendar.get_settings())
    step("list_event_colors", lambda: calendar.list_event_colors())
    step("list_calendar_colors", lambda: calendar.list_calendar_colors())
    on_calendar = control.get("/events", provider="google", email=email)
    step("delete_event", lambda: calendar.delete_event(event_id))
    after = step("get_events after delete", lambda: list(calendar.get_events(
        START - dt.timedelta(days=1), START + dt.timedelta(days=1))))

    assert step.failed == [], step.failed
    assert len(step.passed) == 12
    assert [e.id for e in listed] == [event_id]
    assert [(e["summary"], e["start"]["dateTime"]) for e in on_calendar] == [("Interview (moved)", "2026-03-02T11:00:00Z")]
    assert [(b.start, b.end) for b in free_busy.calendars["primary"]] == [
        (START + dt.timedelta(hours=2), START + dt.timedelta(hours=3))]
    assert settings.timezone == "UTC"
    assert after == [] and control.get("/events", provider="google", email=email) == []


# -- Microsoft: python-o365 ------------------------------------------------------------------------
@pytest.fixture
def o365_account(base_url, http, control):
    from O365 import Account
    from O365.connection import MSGraphProtocol

    email = "o365.user@contoso.example"
    control.post("/accounts", {"provider": "microsoft", "email": email, "name": "Olive Sixtyfive"})
    scopes = "openid profile offline_access User.Read Calendars.ReadWrite MailboxSettings.Read"
    token = consent_without_pkce(http, base_url, "microsoft", "/common/oauth2/v2.0/authorize",
                                 "/common/oauth2/v2.0/token", email, scopes, client_info="1")

    class SandboxGraph(MSGraphProtocol):
        _protocol_url = f"{base_url}/microsoft/"

    account = Account(("sandbox-microsoft-app", "sandbox-microsoft-app-secret"), protocol=SandboxGraph(),
                      tenant_id="common")
    account.con.token_backend.add({
        "client_id": "sandbox-microsoft-app", "scope": scopes.split(),
        "token_endpoint": "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        "response": token, "environment": "login.microsoftonline.com"})
    account.con.username = email
    return account, email


def test_python_o365_against_the_sandbox(o365_account, control):
    account, email = o365_account
    schedule = account.schedule()
    step = Steps()
    default = step("get_default_calendar", lambda: schedule.get_default_calendar())
    calendars = step("list_calendars", lambda: schedule.list_calendars())
    step("get_calendar by id", lambda: schedule.get_calendar(calendar_id=default.calendar_id))

    def create():
        event = default.new_event()
        event.subject = "Interview"
        event.start, event.end = START, START + dt.timedelta(hours=1)
        assert event.save()
        return event

    event = step("new_event + save", create)
    viewed = step("get_events (calendarView)", lambda: list(default.get_events(
        include_recurring=True, start_recurring=START - dt.timedelta(days=1), end_recurring=START + dt.timedelta(days=1))))
    listed = step("get_events (events)", lambda: list(default.get_events(include_recurring=False)))
    step("schedule.get_events", lambda: list(schedule.get_events(include_recurring=False)))
    step("get_event", lambda: default.get_event(event.object_id))

    def move():
        event.subject = "Interview (moved)"
        event.start, event.end = START + dt.timedelta(hours=2), START + dt.timedelta(hours=3)
        assert event.save()

    step("event update + save", move)
    availability = step("get_availability", lambda: schedule.get_availability(
        [email], START - dt.timedelta(hours=1), START + dt.timedelta(hours=5), interval=30))
    on_calendar = control.get("/events", provider="microsoft", email=email)
    step("event delete", lambda: event.delete())

    assert step.failed == [], step.failed
    assert [c.name for c in calendars] == ["Calendar"]
    assert [e.object_id for e in viewed] == [event.object_id] == [e.object_id for e in listed]
    assert [(e["subject"], e["start"]["dateTime"][:19]) for e in on_calendar] == [("Interview (moved)", "2026-03-02T11:00:00")]
    assert availability[0]["scheduleId"] == email and availability[0]["availabilityView"]
    assert control.get("/events", provider="microsoft", email=email) == []


# -- Zoom: pyzoom and zoomus -----------------------------------------------------------------------
def zoom_token(base_url, http, email: str) -> str:
    return consent_without_pkce(http, base_url, "zoom", "/oauth/authorize", "/oauth/token", email, "",
                                basic_auth=True)["access_token"]


def test_pyzoom_against_the_sandbox(base_url, http, control):
    from pyzoom import ZoomClient
    from pyzoom.schemas import ZoomMeetingSettings

    email = "pyzoom.user@example.com"
    client = ZoomClient(zoom_token(base_url, http, email), base_url=f"{base_url}/zoom/v2")
    step = Steps()
    settings = ZoomMeetingSettings.default_settings()
    created = step("create_meeting", lambda: client.meetings.create_meeting(
        "Interview", start_time="2026-03-02T09:00:00", duration_min=45, timezone="Europe/Stockholm",
        settings=settings))
    meeting_id = created.id if created else 0
    got = step("get_meeting", lambda: client.meetings.get_meeting(meeting_id))
    listed = step("list_meetings", lambda: client.meetings.list_meetings())
    step("update_meeting", lambda: client.meetings.update_meeting(
        "Interview (moved)", start_time="2026-03-02T10:00:00", duration_min=45, meeting_id=meeting_id))
    stored = control.get("/meetings", email=email)
    step("delete_meeting", lambda: client.meetings.delete_meeting(meeting_id))

    assert step.failed == [], step.failed
    assert got.settings.join_before_host == settings.join_before_host and got.topic == "Interview"
    assert [m.id for m in listed.meetings] == [meeting_id]
    assert [(m["topic"], m["start_time"]) for m in stored] == [("Interview (moved)", "2026-03-02T10:00:00Z")]
    # What pyzoom sent in settings came back (null leaves Zoom's default), the rest with defaults.
    sent = {k: v for k, v in settings.dict().items() if v is not None}
    assert sent and {k: stored[0]["settings"][k] for k in sent} == sent
    assert stored[0]["settings"]["enforce_login_domains"] == "" and len(stored[0]["settings"]) > 50
    assert control.get("/meetings", email=email) == []


def test_zoomus_against_the_sandbox(base_url, http, control):
    from zoomus.components.meeting import MeetingComponentV2
    from zoomus.components.user import UserComponentV2

    email = "zoomus.user@example.com"
    config = {"token": zoom_token(base_url, http, email), "version": 2, "data_type": "json"}
    meetings = MeetingComponentV2(base_uri=f"{base_url}/zoom/v2", config=config)
    users = UserComponentV2(base_uri=f"{base_url}/zoom/v2", config=config)
    me = users.get(id="me")
    created = meetings.create(user_id="me", topic="Interview", type=2, duration=30,
                              start_time=dt.datetime(2026, 3, 2, 9, 0), settings={"waiting_room": True})
    got = meetings.get(id=created.json()["id"])
    updated = meetings.update(id=created.json()["id"], topic="Interview (moved)")
    listed = meetings.list(user_id="me")
    deleted = meetings.delete(id=created.json()["id"])
    assert [r.status_code for r in (me, created, got, updated, listed, deleted)] == [200, 201, 200, 204, 200, 204]
    assert got.json()["settings"]["waiting_room"] is True and got.json()["settings"]["audio"] == "both"
    assert control.get("/meetings", email=email) == []
