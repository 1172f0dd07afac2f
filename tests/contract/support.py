"""Everything the contract suites need about each provider.

The suites are parametrized over the registry and fail closed: a registered calendar provider
without traits here fails its contract tests instead of being skipped silently."""
from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from hub.config import Settings
from providers.base import FormConnect, OAuthConnect
from providers.registry import PROVIDERS, SPECS
from tests.e2e.support import Sandbox

REDIRECT_URI = "http://127.0.0.1:9/oauth/callback/contract"


@dataclass(frozen=True)
class ProviderTraits:
    # Where the sandbox's `GET /_control/events` puts an event's title for this provider.
    event_title: Callable[[dict[str, Any]], str | None]
    # For a provider connected with a credential form: what a person types, given the sandbox
    # URL and the account's email.
    form_values: Callable[[str, str], dict[str, str]] | None = None


TRAITS: dict[str, ProviderTraits] = {
    "google": ProviderTraits(lambda e: e.get("summary")),
    "microsoft": ProviderTraits(lambda e: e.get("subject")),
    "caldav": ProviderTraits(lambda e: e.get("summary"), lambda sandbox_url, email: {
        "server_url": f"{sandbox_url}/caldav/", "username": email, "password": "app-password"}),
}
CALENDAR_PROVIDERS = [spec.name for spec in SPECS if spec.calendar is not None]
CONFERENCING_PROVIDERS = [spec.name for spec in SPECS if spec.conferencing is not None]


@dataclass
class CalendarUnderTest:
    provider: str
    adapter: Any
    token: str
    email: str
    sandbox: Sandbox
    traits: ProviderTraits

    @property
    def native(self) -> bool:
        return PROVIDERS[self.provider].native_conferencing is not None

    @property
    def conferencing_off_scenario(self) -> str:
        """The sandbox fault that switches the calendar's own meetings off: named after the
        cause the provider reports for it."""
        meetings = PROVIDERS[self.provider].meetings
        assert meetings is not None
        return meetings.unavailable_cause

    def event_title(self, event: dict[str, Any]) -> str | None:
        return self.traits.event_title(event)


def consent_token(flow, email: str) -> str:
    """The OAuth dance straight against the emulator, through the provider's own flow object."""
    verifier, state, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16), secrets.token_urlsafe(8)
    url = flow.authorization_url(redirect_uri=REDIRECT_URI, state=state, code_verifier=verifier,
                                 nonce=nonce, login_hint=email)
    http = requests.Session()
    http.trust_env = False
    answer = http.post(url, data={"account": email, "decision": "allow"}, allow_redirects=False, timeout=30)
    assert answer.status_code in (302, 303), answer.text
    params = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert params["state"] == [state]
    grant = flow.exchange(code=params["code"][0], redirect_uri=REDIRECT_URI, code_verifier=verifier, nonce=nonce)
    return grant.access_token


def traits_of(provider: str) -> ProviderTraits:
    if provider not in TRAITS:
        pytest.fail(f"{provider} is registered but has no contract traits: add it to TRAITS in "
                    "tests/contract/support.py", pytrace=False)
    return TRAITS[provider]


def oauth_token(provider: str, settings: Settings, email: str) -> str:
    connect = PROVIDERS[provider].connect
    if isinstance(connect, FormConnect):  # signs in with a form: what a person would type
        values = traits_of(provider).form_values
        assert values is not None, f"{provider}: add form_values to its TRAITS"
        return connect.form(settings.provider(provider)).verify(values(settings.sandbox_url, email)).access_token
    assert isinstance(connect, OAuthConnect), f"{provider}: no OAuth flow to consent through"
    return consent_token(connect.flow(settings.provider(provider)), email)


def calendar_under_test(provider: str, sandbox_url: str) -> CalendarUnderTest:
    traits = traits_of(provider)
    settings = Settings.from_env({}, sandbox_url=sandbox_url, public_url="http://127.0.0.1:9")
    sandbox = Sandbox(sandbox_url)
    email = f"contract.{uuid.uuid4().hex[:8]}@example.com"
    sandbox.account(provider, email, timezone="UTC")
    spec = PROVIDERS[provider]
    assert spec.calendar is not None
    token = oauth_token(provider, settings, email)
    return CalendarUnderTest(provider, spec.calendar(settings.provider(provider)), token, email, sandbox, traits)


def sync_under_test(provider: str, sandbox_url: str) -> Any:
    """The provider's `CalendarSync` adapter as the registry builds it, pointed at the sandbox."""
    from providers.base import CalendarSync
    from providers.registry import PROVIDERS

    spec = PROVIDERS[provider]
    assert spec.sync is not None
    settings = Settings.from_env({}, sandbox_url=sandbox_url, public_url="http://127.0.0.1:9")
    adapter = spec.sync(settings.provider(provider))
    assert isinstance(adapter, CalendarSync)
    return adapter
