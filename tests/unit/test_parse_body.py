"""hub/api/routing.py's `parse_body`: a valid JSON body is validated from its bytes, and any body
that way refuses gets the answer the JSON-module path has always given."""
from __future__ import annotations

import json

import pytest
from flask import Flask

from hub.api.routing import operation
from hub.api.schemas import FreeBusyIn
from hub.app import HubJSON
from hub.problems import Problem

BODY = {"users": ["ada"], "start": "2026-03-02T00:00:00Z", "end": "2026-03-03T00:00:00Z", "consistency": "live"}


@pytest.fixture
def app() -> Flask:
    app = Flask("parse-body")
    app.json = HubJSON(app)

    @app.post("/fb")
    @operation("free/busy", tags=("t",), body=FreeBusyIn)
    def fb(body: FreeBusyIn):
        return {"users": body.users, "start": body.start.isoformat(), "consistency": body.consistency}

    @app.errorhandler(Problem)
    def problem(p: Problem):
        return p.response()

    return app


@pytest.fixture
def json_module_parses(monkeypatch) -> list[bytes]:
    seen: list[bytes] = []
    loads = HubJSON.loads

    def counting(self, s, **kwargs):
        seen.append(s)
        return loads(self, s, **kwargs)

    monkeypatch.setattr(HubJSON, "loads", counting)
    return seen


def test_a_valid_body_is_validated_without_the_json_module(app, json_module_parses):
    r = app.test_client().post("/fb", json=BODY)
    assert r.status_code == 200 and json_module_parses == []  # (before r.json: the client parses with it)
    assert r.json == {"users": ["ada"], "start": "2026-03-02T00:00:00+00:00", "consistency": "live"}


@pytest.mark.parametrize("raw", [json.dumps(BODY).encode("utf-16"), b"\xef\xbb\xbf" + json.dumps(BODY).encode()])
def test_json_that_only_the_json_module_reads_is_still_accepted(app, raw):
    """UTF-16, or UTF-8 with a byte-order mark: `json` reads them, pydantic's parser does not."""
    r = app.test_client().post("/fb", data=raw, content_type="application/json")
    assert r.status_code == 200 and r.json["users"] == ["ada"]


@pytest.mark.parametrize(("raw", "status", "code"), [
    (b'{"users": ["ada"], "start": ', 400, "malformed_json"),
    (b'["ada"]', 422, "validation_failed"),
    (json.dumps({**BODY, "consistency": "eventually"}).encode(), 422, "validation_failed"),
])
def test_a_refused_body_is_answered_as_before(app, raw, status, code):
    r = app.test_client().post("/fb", data=raw, content_type="application/json")
    assert r.status_code == status and r.json["code"] == code
