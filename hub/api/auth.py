"""Bearer API-key authentication for /v1: every request is pinned to one tenant."""
from __future__ import annotations

from flask import current_app, g, request

from hub.problems import Problem


def require_api_key() -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Problem(401, "unauthorized", "API key required",
                      "Send Authorization: Bearer <api key>.", headers={"WWW-Authenticate": "Bearer"})
    tenant = current_app.extensions["hub_api_keys"].tenant(key.strip())  # hub/services/api_keys.py
    if tenant is None:
        raise Problem(401, "unauthorized", "API key not valid",
                      "The API key is unknown or revoked.", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    g.tenant_id = tenant
