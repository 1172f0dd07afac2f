"""Deeply nested JSON is bad input (400 `malformed_json`) on every endpoint that reads JSON,
not a RecursionError turned into a 500."""
from __future__ import annotations

import pytest

from tests.security.conftest import make_app

NESTED = b"[" * 30_000 + b"]" * 30_000


def json_routes(app) -> list[tuple[str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/v1/"):
            continue
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH"}):
            path = rule.rule
            for arg in rule.arguments:
                path = path.replace(f"<{arg}>", "x").replace(f"<string:{arg}>", "x")
            out.append((method, path))
    return out


def test_every_json_endpoint_answers_400_to_deep_nesting(client, app, auth):
    routes = json_routes(app)
    assert len(routes) >= 8  # the walk found the API, not nothing
    for method, path in routes:
        r = client.open(path, method=method, data=NESTED, headers={**auth, "Content-Type": "application/json"})
        assert r.status_code == 400, (method, path, r.status_code, r.data[:200])
        assert r.json["code"] == "malformed_json", (method, path)


def test_the_zoom_webhook_answers_400_to_deep_nesting_it_signed(database_url):
    import time

    from webhooks.zoom_signature import signature
    app = make_app(database_url, zoom_webhook_secret="s3cret")
    try:
        ts = str(int(time.time()))
        r = app.test_client().post("/webhooks/zoom", data=NESTED, headers={
            "x-zm-request-timestamp": ts, "x-zm-signature": signature("s3cret", ts, NESTED),
            "Content-Type": "application/json"})
        assert r.status_code == 400
    finally:
        app.extensions["hub"].close()


@pytest.mark.parametrize("depth", [10, 100])
def test_reasonable_nesting_still_reaches_validation(client, auth, depth):
    body = b'{"users": ' + b"[" * depth + b"]" * depth + b', "start": "x", "end": "y"}'
    r = client.post("/v1/freebusy", data=body, headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 422


def test_a_body_over_the_limit_is_413_and_the_config_sets_the_limit(client, app, auth):
    """MAX_CONTENT_LENGTH (1 MiB) bounds every body read, as read when each request starts."""
    body = b'{"users": ["a"], "pad": "' + b"x" * (1024 * 1024) + b'"}'
    r = client.post("/v1/freebusy", data=body, headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json["code"] == "payload_too_large", r.data[:200]
    small = b'{"users": ["a"], "pad": "' + b"x" * 200 + b'"}'
    assert client.post("/v1/freebusy", data=small, headers={**auth, "Content-Type": "application/json"}).status_code == 422
    app.config["MAX_CONTENT_LENGTH"] = 100
    r = client.post("/v1/freebusy", data=small, headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 413, r.data[:200]
