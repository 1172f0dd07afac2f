"""Access to the running hub's objects from inside a request."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app, g

if TYPE_CHECKING:  # pragma: no cover
    from hub.container import Hub
    from hub.wiring import Services


def hub() -> "Hub":
    return current_app.extensions["hub"]


def services() -> "Services":
    return current_app.extensions["hub_services"]


def tenant_id() -> str:
    return g.tenant_id
