"""Rate limits: per API key, per client address for failed authentication (bad keys, forged
links, unknown OAuth states), per key for connect-link creation; 429 problem with Retry-After;
counters shared through Redis when configured."""
from __future__ import annotations

import uuid

import flask
import flask_limiter._limits
import flask_limiter._manager
import pytest
import redis
from flask_limiter import Limiter

from hub.rate_limit_memory import SWEEP_SECONDS, SweptMemoryStorage
from hub.rate_limit_resolution import RememberedLimits, remember_resolution
from hub.services.directory import create_api_key
from tests.security.conftest import make_app


@pytest.fixture
def limited(database_url):
    apps = []

    def build(**limits):
        app = make_app(database_url, **{"rate_limit_key_prefix": f"t{uuid.uuid4().hex[:8]}", **limits})
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["hub"].close()


def new_key(app) -> dict[str, str]:
    key = create_api_key(app.extensions["hub"].db, f"rl-{uuid.uuid4().hex[:8]}")[1]
    return {"Authorization": f"Bearer {key}"}


def assert_limited(r) -> None:
    assert r.status_code == 429, r.data
    assert r.mimetype == "application/problem+json" and r.json["code"] == "rate_limited"
    assert int(r.headers["Retry-After"]) > 0


def test_calls_per_api_key(limited):
    app = limited(rate_limit_api="5/minute")
    client = app.test_client()
    first, second = new_key(app), new_key(app)
    assert [client.get("/v1/users/nobody", headers=first).status_code for _ in range(5)] == [404] * 5
    assert_limited(client.get("/v1/users/nobody", headers=first))
    assert_limited(client.post("/v1/freebusy", json={}, headers=first))  # every /v1 route shares it
    assert client.get("/v1/users/nobody", headers=second).status_code == 404  # another key is not affected
    assert client.get("/healthz").status_code == 200


def test_failed_authentications_per_address(limited):
    app = limited(rate_limit_failed_auth="3/minute")
    client = app.test_client()
    good = new_key(app)
    for _ in range(10):  # successes do not count
        assert client.get("/v1/users/nobody", headers=good).status_code == 404
    for n in range(3):
        assert client.get("/v1/users/nobody", headers={"Authorization": f"Bearer guess-{n}"}).status_code == 401
    assert_limited(client.get("/v1/users/nobody", headers={"Authorization": "Bearer guess-4"}))
    assert_limited(client.get("/v1/users/nobody", headers=good))  # the address is blocked for now
    other = app.test_client()
    r = other.get("/v1/users/nobody", headers=good, environ_base={"REMOTE_ADDR": "198.51.100.9"})
    assert r.status_code == 404  # another address is not


def test_booking_links_are_limited_per_link(limited):
    app = limited(rate_limit_booking="3/minute")
    client = app.test_client()
    assert [client.get("/book/one-link-token").status_code for _ in range(3)] == [404] * 3
    assert_limited(client.get("/book/one-link-token/invite.ics"))  # every page of that link
    assert client.get("/book/another-link-token").status_code == 404  # another link is not affected


@pytest.mark.parametrize("path", ["/connect/forged-link-token", "/settings/enter/forged-link-token",
                                  "/book/forged-link-token",
                                  "/oauth/callback/google?state=forged&code=x"])
def test_forged_links_and_states_count_as_failures(limited, path):
    app = limited(rate_limit_failed_auth="2/minute")
    client = app.test_client()
    assert [client.get(path).status_code >= 400 for _ in range(2)] == [True, True]
    r = client.get(path)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0


def test_connect_link_creation_per_key(limited):
    app = limited(rate_limit_connect_links="2/minute")
    client = app.test_client()
    auth = new_key(app)
    assert client.put("/v1/users/ada", json={"email": "ada@example.com"}, headers=auth).status_code in (200, 201)
    made = [client.post("/v1/users/ada/connect-links", json={"provider": "google"}, headers=auth).status_code
            for _ in range(2)]
    assert made == [201, 201]
    assert_limited(client.post("/v1/users/ada/connect-links", json={"provider": "google"}, headers=auth))
    assert client.get("/v1/users/ada", headers=auth).status_code == 200  # other calls go on


def test_redis_storage_is_shared_by_processes(limited):
    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url).ping()
    except redis.RedisError:
        pytest.skip("no Redis")
    prefix = f"t{uuid.uuid4().hex[:8]}"
    one = limited(rate_limit_api="4/minute", rate_limit_storage_url=url, rate_limit_key_prefix=prefix)
    two = limited(rate_limit_api="4/minute", rate_limit_storage_url=url, rate_limit_key_prefix=prefix)
    auth = new_key(one)
    assert [one.test_client().get("/v1/users/x", headers=auth).status_code for _ in range(2)] == [404, 404]
    assert [two.test_client().get("/v1/users/x", headers=auth).status_code for _ in range(2)] == [404, 404]
    assert_limited(one.test_client().get("/v1/users/x", headers=auth))
    assert any(prefix in k.decode() for k in redis.Redis.from_url(url).keys(f"*{prefix}*"))


