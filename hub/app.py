"""`create_app`: the composition root. Nothing happens at import; everything is built here."""
from __future__ import annotations

import secrets
import threading
import time
from datetime import date, datetime, timedelta, timezone
from typing import Any, Mapping

import orjson

from flask import Flask, g, request
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SessionInterface
from sqlalchemy import select
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Rule

from hub import http_headers, rate_limits
from hub.api.context import current_request
from hub.config import Settings
from hub.container import Hub
from hub.jobs.observe import JobsCollector
from hub.logs import configure as configure_logs
from hub.logs import get_logger
from hub.metrics import Metrics
from hub.errors import HubError
from hub.problems import Problem, database_problem, problem_of
from hub.services.api_keys import ApiKeyCache
from hub.storage.db import Database, unavailability
from hub.storage.models import Connection
from hub.wiring import Services
from oauth.vault import TokenVault
from providers import registry
from providers.base import ProviderSpec

log = get_logger(__name__)


# Times go to HubJSON.default (its `Z` format), non-string keys become strings as json.dumps does.
ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


class HubJSON(DefaultJSONProvider):
    """Times leave the hub as RFC 3339 in UTC with a `Z`."""

    sort_keys = False

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, datetime):
            return o.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        if isinstance(o, date):
            return o.isoformat()
        return DefaultJSONProvider.default(o)

    def response(self, *args: Any, **kwargs: Any) -> Any:
        """`jsonify`'s body through orjson (a tenth of the standard library's time on a
        free/busy answer); the same JSON value as `dumps` — times still go through `default` —
        written as UTF-8 rather than ASCII escapes. Debug mode keeps Flask's indented output."""
        if self.compact is False or (self.compact is None and self._app.debug):
            return super().response(*args, **kwargs)
        body = orjson.dumps(self._prepare_response_obj(args, kwargs), default=self.default, option=ORJSON_OPTIONS)
        response_class: Any = self._app.response_class  # typed as werkzeug's sans-IO base
        return response_class(body + b"\n", mimetype=self.mimetype)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        # json's C parser recurses per nesting level: ~30 KB of `[` raises RecursionError,
        # which Flask does not treat as bad JSON. As ValueError it is a 400 like any other.
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


class LazyBuilderRule(Rule):
    """A route whose URL builders (what `url_for` runs) are compiled on its first `url_for`, not
    when it is added. Werkzeug generates and compiles two Python functions per route as it is
    added (~60 routes: a tenth of `create_app`), while a handful of routes are ever built into
    URLs (the settings page, the booking page). Matching requests is unchanged: the regex is
    still compiled at once. The first call swaps in the real builder (two threads that race
    both compile it, to the same result)."""

    def _compile_builder(self, append_unknown: bool = True) -> Any:
        attribute = "_build_unknown" if append_unknown else "_build"

        def build_on_first_use(rule: Rule, **values: Any) -> tuple[str, str]:
            real = Rule._compile_builder(rule, append_unknown).__get__(rule, None)
            setattr(rule, attribute, real)
            return real(**values)

        return build_on_first_use


class HubFlask(Flask):
    url_rule_class = LazyBuilderRule  # a class attribute: Flask adds the static route in __init__

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync_of: dict[Any, Any] = {}

    def ensure_sync(self, func: Any) -> Any:
        """Flask's answer, kept per function: Flask asks `inspect` whether each view, hook and
        error handler is a coroutine function on every request (about a dozen per request), and
        the answer never changes for a function. Bounded: past SYNC_CACHE_SIZE distinct
        callables (the hub registers a few dozen), the rest are asked each time as before."""
        sync = self._sync_of.get(func)
        if sync is None:
            sync = super().ensure_sync(func)
            if len(self._sync_of) < SYNC_CACHE_SIZE:
                self._sync_of[func] = sync
        return sync

    def request_context(self, environ: Any) -> Any:
        """Flask's, with the request's body limit set from the config as each request starts.
        Flask's `Request.max_content_length` otherwise asks `current_app` for it through the
        proxy on every body read (twice per JSON request: a bool test and an attribute read
        that first misses on the proxy's class). Same value; a view may still set its own."""
        ctx = super().request_context(environ)
        ctx.request.max_content_length = self.config["MAX_CONTENT_LENGTH"]
        return ctx


SYNC_CACHE_SIZE = 1024


