"""Operational endpoints: liveness, readiness, metrics, the OpenAPI document and its page."""
from __future__ import annotations

import hmac

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from hub.api.context import hub
from hub.problems import Problem, database_problem
from hub.storage.db import unavailability

bp = Blueprint("meta", __name__)
VERSION = "0.1.0"


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    try:
        hub().db.ping()
    except Exception as exc:  # any driver error means "not ready"; the detail names its type only
        problem = database_problem(unavailability(exc) or "database_unavailable")
        problem.detail += f" ({type(exc).__name__})"
        raise problem from None
    return jsonify({"status": "ready"})


@bp.get("/metrics")
def metrics():
    expected = hub().settings.metrics_token
    if expected:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
            raise Problem(401, "unauthorized", "Metrics token required",
                          "Send Authorization: Bearer <HUB_METRICS_TOKEN>.", headers={"WWW-Authenticate": "Bearer"})
    return Response(hub().metrics.render(), mimetype="text/plain; version=0.0.4")


def openapi_document():
    # Built once per app: the routes and schemas do not change while it runs.
    cache = current_app.extensions.setdefault("hub_openapi", {})
    if "doc" not in cache:
        # Imported on use: the schema models behind it are a large part of a worker's start.
        from hub.api.openapi import build_document

        cache["doc"] = build_document(current_app, VERSION)
    return cache["doc"]


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(openapi_document())


@bp.get("/docs")
def docs():
    return render_template("docs.html", doc=openapi_document())
