"""hub.app.LazyBuilderRule: routes compile their URL builders on the first url_for, and build
exactly what werkzeug's own rules build."""
from __future__ import annotations

import pytest
from werkzeug.routing import Map, Rule

from hub.app import LazyBuilderRule

ROUTES = [("/book/<token>/invite.ics", "ics", None), ("/p/<int:n>", "page", {"k": "v"}), ("/settings", "settings", None)]
BUILDS = [("ics", {"token": "a/ü b"}, True), ("ics", {"token": "t", "x": "1 2"}, True), ("ics", {"token": "t", "x": "1"}, False),
          ("page", {"n": 5}, True), ("settings", {"notice": "disconnected", "provider": "google"}, True)]


def adapter(rule_class: type[Rule]):
    return Map([rule_class(path, endpoint=name, defaults=defaults) for path, name, defaults in ROUTES]).bind("hub.example")


@pytest.mark.parametrize("endpoint, values, append_unknown", BUILDS)
def test_a_lazy_rule_builds_what_werkzeug_builds(endpoint, values, append_unknown):
    built = adapter(LazyBuilderRule).build(endpoint, values, append_unknown=append_unknown)
    assert built == adapter(Rule).build(endpoint, values, append_unknown=append_unknown)


def test_builders_are_compiled_on_first_use_and_then_kept():
    urls = adapter(LazyBuilderRule)
    rule = next(r for r in urls.map.iter_rules() if r.endpoint == "ics")
    lazy = rule._build_unknown
    assert lazy.__name__ == "build_on_first_use"
    assert urls.build("ics", {"token": "t"}) == urls.build("ics", {"token": "t"}) == "/book/t/invite.ics"
    assert rule._build_unknown.__name__ != "build_on_first_use"  # replaced by werkzeug's compiled builder
    assert rule._build.__name__ == "build_on_first_use"  # the other flavour is still untouched


def test_the_hub_adds_its_routes_as_lazy_rules(tmp_path, monkeypatch):
    from hub.app import create_app
    from hub.instance import DemoInstance
    monkeypatch.chdir(tmp_path)
    app = create_app(DemoInstance().settings("127.0.0.1", 8000))
    try:
        assert {type(rule) for rule in app.url_map.iter_rules()} == {LazyBuilderRule}
        with app.test_request_context():
            from flask import url_for
            assert url_for("settings.page", notice="x") == "/settings?notice=x"
    finally:
        app.extensions["hub"].close()
