"""The diagnostics rules on snapshots alone: no database, no provider."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from hub.services.diagnostics.model import ConnectionState, UserState
from hub.services.diagnostics.providers import ProviderFacts
from hub.services.diagnostics.rules import Evidence, connection_checks, refine_dead_grant, user_checks
from providers.base import ErrorKind, ProviderError
from providers.probes import CALENDAR, CONFERENCING, IDENTITY, SCOPES, Finding, Probe

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
EVENTS = "https://www.googleapis.com/auth/calendar.events"
READ = "https://www.googleapis.com/auth/calendar.readonly"


def state(**over) -> ConnectionState:
    base = dict(id="con_1", user_id="usr_1", provider="google", provider_account_id="sub-1",
                account_email="pat@acme.example", status="active", scopes=(EVENTS, READ),
                capabilities=("calendar", "google_meet"), connected_at=NOW - timedelta(days=1),
                consented_at=NOW - timedelta(days=1), last_used_at=NOW - timedelta(hours=1), last_refresh_at=None,
                last_refresh_error_at=None, refresh_failures=0, reconnect_count=0, last_error=None, flags={})
    return ConnectionState(**{**base, **over})


def facts(**over) -> ProviderFacts:
    probe = Probe("google.primary_calendar", (CALENDAR, CONFERENCING), lambda token, subject: [])
    base = dict(name="google", title="Google Calendar", capabilities=frozenset({"calendar", "google_meet"}),
                native_conferencing="google_meet", required_scopes=(EVENTS, READ),
                inactivity_limit=timedelta(days=183), consent_lifetime=None, probes=(probe,))
    return ProviderFacts(**{**base, **over})


USER = UserState("usr_1", "pat", "pat@acme.example", None)


def by_id(checks):
    return {c.id: c for c in checks}


class TestRefine:
    def test_testing_app_is_named_before_inactivity(self):
        old = state(consented_at=NOW - timedelta(days=200), last_used_at=NOW - timedelta(days=200))
        assert refine_dead_grant("token_revoked", old, facts(consent_lifetime=timedelta(days=7)), NOW) == \
            "token_expired_testing_app"

    def test_inactivity_counts_from_the_last_success(self):
        assert refine_dead_grant("token_revoked", state(consented_at=NOW - timedelta(days=400),
                                                        last_used_at=NOW - timedelta(days=190)),
                                 facts(), NOW) == "token_expired_inactivity"
        assert refine_dead_grant("token_revoked", state(consented_at=NOW - timedelta(days=400),
                                                        last_used_at=NOW - timedelta(days=10)),
                                 facts(), NOW) == "token_revoked"

    def test_a_provider_without_a_known_limit_never_guesses(self):
        long_ago = state(consented_at=NOW - timedelta(days=900), last_used_at=None)
        assert refine_dead_grant("zoom_token_revoked", long_ago, facts(inactivity_limit=None), NOW) == \
            "zoom_token_revoked"

    @pytest.mark.parametrize("cause", ["password_reset_revoked", "mfa_required", "consent_required",
                                       "credentials_shared"])
    def test_a_named_cause_is_kept(self, cause):
        assert refine_dead_grant(cause, state(consented_at=NOW - timedelta(days=900)),
                                 facts(consent_lifetime=timedelta(days=7)), NOW) == cause


def test_a_dead_grant_skips_every_live_check_it_would_have_run():
    ev = Evidence(state(), facts(), refreshed=True,
                  refresh_error=ProviderError(ErrorKind.AUTH_REVOKED, "Token has been expired or revoked.",
                                              provider="google", cause="token_revoked", provider_code="invalid_grant",
                                              http_status=400))
    checks = by_id(connection_checks(ev, USER, NOW))
    assert checks["google.token_refresh"].status == "fail"
    assert checks["google.token_refresh"].cause == "token_revoked"
    assert "HTTP 400" in checks["google.token_refresh"].detail and "invalid_grant" in checks["google.token_refresh"].detail
    assert {checks[f"google.{c}"].status for c in (SCOPES, CALENDAR, CONFERENCING)} == {"skip"}


def test_needs_reauth_is_explained_from_the_stored_record():
    stored = {"kind": "auth_revoked", "cause": "token_revoked", "message": "Token has been expired or revoked.",
              "at": "2026-02-20T00:00:00+00:00"}
    ev = Evidence(state(status="needs_reauth", last_error=stored, consented_at=NOW - timedelta(days=9)),
                  facts(consent_lifetime=timedelta(days=7)))
    grant = by_id(connection_checks(ev, USER, NOW))["google.token_refresh"]
    assert (grant.status, grant.cause) == ("fail", "token_expired_testing_app")


def test_missing_native_conferencing_fails_only_when_the_user_relies_on_it():
    meet_off = Finding.failed(CONFERENCING, "meet_unavailable", "Meet is off", "allowed: []")
    findings = [Finding.passed(CALENDAR, "ok"), meet_off, Finding.passed(SCOPES, "ok", granted_scopes=[EVENTS, READ])]
    relies = by_id(connection_checks(Evidence(state(), facts(), True, None, findings), USER, NOW))
    assert (relies["google.conferencing"].status, relies["google.conferencing"].cause) == ("fail", "meet_unavailable")
    zoom_user = UserState("usr_1", "pat", "pat@acme.example", "zoom")
    other = by_id(connection_checks(Evidence(state(), facts(), True, None, findings), zoom_user, NOW))
    assert other["google.conferencing"].status == "warn"


def test_stored_scopes_from_an_older_install_are_missing_a_scope():
    ev = Evidence(state(scopes=(READ,)), facts(), True, None, [Finding.passed(CALENDAR, "ok")])
    scopes = by_id(connection_checks(ev, USER, NOW))["google.scopes"]
    assert (scopes.status, scopes.cause) == ("fail", "scopes_missing")
    assert EVENTS in scopes.detail and "stored" in scopes.detail


def test_live_scopes_win_over_stored_ones():
    live = Finding.passed(SCOPES, "read", granted_scopes=[READ])
    ev = Evidence(state(), facts(), True, None, [live, Finding.passed(IDENTITY, "me")])
    assert by_id(connection_checks(ev, USER, NOW))["google.scopes"].cause == "scopes_missing"


def test_a_write_only_cause_is_repeated_until_a_booking_succeeds():
    stored = {"kind": "provider_down", "cause": "teams_link_not_generated", "message": "no onlineMeeting",
              "at": "2026-03-01T10:00:00+00:00"}
    ev = Evidence(state(provider="microsoft", last_error=stored), facts(name="microsoft"), True, None,
                  [Finding.passed(CALENDAR, "ok"), Finding.passed(CONFERENCING, "Teams allowed")])
    last = by_id(connection_checks(ev, USER, NOW))["microsoft.last_booking"]
    assert (last.status, last.cause) == ("fail", "teams_link_not_generated")


def test_peers_on_the_same_login_are_credentials_shared():
    ev = Evidence(state(), facts(), True, None, [Finding.passed(CALENDAR, "ok")], peers=["sam"])
    shared = by_id(connection_checks(ev, USER, NOW))["google.credentials_shared"]
    assert (shared.status, shared.cause) == ("fail", "credentials_shared") and "sam" in shared.detail


def test_user_level_checks():
    none = by_id(user_checks(USER, [], {"google": facts()}))
    assert none["calendar_connected"].cause == "organizer_not_connected"
    assert none["conferencing_connected"].status == "skip"  # follows the calendar: the organizer comes first
    zoom = UserState("usr_1", "pat", "pat@acme.example", "zoom")
    missing = by_id(user_checks(zoom, [state()], {"google": facts()}))
    assert missing["calendar_connected"].status == "pass"
    assert (missing["conferencing_connected"].cause, missing["conferencing_connected"].wants) == \
        ("conferencing_not_connected", "zoom")


def test_an_unnamed_failure_still_reads_and_has_a_fix():
    from hub.services.diagnostics.service import DiagnosticsService

    gone = ProviderError(ErrorKind.NOT_FOUND, "calendar gone", provider="google", provider_code="notFound",
                         http_status=404)
    ev = Evidence(state(), facts(), True, None, [Finding.from_error(CALENDAR, gone, "Reading the calendar")])
    check = by_id(connection_checks(ev, USER, NOW))["google.calendar"]
    assert check.status == "fail" and check.cause is None
    service = DiagnosticsService.__new__(DiagnosticsService)
    service.connect_link = lambda *a: "https://hub.example/connect/x"
    service._explain(check, "ten_1", None, [state()], {})
    assert check.summary and check.fix["action"] and check.fix["steps"]
