"""/v1/return-origins: the origins this tenant's `return_url`s may use (an allow-list).

Its own blueprint (same /v1 prefix and API-key auth as v1.py). `check_return_url` is what the
link-making routes call.
"""
from __future__ import annotations

from flask import Blueprint, jsonify
from pydantic import ConfigDict, Field

from hub.api.auth import require_api_key
from hub.api.context import hub, tenant_id
from hub.api.model_base import ApiModel
from hub.api.routing import operation
from hub.problems import Problem
from hub.services import return_urls
from hub.services.return_urls import MAX_ORIGINS, ORIGIN_PATTERN

bp = Blueprint("return_origins", __name__, url_prefix="/v1")
bp.before_request(require_api_key)
TAGS = ("Tenant",)


class ReturnOriginsIn(ApiModel):
    model_config = ConfigDict(extra="forbid")
    origins: list[str] = Field(max_length=MAX_ORIGINS, description=(
        "Origins like `https://ats.example.com` (scheme, host, optional port). An empty list "
        "lifts the restriction."), json_schema_extra={"items": {"type": "string", "pattern": ORIGIN_PATTERN}})


class ReturnOriginsOut(ApiModel):
    origins: list[str]


def check_return_url(url: str | None) -> None:
    if url is None:
        return
    try:
        return_urls.require_allowed(hub().db, tenant_id(), url)
    except return_urls.ReturnUrlNotAllowed as refused:
        raise Problem(422, "return_url_not_allowed", "return_url is not on the allow-list", str(refused) + ".",
                      errors=[{"field": "return_url", "message": str(refused)}]) from None


@bp.get("/return-origins")
@operation("The origins return_url may use", tags=TAGS, responses={200: ReturnOriginsOut})
def get_return_origins():
    return jsonify({"origins": return_urls.return_origins(hub().db, tenant_id())})


@bp.put("/return-origins")
@operation("Set the origins return_url may use (connect and settings links)", tags=TAGS,
           body=ReturnOriginsIn, responses={200: ReturnOriginsOut}, problems=(400, 415, 422))
def put_return_origins(body: ReturnOriginsIn):
    try:
        origins = return_urls.set_return_origins(hub().db, tenant_id(), body.origins)
    except ValueError as bad:
        raise Problem(422, "validation_failed", "The request is not valid", str(bad),
                      errors=[{"field": "origins", "message": str(bad)}]) from None
    return jsonify({"origins": origins})
