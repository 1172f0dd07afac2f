"""Issue 3's promises, tried as a scheduling backend and a person would: over HTTP, through the
real OAuth dance against the sandbox, with msal and msgraph-sdk doing the Microsoft calls."""
from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from hub.storage.models import Connection
from oauth.tokens import refresh_binding
from tests.e2e.sync_support import Person, synced
from tests.e2e.support import connect

DAY = "2026-03-02"
WINDOW = {"start": f"{DAY}T08:00:00+01:00", "end": f"{DAY}T18:00:00+01:00"}
TEAMS_JOIN = "https://teams.microsoft.com/l/meetup-join/"


@pytest.fixture
def person(api, sandbox):
    """A hub user with a Microsoft 365 account in the sandbox, not yet connected."""
    tag = uuid.uuid4().hex[:8]
    email = f"megan.{tag}@contoso.example"
    sandbox.account("microsoft", email, name="Megan Bowen", timezone="Europe/Stockholm")
    r = api.put(f"/v1/users/megan-{tag}", json={"email": email, "name": "Megan", "timezone": "Europe/Stockholm"})
    assert r.status_code == 201, r.text
    return {"user_id": f"megan-{tag}", "email": email}


def connected(api, person) -> str:
    result = connect(api, person["user_id"], "microsoft", person["email"])
    assert result.status == "connected", result
    return result.params["connection_id"]


def free_busy(api, person) -> dict:
    r = api.post("/v1/freebusy", json={"users": [person["user_id"]], **WINDOW})
    assert r.status_code == 200, r.text
    return r.json()["users"][person["user_id"]]


def graph_requests(sandbox, suffix: str) -> list[dict]:
    return [r for r in sandbox.requests_log("microsoft", "/microsoft/v1.0") if r["path"].endswith(suffix)]


def test_connect_busy_tentative_teams_move_cancel(api, sandbox, person):
    connection_id = connected(api, person)
    conns = api.get(f"/v1/users/{person['user_id']}/connections").json()["connections"]
    assert [(c["id"], c["provider"], c["status"], c["account_email"]) for c in conns] == [
        (connection_id, "microsoft", "active", person["email"])]
    assert set(conns[0]["capabilities"]) == {"calendar", "teams"}
    assert {"Calendars.ReadWrite", "MailboxSettings.Read"} <= set(conns[0]["scopes"])

    sandbox.busy("microsoft", person["email"], f"{DAY}T10:00:00+01:00", f"{DAY}T11:00:00+01:00")
    sandbox.busy("microsoft", person["email"], f"{DAY}T13:00:00+01:00", f"{DAY}T13:30:00+01:00", status="tentative")
    sandbox.busy("microsoft", person["email"], f"{DAY}T15:00:00+01:00", f"{DAY}T16:00:00+01:00", status="free")
    entry = free_busy(api, person)
    assert entry["status"] == "ok" and entry["error"] is None
    assert entry["busy"] == [
        {"start": f"{DAY}T09:00:00Z", "end": f"{DAY}T10:00:00Z", "status": "busy"},
        {"start": f"{DAY}T12:00:00Z", "end": f"{DAY}T12:30:00Z", "status": "tentative"},
    ]

    body = {"organizer": person["user_id"], "title": "Interview: Grace", "start": f"{DAY}T14:00:00+01:00",
            "end": f"{DAY}T15:00:00+01:00", "timezone": "Europe/Stockholm", "conferencing": "teams",
            "attendees": [{"email": "grace@candidates.example", "name": "Grace"}]}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    created = api.post("/v1/events", json=body, headers=key)
    assert created.status_code == 201, created.text
    event = created.json()
    assert event["conferencing"]["provider"] == "teams"
    assert event["conferencing"]["join_url"].startswith(TEAMS_JOIN)
    assert event["start"] == f"{DAY}T13:00:00Z" and event["status"] == "confirmed"
    assert api.post("/v1/events", json=body, headers=key).json() == event  # replay, no second event

    held = [e for e in sandbox.events("microsoft", person["email"]) if e.get("subject") == "Interview: Grace"]
    assert len(held) == 1
    assert held[0]["id"] == event["calendar"]["event_id"]
    assert held[0]["onlineMeeting"]["joinUrl"] == event["conferencing"]["join_url"]
    assert held[0]["originalStartTimeZone"] == "Europe/Stockholm" and held[0]["transactionId"]

    moved = api.patch(f"/v1/events/{event['id']}", json={"start": f"{DAY}T16:00:00+01:00",
                                                        "end": f"{DAY}T16:45:00+01:00"})
    assert moved.status_code == 200, moved.text
    held = next(e for e in sandbox.events("microsoft", person["email"]) if e["id"] == event["calendar"]["event_id"])
    assert held["start"]["dateTime"].startswith(f"{DAY}T15:00:00") and held["onlineMeeting"]

    assert api.delete(f"/v1/events/{event['id']}").status_code == 204
    assert api.delete(f"/v1/events/{event['id']}").status_code == 204
    assert api.get(f"/v1/events/{event['id']}").json()["status"] == "cancelled"
    assert [e for e in sandbox.events("microsoft", person["email"]) if e["id"] == event["calendar"]["event_id"]] == []


