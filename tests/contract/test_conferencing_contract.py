"""The conferencing contract: every provider whose spec has a conferencing adapter passes it,
through its sandbox emulator with the real SDK, and the effect is checked at the provider
(`GET /_control/meetings`)."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from hub.config import Settings
from providers.base import ConferencingProvider, ErrorKind, MeetingDraft, ProviderError
from providers.registry import PROVIDERS
from tests.contract.support import CONFERENCING_PROVIDERS, oauth_token
from tests.e2e.support import Sandbox

T0 = datetime(2026, 3, 2, 13, 0, tzinfo=timezone.utc)


class Under:
    def __init__(self, provider: str, sandbox_url: str) -> None:
        settings = Settings.from_env({}, sandbox_url=sandbox_url, public_url="http://127.0.0.1:9")
        spec = PROVIDERS[provider]
        assert spec.conferencing is not None
        self.provider = provider
        self.sandbox = Sandbox(sandbox_url)
        self.email = f"conf.{uuid.uuid4().hex[:8]}@example.com"
        self.sandbox.account(provider, self.email)
        self.adapter: ConferencingProvider = spec.conferencing(settings.provider(provider))
        self.token = oauth_token(provider, settings, self.email)

    def meetings(self) -> dict[str, dict]:
        r = self.sandbox.http.get(f"{self.sandbox.base}/_control/meetings",
                                  params={"provider": self.provider, "email": self.email}, timeout=10)
        assert r.status_code == 200, r.text
        return {str(m["id"]): m for m in r.json()}


@pytest.fixture(params=CONFERENCING_PROVIDERS)
def conf(request, sandbox_url) -> Under:
    return Under(request.param, sandbox_url)


def test_it_is_a_conferencing_provider(conf):
    assert isinstance(conf.adapter, ConferencingProvider)
    assert PROVIDERS[conf.provider].external_conferencing is not None, "its meetings must be described in the spec"


def test_create_move_delete_at_the_provider(conf):
    meeting = conf.adapter.create_meeting(conf.token, MeetingDraft("Contract interview", T0, 45, "Europe/Stockholm", "a"))
    assert meeting.join_url.startswith("https://")
    held = conf.meetings()[str(meeting.meeting_id)]
    assert held["topic"] == "Contract interview" and held["duration"] == 45

    conf.adapter.update_meeting(conf.token, meeting.meeting_id, MeetingDraft("Moved", T0 + timedelta(hours=2), 30))
    moved = conf.meetings()[str(meeting.meeting_id)]
    assert moved["topic"] == "Moved" and moved["duration"] == 30
    assert moved["start_time"].startswith((T0 + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))

    conf.adapter.delete_meeting(conf.token, meeting.meeting_id)
    assert str(meeting.meeting_id) not in conf.meetings()
    conf.adapter.delete_meeting(conf.token, meeting.meeting_id)  # gone already: still fine


def test_host_ability_follows_the_account(conf):
    assert conf.adapter.can_host(conf.token) is True


def test_bad_token_is_auth_expired(conf):
    with pytest.raises(ProviderError) as info:
        conf.adapter.create_meeting("not-a-token", MeetingDraft("x", T0, 30))
    assert info.value.kind is ErrorKind.AUTH_EXPIRED
    assert conf.meetings() == {}
