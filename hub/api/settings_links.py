"""`POST /v1/users/{user_id}/settings-links`: a link that opens the user's settings page.

Its own blueprint (same /v1 prefix and API-key auth as v1.py) so the settings feature is one
registration in `create_app`.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from hub.api.auth import require_api_key
from hub.api.context import hub, tenant_id
from hub.api.return_origins import check_return_url
from hub.api.routing import operation
from hub.api.schemas import LinkOut, SettingsLinkIn
from hub.logs import get_logger
from hub.services.directory import require_user
from hub.services.settings_access import SettingsAccess

bp = Blueprint("settings_links", __name__, url_prefix="/v1")
log = get_logger(__name__)
bp.before_request(require_api_key)


@bp.post("/users/<user_id>/settings-links")
@operation("Create a signed, single-use link (15 minutes) that opens the user's settings page",
           tags=("Settings page",), body=SettingsLinkIn, responses={201: LinkOut}, problems=(400, 404, 415, 422),
           description="Hand the URL to the person (email, your app's UI). Opening it starts a browser "
                       "session on the hub's settings page, where they connect Google, Microsoft 365 and "
                       "Zoom, pick their default video meeting and edit working hours. `return_url`, if "
                       "given, is shown there as a link back to your application.")
def create_settings_link(user_id: str, body: SettingsLinkIn):
    with hub().db.session() as session:
        user = require_user(session, tenant_id(), user_id)
    check_return_url(body.return_url)
    _warn_if_secret_is_ephemeral()
    link = SettingsAccess.for_hub(hub(), current_app.secret_key).create_link(tenant_id(), user, body.return_url)
    return jsonify({"url": link.url, "expires_at": link.expires_at}), 201


def _warn_if_secret_is_ephemeral() -> None:
    """Links are signed with the app's secret key. Without HUB_SECRET_KEY every process makes up
    its own, so with several workers a link made by one is refused by the others: say so once."""
    if hub().settings.secret_key or current_app.extensions.get("settings_links_warned"):
        return
    current_app.extensions["settings_links_warned"] = True
    log.warning("settings_link_secret_ephemeral",
                detail="HUB_SECRET_KEY is unset: settings links are signed with a per-process key and "
                       "stop working after a restart or in another worker. Set it outside a demo.")
