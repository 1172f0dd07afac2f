"""GET /v1/connections/{id}/sync: how a connection's push channel and sync stand."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask import Blueprint, jsonify

from hub.api.auth import require_api_key
from hub.api.context import hub, tenant_id
from hub.api.model_base import ApiModel
from hub.api.routing import operation
from hub.services.directory import require_connection
from hub.services.sync import status

bp = Blueprint("sync_api", __name__, url_prefix="/v1")
bp.before_request(require_api_key)


class SyncErrorOut(ApiModel):
    at: datetime | None = None
    kind: str | None = None
    cause: str | None = None
    message: str | None = None


class ChannelOut(ApiModel):
    status: Literal["active", "expired", "failed"]
    expires_at: datetime | None = None
    last_error: SyncErrorOut | None = None


class SyncWindowOut(ApiModel):
    start: datetime
    end: datetime


class SyncStatusOut(ApiModel):
    channel: ChannelOut | None
    last_synced_at: datetime | None
    window: SyncWindowOut | None
    errors: list[SyncErrorOut]


@bp.get("/connections/<connection_id>/sync")
@operation("Push channel and sync status of a connection", tags=("Connections",),
           responses={200: SyncStatusOut}, problems=(404,),
           description="`channel` is null for a connection whose provider sends no push notifications (or "
                       "before its channel was first opened). `channel.status`: `active` (notifications "
                       "arrive), `expired` (lapsed or replaced; the hub opens a new one), `failed` (could not "
                       "be opened or kept; `last_error` says why and the hub retries with backoff). `window` "
                       "is the range of the calendar the busy cache holds; `errors` the latest sync failures.")
def get_sync_status(connection_id: str):
    with hub().db.session() as session:
        require_connection(session, tenant_id(), connection_id)
        return jsonify(status.of(session, connection_id, hub().clock()).as_dict())
