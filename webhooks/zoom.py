"""``POST /webhooks/zoom``: Zoom's event notifications.

Order matters: the signature (over the raw bytes), the 5-minute timestamp window and the replay
check all pass before the body is parsed, so a forged, stale or repeated request costs a HMAC
at most and never reaches the JSON parser or the database. A repeat of a valid delivery is
acknowledged (200 `duplicate`) — Zoom treats anything else as a failure and sends it again. ``endpoint.url_validation`` is
answered with the encrypted token; events are recorded and acknowledged at once (Zoom wants an
answer within 3 seconds and retries otherwise).
"""
from __future__ import annotations

import json
import time
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from hub.logs import get_logger
from hub.problems import Problem
from webhooks import zoom_events
from webhooks.zoom_signature import ReplayGuard, canonical, encrypted_token, refusal

bp = Blueprint("zoom_webhooks", __name__)
log = get_logger(__name__)
GUARD = "zoom_webhook_replay_guard"


def _setup(state) -> None:
    state.app.extensions[GUARD] = ReplayGuard()


def receive():
    hub = current_app.extensions["hub"]
    secret = hub.settings.provider("zoom").get("webhook_secret")
    if not secret:
        raise Problem(503, "webhook_not_configured",
                      "Zoom webhooks are not configured",  # pragma: no mutate (wording)
                      "Set HUB_ZOOM_WEBHOOK_SECRET to the app's secret token to receive Zoom events.",  # pragma: no mutate
                      )
    raw = request.get_data(cache=False)  # pragma: no mutate (read once either way: caching changes nothing)
    sig = request.headers.get("x-zm-signature")  # pragma: no mutate (header names ignore case)
    stamp = request.headers.get("x-zm-request-timestamp")  # pragma: no mutate (header names ignore case)
    why = refusal(secret, stamp, sig, raw, time.time())
    # no mutate: with no refusal the signature is there; `or ""` only tells the type checker so
    seen = canonical(sig or "")  # pragma: no mutate
    if why is None and not current_app.extensions[GUARD].first_time(seen):
        # Zoom re-sends what it thinks was lost; a non-2xx would make it retry again. The
        # signature is valid and the first copy was handled: acknowledge, do nothing.
        log.info("zoom_webhook_duplicate")
        return jsonify({"status": "duplicate"}), 200
    if why is not None:
        log.warning("zoom_webhook_refused", reason=why)
        raise Problem(401, "webhook_signature_invalid",
                      "The Zoom signature does not verify",  # pragma: no mutate (wording)
                      f"Refused before reading the body: {why.replace('_', ' ')}.",  # pragma: no mutate (wording)
                      reason=why)
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nested too deeply for the parser
        raise Problem(400, "bad_request",
                      "Malformed body", "The signed body is not JSON.",  # pragma: no mutate (wording)
                      ) from None
    if not isinstance(body, dict):
        raise Problem(400, "bad_request",
                      "Malformed body", "The signed body is not a JSON object.",  # pragma: no mutate (wording)
                      )
    if body.get("event") == "endpoint.url_validation":
        payload: dict[str, Any] = body["payload"] if isinstance(body.get("payload"), dict) else {}
        plain = str(payload.get("plainToken") or "")
        return jsonify({"plainToken": plain, "encryptedToken": encrypted_token(secret, plain)})
    outcome = zoom_events.handle(hub.db, body, hub.clock, hub.tokens.on_status_change)
    if outcome.status == "recorded" and outcome.event_id:  # a participant joined: tell attendance at once
        current_app.extensions["hub_services"].attendance.observed(outcome.event_id)
    log.info("zoom_webhook", zoom_event=str(body.get("event"))[:64], outcome=outcome.status,
             event_id=outcome.event_id)
    return jsonify({"status": outcome.status}), 200


# Registered by call rather than by decorator: mutmut leaves decorated functions alone, and the
# receiver's checks are what mutation testing must reach (bench/mutation.py).
bp.record_once(_setup)
bp.add_url_rule("/webhooks/zoom", "receive", receive, methods=["POST"])
