"""Bearer API-key authentication for /v1: every request is pinned to one tenant."""
from __future__ import annotations

from flask import current_app, g

from hub.api.context import current_request
from hub.problems import Problem


def require_api_key() -> None:
    # The objects behind Flask's proxies, each taken once: an attribute read through a proxy
    # first misses on the proxy's own class (an AttributeError built and formatted) before
    # werkzeug resolves the context — on every /v1 request.
    header = current_request().headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Problem(401, "unauthorized", "API key required",
                      "Send Authorization: Bearer <api key>.", headers={"WWW-Authenticate": "Bearer"})
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    tenant = app.extensions["hub_api_keys"].tenant(key.strip())  # hub/services/api_keys.py
    if tenant is None:
        raise Problem(401, "unauthorized", "API key not valid",
                      "The API key is unknown or revoked.", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    g._get_current_object().tenant_id = tenant  # type: ignore[attr-defined]
