"""A sandbox served on a free port for the whole session, reset before every test, and
helpers that walk the emulated Google consent like a browser would."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from providers.sandbox import create_sandbox_app, serve
from tests.schemas.published import figures, violations

REDIRECT_URI = "http://127.0.0.1:5999/oauth/google/callback"
CALENDAR_EVENTS = "https://www.googleapis.com/auth/calendar.events"
CALENDAR_READONLY = "https://www.googleapis.com/auth/calendar.readonly"
FULL_SCOPES = ["openid", "email", "profile", CALENDAR_EVENTS, CALENDAR_READONLY]


class ResponseRecorder:
    """WSGI middleware keeping every JSON answer of the sandbox, so each test's responses are
    checked against the providers' published schemas (tests/schemas/published.py)."""

    def __init__(self, app) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.seen: list[tuple[str, str, int, bytes]] = []
        self.total = 0

    def __call__(self, environ, start_response):
        captured: dict = {}

        def recording_start(status, headers, exc_info=None):
            captured["status"], captured["headers"] = int(status.split()[0]), headers
            return start_response(status, headers, exc_info)

        chunks = []
        for chunk in self.app(environ, recording_start):
            chunks.append(chunk)
            yield chunk
        content_type = dict((k.lower(), v) for k, v in captured.get("headers", [])).get("content-type", "")
        if content_type.startswith("application/json"):
            with self.lock:
                self.total += 1
                self.seen.append((environ["REQUEST_METHOD"], environ.get("SCRIPT_NAME", "") + environ["PATH_INFO"],
                                  captured["status"], b"".join(chunks)))

    def take(self) -> list[tuple[str, str, int, bytes]]:
        with self.lock:
            seen, self.seen = self.seen, []
            return seen


@pytest.fixture(scope="session")
def sandbox_server():
    app = create_sandbox_app()
    recorder = ResponseRecorder(app.wsgi_app)
    app.wsgi_app = recorder
    running = serve(app, "127.0.0.1", 0)
    running.server.recorder = recorder  # type: ignore[attr-defined]
    yield running
    running.shutdown()
    if os.environ.get("HUB_SCHEMA_FIGURES"):
        print(f"\nschema check: {recorder.total} JSON responses, values compared per provider: {figures()}")


@pytest.fixture(autouse=True)
def published_schemas(request):
    """Every JSON response a test got from the session sandbox matches the provider's published
    schema (tests/schemas/README.md): checked after the test, reported as its error."""
    if "sandbox_server" not in request.fixturenames:
        yield
        return
    recorder = request.getfixturevalue("sandbox_server").server.recorder
    recorder.take()
    yield
    problems = [p for method, path, status, body in recorder.take()
                for p in violations(method, path, status, json.loads(body or b"null"))]
    assert problems == [], "responses that break the published schemas:\n" + "\n".join(problems)


@pytest.fixture
def base_url(sandbox_server) -> str:
    requests.post(f"{sandbox_server.base_url}/_control/reset", timeout=5).raise_for_status()
    return sandbox_server.base_url


@pytest.fixture
def http() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # never route loopback calls through a proxy from the environment
    yield session
    session.close()


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


@dataclass
class Consent:
    """One walk through the consent page."""

    authorize_url: str
    params: dict
    verifier: str
    redirect: dict = field(default_factory=dict)  # query of the redirect back to the client


class GoogleFlow:
    client_id = "sandbox-google-client"
    client_secret = "sandbox-google-secret"

    def __init__(self, base_url: str, http: requests.Session) -> None:
        self.base = base_url
        self.http = http

    @property
    def token_url(self) -> str:
        return f"{self.base}/google/token"

    def authorize_params(self, scopes=None, **overrides) -> tuple[dict, str]:
        verifier, challenge = pkce_pair()
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": " ".join(scopes or FULL_SCOPES),
            "state": secrets.token_urlsafe(12),
            "access_type": "offline",
            "prompt": "consent",
            "include_granted_scopes": "true",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "nonce": secrets.token_urlsafe(8),
        }
        params.update(overrides)
        return {k: v for k, v in params.items() if v is not None}, verifier

    def consent(self, email: str, scopes=None, decision="allow", grant=None, **overrides) -> Consent:
        params, verifier = self.authorize_params(scopes, **overrides)
        url = f"{self.base}/google/o/oauth2/v2/auth"
        page = self.http.get(url, params=params, timeout=5)
        assert page.status_code == 200, page.text
        form = {"account": email, "decision": decision}
        if grant is not None:
            form["scope"] = " ".join(grant)
        answer = self.http.post(page.url, data=form, allow_redirects=False, timeout=5)
        assert answer.status_code == 302, answer.text
        location = answer.headers["Location"]
        assert location.startswith(REDIRECT_URI)
        query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        return Consent(page.url, params, verifier, query)

    def exchange(self, consent: Consent, **overrides) -> requests.Response:
        form = {
            "grant_type": "authorization_code",
            "code": consent.redirect["code"],
            "redirect_uri": REDIRECT_URI,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "code_verifier": consent.verifier,
        }
        form.update(overrides)
        return self.http.post(self.token_url, data={k: v for k, v in form.items() if v is not None}, timeout=5)

    def connect(self, email: str, scopes=None, **overrides) -> dict:
        """Consent and code exchange in one: the token response."""
        response = self.exchange(self.consent(email, scopes, **overrides))
        assert response.status_code == 200, response.text
        return response.json()

    def refresh(self, refresh_token: str, **overrides) -> requests.Response:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }
        form.update(overrides)
        return self.http.post(self.token_url, data=form, timeout=5)


@pytest.fixture
def google(base_url, http) -> GoogleFlow:
    return GoogleFlow(base_url, http)


@pytest.fixture
def google_flow(http):
    """A GoogleFlow for another sandbox (one built with its own SandboxConfig)."""
    return lambda base_url: GoogleFlow(base_url, http)


class Control:
    def __init__(self, base_url: str, http: requests.Session) -> None:
        self.base = f"{base_url}/_control"
        self.http = http

    def post(self, path: str, body: dict, expect: int = 201):
        response = self.http.post(self.base + path, json=body, timeout=5)
        assert response.status_code == expect, response.text
        return response.json() if response.content else None

    def get(self, path: str, **params):
        response = self.http.get(self.base + path, params=params, timeout=5)
        assert response.status_code == 200, response.text
        return response.json()

    def fault(self, scenario: str, email: str | None = None, times: int | None = None, params=None, provider="google"):
        body = {"provider": provider, "scenario": scenario}
        if email:
            body["email"] = email
        if times:
            body["times"] = times
        if params:
            body["params"] = params
        return self.post("/faults", body)


@pytest.fixture
def control(base_url, http) -> Control:
    return Control(base_url, http)