class NoCookieSession(SessionInterface):
    """The hub keeps nothing in Flask's signed-cookie session (the settings page has its own
    cookie, hub/services/settings_access.py); opening it built a signer on every request.
    `flask.session` is a read-only empty NullSession: writing to it raises."""

    def open_session(self, app: Flask, request: Any) -> None:
        return None

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        return None


def create_app(settings: Settings | Mapping[str, Any] | None = None, *, hub: Hub | None = None) -> Flask:
    if settings is None:
        settings = Settings.from_env()
    elif not isinstance(settings, Settings):
        settings = Settings.from_env(**dict(settings))
    configure_logs(settings.log_level, settings.log_json)

    app = HubFlask(__name__, template_folder="web/templates", static_folder="web/static")
    app.json = HubJSON(app)
    app.session_interface = NoCookieSession()
    app.config.update(SECRET_KEY=settings.secret_key or secrets.token_hex(32),
                      MAX_CONTENT_LENGTH=1024 * 1024)

    if hub is None:
        hub = build_hub(settings)
    app.extensions["hub"] = hub
    app.extensions["hub_services"] = Services.build(hub)
    built = hub
    app.extensions["hub_api_keys"] = ApiKeyCache(hub.db, timedelta(seconds=settings.api_key_cache_seconds),
                                                 clock=lambda: built.clock())

    _register_errors(app)
    http_headers.register(app)
    _register_metrics(app, hub.metrics)
    hub.metrics.registry.register(JobsCollector(hub))
    app.after_request(_no_body_no_type)
    # msgraph-sdk imports ~1,200 model modules on its first answer (1-4 s): pay that on a
    # background thread, never on a user's first Microsoft request — and not at start-up either,
    # where it would hold the GIL while the process is getting ready: the first request starts it.
    warm_up = WarmUp(hub, [s for s in registry.SPECS if s.warm_up is not None and s.calendar is not None])
    app.extensions["hub_warm_up"] = warm_up
    app.before_request(warm_up.start)
    hub.connection_listeners.append(warm_up.provider_connected)

    from hub.api import meta, settings_links, v1
    from hub.web import connect
    from hub.web import settings as settings_page  # not `settings`: that name is the config here

    app.register_blueprint(meta.bp)
    app.register_blueprint(v1.bp)
    app.register_blueprint(connect.bp)
    app.register_blueprint(settings_links.bp)
    app.register_blueprint(settings_page.bp)
    for spec in registry.SPECS:  # each provider's inbound notifications, if it sends any
        if spec.webhooks is not None:
            app.register_blueprint(spec.webhooks())
    from hub.api import diagnostics as diagnostics_api
    app.register_blueprint(diagnostics_api.bp)
    from hub.api import webhook_endpoints
    app.register_blueprint(webhook_endpoints.bp)
    from hub.api import scheduling as scheduling_api
    app.register_blueprint(scheduling_api.bp)
    from hub.web import booking as booking_page
    app.register_blueprint(booking_page.bp)
    from hub.api import return_origins
    app.register_blueprint(return_origins.bp)
    from hub.api import sync as sync_api
    app.register_blueprint(sync_api.bp)
    rate_limits.install(app, hub.settings)  # after the blueprints: limits attach to them by name
    # Background jobs (webhook delivery, sweeps) run on this process's threads when there is
    # no broker, unless settings say another process (or a test driving deliver_due) runs them;
    # with a broker this process only enqueues. Started last: a failed create_app leaves no
    # thread behind.
    if hub.settings.webhook_worker:
        hub.jobs.start()
    return app


def build_hub(settings: Settings) -> Hub:
    """The shared objects of one hub process (web, worker or CLI)."""
    db = Database(settings.database_url)
    if settings.auto_migrate:
        db.upgrade()
    return Hub(settings=settings, db=db, vault=_vault(settings), metrics=Metrics())


