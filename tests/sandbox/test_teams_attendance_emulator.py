"""The sandbox's Teams attendance reports over real HTTP, driven by the hub's own msal flow and its
msgraph-sdk reader: Graph refuses a calendar-only token (403) and the hub names that a missing
scope; a consent that asks for OnlineMeetingArtifact.Read.All redeems and refreshes for it."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

import pytest

from providers.base import ErrorKind, ProviderError
from providers.microsoft.attendance import SCOPE, TeamsAttendance
from tests.sandbox.test_microsoft_emulator import REDIRECT, MicrosoftSession


@pytest.fixture
def ms(base_url, http, control) -> MicrosoftSession:
    email = f"adele.{secrets.token_hex(4)}@contoso.example"
    control.post("/accounts", {"provider": "microsoft", "email": email, "name": "Adele Vance"})
    return MicrosoftSession(base_url, http, control, email)


def connect(ms: MicrosoftSession, extra: tuple[str, ...] = ()):
    """Consent and code redemption through the hub's msal flow, asking for `extra` scopes."""
    ms.verifier, ms.nonce, state = secrets.token_urlsafe(48), secrets.token_urlsafe(8), secrets.token_urlsafe(12)
    url = ms.flow.authorization_url(redirect_uri=REDIRECT, state=state, code_verifier=ms.verifier, nonce=ms.nonce,
                                    login_hint=ms.email, extra_scopes=extra)
    answer = ms.http.post(url, data={"account": ms.email, "decision": "allow"}, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    code = answer.headers["Location"].split("code=", 1)[1].split("&", 1)[0]
    return ms.flow.exchange(code=code, redirect_uri=REDIRECT, code_verifier=ms.verifier, nonce=ms.nonce,
                            extra_scopes=extra)


def ended_meeting(ms: MicrosoftSession, token: str, control) -> dict:
    """A Teams interview that ended yesterday, which the candidate joined."""
    start = (datetime.now(timezone.utc) - timedelta(days=1)).replace(microsecond=0)
    body = {"subject": "Interview", "isOnlineMeeting": True, "onlineMeetingProvider": "teamsForBusiness",
            "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "end": {"dateTime": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}}
    created = ms.post("/me/events", token, body)
    assert created.status_code == 201, created.text
    event = created.json()
    control.post(f"/meetings/microsoft/{event['id']}/participants",
                 {"name": "Grace Hopper", "email": "grace@candidates.example",
                  "joined_at": (start + timedelta(minutes=2)).isoformat()})
    return {"join_url": event["onlineMeeting"]["joinUrl"]}


def token_calls(control, grant_type: str) -> list[dict]:
    return [r for r in control.get("/requests", provider="microsoft", path_prefix="/microsoft/")
            if r["path"].endswith("/oauth2/v2.0/token") and r["body"].get("grant_type") == grant_type]


def test_a_calendar_only_token_is_refused_and_named_a_missing_scope(ms, control, base_url):
    grant = connect(ms)
    assert SCOPE not in grant.scopes
    conference = ended_meeting(ms, grant.access_token, control)
    raw = ms.get("/me/onlineMeetings", grant.access_token,
                 params={"$filter": f"JoinWebUrl eq '{conference['join_url']}'"})
    assert (raw.status_code, raw.json()["error"]["code"]) == (403, "Forbidden"), raw.text
    reader = TeamsAttendance(f"{base_url}/microsoft/v1.0", timeout=10)
    with pytest.raises(ProviderError) as refused:
        reader.participants(grant.access_token, conference)
    assert (refused.value.kind, refused.value.cause, refused.value.http_status) == (
        ErrorKind.SCOPE_MISSING, "scopes_missing", 403)


def test_the_artifact_scope_is_asked_redeemed_and_kept_on_refresh(ms, control, base_url):
    grant = connect(ms, (SCOPE,))
    authorize = [r for r in control.get("/requests", provider="microsoft")
                 if r["path"].endswith("/authorize") and ms.email in str(r["query"])][-1]
    assert SCOPE in authorize["query"]["scope"].split()
    assert SCOPE in token_calls(control, "authorization_code")[-1]["body"]["scope"].split()
    assert SCOPE in grant.scopes
    reader = TeamsAttendance(f"{base_url}/microsoft/v1.0", timeout=10)
    conference = ended_meeting(ms, grant.access_token, control)
    read = reader.participants(grant.access_token, conference)
    assert read.participants and read.participants[0].email == "grace@candidates.example"
    # A refresh names the connection's own scopes (not msal's fixed calendar list) ...
    assert grant.refresh_token
    again = ms.flow.refresh(grant.refresh_token, grant.scopes)
    sent = token_calls(control, "refresh_token")[-1]["body"]["scope"].split()
    assert SCOPE in sent and "Calendars.ReadWrite" in sent
    assert SCOPE in again.scopes
    # ... and the refreshed token still reads the report.
    assert reader.participants(again.access_token, conference).participants
    # A connection stored before any extra scope refreshes with the calendar's list.
    plain = ms.flow.refresh(again.refresh_token or grant.refresh_token)
    assert plain.access_token and SCOPE not in token_calls(control, "refresh_token")[-1]["body"]["scope"].split()
