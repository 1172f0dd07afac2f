"""/v1/diagnostics: support's view of why a user's connections broke, and what a pasted
provider error means. Parse → service → JSON; the diagnosis itself lives in
hub/services/diagnostics.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from flask import Blueprint, current_app, jsonify
from pydantic import Field

from hub.api.auth import require_api_key
from hub.api.context import hub, services, tenant_id
from hub.api.model_base import ApiModel
from hub.api.routing import operation
from hub.api.schemas import ProviderName, Strict
from hub.problems import Problem

if TYPE_CHECKING:
    # Imported where used: the diagnosis (each provider's probes and error tables) is ~2% of a
    # hub's start, and support asks for it rarely.
    from hub.services.diagnostics import DiagnosticsService

bp = Blueprint("diagnostics", __name__, url_prefix="/v1/diagnostics")
bp.before_request(require_api_key)

TAGS = ("Diagnostics",)


class FixOut(ApiModel):
    action: str = Field(description="reconnect | connect | connect_own_account | contact_admin | "
                                    "contact_support | choose_other_conferencing | wait | retry")
    url: str | None = Field(default=None, description="A fresh connect link when signing in again is the fix")
    steps: list[str] | None = None


class CheckOut(ApiModel):
    id: str
    connection_id: str | None = None
    provider: str | None = None
    status: Literal["pass", "warn", "fail", "skip"]
    summary: str = Field(description="Plain words a support person can read aloud")
    detail: str = Field(description="For an engineer: provider code, HTTP status; never a token")
    cause: str | None = Field(default=None, description="A stable cause code of the API contract")
    fix: FixOut | None = None


class HealthRecordOut(ApiModel):
    id: str
    provider: str
    account_email: str | None
    status: Literal["active", "needs_reauth"]
    scopes: list[str]
    capabilities: list[str]
    connected_at: datetime
    consented_at: datetime
    last_used_at: datetime | None
    last_refresh_at: datetime | None
    last_refresh_error_at: datetime | None
    refresh_failures: int
    reconnect_count: int
    last_error: dict[str, Any] | None
    last_diagnosis: dict[str, Any] | None


class DiagnosisOut(ApiModel):
    healthy: bool = Field(description="No check failed (warnings allowed)")
    checks: list[CheckOut]
    user_id: str | None = None
    causes: list[str] = Field(description="The causes of the failing checks, in report order")
    connections: list[HealthRecordOut] = Field(description="Stored health records after this diagnosis")
    diagnosed_at: datetime
    elapsed_ms: float


class ExplainIn(Strict):
    provider: ProviderName
    http_status: int | None = Field(default=None, ge=100, le=599)
    body: dict[str, Any] | str = Field(description="The provider's error body: JSON, or the text as pasted")


class ExplainOut(ApiModel):
    kind: str
    cause: str | None
    summary: str
    fix: FixOut
    provider_code: str | None = None
    http_status: int | None = None
    retry_after: float | None = None
    detail: str | None = None
    recognised: dict[str, Any] = Field(description="What in the body was understood (shape, codes, fields)")


def diagnostics() -> DiagnosticsService:
    # One per app: it caches each provider's facts. Built on first use, never at import.
    service = current_app.extensions.get("hub_diagnostics")
    if service is None:
        from hub.services.diagnostics import DiagnosticsService

        service = current_app.extensions["hub_diagnostics"] = DiagnosticsService.for_hub(hub(), services().connect)
    return service


@bp.get("/users/<user_id>")
@operation("Diagnose every connection of a user, live", tags=TAGS, responses={200: DiagnosisOut}, problems=(404,),
           description="Refreshes each grant and probes identity, permissions, mailbox, calendar and "
                       "conferencing at the provider, read-only, all connections at once. Changes nothing "
                       "but the health record (and a refreshed token). Failing checks carry a stable `cause` "
                       "and a `fix`, with a fresh connect link when signing in again is the fix.")
def diagnose_user(user_id: str):
    return jsonify(diagnostics().diagnose_user(tenant_id(), user_id).as_dict())


@bp.get("/connections/<connection_id>")
@operation("Diagnose one connection, live", tags=TAGS, responses={200: DiagnosisOut}, problems=(404,))
def diagnose_connection(connection_id: str):
    return jsonify(diagnostics().diagnose_connection(tenant_id(), connection_id).as_dict())


@bp.post("/explain")
@operation("Explain a provider error body someone pasted", tags=TAGS, body=ExplainIn, responses={200: ExplainOut},
           problems=(400, 415, 422),
           description="Classifies Google Calendar API and OAuth errors, Microsoft identity platform "
                       "(AADSTS) and Graph errors, Zoom API and OAuth errors with each provider's own "
                       "table. An unrecognised body answers kind `unknown` with what was recognised.")
def explain(body: ExplainIn):
    from hub.services.diagnostics import UnknownProvider, explain_error

    try:
        return jsonify(explain_error(body.provider, body.http_status, body.body))
    except UnknownProvider:
        raise Problem(422, "provider_unavailable", "Provider not available",
                      f"The hub cannot explain {body.provider} errors yet.",
                      errors=[{"field": "provider", "message": "no diagnostics for this provider"}]) from None
