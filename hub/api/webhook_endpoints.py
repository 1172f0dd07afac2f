"""/v1/webhook-endpoints: where a backend receives the hub's outbound webhooks.

Its own blueprint (same /v1 prefix and API-key auth as v1.py), so outbound webhooks are one
registration in `create_app`. The signing secret is in the 201 answer only; it is stored
encrypted and never shown again (delete the endpoint and create a new one to rotate it).
"""
from __future__ import annotations

from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from flask import Blueprint, Response, jsonify
from pydantic import ConfigDict, Field, field_validator

from hub.api.auth import require_api_key
from hub.api.context import hub, tenant_id
from hub.api.model_base import ApiModel
from hub.api.routing import operation
from webhooks.outbound import endpoints as endpoint_service
from webhooks.outbound.outbox import ALL_EVENTS, EVENT_TYPES

bp = Blueprint("webhook_endpoints", __name__, url_prefix="/v1")
bp.before_request(require_api_key)

TAGS = ("Webhooks",)
# Built from the outbox's list so the API cannot accept a type the hub never sends.
EventType = Literal[(ALL_EVENTS, *EVENT_TYPES)]  # type: ignore[valid-type]


# Printable ASCII, a host name or bracketed IPv6 address, no user info: what the validator takes.
WEBHOOK_URL_PATTERN = (r"^https?://(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\.?|\[[0-9A-Fa-f:.]+(?:%25[A-Za-z0-9]+)?\])"
                       r"(?::[0-9]{1,5})?(?:[/?#][!-~]*)?$")


class WebhookEndpointIn(ApiModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2048, pattern=WEBHOOK_URL_PATTERN, json_schema_extra={"format": "uri"},
                     description="Absolute http(s) URL that receives POSTed events. "
                                                  "Redirects are not followed. Must reach a public "
                                                  "address: loopback, private, link-local and metadata "
                                                  "addresses are refused (422 `url_not_allowed`) and "
                                                  "checked again at each delivery.")
    events: list[EventType] = Field(min_length=1, max_length=len(EVENT_TYPES) + 1,
                                    description='Event types to receive, or ["*"] for all.')

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
            raise ValueError("must be an absolute http(s) URL")
        if parts.username or parts.password:
            # It would be shown by GET and sent on every delivery: put credentials nowhere.
            raise ValueError("must not contain credentials (user:password@)")
        return value

    @field_validator("events")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class WebhookEndpointOut(ApiModel):
    id: str
    url: str
    events: list[str]
    status: Literal["enabled", "disabled"]
    disabled_reason: str | None = Field(description="Why the hub stopped delivering, e.g. the endpoint answered 410")
    disabled_at: datetime | None
    created_at: datetime


class WebhookEndpointCreatedOut(ApiModel):
    id: str
    url: str
    events: list[str]
    secret: str = Field(description="`whsec_` + base64 of the HMAC key. Shown only in this answer.")


class WebhookEndpointsOut(ApiModel):
    webhook_endpoints: list[WebhookEndpointOut]


DELIVERY_NOTES = (
    "Deliveries follow Standard Webhooks (https://www.standardwebhooks.com): a POST with the JSON "
    'body `{"type","created_at","data"}` and the headers `webhook-id` (the same on every retry: '
    "dedupe on it), `webhook-timestamp` (Unix seconds of the attempt) and `webhook-signature` "
    '(`v1,` + base64 HMAC-SHA256 of `"{webhook-id}.{webhook-timestamp}.{body}"` keyed with the '
    "base64-decoded part of the secret after `whsec_`). A 2xx answer within 10 s is a delivery; "
    "anything else is retried with backoff for about 3 days (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, "
    "14 h, 20 h, 24 h; Retry-After is honoured); `410 Gone` disables the endpoint. Types: "
    + ", ".join(f"`{t}`" for t in EVENT_TYPES) + ".")


@bp.post("/webhook-endpoints")
@operation("Register a webhook endpoint; the answer holds its signing secret, shown only once",
           tags=TAGS, body=WebhookEndpointIn, responses={201: WebhookEndpointCreatedOut},
           problems=(400, 409, 415, 422), description=DELIVERY_NOTES)
def create_webhook_endpoint(body: WebhookEndpointIn):
    endpoint, secret = endpoint_service.create_endpoint(hub().db, hub().vault, tenant_id(), body.url,
                                                        list(body.events), hub().clock(),
                                                        allow_private=hub().settings.webhook_allow_private_urls)
    return jsonify({"id": endpoint.id, "url": endpoint.url, "events": endpoint.events, "secret": secret}), 201


@bp.get("/webhook-endpoints")
@operation("List webhook endpoints (without secrets)", tags=TAGS, responses={200: WebhookEndpointsOut})
def list_webhook_endpoints():
    return jsonify({"webhook_endpoints": [_out(e) for e in endpoint_service.list_endpoints(hub().db, tenant_id())]})


@bp.delete("/webhook-endpoints/<endpoint_id>")
@operation("Delete a webhook endpoint; its undelivered messages are dropped", tags=TAGS,
           responses={204: None}, problems=(404,))
def delete_webhook_endpoint(endpoint_id: str):
    endpoint_service.delete_endpoint(hub().db, tenant_id(), endpoint_id)
    return Response(status=204)


def _out(endpoint: endpoint_service.EndpointView) -> dict:
    return {"id": endpoint.id, "url": endpoint.url, "events": endpoint.events, "status": endpoint.status,
            "disabled_reason": endpoint.disabled_reason, "disabled_at": endpoint.disabled_at,
            "created_at": endpoint.created_at}
