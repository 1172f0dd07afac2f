"""Headers on every answer, the metrics token, and an access log without secrets — checked
on a live hub served by the same dev server `hub serve` and `hub demo` use."""
from __future__ import annotations

import logging

import pytest
import requests

from tests.e2e.support import connect
from tests.security.conftest import make_app


def browser() -> requests.Session:
    http = requests.Session()
    http.trust_env = False
    return http


def test_no_server_version_and_nosniff_everywhere(live_hub, api):
    answers = [browser().get(live_hub.url + "/healthz"), api.get("/v1/users/nobody"),
               browser().get(live_hub.url + "/settings"), browser().get(live_hub.url + "/docs"),
               browser().get(live_hub.url + "/nope")]
    for r in answers:
        server = r.headers.get("Server", "")
        assert "Werkzeug" not in server and "Python" not in server and "/" not in server, server
        assert r.headers["X-Content-Type-Options"] == "nosniff", r.url


def test_every_html_page_has_a_csp_that_forbids_framing(live_hub):
    pages = ["/settings", "/docs", "/connect/not-a-real-link", "/settings/enter/not-a-real-link",
             "/oauth/callback/google?state=forged&code=x"]
    for path in pages:
        r = browser().get(live_hub.url + path, allow_redirects=False)
        assert r.headers["Content-Type"].startswith("text/html"), path
        csp = r.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp, path
        assert r.headers["X-Frame-Options"] == "DENY"


def test_answers_that_carry_secrets_or_links_are_not_stored(live_hub, api, unique):
    assert api.put(f"/v1/users/u-{unique}", json={"email": f"u-{unique}@example.com"}).status_code == 201
    answers = {
        "connect_link": api.post(f"/v1/users/u-{unique}/connect-links", json={"provider": "google"}),
        "settings_link": api.post(f"/v1/users/u-{unique}/settings-links", json={}),
        "webhook_secret": api.post("/v1/webhook-endpoints", json={"url": "https://93.184.216.34/h", "events": ["*"]}),
        "connect_page": browser().get(live_hub.url + "/connect/not-a-real-link"),
        "problem": api.get("/v1/users/nobody"),
    }
    for name, r in answers.items():
        assert r.status_code in (201, 404), (name, r.text)
        assert r.headers["Cache-Control"] == "no-store", name


def test_metrics_need_the_token_when_one_is_set(database_url):
    app = make_app(database_url, metrics_token="m3trics")
    try:
        client = app.test_client()
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        ok = client.get("/metrics", headers={"Authorization": "Bearer m3trics"})
        assert ok.status_code == 200 and b"hub_" in ok.data
    finally:
        app.extensions["hub"].close()


def test_metrics_are_open_without_a_token(client):
    assert client.get("/metrics").status_code == 200


def test_a_head_of_a_connect_link_does_not_use_it(live_hub, api, unique):
    assert api.put(f"/v1/users/h-{unique}", json={"email": f"h-{unique}@example.com"}).status_code == 201
    link = api.post(f"/v1/users/h-{unique}/connect-links", json={"provider": "google"}).json()["url"]
    assert browser().head(link, timeout=10).status_code == 200
    opened = browser().get(link, allow_redirects=False)
    assert opened.status_code == 302, opened.text  # still good: on to the provider


def test_the_access_log_carries_no_codes_states_or_link_tokens(live_hub, api, sandbox, unique, caplog):
    email = f"log-{unique}@example.com"
    sandbox.account("google", email)
    assert api.put(f"/v1/users/log-{unique}", json={"email": email}).status_code == 201
    caplog.set_level(logging.INFO, logger="hub.access")
    result = connect(api, f"log-{unique}", "google", email)
    assert result.status == "connected"
    settings_link = api.post(f"/v1/users/log-{unique}/settings-links", json={}).json()["url"]
    browser().get(settings_link, allow_redirects=False)
    lines = [r.getMessage() for r in caplog.records if r.name == "hub.access"]
    assert any("/oauth/callback/google?[redacted]" in line for line in lines), lines
    calls = sandbox.requests_log("google", "/google/token")
    code = next(c for c in calls if c["method"] == "POST")["body"]
    secrets = [settings_link.rsplit("/", 1)[1], str(code.get("code") if isinstance(code, dict) else code)]
    for line in lines:
        for secret in secrets:
            assert secret not in line, line
        assert "code=" not in line and "state=" not in line, line
        assert "/connect/[redacted]" in line or "/connect/" not in line, line


def test_google_tokeninfo_gets_the_token_in_a_post_body(live_hub, api, sandbox, unique):
    email = f"ti-{unique}@example.com"
    sandbox.account("google", email)
    assert api.put(f"/v1/users/ti-{unique}", json={"email": email}).status_code == 201
    assert connect(api, f"ti-{unique}", "google", email).status == "connected"
    assert api.get(f"/v1/diagnostics/users/ti-{unique}").status_code == 200
    calls = [c for c in sandbox.requests_log("google", "/google/tokeninfo")]
    assert calls, "diagnostics did not call tokeninfo"
    for call in calls:
        assert call["method"] == "POST"
        assert "access_token" not in str(call["query"])


@pytest.mark.parametrize("target, logged", [
    ("/oauth/callback/google?state=abc&code=4/xyz", "/oauth/callback/google?[redacted]"),
    ("/connect/tok3n-value", "/connect/[redacted]"),
    ("/settings/enter/tok3n-value?x=1", "/settings/enter/[redacted]?[redacted]"),
    ("/book/tok3n-value/invite.ics?timezone=UTC", "/book/[redacted]/invite.ics?[redacted]"),
    ("/v1/users/ada", "/v1/users/ada"),
])
def test_redacted_request_targets(target, logged):
    from hub.devserver import redacted_target
    assert redacted_target(target) == logged