def test_the_counter_names_hold_no_api_key(limited):
    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url).ping()
    except redis.RedisError:
        pytest.skip("no Redis")
    prefix = f"t{uuid.uuid4().hex[:8]}"
    app = limited(rate_limit_storage_url=url, rate_limit_key_prefix=prefix)
    auth = new_key(app)
    app.test_client().get("/v1/users/x", headers=auth)
    names = [k.decode() for k in redis.Redis.from_url(url).keys(f"*{prefix}*")]
    assert names and not any(auth["Authorization"].split()[1] in n for n in names)


def test_limits_switched_off_leave_every_route_working(limited):
    """HUB_RATE_LIMIT_ENABLED=false: no 429 anywhere, and the connect-link route (whose limit
    wraps the view itself) still answers — it once failed with a 500 once the unused limiter
    was garbage-collected."""
    import gc

    app = limited(rate_limit_enabled=False, rate_limit_connect_links="1/minute", rate_limit_api="1/minute")
    gc.collect()
    client = app.test_client()
    auth = new_key(app)
    assert client.put("/v1/users/ada", json={"email": "ada@acme.example"}, headers=auth).status_code == 201
    made = [client.post("/v1/users/ada/connect-links", json={"provider": "google"}, headers=auth).status_code
            for _ in range(3)]
    assert made == [201, 201, 201]


def test_counters_in_memory_start_no_thread_per_request_and_expired_ones_are_swept(limited):
    """`limits`' own MemoryStorage starts a timer thread on the request path to drop expired
    counters; the hub's storage sweeps them inline every few seconds instead."""
    app = limited(rate_limit_api="1000/minute")
    storage = app.extensions["hub_rate_limiter"].storage
    assert isinstance(storage, SweptMemoryStorage)
    storage.timer.join()  # the one timer its constructor starts
    first_timer = storage.timer
    client = app.test_client()
    early, late = new_key(app), new_key(app)
    for _ in range(20):
        assert client.get("/v1/users/nobody", headers=early).status_code == 404
    assert storage.timer is first_timer and not storage.timer.is_alive()
    counted = set(storage.storage)
    assert counted
    for name in list(storage.expirations):  # every window so far has ended
        storage.expirations[name] = 0.0
    clock = storage.clock
    storage.clock = lambda: clock() + SWEEP_SECONDS
    assert client.get("/v1/users/nobody", headers=late).status_code == 404  # a request sweeps
    assert not counted & set(storage.storage)


def test_retry_after_is_the_limiters_only_on_its_own_429():
    """Flask-Limiter writes its window's reset as Retry-After on every response: a provider's
    shorter Retry-After on a 503 must reach the caller as given, and a success carries none."""
    from dataclasses import replace

    from flask import Blueprint, Flask, Response

    from hub.config import Settings
    from hub.rate_limits import install

    app = Flask("retry-after")
    v1 = Blueprint("v1", __name__, url_prefix="/v1")
    v1.add_url_rule("/busy", "busy", lambda: Response("busy", status=503, headers={"Retry-After": "7"}))
    v1.add_url_rule("/ok", "ok", lambda: "ok")
    app.register_blueprint(v1)
    install(app, replace(Settings.from_env({}), rate_limit_api="3/minute",
                         rate_limit_key_prefix=f"ra{uuid.uuid4().hex[:8]}"))
    client = app.test_client()
    ok, busy = client.get("/v1/ok"), client.get("/v1/busy")
    assert ok.status_code == 200 and "Retry-After" not in ok.headers
    assert busy.status_code == 503 and busy.headers.get_all("Retry-After") == ["7"]
    # the API promises Retry-After on the 429 only: no X-RateLimit-* (reading them back cost CPU)
    assert not any(name.startswith("X-RateLimit") for name in ok.headers.keys())
    client.get("/v1/ok")
    breached = client.get("/v1/ok")
    assert breached.status_code == 429 and 0 < int(breached.headers["Retry-After"]) <= 60
    assert not any(name.startswith("X-Hub-") for name in breached.headers.keys())


# hub/rate_limit_resolution.py: which limits apply to a route is worked out once, and again
# whenever something new is declared; every limit still applies.

@pytest.fixture
def parses(monkeypatch) -> list[str]:
    """Every limit string Flask-Limiter parses (it does while it resolves a request's limits)."""
    seen: list[str] = []
    parse_many = flask_limiter._limits.parse_many

    def counting(limit_string: str):
        seen.append(limit_string)
        return parse_many(limit_string)

    monkeypatch.setattr(flask_limiter._limits, "parse_many", counting)
    return seen


def small_app(**limiter_options) -> tuple[flask.Flask, Limiter]:
    app = flask.Flask("resolution")
    limiter = Limiter(lambda: "everyone", storage_uri="memory://", key_prefix=f"r{uuid.uuid4().hex[:8]}",
                      **limiter_options)
    remember_resolution(limiter)
    limiter.init_app(app)
    return app, limiter


