"""Flask-Limiter's answer to "which limits apply to this request", worked out once per route.

Flask-Limiter (4.x) works it out again on every request: `LimitManager.resolve_limits` walks the
blueprint's limit groups, re-parses each limit string (`limits.parse_many`) into new
`RuntimeLimit` objects twice over, and computes the route's exemptions — twice, as
`exemption_scope` is asked again when the limits are evaluated. On a cached free/busy that was
about a third of the limiter's cost, for an answer that only changes when limits or exemptions
are declared (at start-up) — or, for limits given as callables, whenever their callable says.

`remember_resolution` swaps the limiter's manager for `RememberedLimits`: the same class with
both answers kept per (app, route, method, …), and forgotten whenever a limit, exemption or
hint is added. It changes no limit: counting, deduct_when, Retry-After and storages are all
Flask-Limiter's own, and only the bookkeeping of which limits to check is reused. A limit whose
string comes from a callable keeps Flask-Limiter's per-request resolution (nothing is kept).

`LimitManager` is Flask-Limiter's private class (`flask_limiter._manager`), so this is kept to
this module; tests/security/test_rate_limits.py checks that it still applies every
limit, is still consulted, and still notices what is declared after the first request.
"""
from __future__ import annotations

import threading
from typing import Any

import flask
from flask_limiter import Limit, Limiter
from flask_limiter._manager import LimitManager

from hub.api.context import current_request


class RememberedLimits(LimitManager):
    def __init__(self, manager: LimitManager) -> None:
        # No super().__init__: the limiter built `manager` with its own dictionaries (shared with
        # the limiter, e.g. route exemptions); every attribute is taken over as it is.
        self.__dict__.update(vars(manager))
        self._resolved: dict[tuple[Any, ...], tuple[list[Any], ...]] = {}
        self._exemptions: dict[tuple[Any, ...], Any] = {}
        self._static = True
        self._generation = 0  # counts `_forget`s: an answer worked out across one is not kept
        self._keeping = threading.Lock()

    def _forget(self) -> None:
        with self._keeping:
            self._generation += 1
            self._resolved.clear()
            self._exemptions.clear()
        groups = [*self._application_limits, *self._default_limits,
                  *(g for groups in self._decorated_limits.values() for g in groups),
                  *(g for groups in self._blueprint_limits.values() for g in groups)]
        self._static = all(_static(group) for group in groups)

    def resolve_limits(self, app: flask.Flask, endpoint: str | None = None, blueprint: str | None = None,
                       callable_name: str | None = None, in_middleware: bool = False,
                       marked_for_limiting: bool = False) -> tuple[list[Any], ...]:
        if not self._static:
            return super().resolve_limits(app, endpoint, blueprint, callable_name, in_middleware,
                                          marked_for_limiting)
        # The method: a limit declared for some methods only changes whether defaults apply.
        # The request behind the proxy: an attribute read on the proxy misses on its class first.
        method = current_request().method
        key = (app, endpoint, blueprint, callable_name, in_middleware, marked_for_limiting, method)
        resolved = self._resolved.get(key)
        if resolved is None:
            generation = self._generation
            resolved = super().resolve_limits(app, endpoint, blueprint, callable_name, in_middleware,
                                              marked_for_limiting)
            self._keep(self._resolved, key, resolved, generation)
        # Copies: the caller owns what it is given (Flask-Limiter's callers only read them today).
        return tuple(list(limits) for limits in resolved)

    def exemption_scope(self, app: flask.Flask, endpoint: str | None, blueprint: str | None) -> Any:
        key = (app, endpoint, blueprint)
        scope = self._exemptions.get(key)
        if scope is None:
            generation = self._generation
            scope = super().exemption_scope(app, endpoint, blueprint)
            self._keep(self._exemptions, key, scope, generation)
        return scope

    def _keep(self, kept: dict[tuple[Any, ...], Any], key: tuple[Any, ...], answer: Any, generation: int) -> None:
        with self._keeping:
            if generation == self._generation:  # nothing was declared meanwhile (another thread)
                kept[key] = answer

    # Every way Flask-Limiter declares something: what was kept may no longer hold.
    def set_application_limits(self, limits: list[Any]) -> None:
        super().set_application_limits(limits)
        self._forget()

    def set_default_limits(self, limits: list[Any]) -> None:
        super().set_default_limits(limits)
        self._forget()

    def add_decorated_limit(self, route: str, limit: Limit | None, override: bool = False) -> None:
        super().add_decorated_limit(route, limit, override)
        self._forget()

    def add_blueprint_limit(self, blueprint: str, limit: Limit | None) -> None:
        super().add_blueprint_limit(blueprint, limit)
        self._forget()

    def add_route_exemption(self, route: str, scope: Any) -> None:
        super().add_route_exemption(route, scope)
        self._forget()

    def add_blueprint_exemption(self, blueprint: str, scope: Any) -> None:
        super().add_blueprint_exemption(blueprint, scope)
        self._forget()

    def add_endpoint_hint(self, endpoint: str, callable: str) -> None:  # the base class names it `callable`
        # Flask-Limiter adds hints while serving requests (a decorated function that is not the
        # view itself): forget only when one is new, not on every such request.
        if callable in self._endpoint_hints.get(endpoint, ()):
            return
        super().add_endpoint_hint(endpoint, callable)
        self._forget()


def _static(group: Limit) -> bool:
    """The group's limits are the same on every request: given as strings, meta limits too."""
    metas = group.meta_limits or ()
    return isinstance(group.limit_provider, str) and all(
        isinstance(m.limit_provider if isinstance(m, Limit) else m, str) for m in metas)


def remember_resolution(limiter: Limiter) -> None:
    """Call before `init_app` and before any limit is declared on `limiter`."""
    manager = RememberedLimits(limiter.limit_manager)
    manager._forget()
    limiter.limit_manager = manager
