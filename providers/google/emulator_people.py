"""Changes people make in their own Google Calendar, for the control API's
``PATCH /_control/events/{id}``, ``DELETE /_control/events/{id}`` and
``POST /_control/events/{id}/responses``.

They go through the same store operations as the API's patch and delete, so they leave what
Google Calendar's own client leaves: a move bumps ``sequence`` (a retitle does not), every
change gets a new ``etag`` and ``updated``, a deletion keeps a ``cancelled`` tombstone for
incremental sync, and each reaches the calendar's push channels like any other change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from providers.emulator_kit.participants import ControlRefusal
from providers.emulator_kit.timefmt import format_rfc3339

from .emulator_calendar import GoogleCalendarStore
from .emulator_errors import GoogleApiError

# The control API's answers -> Google's attendees[].responseStatus.
RESPONSES = {"accepted": "accepted", "declined": "declined", "tentative": "tentative"}


def _refusal(err: GoogleApiError) -> ControlRefusal:
    return ControlRefusal(422, {"error": "validation_error", "message": err.body["message"]})


def change(store: GoogleCalendarStore, event_id: str, changes: Mapping[str, Any]) -> dict[str, Any] | None:
    """Move (``start``/``end``) and/or retitle (``subject``) the event; None when no Google
    calendar holds it. A new start alone moves the event and keeps its length, as dragging it
    in the calendar does; a new end alone changes its length."""
    found = store.locate(event_id)
    if found is None:
        return None
    account, old_start, old_end = found
    body: dict[str, Any] = {}
    start: datetime | None = changes.get("start")
    end: datetime | None = changes.get("end")
    if start is not None or end is not None:
        start = start or old_start
        end = end or (start + (old_end - old_start) if changes.get("start") else old_end)
        if end <= start:
            raise ControlRefusal(422, {"error": "validation_error", "field": "end",
                                       "message": "end must be after start."})
        # "date": None drops an all-day date: the moved event has times from now on.
        body["start"] = {"dateTime": format_rfc3339(start), "date": None}
        body["end"] = {"dateTime": format_rfc3339(end), "date": None}
    if changes.get("subject") is not None:
        body["summary"] = changes["subject"]
    try:
        return store.patch_event(account, event_id, body, conference_version=0)
    except GoogleApiError as err:
        raise _refusal(err) from None


def delete(store: GoogleCalendarStore, event_id: str) -> bool:
    found = store.locate(event_id)
    if found is None:
        return False
    store.delete_event(found[0], event_id)
    return True


def respond(store: GoogleCalendarStore, event_id: str, email: str, response: str) -> dict[str, Any] | None:
    """The attendee ``email`` answers the invitation: their ``responseStatus`` on the event
    changes (the sequence does not: an answer is not a change by the organizer)."""
    found = store.locate(event_id)
    if found is None:
        return None
    account = found[0]
    event = store.get_event(account, event_id)
    attendees = [dict(a) for a in event.get("attendees") or ()]
    wanted = email.strip().lower()
    mine = [a for a in attendees if a.get("email", "").lower() == wanted]
    if not mine:
        raise ControlRefusal(422, {"error": "not_an_attendee", "field": "email",
                                   "message": f"{email} is not an attendee of event {event_id}."})
    for attendee in mine:
        attendee["responseStatus"] = RESPONSES[response]
    try:
        return store.patch_event(account, event_id, {"attendees": attendees}, conference_version=0)
    except GoogleApiError as err:
        raise _refusal(err) from None