def test_the_hubs_limits_are_resolved_once_per_route_and_still_count(limited, parses, monkeypatch):
    app = limited(rate_limit_api="3/minute")
    exemptions: list[str | None] = []
    scope_of = flask_limiter._manager.LimitManager.exemption_scope
    monkeypatch.setattr(flask_limiter._manager.LimitManager, "exemption_scope",
                        lambda self, app, endpoint, blueprint: exemptions.append(endpoint)
                        or scope_of(self, app, endpoint, blueprint))
    assert isinstance(app.extensions["hub_rate_limiter"].limit_manager, RememberedLimits)
    client, auth = app.test_client(), new_key(app)
    assert client.get("/v1/users/nobody", headers=auth).status_code == 404
    parses.clear()
    exemptions.clear()
    assert [client.get("/v1/users/nobody", headers=auth).status_code for _ in range(2)] == [404, 404]
    assert parses == [] and exemptions == []  # nothing worked out again: the route's limits were kept
    assert_limited(client.get("/v1/users/nobody", headers=auth))  # ...and the API limit still counts


def test_an_exemption_declared_after_requests_applies(limited):
    app = limited(rate_limit_api="2/minute")
    client, auth = app.test_client(), new_key(app)
    assert client.get("/v1/users/nobody", headers=auth).status_code == 404
    app.extensions["hub_rate_limiter"].exempt(app.blueprints["v1"])  # its limits no longer apply
    assert [client.get("/v1/users/nobody", headers=auth).status_code for _ in range(4)] == [404] * 4


def test_a_limit_declared_after_requests_applies(limited):
    app = limited(rate_limit_api="100/minute")
    client, auth = app.test_client(), new_key(app)
    assert client.get("/v1/users/nobody", headers=auth).status_code == 404
    app.extensions["hub_rate_limiter"].limit("1/minute")(app.blueprints["v1"])
    assert client.get("/v1/users/nobody", headers=auth).status_code == 404
    assert_limited(client.get("/v1/users/nobody", headers=auth))


def test_a_limit_given_as_a_callable_is_asked_on_every_request():
    current = {"limit": "100/minute"}
    app, limiter = small_app(default_limits=[lambda: current["limit"]])
    app.add_url_rule("/", "home", lambda: "ok")
    client = app.test_client()
    assert client.get("/").status_code == 200
    current["limit"] = "1/minute"  # a new limit string: a new, untouched counter
    assert [client.get("/").status_code for _ in range(2)] == [200, 429]


def test_a_limit_for_some_methods_only_is_resolved_per_method():
    """A route limit for POST only leaves GET to the default limits (Flask-Limiter's rule): what
    POST resolved to must not be reused for GET."""
    app, limiter = small_app(default_limits=["1/minute"])
    app.add_url_rule("/", "home", limiter.limit("100/minute", methods=["POST"])(lambda: "ok"),
                     methods=["GET", "POST"])
    client = app.test_client()
    assert client.post("/").status_code == 200
    assert [client.get("/").status_code for _ in range(2)] == [200, 429]


def test_a_limit_on_a_helper_keeps_the_routes_resolution(parses):
    """A limited function called by a view (not the view itself) tells Flask-Limiter about itself
    on every request; only the first time is news."""
    app, limiter = small_app()

    @limiter.limit("100/minute")
    def helper() -> str:
        return "ok"

    app.add_url_rule("/", "home", lambda: helper())
    client = app.test_client()
    assert client.get("/").status_code == 200
    parses.clear()
    assert client.get("/").status_code == 200
    assert parses == ["100/minute"]  # the helper's own check; the route's resolution was kept


def test_an_answer_worked_out_while_something_is_declared_is_not_kept(monkeypatch):
    """Another thread declaring an exemption while this one works out a route's limits: the
    answer from before the exemption is used once, never kept."""
    app, limiter = small_app(default_limits=["1/minute"])
    app.add_url_rule("/", "home", lambda: "ok")
    manager = limiter.limit_manager
    resolve = flask_limiter._manager.LimitManager.resolve_limits

    def declaring_meanwhile(self, *args):
        answer = resolve(self, *args)
        monkeypatch.setattr(flask_limiter._manager.LimitManager, "resolve_limits", resolve)
        limiter.exempt(app.view_functions["home"])  # exempt from the default limits from now on
        return answer

    monkeypatch.setattr(flask_limiter._manager.LimitManager, "resolve_limits", declaring_meanwhile)
    client = app.test_client()
    assert client.get("/").status_code == 200
    assert [client.get("/").status_code for _ in range(3)] == [200] * 3
    assert isinstance(manager, RememberedLimits)


def test_the_limiters_request_state_is_the_one_flask_limiter_finds(limited):
    """HubLimiter makes and reads Flask-Limiter's per-request state itself: what it makes on a
    request's first use is what Flask-Limiter's own lookup finds there, and it is per request."""
    app = limited()
    limiter = app.extensions["hub_rate_limiter"]
    with app.test_request_context("/v1/users/nobody"):
        mine = limiter.context
        assert Limiter.context.fget(limiter) is mine  # Flask-Limiter's lookup sees the same state
        mine.seen_limits.add("x")
        assert limiter.context is mine
    with app.test_request_context("/v1/users/nobody"):
        assert limiter.context is not mine and not limiter.context.seen_limits
