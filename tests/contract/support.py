"""Everything the contract suite needs about each provider, in one table."""
from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import requests

from hub.config import Settings
from oauth.credential_form import CredentialForm
from oauth.registry import FLOWS
from providers.registry import PROVIDERS
from tests.e2e.support import Sandbox

REDIRECT_URI = "http://127.0.0.1:9/oauth/callback/contract"


@dataclass(frozen=True)
class ProviderTraits:
    # None for a calendar without conferencing of its own (its spec's native_conferencing).
    conferencing_off_scenario: str | None
    event_title: Callable[[dict[str, Any]], str | None]
    # Fields of the credential form, for providers that connect with one instead of OAuth.
    form_values: Callable[[str, str], dict[str, str]] | None = None


TRAITS: dict[str, ProviderTraits] = {
    "google": ProviderTraits("meet_unavailable", lambda e: e.get("summary")),
    "microsoft": ProviderTraits("teams_unavailable", lambda e: e.get("subject")),
    "caldav": ProviderTraits(None, lambda e: e.get("summary"), lambda sandbox_url, email: {
        "server_url": f"{sandbox_url}/caldav/", "username": email, "password": "app-password"}),
}
CALENDAR_PROVIDERS = [name for name, spec in PROVIDERS.items() if spec.calendar is not None and name in TRAITS]


@dataclass
class CalendarUnderTest:
    provider: str
    adapter: Any
    token: str
    email: str
    sandbox: Sandbox
    traits: ProviderTraits

    @property
    def conferencing_off_scenario(self) -> str | None:
        return self.traits.conferencing_off_scenario

    @property
    def has_native_conferencing(self) -> bool:
        return PROVIDERS[self.provider].native_conferencing is not None

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


def calendar_under_test(provider: str, sandbox_url: str) -> CalendarUnderTest:
    settings = Settings(sandbox_url=sandbox_url, public_url="http://127.0.0.1:9")
    sandbox = Sandbox(sandbox_url)
    email = f"contract.{uuid.uuid4().hex[:8]}@example.com"
    sandbox.account(provider, email, timezone="UTC")
    method = FLOWS[provider](settings)
    traits = TRAITS[provider]
    if isinstance(method, CredentialForm):
        assert traits.form_values is not None
        token = method.verify(traits.form_values(sandbox_url, email)).access_token
    else:
        token = consent_token(method, email)
    return CalendarUnderTest(provider, PROVIDERS[provider].calendar(settings), token, email, sandbox, TRAITS[provider])