def test_rotated_refresh_tokens_survive_many_refreshes(api, sandbox, person, live_hub):
    connection_id = connected(api, person)
    rounds = 8
    for _ in range(rounds):
        sandbox.fault("microsoft", "expire_access_tokens", email=person["email"])
        assert free_busy(api, person)["status"] == "ok"
    refreshes = [r["body"]["refresh_token"] for r in sandbox.requests_log("microsoft", "/microsoft/common/oauth2")
                 if isinstance(r["body"], dict) and r["body"].get("grant_type") == "refresh_token"
                 and r["body"].get("refresh_token")]
    assert len(refreshes) >= rounds
    assert len(set(refreshes)) == len(refreshes), "every refresh must use the token the previous one returned"
    hub = live_hub.hub
    with hub.db.session() as session:
        conn = session.get(Connection, connection_id)
        stored = hub.vault.decrypt(conn.refresh_token_enc, refresh_binding(connection_id))
        assert conn.status == "active" and conn.last_refresh_at is not None
    assert stored not in refreshes, "the stored refresh token is the newest, not one already spent"
    sandbox.fault("microsoft", "expire_access_tokens", email=person["email"])
    assert free_busy(api, person)["status"] == "ok"
    latest = [r["body"]["refresh_token"] for r in sandbox.requests_log("microsoft", "/microsoft/common/oauth2")
              if isinstance(r["body"], dict) and r["body"].get("grant_type") == "refresh_token"][-1]
    assert latest == stored


@pytest.mark.parametrize("scenario,params,cause", [
    ("invalid_grant", {"aadsts": 700082}, "token_expired_inactivity"),
    ("invalid_grant", {"aadsts": 50173}, "password_reset_revoked"),
    ("invalid_grant", {"aadsts": 70008}, "token_revoked"),
    ("invalid_grant", {"aadsts": 50076}, "mfa_required"),
    ("invalid_grant", {"aadsts": 53003}, "conditional_access_blocked"),
    ("invalid_grant", {"aadsts": 50057}, "account_disabled"),
    ("consent_required", None, "consent_required"),
])
def test_each_aadsts_fault_surfaces_with_its_own_cause(api, sandbox, person, scenario, params, cause):
    connected(api, person)
    sandbox.fault("microsoft", scenario, email=person["email"], **({"params": params} if params else {}))
    entry = free_busy(api, person)
    assert entry["status"] == "error" and entry["busy"] == []
    assert (entry["error"]["kind"], entry["error"]["cause"]) == ("auth_revoked", cause)
    conn = api.get(f"/v1/users/{person['user_id']}/connections").json()["connections"][0]
    assert conn["status"] == "needs_reauth"
    assert (conn["last_error"]["kind"], conn["last_error"]["cause"]) == ("auth_revoked", cause)
    again = connect(api, person["user_id"], "microsoft", person["email"])  # reconnect restores in place
    assert again.status == "connected" and free_busy(api, person)["status"] == "ok"


def test_a_failed_connect_can_be_retried_at_once(api, sandbox, person):
    sandbox.fault("microsoft", "token_error", email=person["email"], times=1, params={"aadsts": 50076})
    failed = connect(api, person["user_id"], "microsoft", person["email"])
    assert (failed.status, failed.params.get("code")) == ("error", "mfa_required")
    assert connect(api, person["user_id"], "microsoft", person["email"]).status == "connected"


@pytest.mark.parametrize("arrange,code", [
    (lambda s, email: s.account("microsoft", email, kind="shared"), "shared_mailbox"),
    (lambda s, email: s.account("microsoft", email, kind="room"), "shared_mailbox"),
    (lambda s, email: s.fault("microsoft", "shared_mailbox", email=email), "shared_mailbox"),
    (lambda s, email: s.fault("microsoft", "mailbox_unlicensed", email=email), "mailbox_unlicensed"),
])
def test_unusable_mailbox_is_refused_at_connect(api, sandbox, person, arrange, code):
    arrange(sandbox, person["email"])
    result = connect(api, person["user_id"], "microsoft", person["email"])
    assert (result.status, result.params.get("code")) == ("error", code)
    assert api.get(f"/v1/users/{person['user_id']}/connections").json()["connections"] == []


