"""Rate limits: what one caller can cost the hub and how fast anyone can guess.

- every `/v1` call: `HUB_RATE_LIMIT_API` per API key (default 600 a minute);
- failed authentication — a bad API key (401), a forged, used or expired connect or settings
  link, an unknown OAuth state — `HUB_RATE_LIMIT_FAILED_AUTH` per client address (default 20 a
  minute): only failures count, and once over, that address gets 429 before anything is checked;
- connect-link creation: `HUB_RATE_LIMIT_CONNECT_LINKS` per API key (default 60 a minute);
- a candidate's booking page: `HUB_RATE_LIMIT_BOOKING` per link (default 120 a minute): generous
  for a person clicking, tight for a script hammering one link;
- calendar push receivers (`/webhooks/<provider>`, blueprints named `<provider>_push`):
  `HUB_RATE_LIMIT_PUSH` per sending address (default 6000 a minute: providers push in bursts),
  and refused notifications (unknown channel, wrong secret) count as failed authentication.

Counters live in Redis when `HUB_RATE_LIMIT_STORAGE_URL` or `HUB_BROKER_URL` is set, so every
process shares them; otherwise in this process's memory. A breach answers 429 problem+json
`rate_limited` with `Retry-After`. Behind a reverse proxy, make `request.remote_addr` the
client's address (werkzeug's ProxyFix) or every client shares the proxy's budget.
Responses under a limit carry `X-RateLimit-Limit`, `-Remaining`, `-Reset` and `Retry-After`.

Counting is the `limits` library's (fixed windows; its Redis storage, or hub/rate_limit_memory.py
in memory). Which limits apply is worked out once per endpoint, not per request: Flask-Limiter
did that on every request, a third of a cached free/busy's CPU. If the Redis store fails, the
counting moves to this process's memory and Redis is tried again after 1, 2, 4 … 64 s.
"""
from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, g, request
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from hub.config import Settings
from hub.logs import get_logger

log = get_logger(__name__)

LINK_BLUEPRINTS = ("connect", "settings", "booking")  # public pages entered with a token
PUSH_SUFFIX = "_push"  # webhooks/calendar_push.py names each provider's receiver <provider>_push
CONNECT_LINK_ENDPOINT = "v1.create_connect_link"
MAX_RETRY_EXPONENT = 6  # a failed Redis store is tried again after at most 2**6 s


def client_address() -> str:
    return "ip:" + (request.remote_addr or "unknown")


