"""`create_app`: the composition root. Nothing happens at import; everything is built here."""
from __future__ import annotations

import secrets
import threading
import time
from datetime import date, datetime, timezone
from typing import Any, Mapping

from flask import Flask, g, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from hub import http_headers, rate_limits
from hub.config import Settings
from hub.container import Hub
from hub.logs import configure as configure_logs
from hub.logs import get_logger
from hub.metrics import Metrics
from hub.problems import Problem, database_problem
from hub.storage.db import Database, unavailability
from hub.wiring import Services
from oauth.vault import TokenVault
from providers import registry

log = get_logger(__name__)


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

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        # json's C parser recurses per nesting level: ~30 KB of `[` raises RecursionError,
        # which Flask does not treat as bad JSON. As ValueError it is a 400 like any other.
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


def create_app(settings: Settings | Mapping[str, Any] | None = None, *, hub: Hub | None = None) -> Flask:
    if settings is None:
        settings = Settings.from_env()
    elif not isinstance(settings, Settings):
        settings = Settings.from_env(**dict(settings))
    configure_logs(settings.log_level, settings.log_json)

    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.json = HubJSON(app)
    app.config.update(SECRET_KEY=settings.secret_key or secrets.token_hex(32),
                      MAX_CONTENT_LENGTH=1024 * 1024)

    if hub is None:
        db = Database(settings.database_url)
        if settings.auto_migrate:
            db.upgrade()
        hub = Hub(settings=settings, db=db, vault=_vault(settings), metrics=Metrics())
    app.extensions["hub"] = hub
    app.extensions["hub_services"] = Services.build(hub)

    _register_errors(app)
    http_headers.register(app)
    _register_metrics(app, hub.metrics)
    # msgraph-sdk imports ~1,200 model modules on its first answer (1-4 s): pay that on a
    # background thread at start-up, never on a user's first Microsoft request.
    if "microsoft" in registry.PROVIDERS:
        _warm_in_background(hub, "microsoft")

    from hub.api import meta, settings_links, v1
    from hub.web import connect
    from hub.web import settings as settings_page  # not `settings`: that name is the config here
    from webhooks import zoom as zoom_webhooks

    app.register_blueprint(meta.bp)
    app.register_blueprint(v1.bp)
    app.register_blueprint(connect.bp)
    app.register_blueprint(settings_links.bp)
    app.register_blueprint(settings_page.bp)
    app.register_blueprint(zoom_webhooks.bp)
    from hub.api import diagnostics as diagnostics_api
    app.register_blueprint(diagnostics_api.bp)
    from hub.api import webhook_endpoints
    app.register_blueprint(webhook_endpoints.bp)
    from hub.api import return_origins
    app.register_blueprint(return_origins.bp)
    rate_limits.install(app, hub.settings)  # after the blueprints: limits attach to them by name
    # Outbound webhooks leave from this process's background thread unless settings say
    # another process (or a test driving deliver_due) sends them. Started last: a failed
    # create_app leaves no thread behind.
    if hub.settings.webhook_worker:
        hub.webhooks.start()
    return app


def _warm_in_background(hub: Hub, provider: str) -> None:
    def warm() -> None:
        try:
            adapter = hub.calendar(provider)
            if hasattr(adapter, "warm"):
                adapter.warm()
        except Exception as exc:  # noqa: BLE001 - a failed warm-up only means the first call pays
            log.warning("warm_up_failed", provider=provider, error=type(exc).__name__)

    threading.Thread(target=warm, name=f"warm-{provider}", daemon=True).start()


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

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large",
                400: "bad_request", 415: "unsupported_media_type", 429: "rate_limited"}.get(exc.code or 500, "http_error")
        detail = exc.description if exc.code != 404 else f"No route for {request.method} {request.path}."
        problem = Problem(exc.code or 500, code, exc.name, detail)
        resp = problem.response()
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            resp.headers["Allow"] = ", ".join(exc.valid_methods)
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


def _register_metrics(app: Flask, metrics: Metrics) -> None:
    @app.before_request
    def _start():
        g.started = time.perf_counter()

    @app.after_request
    def _record(resp):
        route = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.requests.labels(request.method, route, str(resp.status_code)).inc()
        metrics.latency.labels(route).observe(time.perf_counter() - g.get("started", time.perf_counter()))
        return resp
