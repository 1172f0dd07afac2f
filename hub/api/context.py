"""Access to the running hub's objects from inside a request.

Through the objects behind Flask's proxies (`_get_current_object`): an attribute read on a
proxy first misses on the proxy's class — an AttributeError built and formatted — before
werkzeug resolves the context; these run on nearly every request."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import current_app, g

if TYPE_CHECKING:  # pragma: no cover
    from hub.container import Hub
    from hub.wiring import Services

_app: Any = current_app
_g: Any = g


def hub() -> "Hub":
    return _app._get_current_object().extensions["hub"]


def services() -> "Services":
    return _app._get_current_object().extensions["hub_services"]


def tenant_id() -> str:
    return _g._get_current_object().tenant_id
