"""Webhook endpoints of a tenant: create (the secret is returned once), list, delete."""
from __future__ import annotations

from hub.errors import Conflict, Invalid, NotFound

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from hub.storage.db import Database
from hub.storage.models import WebhookEndpoint, new_id
from oauth.vault import Binding, TokenVault
from webhooks.outbound.signing import new_secret
from webhooks.outbound.url_guard import registration_refusal

# Every endpoint gets a row per event in the transaction that caused it: keep fan-out bounded.
MAX_ENDPOINTS_PER_TENANT = 25


def secret_binding(endpoint_id: str) -> Binding:
    return Binding("webhook_endpoints", "secret", endpoint_id)


@dataclass(frozen=True)
class EndpointView:
    id: str
    url: str
    events: list[str]
    status: str
    disabled_reason: str | None
    disabled_at: datetime | None
    created_at: datetime

    @staticmethod
    def of(row: WebhookEndpoint) -> "EndpointView":
        return EndpointView(row.id, row.url, list(row.events or []), row.status, row.disabled_reason,
                            row.disabled_at, row.created_at)


def create_endpoint(db: Database, vault: TokenVault, tenant_id: str, url: str, events: list[str],
                    now: datetime, *, allow_private: bool = False) -> tuple[EndpointView, str]:
    """The new endpoint and its secret — the only time the secret leaves the hub."""
    why = None if allow_private else registration_refusal(url)
    if why is not None:
        raise Invalid("url_not_allowed",
                      "The webhook URL is not public",  # pragma: no mutate (wording)
                      f"Webhook URLs must reach the public internet; this one is {why.replace('_', ' ')}. "  # pragma: no mutate
                      "Set HUB_WEBHOOK_ALLOW_PRIVATE_URLS=true for local development only.",  # pragma: no mutate (wording)
                      errors=[{"field": "url", "message": f"not a public address ({why})"}])
    endpoint_id = new_id("whe")
    secret = new_secret()
    with db.session() as session:
        count = session.execute(select(func.count()).select_from(WebhookEndpoint)
                                .where(WebhookEndpoint.tenant_id == tenant_id)).scalar_one()
        if count >= MAX_ENDPOINTS_PER_TENANT:
            raise Conflict("webhook_endpoint_limit",
                           "Too many webhook endpoints",  # pragma: no mutate (wording)
                           f"A tenant may have at most {MAX_ENDPOINTS_PER_TENANT} webhook endpoints; "  # pragma: no mutate
                           "delete one first.",  # pragma: no mutate (wording)
                           )
        row = WebhookEndpoint(id=endpoint_id, tenant_id=tenant_id, url=url, events=events,
                              secret_enc=vault.encrypt(secret, secret_binding(endpoint_id)),
                              status="enabled",  # pragma: no mutate (the column's default is the same)
                              created_at=now)
        session.add(row)
        session.flush()
        return EndpointView.of(row), secret


def list_endpoints(db: Database, tenant_id: str) -> list[EndpointView]:
    with db.session() as session:
        rows = session.execute(select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id)
                               .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)).scalars()
        return [EndpointView.of(r) for r in rows]


def delete_endpoint(db: Database, tenant_id: str, endpoint_id: str) -> None:
    """Its undelivered messages go with it (ON DELETE CASCADE): nobody is left to receive them."""
    with db.session() as session:
        row = session.get(WebhookEndpoint, endpoint_id)
        if row is None or row.tenant_id != tenant_id:
            raise NotFound("webhook_endpoint_not_found",
                           "Webhook endpoint not found",  # pragma: no mutate (wording)
                           f"No webhook endpoint {endpoint_id!r} exists for this API key.",  # pragma: no mutate (wording)
                           )
        session.delete(row)