def test_teams_on_a_tenant_without_teams_is_422_before_anything_is_created(api, sandbox, person):
    sandbox.account("microsoft", person["email"], teams_enabled=False)
    connected(api, person)
    conns = api.get(f"/v1/users/{person['user_id']}/connections").json()["connections"]
    assert conns[0]["capabilities"] == ["calendar"]
    before = len(graph_requests(sandbox, "/me/events"))
    r = api.post("/v1/events", json={"organizer": person["user_id"], "title": "x", "start": f"{DAY}T09:00:00Z",
                                     "end": f"{DAY}T09:30:00Z", "conferencing": "teams"})
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "conferencing_unavailable" and "teams_unavailable" in (problem.get("cause"), problem.get("reason"))
    assert problem["fix"]["action"]
    assert len(graph_requests(sandbox, "/me/events")) == before and sandbox.events("microsoft", person["email"]) == []
    default = api.post("/v1/events", json={"organizer": person["user_id"], "title": "y", "start": f"{DAY}T09:00:00Z",
                                           "end": f"{DAY}T09:30:00Z", "conferencing": "default"})
    assert default.status_code == 201 and default.json()["conferencing"] is None


def test_event_created_without_a_teams_link_is_reported_and_removed(api, sandbox, person):
    connected(api, person)
    sandbox.fault("microsoft", "teams_link_missing", email=person["email"], times=1)
    r = api.post("/v1/events", json={"organizer": person["user_id"], "title": "No link", "start": f"{DAY}T09:00:00Z",
                                     "end": f"{DAY}T09:30:00Z", "conferencing": "teams"})
    assert r.status_code == 502, r.text
    assert r.json()["cause"] == "teams_link_not_generated" and r.json()["fix"]["steps"]
    assert "was created" not in r.json()["detail"] and "deleted again" in r.json()["detail"]
    conn = api.get(f"/v1/users/{person['user_id']}/connections").json()["connections"][0]
    assert conn["last_error"]["cause"] == "teams_link_not_generated"  # kept for diagnostics
    assert [e for e in sandbox.events("microsoft", person["email"]) if e.get("subject") == "No link"] == []


def test_twenty_concurrent_free_busy_keep_four_in_flight(api, sandbox, person, live_hub):
    connection_id = connected(api, person)
    # Connecting opens the push channel and syncs in the background (other Graph requests on
    # this mailbox): counted here would be someone else's.
    synced(api, Person(person["user_id"], person["email"], "microsoft", connection_id))
    free_busy(api, person)  # a fresh access token first: the 20 share it
    latency = 0.15
    sandbox.fault("microsoft", "latency", email=person["email"], params={"ms": int(latency * 1000)})
    started = time.time()
    with ThreadPoolExecutor(20) as pool:
        entries = list(pool.map(lambda _: free_busy(api, person), range(20)))
    assert [e["status"] for e in entries] == ["ok"] * 20, [e["error"] for e in entries if e["error"]]
    arrivals = sorted(r["at"] for r in graph_requests(sandbox, "/getSchedule") if r["at"] >= started)
    assert len(arrivals) == 20
    # A request occupies Graph for at least the latency; more than four arrivals inside one
    # latency span would mean more than four in flight (the emulator would also have 429'd).
    busiest = max(sum(1 for t in arrivals if a <= t < a + latency * 0.95) for a in arrivals)
    assert busiest <= 4, arrivals
    assert live_hub.hub.calendar("microsoft").graph.gate.peak_in_flight <= 4
    assert arrivals[-1] - arrivals[0] >= latency * 4  # five waves of four


def test_retry_after_is_honoured(api, sandbox, person, live_hub):
    connected(api, person)
    free_busy(api, person)
    # Both places that remember a Retry-After (the hub's shared limits, in-process here, and
    # the adapter's mailbox gate) get a clock the test moves on instead of sleeping through it.
    calendar = live_hub.hub.calendar("microsoft")
    clocks = [calendar._limits, calendar.graph.gate]
    real_clocks, skipped = [c.clock for c in clocks], [0.0]
    for holder, real in zip(clocks, real_clocks):
        holder.clock = lambda real=real: real() + skipped[0]
    try:
        sandbox.fault("microsoft", "rate_limit", email=person["email"], times=1, params={"retry_after": 2})
        first = free_busy(api, person)
        assert (first["status"], first["error"]["kind"], first["error"]["cause"]) == ("error", "rate_limited", "rate_limited")
        assert first["error"]["retry_after"] == 2
        sent = len(graph_requests(sandbox, "/getSchedule"))
        skipped[0] = 1.5  # not yet: still closed, with the wait that is left
        second = free_busy(api, person)
        assert (second["error"]["kind"], second["error"]["retry_after"]) == ("rate_limited", 1)
        assert len(graph_requests(sandbox, "/getSchedule")) == sent, "nothing may reach Graph before Retry-After"
        skipped[0] = 2.1
        assert free_busy(api, person)["status"] == "ok"
        assert len(graph_requests(sandbox, "/getSchedule")) == sent + 1
    finally:
        for holder, real in zip(clocks, real_clocks):
            holder.clock = real
