"""Rate limits (Flask-Limiter): what one caller can cost the hub and how fast anyone can guess.

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
"""
from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from typing import Any

from flask import Flask, Response
try:  # the context variable behind `request_ctx` (Flask 2.2–3.1; private, so looked for, not relied on)
    from flask.globals import _cv_request
except ImportError:  # pragma: no cover - a Flask without it: Flask-Limiter's own lookup
    _cv_request = None  # type: ignore[assignment]
from flask_limiter import Limiter
from flask_limiter._extension import LimiterContext  # what Limiter.context keeps per request

from hub.api.context import current_request
from hub.config import Settings
from hub.rate_limit_resolution import remember_resolution

LINK_BLUEPRINTS = ("connect", "settings", "booking")  # public pages entered with a token
PUSH_SUFFIX = "_push"  # webhooks/calendar_push.py names each provider's receiver <provider>_push


class HubLimiter(Limiter):
    """Flask-Limiter's Limiter with its per-request state found in one step.

    Flask-Limiter keeps that state on the request context and looks it up through Flask's
    `request_ctx` proxy at each of its ~nine uses per request, twice each (`hasattr`, then the
    attribute): two werkzeug proxy resolutions a time, about a twentieth of a cached free/busy's
    instructions.
    Here the request context is read once per use from the context variable behind that proxy
    (Flask's `_cv_request`) and the state read off it directly; the first use in a request
    makes that state as Flask-Limiter does (a `defaultdict` of its `LimiterContext`), and any
    use outside a request is Flask-Limiter's own code."""

    @property
    def context(self) -> Any:
        # The variable itself, not the proxy's `_get_current_object`: two Python calls fewer at
        # each of the ~eight uses a request (about a two-hundredth of an event create).
        current = _cv_request.get(None) if _cv_request is not None else None
        contexts = getattr(current, "_limiter_request_context", None)
        if contexts is None:
            if current is None:
                return super().context
            # The first use in a request: the state Flask-Limiter would make there (its own
            # `hasattr` and read go through the proxy, three AttributeErrors built and dropped).
            contexts = current._limiter_request_context = defaultdict(LimiterContext)  # type: ignore[attr-defined]
        return contexts[self]


# The key functions run on every limited request: they read the request behind Flask's proxy
# once (an attribute read on the proxy misses on its class first, an AttributeError built).
def client_address() -> str:
    return "ip:" + (current_request().remote_addr or "unknown")


def request_endpoint() -> str:
    """Flask-Limiter's default request identifier (`request.endpoint or ""`), without the proxy."""
    return current_request().endpoint or ""


def api_key_identity() -> str:
    """The caller's API key, hashed (the counter's name must not be a credential)."""
    scheme, _, key = current_request().headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return client_address()
    return "key:" + hashlib.sha256(key.strip().encode()).hexdigest()[:32]


def booking_token_identity() -> str:
    """The booking link's token, hashed (the counter's name must not be a credential)."""
    token = (current_request().view_args or {}).get("token") or ""
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


def install(app: Flask, settings: Settings) -> Limiter:
    """Call after every blueprint is registered: limits attach to the `/v1` blueprints and the
    link pages by name, so a blueprint added later is covered without touching this file."""
    # headers_enabled=False: the API promises Retry-After on a 429 only (shared/API.md), not
    # X-RateLimit-* on every answer; writing those read each counter's window back from the
    # storage on every request (a tenth of a cached free/busy's CPU). The 429's Retry-After is
    # added below, from the breached limit alone.
    limiter = HubLimiter(client_address, storage_uri=storage_uri(settings), headers_enabled=False,
                      request_identifier=request_endpoint,
                      key_prefix=settings.rate_limit_key_prefix, enabled=settings.rate_limit_enabled,
                      # Redis down must not take the API down with it: fall back to memory.
                      in_memory_fallback_enabled=True, swallow_errors=True)
    remember_resolution(limiter)  # which limits apply to a route: worked out once, not per request
    limiter.init_app(app)
    for name, blueprint in app.blueprints.items():
        if (blueprint.url_prefix or "").startswith("/v1"):
            # shared_limit: one counter per scope across every route and blueprint, not one per route.
            _on(blueprint, limiter.shared_limit(settings.rate_limit_api, "api", key_func=api_key_identity))
            _on(blueprint, limiter.shared_limit(settings.rate_limit_failed_auth, "failed_auth",
                                                key_func=client_address, deduct_when=_auth_failed))
        elif name in LINK_BLUEPRINTS:
            _on(blueprint, limiter.shared_limit(settings.rate_limit_failed_auth, "failed_auth",
                                                key_func=client_address, deduct_when=_link_refused))
            if name == "booking":
                _on(blueprint, limiter.shared_limit(settings.rate_limit_booking, "booking_token",
                                                    key_func=booking_token_identity))
        elif name.endswith(PUSH_SUFFIX):
            _on(blueprint, limiter.shared_limit(settings.rate_limit_push, "push", key_func=client_address))
            _on(blueprint, limiter.shared_limit(settings.rate_limit_failed_auth, "failed_auth",
                                                key_func=client_address, deduct_when=_push_refused))
    create_link: Any = app.view_functions.get("v1.create_connect_link")
    if create_link is not None:
        # The wrapper checks the limit, so it replaces the view; override_defaults=False keeps
        # the blueprint's limits on this route too.
        per_key: Any = limiter.limit(settings.rate_limit_connect_links, key_func=api_key_identity,
                                     override_defaults=False)
        app.view_functions["v1.create_connect_link"] = per_key(create_link)
    # The route wrapper holds the limiter weakly; a disabled limiter registers nothing on the
    # app, so without this reference it is collected and every wrapped call fails.
    app.extensions["hub_rate_limiter"] = limiter

    def retry_after_on_breach(resp: Response) -> Response:
        """Retry-After on the limiter's own 429 only, when its breached window resets. (With
        Flask-Limiter's headers on, it wrote its window's reset as Retry-After on every answer,
        over a provider's shorter one on a 503, and on a 200.)"""
        if resp.status_code == 429:
            breached = limiter.current_limit
            if breached is not None and breached.breached:
                try:
                    # whole seconds (Flask-Limiter's reset_at is an int, at or after the window's end)
                    wait = int(breached.reset_at - time.time())
                except Exception:  # noqa: BLE001 - storage gone mid-request (swallow_errors): say the window
                    wait = breached.limit.get_expiry()
                resp.headers["Retry-After"] = str(max(1, wait))  # never 0
        return resp

    app.after_request(retry_after_on_breach)
    return limiter


def _on(blueprint: Any, limit: Any) -> None:
    limit(blueprint)  # Flask-Limiter's decorator applied to a blueprint registers and returns None
