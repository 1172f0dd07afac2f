"""Changes people make in Outlook themselves, for the sandbox's control API
(``PATCH|DELETE /_control/events/{id}``, ``POST /_control/events/{id}/responses``).

They change the stored event as Outlook would (new changeKey, lastModifiedDateTime) through the
calendar store, so delta tracks them and subscribers are notified exactly as for API changes.
"""

from __future__ import annotations

from datetime import timezone
from typing import Any, Mapping

from providers.emulator_kit.participants import ControlRefusal

from . import emulator_events as events
from .emulator_calendar import CalendarStore

# The control API's answers → attendee status.response (responseType) [doc]
RESPONSES = {"accepted": "accepted", "declined": "declined", "tentative": "tentativelyAccepted"}


class PeopleChanges:
    def __init__(self, calendar: CalendarStore) -> None:
        self.calendar = calendar

    def _wire(self, event: dict[str, Any]) -> dict[str, Any]:
        return events.wire(event, "UTC", timezone.utc)

    def move_or_retitle(self, event_id: str, changes: Mapping[str, Any]) -> dict[str, Any] | None:
        found = self.calendar.find(event_id)
        if found is None:
            return None
        email, event = found
        fields: dict[str, Any] = {}
        start, end = changes.get("start"), changes.get("end")
        if start is not None:
            start = start.astimezone(timezone.utc)
            fields["_start_at"] = start
            if end is None:  # dragged in the calendar: the length stays
                fields["_end_at"] = start + (event["_end_at"] - event["_start_at"])
        if end is not None:
            fields["_end_at"] = end.astimezone(timezone.utc)
            if fields["_end_at"] <= fields.get("_start_at", event["_start_at"]):
                raise ControlRefusal(422, {"error": "validation_error", "field": "end",
                                           "message": "end must be after the event's start."})
        if changes.get("subject") is not None:
            fields["subject"] = changes["subject"]
        self.calendar.person_change(email, event, fields)
        return self._wire(event)

    def delete(self, event_id: str) -> bool:
        found = self.calendar.find(event_id)
        if found is None:
            return False
        self.calendar.delete(found[0], event_id)
        return True

    def respond(self, event_id: str, email: str, response: str) -> dict[str, Any] | None:
        found = self.calendar.find(event_id)
        if found is None:
            return None
        mailbox, event = found
        wanted = email.strip().lower()
        attendees = [dict(a, status=dict(a.get("status") or {})) for a in event.get("attendees") or []]
        mine = [a for a in attendees if (a.get("emailAddress") or {}).get("address", "").lower() == wanted]
        if not mine:
            raise ControlRefusal(422, {"error": "not_an_attendee",
                                       "message": f"{email} is not an attendee of event {event_id}."})
        answered_at = events.stamp(self.calendar.clock())
        for attendee in mine:
            attendee["status"] = {"response": RESPONSES[response], "time": answered_at}
        self.calendar.person_change(mailbox, event, {"attendees": attendees})
        return self._wire(event)
