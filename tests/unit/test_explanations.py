"""Every failure cause a person can meet has plain words and a fix, in one table."""
from __future__ import annotations

import pytest

from hub.services.explanations import CAUSES, CONNECT_OUTCOMES, KINDS, explain

# API.md, "Stable cause codes (extend, never rename)".
API_CAUSES = """token_revoked token_expired_inactivity token_expired_testing_app password_reset_revoked
consent_required mfa_required conditional_access_blocked account_disabled scopes_missing shared_mailbox
mailbox_unlicensed teams_unavailable teams_link_not_generated meet_unavailable zoom_cannot_host
zoom_token_revoked credentials_shared organizer_not_connected conferencing_not_connected
client_misconfigured rate_limited provider_unavailable""".split()
API_KINDS = """auth_expired auth_revoked scope_missing mailbox_unavailable access_denied rate_limited
provider_down""".split()


def test_every_cause_of_the_api_is_explained():
    assert sorted(set(API_CAUSES) - set(CAUSES)) == []


@pytest.mark.parametrize("code", sorted(set(CAUSES) | set(CONNECT_OUTCOMES) | set(KINDS)))
def test_words_are_plain_and_filled_in(code):
    for provider in ("Microsoft 365", None):
        e = explain(code, code, provider)
        assert e.summary and e.fix and e.action
        text = " ".join((e.summary, e.fix, *e.steps))
        assert "{" not in text and "}" not in text
        # No wire vocabulary in what a person reads.
        for jargon in ("oauth", "token", "scope", "401", "403", "invalid_grant", "http"):
            assert jargon not in text.lower(), (code, jargon)


def test_kinds_cover_causeless_errors():
    for kind in API_KINDS:
        assert explain(None, kind).code == kind


def test_shared_mailbox_words():
    e = explain("shared_mailbox", "mailbox_unavailable", "Microsoft 365")
    assert e.summary == "This is a shared mailbox — connect your own account."
    assert e.reconnect_fixes_it and e.as_fix()["action"] == "connect_own_account"


def test_unknown_cause_still_says_something_useful():
    e = explain("brand_new_cause", None, "Zoom")
    assert e.code == "unknown" and "Reconnect" in " ".join(e.steps)


def test_fix_has_the_api_shape():
    fix = explain("token_revoked", None, "Google Calendar").as_fix(url="https://hub.example/connect/x")
    assert fix == {"action": "reconnect", "url": "https://hub.example/connect/x",
                   "steps": ["Choose Reconnect.", "Sign in with the same account and allow every permission."]}