def api_key_identity() -> str:
    """The caller's API key, hashed (the counter's name must not be a credential)."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return client_address()
    return "key:" + hashlib.sha256(key.strip().encode()).hexdigest()[:32]


def booking_token_identity() -> str:
    """The booking link's token, hashed (the counter's name must not be a credential)."""
    token = (request.view_args or {}).get("token") or ""
    return "book:" + hashlib.sha256(token.encode()).hexdigest()[:32]


def _auth_failed(resp: Response) -> bool:
    return resp.status_code == 401


def _push_refused(resp: Response) -> bool:
    return resp.status_code in (401, 404)


def _link_refused(resp: Response) -> bool:
    # 404 unknown link / provider, 410 used or expired, 400 unknown or replayed OAuth state.
    return resp.status_code in (400, 404, 410)


def storage_uri(settings: Settings) -> str:
    shared = settings.rate_limit_storage_url or getattr(settings, "broker_url", "")
    if shared:
        return shared
    from hub.rate_limit_memory import SCHEME  # registers the scheme with `limits`
    return f"{SCHEME}://"


@dataclass(frozen=True)
class Rule:
    """One counter: `limit` per `identity()` (an address, a hashed key or token) in `scope`."""

    scope: str
    limit: RateLimitItem
    identity: Callable[[], str]
    # Failed-authentication rules: checked before the request, counted after it only when the
    # response is a refusal. None: every request counts, up front.
    counts: Callable[[Response], bool] | None = None


@dataclass
class _Checked:
    rules: list[tuple[Rule, tuple[str, ...]]]
    shown: tuple[Rule, tuple[str, ...]]  # the limit the response headers describe


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limit_enabled
        self.prefix = settings.rate_limit_key_prefix
        storage = storage_from_string(storage_uri(settings), wrap_exceptions=True)
        assert isinstance(storage, Storage)  # not one of the asyncio storages
        self.storage = storage
        self._primary = FixedWindowRateLimiter(self.storage)
        self._windows = self._primary
        self._fallback: FixedWindowRateLimiter | None = None
        self._retry_at = 0.0
        self._failures = 0
        self._lock = threading.Lock()
        self._by_blueprint: dict[str, list[Rule]] = {}
        self._by_endpoint: dict[str, list[Rule]] = {}
        self._resolved: dict[str, tuple[Rule, ...]] = {}

    def on_blueprint(self, name: str, rule: Rule) -> None:
        self._by_blueprint.setdefault(name, []).append(rule)

    def on_endpoint(self, endpoint: str, rule: Rule) -> None:
        self._by_endpoint.setdefault(endpoint, []).append(rule)

    def rules_for(self, endpoint: str | None, blueprint: str | None) -> tuple[Rule, ...]:
        """The blueprint's rules then the endpoint's, strictest window first (a breach stops
        the checks), resolved once per endpoint."""
        if endpoint is None:
            return ()
        rules = self._resolved.get(endpoint)
        if rules is None:
            found = self._by_blueprint.get(blueprint or "", []) + self._by_endpoint.get(endpoint, [])
            rules = self._resolved[endpoint] = tuple(sorted(found, key=lambda r: r.limit))
        return rules

    # --- per request -------------------------------------------------------------------------
    def check(self) -> None:
        """Before the view: 429 when a counter is spent (counting the others up to it)."""
        if not self.enabled:
            return
        rules = self.rules_for(request.endpoint, request.blueprint)
        if not rules:
            return
        checked: list[tuple[Rule, tuple[str, ...]]] = []
        breached = None
        try:
            windows = self._current()
            for rule in rules:
                args = (self.prefix, rule.identity(), rule.scope)
                ok = windows.test(rule.limit, *args) if rule.counts else windows.hit(rule.limit, *args)
                checked.append((rule, args))
                if not ok:
                    breached = checked[-1]
                    break
        except StorageError as exc:
            self._failed(exc)
            return self.check()
        # Headers describe the breached limit, else one of this endpoint's own, else the first.
        own = [c for c in checked if c[0].scope.startswith("endpoint:")]
        g.hub_rate_limits = _Checked(checked, breached or (own or checked)[0])
        if breached is not None:
            raise TooManyRequests(description=str(breached[0].limit))

    def finish(self, resp: Response) -> Response:
        """After the view: count refusals where only refusals count, then the headers."""
        checked: _Checked | None = g.pop("hub_rate_limits", None)
        if checked is None:
            return resp
        try:
            windows = self._current()
            for rule, args in checked.rules:
                if rule.counts is not None and rule.counts(resp):
                    windows.hit(rule.limit, *args)
            rule, args = checked.shown
            reset, remaining = windows.get_window_stats(rule.limit, *args)
        except StorageError as exc:
            self._failed(exc)
            return resp
        reset_at = int(reset + 1)
        wait = max(int(reset_at - time.time()), 1 if resp.status_code == 429 else 0)  # a 429 says "later"
        resp.headers["X-RateLimit-Limit"] = str(rule.limit.amount)
        resp.headers["X-RateLimit-Remaining"] = str(remaining)
        resp.headers["X-RateLimit-Reset"] = str(reset_at)
        resp.headers["Retry-After"] = str(wait)
        return resp

    # --- a failing shared store --------------------------------------------------------------
    def _current(self) -> FixedWindowRateLimiter:
        if self._windows is not self._primary and time.monotonic() >= self._retry_at:
            with self._lock:
                if self._windows is not self._primary and time.monotonic() >= self._retry_at:
                    if self._storage_answers():
                        log.info("rate_limit_storage_recovered")
                        self._windows, self._failures = self._primary, 0
                    else:
                        self._schedule_retry()
        return self._windows

    def _storage_answers(self) -> bool:
        try:
            return bool(self.storage.check())
        except Exception:  # noqa: BLE001 - any failure means "still down"
            return False

    def _failed(self, exc: StorageError) -> None:
        """Count in this process's memory for now: limits still apply, per process."""
        with self._lock:
            if self._windows is self._primary:
                log.warning("rate_limit_storage_unavailable", error=type(exc.storage_error).__name__)
                if self._fallback is None:
                    from hub.rate_limit_memory import SweptMemoryStorage
                    self._fallback = FixedWindowRateLimiter(SweptMemoryStorage())
                self._windows = self._fallback
                self._schedule_retry()
            else:
                raise exc  # the memory store failing is a bug, not an outage (and `check` would loop)

    def _schedule_retry(self) -> None:
        self._retry_at = time.monotonic() + 2 ** min(self._failures, MAX_RETRY_EXPONENT)
        self._failures += 1


def install(app: Flask, settings: Settings) -> RateLimiter:
    """Call after every blueprint is registered: limits attach to the `/v1` blueprints and the
    link pages by name, so a blueprint added later is covered without touching this file."""
    limiter = RateLimiter(settings)
    failed_auth = parse(settings.rate_limit_failed_auth)
    for name, blueprint in app.blueprints.items():
        if (blueprint.url_prefix or "").startswith("/v1"):
            # One counter per scope across every route and blueprint, not one per route.
            limiter.on_blueprint(name, Rule("api", parse(settings.rate_limit_api), api_key_identity))
            limiter.on_blueprint(name, Rule("failed_auth", failed_auth, client_address, counts=_auth_failed))
        elif name in LINK_BLUEPRINTS:
            limiter.on_blueprint(name, Rule("failed_auth", failed_auth, client_address, counts=_link_refused))
            if name == "booking":
                limiter.on_blueprint(name, Rule("booking_token", parse(settings.rate_limit_booking),
                                                booking_token_identity))
        elif name.endswith(PUSH_SUFFIX):
            limiter.on_blueprint(name, Rule("push", parse(settings.rate_limit_push), client_address))
            limiter.on_blueprint(name, Rule("failed_auth", failed_auth, client_address, counts=_push_refused))
    if CONNECT_LINK_ENDPOINT in app.view_functions:
        limiter.on_endpoint(CONNECT_LINK_ENDPOINT, Rule(f"endpoint:{CONNECT_LINK_ENDPOINT}",
                                                        parse(settings.rate_limit_connect_links), api_key_identity))
    # App-level hooks run before the blueprints' (API-key checks): a blocked address is refused
    # before anything is looked up.
    app.before_request(limiter.check)
    app.after_request(limiter.finish)
    app.extensions["hub_rate_limiter"] = limiter
    return limiter
