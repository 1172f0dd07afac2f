"""The Google calls behind one hub free/busy and one hub event create with Meet, made with
google-api-python-client alone against the sandbox and counted by callgrind in this process:
the "SDK call" of issue 17 goal 1 (bench/gunicorn_stack.py --instructions starts it under
valgrind and reads the dumps).

The service is built once from the bundled discovery document and each resource once, with the
token in its credentials — the cheapest ordinary use of the library, so the figure is the floor
the hub is compared with. The requests are the ones the hub's Google adapter sends for
bench/gunicorn_stack.py's requests: freebusy.query for one calendar over the day asked, and
events.insert (conferenceDataVersion=1, sendUpdates=all) of a half-hour event with no
attendees, a client-chosen event id and a Meet createRequest. Their bodies are built before the
first dump: what is counted is the library's work and this process's side of the HTTP call.

Then the same calls through the hub's own adapter (providers/google/calendar.py), the "SDK"
figure of gunicorn_stack's default (wall/CPU) mode: what the adapter adds around the library.

Run (by gunicorn_stack): valgrind --tool=callgrind python bench/google_sdk_calls.py SANDBOX_URL
TOKEN EMAIL REQUESTS WARM_UP
"""
from __future__ import annotations

import base64
import hashlib
import os
import secrets
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build

from bench import callgrind

FREEBUSY_START, FREEBUSY_END = "2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z"
EVENT_START, EVENT_END = "2026-03-03T09:00:00Z", "2026-03-03T09:30:00Z"


def counted(label: str, call: Callable[[int], Any], n: int, warm: int) -> None:
    for i in range(warm):
        call(i)
    callgrind.dump(os.getpid(), f"before-{label}")
    for i in range(warm, warm + n):
        call(i)
    callgrind.dump(os.getpid(), f"after-{label}")


def _handle() -> tuple[str, str]:
    """(requestId, event id) as the hub makes them: a random 32-hex handle, and the base32hex
    SHA-256 of it (providers/google/calendar.event_id_for, written out: no hub code here)."""
    handle = secrets.token_hex(16)
    digest = hashlib.sha256(handle.encode()).digest()
    return handle, base64.b32hexencode(digest).decode().rstrip("=").lower()


def main(sandbox_url: str, token: str, email: str, n: int, warm: int) -> None:
    api_base = f"{sandbox_url}/google/calendar/v3/"
    service = build("calendar", "v3", credentials=Credentials(token), static_discovery=True,
                    client_options={"api_endpoint": api_base})
    freebusy, events = service.freebusy(), service.events()
    query = {"timeMin": FREEBUSY_START, "timeMax": FREEBUSY_END, "timeZone": "UTC", "items": [{"id": email}]}
    # Titles as bench/gunicorn_stack.py numbers the hub's requests: the warm-up's from 0, then
    # the measured ones from 0 again.
    numbers = [*range(warm), *range(n)]
    inserts = []
    for i in numbers:
        request_id, event_id = _handle()
        inserts.append({"summary": f"Bench {i}", "start": {"dateTime": EVENT_START}, "end": {"dateTime": EVENT_END},
                        "attendees": [], "id": event_id, "conferenceData": {"createRequest": {
                            "requestId": request_id, "conferenceSolutionKey": {"type": "hangoutsMeet"}}}})

    def insert(i: int) -> None:
        event = events.insert(calendarId="primary", body=inserts[i], conferenceDataVersion=1,
                              sendUpdates="all").execute()
        assert event.get("hangoutLink"), event

    counted("sdk-freebusy", lambda i: freebusy.query(body=query).execute(), n, warm)
    counted("sdk-create", insert, n, warm)

    from providers.base import EventDraft
    from providers.google.calendar import GoogleCalendar
    adapter = GoogleCalendar(api_base)
    start, end = datetime.fromisoformat(FREEBUSY_START), datetime.fromisoformat(FREEBUSY_END)
    drafts = [EventDraft(title=f"Bench {i}", start=datetime.fromisoformat(EVENT_START),
                         end=datetime.fromisoformat(EVENT_END), attendees=(), description=None, location=None,
                         timezone=None, native_conferencing=True, send_updates=True,
                         idempotency_handle=_handle()[0]) for i in numbers]
    counted("adapter-freebusy", lambda i: adapter.free_busy(token, [email], start, end), n, warm)
    counted("adapter-create", lambda i: adapter.create_event(token, drafts[i]), n, warm)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
