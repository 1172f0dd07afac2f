"""Builds the OpenAPI 3.1 document from the app's routes and the pydantic models they enforce."""
from __future__ import annotations

import re
from typing import Any

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from hub.api.routing import Operation
from hub.api.schemas import ProblemOut

REF = "#/components/schemas/{model}"
PROBLEM_TITLES = {400: "Malformed request", 401: "Missing or wrong API key", 404: "Not found",
                  409: "Conflict", 415: "Unsupported media type", 422: "Validation failed",
                  410: "Gone (the scheduling request has ended)", 502: "Provider error"}


# Path parameters the routes validate beyond "a string" (hub/api/schemas.USER_ID).
PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "user_id": {"type": "string", "pattern": "^[A-Za-z0-9._:@-]{1,128}$"},
}

def build_document(app: Flask, version: str) -> dict[str, Any]:
    operations: list[tuple[str, str, Operation, list[str]]] = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        op = getattr(view, "openapi", None)
        if op is None:
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operations.append((path, method.lower(), op, list(rule.arguments)))

    models: set[type[BaseModel]] = {ProblemOut}
    for _, _, op, _ in operations:
        if op.body:
            models.add(op.body)
        models.update(m for m in op.responses.values() if m)
    ordered = sorted(models, key=lambda m: m.__name__)
    keyed: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (m, "validation" if _is_input(m, operations) else "serialization") for m in ordered]
    _, schema = models_json_schema(keyed, ref_template=REF)
    components = schema.get("$defs", {})

    paths: dict[str, dict[str, Any]] = {}
    for path, method, op, params in sorted(operations, key=lambda o: (o[0], o[1])):
        entry: dict[str, Any] = {"summary": op.summary, "tags": list(op.tags),
                                 "operationId": f"{method}_{_slug(path)}", "responses": {}}
        if op.description:
            entry["description"] = op.description
        entry["parameters"] = [{"name": p, "in": "path", "required": True,
                                "schema": PATH_PARAMETERS.get(p, {"type": "string"})} for p in params]
        entry["parameters"] += [{"name": name, "in": "header", "required": False,
                                 "schema": {"type": "string"}, "description": text}
                                for name, text in op.headers]
        if op.body:
            entry["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"$ref": REF.format(model=op.body.__name__)}}}}
        for status, model in op.responses.items():
            response: dict[str, Any] = {"description": _status_text(status)}
            if model is not None:
                response["content"] = {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}}
            entry["responses"][str(status)] = response
        for status in sorted(set(op.problems) | ({401} if op.auth else set())):
            entry["responses"][str(status)] = {
                "description": PROBLEM_TITLES.get(status, "Problem"),
                "content": {"application/problem+json": {"schema": {"$ref": REF.format(model="ProblemOut")}}}}
        if op.auth:
            entry["security"] = [{"apiKey": []}]
        paths.setdefault(path, {})[method] = entry

    return {
        "openapi": "3.1.0",
        "info": {"title": "Calendar Hub API", "version": version,
                 "description": "Connect Google, Microsoft 365 and Zoom accounts; read free/busy; "
                                "find slots; create events with Meet, Teams or Zoom links; diagnose "
                                "broken connections. Errors are RFC 9457 problem+json."},
        "paths": paths,
        "components": {"schemas": components,
                       "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                                      "description": "API key from `hub keys create`"}}},
    }


def _is_input(model: type[BaseModel], operations) -> bool:
    return any(op.body is model for _, _, op, _ in operations)


def _slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", path.lower()).strip("_")


def _status_text(status: int) -> str:
    return {200: "OK", 201: "Created", 202: "Accepted", 204: "No content", 302: "Redirect"}.get(status, str(status))
