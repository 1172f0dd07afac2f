"""hub/http_headers.py on answers a view shaped itself: what the view set is kept or replaced
as the policy says, whatever headers came before."""
from __future__ import annotations

from flask import Flask, Response

from hub import http_headers


def app_with(view) -> Flask:
    app = Flask(__name__)
    app.add_url_rule("/x", "x", view)
    app.add_url_rule("/static/x", "static_x", view)
    http_headers.register(app)
    return app


def test_a_views_server_is_removed_and_its_nosniff_replaced_once():
    def view():
        return Response("{}", mimetype="application/json",
                        headers=[("Server", "Werkzeug/3"), ("X-Content-Type-Options", "sniff"), ("Server", "again")])
    r = app_with(view).test_client().get("/x")
    assert r.headers.getlist("Server") == []
    assert r.headers.getlist("X-Content-Type-Options") == ["nosniff"]
    assert r.headers.getlist("Cache-Control") == ["no-store"]


def test_a_views_cache_control_is_kept_and_html_gets_the_policy_unless_it_has_one():
    def view():
        return Response("<p>hi</p>", mimetype="text/html",
                        headers={"Cache-Control": "max-age=60", "X-Frame-Options": "SAMEORIGIN"})
    r = app_with(view).test_client().get("/x")
    assert r.headers.getlist("Cache-Control") == ["max-age=60"]
    assert r.headers["Content-Security-Policy"] == http_headers.CSP
    assert r.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]


def test_headers_are_added_after_the_views_in_order_and_cacheable_paths_stay_cacheable():
    def view():
        return Response("{}", mimetype="application/json")
    client = app_with(view).test_client()
    names = [name for name, _ in client.get("/x").headers]
    assert names[-2:] == ["X-Content-Type-Options", "Cache-Control"]
    assert client.get("/static/x").headers.getlist("Cache-Control") == []
    assert client.get("/static/x").headers["X-Content-Type-Options"] == "nosniff"
