"""The durable outbox: a webhook is a row written in the transaction of the change it reports.

`enqueue` never talks to the network. It adds one `WebhookDelivery` per endpoint of the tenant
subscribed to the event type, to the caller's session: if the caller's transaction commits,
the change and its messages are stored together; if it rolls back, neither is. After the
commit each row is handed to the background jobs (`webhooks.deliver`, hub/jobs), which send it
with `delivery.py`.
"""
from __future__ import annotations

import json
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import bindparam, select

from hub.jobs import Unit, after_commit
from hub.storage.models import WebhookDelivery, WebhookEndpoint, new_id

EVENT_TYPES = (
    "connection.created",
    "connection.needs_reauth",
    "connection.restored",
    "connection.deleted",
    "event.created",
    "event.updated",
    "event.cancelled",
    "scheduling_request.booked",
    "scheduling_request.declined",
    "scheduling_request.rescheduled",
    "scheduling_request.cancelled",
    "scheduling_request.completed",
    "scheduling_request.expired",
    "attendance.candidate_joined",
    "attendance.candidate_late",
    "attendance.no_show",
    "attendance.interviewer_no_show",
)
ALL_EVENTS = "*"
ENABLED = "enabled"


def subscribed(events: list[str] | None, event_type: str) -> bool:
    events = events or []
    return ALL_EVENTS in events or event_type in events


# Built once (every change that may be announced asks): bound per call. On the tables, not
# the entities: no ORM execution around a two-column read and the outbox rows' INSERT.
ENDPOINTS: Any = WebhookEndpoint.__table__
SUBSCRIBERS = (select(ENDPOINTS.c.id, ENDPOINTS.c.events)
                .where(ENDPOINTS.c.tenant_id == bindparam("tenant_id"), ENDPOINTS.c.status == ENABLED)
                .order_by(ENDPOINTS.c.created_at))
_DELIVERIES: Any = WebhookDelivery.__table__
_INSERT_DELIVERY = _DELIVERIES.insert()


def subscribers(session: Unit, tenant_id: str, event_type: str) -> list[str]:
    """Ids of the tenant's enabled endpoints that want `event_type`. Filtered here rather
    than in SQL: JSON list queries differ between SQLite and PostgreSQL, and a tenant has a
    handful of endpoints."""
    rows = session.execute(SUBSCRIBERS, {"tenant_id": tenant_id}).all()
    return [endpoint_id for endpoint_id, events in rows if subscribed(events, event_type)]


def enqueue(session: Unit, tenant_id: str, event_type: str, data: dict[str, Any], *,
            now: datetime | None = None, endpoints: list[tuple[str, Any]] | None = None) -> None:
    """Queue `event_type` for every subscribed endpoint of the tenant, in `session`'s
    transaction. One message id for all of them and all their retries: it is the
    `webhook-id` receivers dedupe on. `endpoints`: the tenant's enabled endpoints as
    (id, events) in `SUBSCRIBERS`' order, when the caller read them in this transaction with
    something else."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    targets = (subscribers(session, tenant_id, event_type) if endpoints is None else
               [endpoint_id for endpoint_id, events in endpoints if subscribed(events, event_type)])
    if not targets:
        return
    now = now or datetime.now(timezone.utc)
    message_id = new_id("msg")
    body = encode_body({"type": event_type, "created_at": now, "data": data})
    rows = [{"id": new_id("whd"), "message_id": message_id, "tenant_id": tenant_id, "endpoint_id": endpoint_id,
             "event_type": event_type, "payload": body,
             "status": "pending", "attempts": 0,  # pragma: no mutate (the columns' defaults are the same)
             "next_attempt_at": now} for endpoint_id in targets]
    session.execute(_INSERT_DELIVERY, rows)  # created_at: the column's default
    for row in rows:
        after_commit(session, "webhooks.deliver", {"delivery_id": row["id"]})


def encode_body(payload: dict[str, Any]) -> str:
    """Compact JSON, times as the API writes them (RFC 3339, UTC, `Z`). Encoded once and
    stored, so every attempt sends (and signs) exactly the same bytes."""
    return json.dumps(payload, separators=(",", ":"), default=_json_default,
                      ensure_ascii=False,  # pragma: no mutate (None is as false)
                      )


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
