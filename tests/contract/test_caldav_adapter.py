"""The CalDAV adapter and its connect check against the sandbox's real Radicale, through the
`caldav` library: what the contract suite does not cover — recurrences, transparency, both
free/busy paths, and every bad input a person can type or a server can do."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import icalendar
import pytest

from hub.config import Settings
from providers.base import Attendee, ErrorKind, EventChanges, EventDraft, ProviderError
from providers.caldav.calendar import CalDAVCalendar, busy_from_calendars, calendar_for
from providers.caldav.connect import credential_form
from providers.caldav.credential import ClientOptions, Credential
from providers.caldav.errors import classify_status
from tests.e2e.support import Sandbox

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
PASSWORD = "app-password"


@pytest.fixture
def account(sandbox_url):
    email = f"cal.{uuid.uuid4().hex[:8]}@example.com"
    sandbox = Sandbox(sandbox_url)
    sandbox.account("caldav", email)
    settings = Settings(sandbox_url=sandbox_url, provider_timeout_seconds=5).provider("caldav")
    token = credential_form(settings).verify(form(sandbox_url, email)).access_token
    return email, token, calendar_for(settings), sandbox


def caldav_config(sandbox_url: str):
    return Settings(sandbox_url=sandbox_url).provider("caldav")


def form(sandbox_url: str, email: str, password: str = PASSWORD, path: str = "/caldav/") -> dict[str, str]:
    return {"server_url": sandbox_url + path, "username": email, "password": password}


def put_ics(sandbox_url: str, email: str, *events: icalendar.Event) -> None:
    """Write events as another calendar app would: straight to the server with the caldav library."""
    from caldav.davclient import DAVClient
    url = f"{sandbox_url}/caldav/{email}/calendar/"
    with DAVClient(url=url, username=email, password=PASSWORD, auth_type="basic", enable_rfc6764=False) as client:
        for event in events:  # one UID per calendar object (RFC 4791 §4.1)
            cal = icalendar.Calendar()
            cal.add("prodid", "-//test//EN")
            cal.add("version", "2.0")
            cal.add_component(event)
            client.calendar(url=url).save_event(cal.to_ical().decode())


def vevent(start: datetime, minutes: int, **props) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", uuid.uuid4().hex)
    event.add("dtstamp", T0)
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=minutes))
    event.add("summary", props.pop("summary", "x"))
    for name, value in props.items():
        event.add(name, value)
    return event


def spans(blocks):
    return [(b.start, b.end, b.status) for b in blocks]


def test_connect_finds_the_calendar_and_who_it_is(account, sandbox_url):
    email, token, _cal, _sb = account
    cred = Credential.decode(token)
    assert cred.email == email and cred.password == PASSWORD
    assert cred.calendar_url.endswith(f"/caldav/{email}/calendar/")
    grant = credential_form(caldav_config(sandbox_url)).verify(form(sandbox_url, email))
    assert grant.expires_at is None and grant.refresh_token is None
    assert grant.identity is not None and grant.identity.email == email


def test_recurring_events_expand_on_both_free_busy_paths(account, sandbox_url):
    email, token, cal, _sb = account
    put_ics(sandbox_url, email,
            vevent(T0 - timedelta(days=7), 30, rrule={"freq": "daily", "count": 20}, summary="standup"),
            vevent(T0 + timedelta(hours=2), 60, status="TENTATIVE"),
            vevent(T0 + timedelta(hours=4), 60, transp="TRANSPARENT"),
            vevent(T0 + timedelta(hours=5), 60, status="CANCELLED"))
    window = (T0, T0 + timedelta(days=2))
    expected = [(T0, T0 + timedelta(minutes=30), "busy"),
                (T0 + timedelta(hours=2), T0 + timedelta(hours=3), "tentative"),
                (T0 + timedelta(days=1), T0 + timedelta(days=1, minutes=30), "busy")]
    assert spans(cal.free_busy(token, [email], *window)[email]) == expected  # free-busy-query
    # The time-range query + client-side expansion a server without free-busy-query gets:
    from caldav.collection import Calendar
    from caldav.davclient import DAVClient
    cred = Credential.decode(token)
    with DAVClient(url=cred.calendar_url, username=email, password=PASSWORD, auth_type="basic",
                   enable_rfc6764=False) as client:
        blocks = cal._busy_from_events(Calendar(client=client, url=cred.calendar_url), *window)
    assert spans(blocks) == expected


def test_all_day_and_zoned_events_read_in_utc():
    cal = icalendar.Calendar()
    event = icalendar.Event()
    event.add("uid", "a")
    event.add("dtstart", T0.date())
    event.add("dtend", T0.date() + timedelta(days=1))
    cal.add_component(event)
    blocks = busy_from_calendars([cal], T0 - timedelta(hours=9), T0 + timedelta(hours=20))
    assert spans(blocks) == [(T0 - timedelta(hours=9), T0 + timedelta(hours=15), "busy")]


def test_event_carries_attendees_and_moves_with_a_new_sequence(account):
    email, token, cal, sandbox = account
    draft = EventDraft("Interview", T0, T0 + timedelta(hours=1),
                       (Attendee("cand@example.com", "Cand"), Attendee("opt@example.com", optional=True)),
                       description="Join: https://zoom.us/j/1", location="https://zoom.us/j/1",
                       idempotency_handle=uuid.uuid4().hex)
    created = cal.create_event(token, draft)
    [stored] = [e for e in sandbox.events("caldav", email) if e["uid"] == created.event_id]
    assert stored["organizer"] == f"mailto:{email}"
    assert [(a["email"], a["role"]) for a in stored["attendees"]] == [
        ("cand@example.com", "REQ-PARTICIPANT"), ("opt@example.com", "OPT-PARTICIPANT")]
    assert stored["location"] == "https://zoom.us/j/1"
    cal.update_event(token, created.event_id, EventChanges(start=T0 + timedelta(hours=2),
                                                           end=T0 + timedelta(hours=3),
                                                           attendees=(Attendee("new@example.com"),)))
    [moved] = [e for e in sandbox.events("caldav", email) if e["uid"] == created.event_id]
    assert (moved["start"], moved["sequence"], moved["summary"]) == ("2026-03-02T11:00:00Z", 1, "Interview")
    assert [a["email"] for a in moved["attendees"]] == ["new@example.com"]


def test_moving_a_deleted_event_is_not_found_without_blaming_the_calendar(account):
    _email, token, cal, _sb = account
    created = cal.create_event(token, EventDraft("x", T0, T0 + timedelta(hours=1)))
    cal.cancel_event(token, created.event_id)
    with pytest.raises(ProviderError) as info:
        cal.update_event(token, created.event_id, EventChanges(title="y"))
    assert info.value.kind is ErrorKind.NOT_FOUND and info.value.cause is None


def test_deleted_calendar_is_calendar_not_found_everywhere(account):
    email, token, cal, sandbox = account
    created = cal.create_event(token, EventDraft("x", T0, T0 + timedelta(hours=1)))
    sandbox.fault("caldav", "calendar_deleted", email=email)
    for call in (lambda: cal.verify_mailbox(token),
                 lambda: cal.free_busy(token, [email], T0, T0 + timedelta(hours=1)),
                 lambda: cal.update_event(token, created.event_id, EventChanges(title="y"))):
        with pytest.raises(ProviderError) as info:
            call()
        assert info.value.cause == "calendar_not_found"


def test_wrong_password_is_credentials_invalid(account, sandbox_url):
    email, token, cal, _sb = account
    with pytest.raises(ProviderError) as info:
        credential_form(caldav_config(sandbox_url)).verify(form(sandbox_url, email, "wrong"))
    assert info.value.cause == "credentials_invalid"
    stale = Credential(**{**Credential.decode(token).__dict__, "password": "wrong"}).encode()
    with pytest.raises(ProviderError) as info:
        cal.free_busy(stale, [email], T0, T0 + timedelta(hours=1))
    assert (info.value.kind, info.value.cause) == (ErrorKind.AUTH_EXPIRED, "credentials_invalid")


@pytest.mark.parametrize("path", ["/google/", "/", "/_control/providers"])
def test_a_url_that_is_not_caldav_is_client_misconfigured(sandbox_url, path):
    email = f"cal.{uuid.uuid4().hex[:8]}@example.com"
    with pytest.raises(ProviderError) as info:
        credential_form(caldav_config(sandbox_url)).verify(form(sandbox_url, email, path=path))
    assert info.value.cause == "client_misconfigured", info.value.message


def test_a_server_that_times_out_is_provider_unavailable(account, sandbox_url):
    email, token, _cal, sandbox = account
    sandbox.fault("caldav", "latency", email=email, times=1, params={"ms": 1500})
    impatient = CalDAVCalendar(ClientOptions(timeout=0.3, allow_private_urls=True))
    with pytest.raises(ProviderError) as info:
        impatient.free_busy(token, [email], T0, T0 + timedelta(hours=1))
    assert (info.value.kind, info.value.cause) == (ErrorKind.PROVIDER_DOWN, "provider_unavailable")


def test_private_addresses_are_refused_without_a_sandbox(sandbox_url):
    with pytest.raises(ProviderError) as info:
        credential_form(caldav_config("")).verify(form(sandbox_url, "a@example.com"))
    assert info.value.cause == "client_misconfigured"
    with pytest.raises(ProviderError) as info:
        credential_form(caldav_config("")).verify({"server_url": "https://10.0.0.1/dav/", "username": "a", "password": "b"})
    assert "private network" in info.value.message


def test_every_hop_is_checked_not_only_the_typed_url():
    """A public server that redirects (or points its calendar home) into a private network."""
    from caldav.lib.http_sync import requests as http

    from providers.caldav.credential import make_client
    client = make_client("https://93.184.216.34/dav/", "a", "b", ClientOptions())  # a public address: allowed
    hop = http.Request("PROPFIND", "http://169.254.169.254/latest/meta-data/").prepare()
    with pytest.raises(ProviderError) as info:
        client.session.send(hop)
    assert info.value.cause == "client_misconfigured"


def test_empty_form_fields_are_refused():
    with pytest.raises(ProviderError) as info:
        credential_form(caldav_config("")).verify({"server_url": "", "username": "a", "password": ""})
    assert info.value.kind is ErrorKind.INVALID_REQUEST


def test_refused_password_at_an_app_password_service_says_so():
    err = classify_status(401, server_url="https://caldav.icloud.com/")
    assert err.cause == "app_password_required"
    assert classify_status(401, server_url="https://dav.example.org/").cause == "credentials_invalid"
    assert classify_status(503, retry_after=3).kind is ErrorKind.RATE_LIMITED
    assert classify_status(502).cause == "provider_unavailable"
