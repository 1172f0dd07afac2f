"""Access to the running hub's objects from inside a request.

Through the objects behind Flask's proxies (`_get_current_object`): an attribute read on a
proxy first misses on the proxy's class — an AttributeError built and formatted — before
werkzeug resolves the context; these run on nearly every request."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Request, Response, current_app, g, request

if TYPE_CHECKING:  # pragma: no cover
    from hub.container import Hub
    from hub.wiring import Services

_app: Any = current_app
_g: Any = g
_request: Any = request


def hub() -> "Hub":
    return _app._get_current_object().extensions["hub"]


def services() -> "Services":
    return _app._get_current_object().extensions["hub_services"]


def tenant_id() -> str:
    return _g._get_current_object().tenant_id


def current_request() -> Request:
    """The request itself, for a view that reads it more than in passing."""
    return _request._get_current_object()


def jsonify(*args: Any, **kwargs: Any) -> Response:
    """`flask.jsonify` — the app's JSON provider's `response`, the same answer — with the app
    taken from behind its proxy (`flask.jsonify` reads `current_app.json` through it)."""
    return _app._get_current_object().json.response(*args, **kwargs)
