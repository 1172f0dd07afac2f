"""Teams attendance needs OnlineMeetingArtifact.Read.All: the hub asks for it in the Microsoft
consent only where the tenant turned attendance on, redeems and refreshes for it (msal names its
scopes on both), and says "scope missing → reconnect" when a connection lacks it. Over HTTP
against a live hub and the sandbox; the deadline timers run on the fake clock."""
from __future__ import annotations

from datetime import timedelta

from hub.storage.models import Connection
from providers.microsoft.attendance import SCOPE
from tests.e2e.support import connect
from tests.e2e import test_attendance_e2e as base
from tests.e2e.test_attendance_e2e import START, at, attendance_on, sent, teams_event, teams_join, types
from tests.e2e.zoom_support import person

# The live hub on its fake clock and a tenant with a backend webhook, as in the other attendance tests.
clock, hub_live, tenant = base.clock, base.hub_live, base.tenant


def consents(sandbox, email: str) -> list[list[str]]:
    return [e["query"]["scope"].split() for e in sandbox.requests_log("microsoft", "/microsoft/")
            if e["path"].endswith("/authorize") and email in str(e["query"])]


def token_scopes(sandbox, grant_type: str) -> list[list[str]]:
    return [e["body"]["scope"].split() for e in sandbox.requests_log("microsoft", "/microsoft/")
            if e["path"].endswith("/oauth2/v2.0/token") and isinstance(e["body"], dict)
            and e["body"].get("grant_type") == grant_type]


def stored_scopes(hub_live, connection_id: str) -> list[str]:
    with hub_live.hub.db.session() as s:
        return list(s.get(Connection, connection_id).scopes)


def scopes_check(api, user_id: str) -> dict:
    report = api.get(f"/v1/diagnostics/users/{user_id}").json()
    return next(c for c in report["checks"] if c["id"] == "microsoft.scopes")


def test_consent_asks_for_the_artifact_scope_only_where_attendance_is_on(hub_live, tenant, sandbox):
    tenant_id, api = tenant
    off = person(api, sandbox, "microsoft", connect_zoom=False)
    assert consents(sandbox, off.calendar_email) and not any(SCOPE in c for c in consents(sandbox, off.calendar_email))
    assert SCOPE not in stored_scopes(hub_live, off.calendar_connection)
    r = api.post("/v1/events", json={
        "organizer": off.user_id, "title": "Interview on Teams", "start": START.isoformat(),
        "end": (START + timedelta(hours=1)).isoformat(), "conferencing": "teams",
        "attendees": [{"email": "grace@candidates.example"}], "attendance": {}})
    problem = r.json()
    assert (r.status_code, problem["code"], problem["cause"]) == (422, "attendance_unavailable", "scopes_missing")
    assert problem["fix"]["action"] == "reconnect" and SCOPE in problem["detail"]
    attendance_on(hub_live, tenant_id)
    on = person(api, sandbox, "microsoft", connect_zoom=False)
    assert all(SCOPE in c for c in consents(sandbox, on.calendar_email))
    assert SCOPE in token_scopes(sandbox, "authorization_code")[-1]  # the code is redeemed for it too
    assert SCOPE in stored_scopes(hub_live, on.calendar_connection)
    assert teams_event(api, on)["id"]


def test_a_refresh_keeps_the_artifact_scope_and_the_report_is_read(hub_live, tenant, sandbox, clock):
    tenant_id, api = tenant
    attendance_on(hub_live, tenant_id)
    who = person(api, sandbox, "microsoft", connect_zoom=False)
    event = teams_event(api, who)
    teams_join(sandbox, event, "Ada Lovelace", 0, who.calendar_email)
    teams_join(sandbox, event, "Grace Hopper", 1, "grace@candidates.example")
    refreshes = len(token_scopes(sandbox, "refresh_token"))
    sandbox.fault("microsoft", "expire_access_tokens", who.calendar_email)  # Graph answers 401: refresh
    at(hub_live, clock, event, 60)
    after = token_scopes(sandbox, "refresh_token")
    assert len(after) == refreshes + 1 and SCOPE in after[-1] and "Calendars.ReadWrite" in after[-1]
    assert SCOPE in stored_scopes(hub_live, who.calendar_connection)
    assert sent(hub_live, tenant_id) == [("attendance.candidate_joined", "teams_report")]


def test_a_connection_without_the_scope_is_told_to_reconnect_and_never_called_a_no_show(
        hub_live, tenant, sandbox, clock):
    from hub.services.tenants import set_attendance
    from hub.storage.models import Tenant

    tenant_id, api = tenant
    attendance_on(hub_live, tenant_id)
    who = person(api, sandbox, "microsoft", connect_zoom=False)
    event = teams_event(api, who)
    with hub_live.hub.db.session() as s:
        name = s.get(Tenant, tenant_id).name
    set_attendance(hub_live.hub.db, name, False)
    # The organizer reconnects while attendance is off: the new grant has calendars only.
    again = connect(api, who.user_id, "microsoft", who.calendar_email)
    assert again.params["connection_id"] == who.calendar_connection
    assert SCOPE not in stored_scopes(hub_live, who.calendar_connection)
    at(hub_live, clock, event, 60)
    assert types(hub_live, tenant_id) == []  # Graph refused: nobody is called a no-show
    report = api.get(f"/v1/events/{event['id']}/attendance").json()
    assert (report["error"]["kind"], report["error"]["cause"]) == ("scope_missing", "scopes_missing")
    assert report["error"]["fix"]["action"] == "reconnect"
    assert {d["status"] for d in report["deadlines"]} == {"pending"}  # tried again after the fix
    set_attendance(hub_live.hub.db, name, True)
    # Diagnostics say the same as for any other scope gap: the scopes check fails, reconnect.
    scopes = scopes_check(api, who.user_id)
    assert (scopes["status"], scopes["cause"]) == ("fail", "scopes_missing") and SCOPE in scopes["detail"]
    assert scopes["fix"]["action"] == "reconnect" and "/connect/" in scopes["fix"]["url"]
    assert connect(api, who.user_id, "microsoft", who.calendar_email).status == "connected"
    assert scopes_check(api, who.user_id)["status"] == "pass"
    at(hub_live, clock, event, 62)
    assert sorted(types(hub_live, tenant_id)) == ["attendance.candidate_late", "attendance.interviewer_no_show",
                                                  "attendance.no_show"]
    assert api.get(f"/v1/events/{event['id']}/attendance").json()["error"] is None
