"""Helpers for tests that drive the hub and the sandbox over real HTTP, as a backend and a
person would: API calls with a key, and the OAuth consent dance through the sandbox's page."""
from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import socket
import threading
import time

import requests
from hub.devserver import make_hub_server


@dataclass
class LiveHub:
    url: str
    sandbox_url: str
    app: object

    @property
    def hub(self):
        return self.app.extensions["hub"]


class Api:
    """A scheduling backend: one tenant's API key against the live hub."""

    def __init__(self, base: str, key: str, settle_sync: bool = False) -> None:
        self.base = base
        self.key = key
        # The hub runs background jobs: connect() waits for the sync work a connect starts.
        self.settle_sync = settle_sync
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.headers["Authorization"] = f"Bearer {key}"

    def request(self, method: str, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 30)
        return self.http.request(method, self.base + path, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


class Sandbox:
    """The sandbox's control API."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.http.trust_env = False

    def account(self, provider: str, email: str, **extra) -> dict:
        r = self.http.post(f"{self.base}/_control/accounts", json={"provider": provider, "email": email, **extra}, timeout=10)
        assert r.status_code == 201, r.text
        return r.json()

    def busy(self, provider: str, email: str, start: str, end: str, **extra) -> dict:
        r = self.http.post(f"{self.base}/_control/events",
                           json={"provider": provider, "email": email, "start": start, "end": end, **extra}, timeout=10)
        assert r.status_code == 201, r.text
        return r.json()

    def events(self, provider: str, email: str) -> list[dict]:
        r = self.http.get(f"{self.base}/_control/events", params={"provider": provider, "email": email}, timeout=10)
        assert r.status_code == 200, r.text
        data = r.json()
        return data["events"] if isinstance(data, dict) else data

    def fault(self, provider: str, scenario: str, email: str | None = None, **extra) -> dict:
        body = {"provider": provider, "scenario": scenario, **extra}
        if email:
            body["email"] = email
        r = self.http.post(f"{self.base}/_control/faults", json=body, timeout=10)
        assert r.status_code == 201, r.text
        return r.json()

    def channels(self, provider: str, email: str) -> list[dict]:
        """The push channels open on that calendar at the provider now (wire format)."""
        r = self.http.get(f"{self.base}/_control/channels", params={"provider": provider, "email": email}, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def grants(self, provider: str, email: str) -> list[dict]:
        """The account's consents as the provider holds them (`alive`, `revoked_reason`)."""
        r = self.http.get(f"{self.base}/_control/grants", params={"provider": provider, "email": email}, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def requests_log(self, provider: str, path_prefix: str = "") -> list[dict]:
        r = self.http.get(f"{self.base}/_control/requests", params={"provider": provider, "path_prefix": path_prefix},
                          timeout=10)
        assert r.status_code == 200, r.text
        data = r.json()
        return data["requests"] if isinstance(data, dict) else data


@dataclass
class ConsentResult:
    status: str
    params: dict[str, str]
    final_url: str


def connect(api: Api, user_id: str, provider: str, account: str, *, decision: str = "allow",
            scope: str | None = None, return_url: str | None = "https://backend.example/done",
            password: str = "app-password") -> ConsentResult:
    """Connect link → consent page → callback, following redirects by hand so each hop is real.
    A provider that connects with a credential form (CalDAV) gets the form filled in instead:
    the prefilled fields kept, `account` and `password` typed."""
    body = {"provider": provider}
    if return_url:
        body["return_url"] = return_url
    r = api.post(f"/v1/users/{user_id}/connect-links", json=body)
    assert r.status_code == 201, r.text
    browser = requests.Session()
    browser.trust_env = False
    hop = browser.get(r.json()["url"], allow_redirects=False, timeout=30)
    if hop.status_code == 200 and 'name="state"' in hop.text:  # a credential form, not a consent
        return fill_credential_form(browser, r.json()["url"], hop.text, {"username": account, "password": password})
    assert hop.status_code == 302, hop.text
    authorize_url = hop.headers["Location"]
    page = browser.get(authorize_url, timeout=30)
    assert page.status_code == 200, page.text
    form = {"account": account, "decision": decision}
    if scope is not None:
        form["scope"] = scope
    consent = browser.post(authorize_url, data=form, allow_redirects=False, timeout=30)
    assert consent.status_code in (302, 303), consent.text
    callback = browser.get(consent.headers["Location"], allow_redirects=False, timeout=60)
    if callback.status_code in (302, 303):
        final = callback.headers["Location"]
        params = {k: v[0] for k, v in parse_qs(urlsplit(final).query).items()}
        if params.get("status") == "connected" and api.settle_sync:
            settle_sync(api, provider, params["connection_id"])
        return ConsentResult(params.get("status", ""), params, final)
    return ConsentResult("page", {"status_code": str(callback.status_code), "body": callback.text}, callback.url)


def settle_sync(api: Api, provider: str, connection_id: str, deadline: float = 20.0) -> None:
    """Wait until the push channel a connect opens in the background is open (or failed) and
    its first sync done: provider calls a test did not make, finished before it makes its own."""
    from providers.registry import PROVIDERS
    if PROVIDERS[provider].sync is None:
        return
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        status = api.get(f"/v1/connections/{connection_id}/sync").json()
        channel = status.get("channel") or {}
        if channel.get("status") == "failed" or (channel.get("status") == "active" and status.get("last_synced_at")):
            return
        time.sleep(0.02)  # the poll's interval, bounded by the deadline


class _FormInputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "input" and named.get("name"):
            self.values[str(named["name"])] = named.get("value") or ""


def form_inputs(html: str) -> dict[str, str]:
    """The inputs of a page's form with the values they show (hidden CSRF state included)."""
    parser = _FormInputs()
    parser.feed(html)
    return parser.values


def fill_credential_form(browser: requests.Session, url: str, html: str, typed: dict[str, str]) -> ConsentResult:
    answer = browser.post(url, data={**form_inputs(html), **typed}, allow_redirects=False, timeout=60)
    if answer.status_code in (302, 303):
        final = answer.headers["Location"]
        params = {k: v[0] for k, v in parse_qs(urlsplit(final).query).items()}
        return ConsentResult(params.get("status", ""), params, final)
    return ConsentResult("page", {"status_code": str(answer.status_code), "body": answer.text}, answer.url)


def free_port_pair() -> int:
    """Two consecutive free ports on loopback: `hub demo` takes P and P+1."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            with socket.socket() as s2:
                s2.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue


def start_hub(database_url: str, sandbox_url: str, **overrides):
    """A hub served on a free port; its public URL is known only once the port is bound."""
    server = make_hub_server("127.0.0.1", 0, lambda environ, start: [])  # the dev server, as `hub serve`
    url = f"http://127.0.0.1:{server.server_port}"
    from hub.app import create_app  # late: keeps this helper module cheap to import
    from oauth.vault import TokenVault

    settings = {"database_url": database_url, "sandbox_url": sandbox_url, "public_url": url,
                "encryption_keys": TokenVault.generate_key_spec("e2e"), "log_json": False,
                "refresh_margin_seconds": 60,
                # Attendance deadlines run when a test says so, on its own clock.
                "attendance_timer": False,
                # Every test talks from 127.0.0.1, and many send bad keys and forged links on
                # purpose: one address's budget of failures would run out mid-suite.
                "rate_limit_failed_auth": "100000/minute", **overrides}
    app = create_app(settings)
    server.app = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, LiveHub(url, sandbox_url, app)
