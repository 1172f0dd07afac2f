"""Google's push notifications from the sandbox: what a channel opened with ``events.watch``
receives (https://developers.google.com/calendar/api/guides/push#receiving-notifications).

- ``sync`` once when the channel is created (``X-Goog-Message-Number: 1``);
- ``exists`` after every change to an event of the watched calendar — API writes, events added
  through ``POST /_control/events`` and the changes people make (``PATCH|DELETE
  /_control/events/{id}``, ``POST /_control/events/{id}/responses``). A deleted event is a change
  *inside* the watched collection, so it is ``exists`` too: ``not_exists`` is for a watched
  resource that itself is gone, which an events collection never is.

Every message is a POST with an empty body and the channel's headers; ``X-Goog-Channel-Token``
only when the channel was opened with a token; ``X-Goog-Channel-Expiration`` in RFC 1123 form
(``Tue, 19 Nov 2013 01:13:52 GMT``), unlike the watch answer's milliseconds. Message numbers
grow per channel (Google's are not consecutive; the sandbox's happen to be). Stopped and
expired channels get nothing.

The messages a request causes are collected and handed to the sandbox's push sender
(``ctx.push``, a background thread) when the request is torn down — after the provider's
answer is made, so a notification never overtakes the write that caused it and never delays
it. Changes made outside a request (a test calling the store) are sent at once. The counters
live in the channel records in SandboxState, so a demo's snapshot keeps them.
"""

from __future__ import annotations

from email.utils import formatdate
from typing import Any

from flask import g, has_request_context

from providers.emulator_kit.context import SandboxContext

PROVIDER = "google"
# What Google's push requests carry besides the channel headers (captured sample in the
# push guide; the User-Agent is documented at developers.google.com/search/docs/crawling-indexing/apis-user-agent).
BASE_HEADERS = {
    "Content-Type": "application/json; utf-8",
    "User-Agent": "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)",
}
_PENDING = "google_push_pending"


class GooglePush:
    """Turns "this calendar changed" and "this channel opened" into channel messages."""

    def __init__(self, ctx: SandboxContext) -> None:
        self._ctx = ctx

    # -- what the calendar store reports --------------------------------------------------
    def calendar_changed(self, email: str) -> None:
        self._defer(("exists", email))

    def channel_opened(self, channel_id: str) -> None:
        self._defer(("sync", channel_id))

    # -- delivery ---------------------------------------------------------------------------
    def flush(self, _error: BaseException | None = None) -> None:
        """Send what the current request caused (registered as a request teardown)."""
        pending = g.pop(_PENDING, None) if has_request_context() else None
        if pending:
            self._send(pending)

    def _defer(self, item: tuple[str, str]) -> None:
        if not has_request_context():
            self._send([item])
            return
        pending: list[tuple[str, str]] = g.setdefault(_PENDING, [])
        if item not in pending:  # several writes to one calendar in one request: one message
            pending.append(item)

    def _send(self, items: list[tuple[str, str]]) -> None:
        # Numbered and queued under the state lock: two requests changing one calendar at once
        # still queue its messages in number order.
        with self._ctx.state.lock:
            channels: dict[str, dict[str, Any]] = self._ctx.state.provider_data(PROVIDER).get("channels", {})
            for state, key in items:
                if state == "sync":
                    targets = [channels[key]] if key in channels else []
                else:
                    targets = [c for c in channels.values() if c["_email"] == key]
                for channel in targets:
                    if not self._live(channel):
                        continue
                    channel["_messages"] = channel.get("_messages", 0) + 1
                    self._ctx.push.send(PROVIDER, channel["_address"], self._headers(channel, state), b"", kind=state)

    def _live(self, channel: dict[str, Any]) -> bool:
        return int(channel["expiration"]) / 1000 > self._ctx.now()

    @staticmethod
    def _headers(channel: dict[str, Any], state: str) -> dict[str, str]:
        headers = dict(BASE_HEADERS)
        headers["X-Goog-Channel-ID"] = channel["id"]
        if channel.get("token"):
            headers["X-Goog-Channel-Token"] = channel["token"]
        headers["X-Goog-Channel-Expiration"] = formatdate(int(channel["expiration"]) / 1000, usegmt=True)
        headers["X-Goog-Resource-ID"] = channel["resourceId"]
        headers["X-Goog-Resource-URI"] = channel["resourceUri"]
        headers["X-Goog-Resource-State"] = state
        headers["X-Goog-Message-Number"] = str(channel["_messages"])
        return headers
