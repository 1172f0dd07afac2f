"""``POST /webhooks/<provider>`` (and ``/webhooks/<provider>/lifecycle``): calendar push
notifications — Google channel messages, Microsoft Graph change and lifecycle notifications —
through one receiver; the provider's CalendarSync adapter reads its wire format.

Order: a Graph validation request is echoed (200 text/plain) and nothing else happens. Every
other request is read into notices (`read_notices`; not a notification at all → 400) and each
notice is verified against the channel the hub opened before anything is done
(hub/services/sync/notices.py): an unknown channel → 404, a wrong secret or resource → 401,
and nothing is written. A verified notice only marks rows and queues a background sync, so the
answer is fast (the provider's `ack` status: Google 200, Graph 202). A repeat is acknowledged
and changes nothing.

Each provider's spec mounts its own blueprint (`webhooks=` in providers/<name>/__init__.py);
failures count against the sender's address like other refused credentials
(hub/rate_limits.py, blueprints named `<provider>_push`).
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, jsonify, request

from hub.logs import get_logger
from hub.problems import Problem
from hub.services.sync import notices
from hub.services.sync.adapters import adapter, pushes

log = get_logger(__name__)
SEEN = "calendar_push_seen"


def blueprint(provider: str, ack: int = 200, lifecycle: bool = False) -> Blueprint:
    bp = Blueprint(f"{provider}_push", __name__)

    @bp.record_once
    def _setup(state) -> None:
        state.app.extensions.setdefault(SEEN, notices.SeenNotices())

    def receive(is_lifecycle: bool):
        hub = current_app.extensions["hub"]
        # Settings always has the field; the default is for stand-in settings objects.
        enabled = getattr(hub.settings, "sync_enabled", True)  # pragma: no mutate (the default never applies)
        if not enabled or not pushes(provider):
            abort(404)  # the app's own answer for a missing route, word for word: nothing is there
        sync = adapter(hub, provider)
        echo = sync.validation_echo(request.args.to_dict())
        if echo is not None:
            # Graph creates the subscription only if its token comes back verbatim, as text.
            return Response(echo, status=200, mimetype="text/plain")  # pragma: no mutate (200 is Response's default)
        raw = request.get_data(cache=False)  # pragma: no mutate (read once either way: caching changes nothing)
        try:
            read = sync.read_notices(dict(request.headers), raw, is_lifecycle)
        except ValueError:
            raise Problem(400, "bad_request",
                          "Not a notification",  # pragma: no mutate (wording)
                          f"The request is not a {provider} push notification.",  # pragma: no mutate (wording)
                          ) from None
        outcome = notices.handle(hub.db, provider, read, current_app.extensions[SEEN], hub.clock())
        log.info("calendar_push", provider=provider, outcome=outcome.status, notices=len(read),
                 lifecycle=is_lifecycle)
        if outcome.status == "unknown_channel":
            raise Problem(404, "channel_unknown",
                          "Unknown channel",  # pragma: no mutate (wording)
                          "No push channel of this hub has that id; nothing was done.",  # pragma: no mutate (wording)
                          )
        if outcome.status == "secret_mismatch":
            raise Problem(401, "webhook_signature_invalid",
                          "The notification does not verify",  # pragma: no mutate (wording)
                          "The channel's secret does not match; nothing was done.",  # pragma: no mutate (wording)
                          )
        return jsonify({"status": outcome.status}), ack

    @bp.post(f"/webhooks/{provider}")
    def changes():
        return receive(False)

    if lifecycle:
        @bp.post(f"/webhooks/{provider}/lifecycle")
        def lifecycle_events():
            return receive(True)

    return bp