class WarmUp:
    """The providers' slow first use (their spec's `warm_up`), paid once on a background
    thread — for the providers this deployment has connections of: msgraph's warm-up holds
    ~47 MB per worker, wasted where nobody uses Microsoft (the first connect then pays it,
    on an OAuth callback the person waits for anyway). `done` is set when it has finished
    (benchmarks wait for it before measuring)."""

    def __init__(self, hub: Hub, specs: list[ProviderSpec]) -> None:
        self.hub = hub
        self.specs = specs
        self.done = threading.Event()
        self._started = False
        self._lock = threading.Lock()
        self._warmed: set[str] = set()  # taken (being or been warmed)
        if not specs:
            self.done.set()

    def start(self) -> None:
        if self._started:  # the common case: one attribute read per request
            return
        with self._lock:
            if self._started:
                return
            self._started = True
        if self.specs:
            threading.Thread(target=self._run, name="warm-up", daemon=True).start()

    def provider_connected(self, provider: str) -> None:
        """A connection was made: a provider nobody had connected before is warmed now, in the
        background, rather than on the first request that needs it."""
        if self._started and provider not in self._warmed:
            threading.Thread(target=self._warm_all, args=({provider},), name="warm-up", daemon=True).start()

    def _run(self) -> None:
        try:
            self._warm_all(self._providers_in_use())
        finally:
            self.done.set()

    def _warm_all(self, providers: set[str]) -> None:
        for spec in self.specs:
            with self._lock:
                if spec.name not in providers or spec.name in self._warmed:
                    continue
                self._warmed.add(spec.name)
            self._warm(spec)

    def _providers_in_use(self) -> set[str]:
        try:
            with self.hub.db.session() as session:
                return set(session.execute(select(Connection.provider).distinct()).scalars())
        except Exception as exc:  # noqa: BLE001 - unknown: warm every provider, as before
            log.warning("warm_up_lookup_failed", error=type(exc).__name__)
            return {spec.name for spec in self.specs}

    def _warm(self, spec: ProviderSpec) -> None:
        try:
            assert spec.warm_up is not None
            spec.warm_up(self.hub.calendar(spec.name))
        except Exception as exc:  # noqa: BLE001 - a failed warm-up only means the first call pays
            log.warning("warm_up_failed", provider=spec.name, error=type(exc).__name__)


def _vault(settings: Settings) -> TokenVault:
    if settings.encryption_keys:
        return TokenVault.from_config(settings.encryption_keys)
    log.warning("encryption_key_ephemeral",
                detail="HUB_ENCRYPTION_KEYS is unset: tokens are encrypted with a key that dies with "
                       "this process. Set it for anything but a throwaway demo.")
    return TokenVault.from_config(TokenVault.generate_key_spec("eph"))


def _register_errors(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(problem: Problem):
        return problem.response()

    @app.errorhandler(HubError)
    def _domain(err: HubError):
        return problem_of(err).response()

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large",
                400: "bad_request", 415: "unsupported_media_type", 429: "rate_limited"}.get(exc.code or 500, "http_error")
        detail = exc.description if exc.code != 404 else f"No route for {request.method} {request.path}."
        problem = Problem(exc.code or 500, code, exc.name, detail)
        resp = problem.response()
        allowed = getattr(exc, "valid_methods", None)  # on 405 only
        if exc.code == 405 and allowed:
            resp.headers["Allow"] = ", ".join(allowed)
        return resp

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        unavailable = unavailability(exc)
        if unavailable is not None:
            log.error("database_unavailable", code=unavailable, error=type(exc).__name__, path=request.path)
            return database_problem(unavailable).response()
        # The type only: an exception message may quote a token or a request body.
        log.error("unhandled_error", error=type(exc).__name__, path=request.path, method=request.method)
        return Problem(500, "internal_error", "Internal error",
                       "The hub failed unexpectedly; nothing was changed by this request "
                       "unless a provider had already accepted it.").response()


def _no_body_no_type(resp):
    # Flask gives every Response a text/html type; a 204 has no body to describe.
    if resp.status_code == 204:
        resp.headers.pop("Content-Type", None)
    return resp


def _register_metrics(app: Flask, metrics: Metrics) -> None:
    # `g` behind its proxy: reading an attribute through the proxy misses on the proxy's class
    # first (an AttributeError built and dropped, on every request).
    app_globals: Any = g

    @app.before_request
    def _start():
        app_globals._get_current_object().started = time.perf_counter()

    # The labelled children, kept (prometheus_client's documented pattern for hot paths):
    # `labels()` validates and locks on every call. As many as the label sets themselves.
    children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    @app.after_request
    def _record(resp):
        # The request object itself, not the proxy: each attribute read through `request`
        # resolves the context again (a few microseconds each, on every request).
        req = current_request()
        route = req.url_rule.rule if req.url_rule else "unmatched"
        key = (req.method, route, resp.status_code)
        child = children.get(key)
        if child is None:
            child = children[key] = (metrics.requests.labels(key[0], route, str(key[2])), metrics.latency.labels(route))
        child[0].inc()
        child[1].observe(time.perf_counter() - app_globals._get_current_object().get("started", time.perf_counter()))
        return resp
