"""Bearer API-key authentication for /v1: every request is pinned to one tenant."""
from __future__ import annotations

from flask import g, request

from hub.api.context import hub
from hub.problems import Problem
from hub.services.directory import tenant_for_key


def require_api_key() -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Problem(401, "unauthorized", "API key required",
                      "Send Authorization: Bearer <api key>.", headers={"WWW-Authenticate": "Bearer"})
    tenant = tenant_for_key(hub().db, key.strip())
    if tenant is None:
        raise Problem(401, "unauthorized", "API key not valid",
                      "The API key is unknown or revoked.", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    g.tenant_id = tenant
