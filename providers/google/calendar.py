"""Google Calendar adapter on google-api-python-client (calls go through `calendar_api`, shared
with the sync adapter)."""
from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Callable, TypeVar

from providers.base import (Attendee, BusyBlock, CalendarEvent, ConferenceLink, ErrorKind,
                            EventChanges, EventDraft, ProviderError)
from providers.google.calendar_api import BATCH_LIMIT, CalendarApi
from providers.google.calendar_api import parse_instant as _parse
from providers.google.calendar_api import rfc3339 as _rfc3339
from providers.google.errors import PROVIDER

T = TypeVar("T")
MEET = "hangoutsMeet"
FREEBUSY_MAX_ITEMS = 50
PENDING_POLLS = 5


def event_id_for(handle: str) -> str:
    """A Google event id (base32hex, 5–1024 chars) derived from the hub's idempotency handle,
    so a retried insert answers 409 duplicate instead of creating a second event."""
    digest = hashlib.sha256(handle.encode()).digest()
    return base64.b32hexencode(digest).decode().rstrip("=").lower()


class GoogleCalendar:
    name = PROVIDER
    batch_limit = BATCH_LIMIT

    def __init__(self, api_base: str, timeout: float = 20.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._api = CalendarApi(api_base, timeout)
        self.api_base = self._api.api_base
        self.timeout = timeout
        self._sleep = sleep

    def _call(self, token: str, request_of: Callable[[Any], Any]) -> Any:
        return self._api.call(token, request_of)

    # --- reads ----------------------------------------------------------------------------
    def free_busy(self, token: str, emails: list[str], start: datetime, end: datetime
                  ) -> dict[str, list[BusyBlock] | ProviderError]:
        result: dict[str, list[BusyBlock] | ProviderError] = {}
        for i in range(0, len(emails), FREEBUSY_MAX_ITEMS):
            chunk = emails[i:i + FREEBUSY_MAX_ITEMS]
            data = self._call(token, _free_busy_query(chunk, start, end))
            result.update(_calendars(data, chunk))
        return result

    def free_busy_batch(self, reads: Sequence[tuple[str, str]], start: datetime, end: datetime
                        ) -> list[list[BusyBlock] | ProviderError]:
        """One freeBusy.query per (token, email), all in one batch request (FreeBusyBatch)."""
        answers = self._api.batch([(token, _free_busy_query([email], start, end)) for token, email in reads])
        return [answer if isinstance(answer, ProviderError) else _calendars(answer, [email])[email]
                for answer, (_, email) in zip(answers, reads)]

    def busy_events(self, token: str, start: datetime, end: datetime) -> list[BusyBlock]:
        blocks: list[BusyBlock] = []
        page_token: str | None = None
        while True:
            query = {"calendarId": "primary", "timeMin": _rfc3339(start), "timeMax": _rfc3339(end),
                     "singleEvents": True, "maxResults": 250, "pageToken": page_token}
            page = self._call(token, lambda s: s.events().list(**query))  # noqa: B023 - called at once
            for item in page.get("items") or ():
                # All-day events carry `date`, not `dateTime`; they do not block a timed slot.
                if (item.get("status") == "cancelled" or item.get("transparency") == "transparent"
                        or "dateTime" not in (item.get("start") or {})):
                    continue
                status = "tentative" if item.get("status") == "tentative" else "busy"
                blocks.append(BusyBlock(_parse(item["start"]["dateTime"]), _parse(item["end"]["dateTime"]),
                                        status, item.get("id")))
            page_token = page.get("nextPageToken")
            if not page_token:
                return blocks

    def conferencing_allowed(self, token: str) -> bool:
        cal = self._call(token, lambda s: s.calendars().get(calendarId="primary"))
        allowed = (cal.get("conferenceProperties") or {}).get("allowedConferenceSolutionTypes") or []
        return MEET in allowed

    def verify_mailbox(self, token: str) -> None:
        # Reading the primary calendar proves the account has one; Google has no shared-mailbox
        # sign-in, so there is nothing else to check.
        self._call(token, lambda s: s.calendars().get(calendarId="primary"))

    def primary_calendar(self, token: str) -> dict[str, Any]:
        return self._call(token, lambda s: s.calendars().get(calendarId="primary"))

    # --- writes ---------------------------------------------------------------------------
    def create_event(self, token: str, draft: EventDraft) -> CalendarEvent:
        body: dict[str, Any] = {
            "summary": draft.title,
            "start": _when(draft.start, draft.timezone),
            "end": _when(draft.end, draft.timezone),
            "attendees": [_attendee(a) for a in draft.attendees],
        }
        if draft.description:
            body["description"] = draft.description
        if draft.location:
            body["location"] = draft.location
        if draft.idempotency_handle:
            body["id"] = event_id_for(draft.idempotency_handle)
        if draft.show_as == "tentative":
            # A tentative event still blocks time (opaque) for everyone who reads free/busy.
            body["status"] = "tentative"
            body["transparency"] = "opaque"
        if draft.native_conferencing:
            body["conferenceData"] = {"createRequest": {
                # A repeated requestId is ignored by Google: a retry cannot make a second Meet.
                "requestId": (draft.idempotency_handle or body.get("id") or _random_request_id())[:64],
                "conferenceSolutionKey": {"type": MEET}}}
        send = "all" if draft.send_updates else "none"
        try:
            event = self._call(token, lambda s: s.events().insert(
                calendarId="primary", body=body, conferenceDataVersion=1, sendUpdates=send))
        except ProviderError as err:
            if err.kind is ErrorKind.CONFLICT and "id" in body:
                # Our own earlier attempt got through: the event exists, which is success.
                event = self._call(token, lambda s: s.events().get(calendarId="primary",
                                                                   eventId=body["id"]))
            elif draft.native_conferencing and err.provider_code == "invalid" and "conference" in err.message.lower():
                err.cause = "meet_unavailable"
                raise
            else:
                raise
        if draft.native_conferencing:
            event = self._await_conference(token, event)
        return _to_calendar_event(event)

    def _await_conference(self, token: str, event: dict[str, Any]) -> dict[str, Any]:
        for attempt in range(PENDING_POLLS + 1):
            status = (((event.get("conferenceData") or {}).get("createRequest") or {})
                      .get("status") or {}).get("statusCode")
            if event.get("hangoutLink") or status == "success":
                return event
            if status == "failure" or attempt == PENDING_POLLS:
                break
            self._sleep(0.2 * (attempt + 1))
            event_id = event["id"]
            # Called at once, inside this iteration: the loop variable cannot change under it.
            event = self._call(token, lambda s: s.events().get(calendarId="primary", eventId=event_id))  # noqa: B023
        raise ProviderError(ErrorKind.PROVIDER_DOWN,
                            "Google created the event but no Meet link (conference "
                            f"status {status or 'missing'})", provider=PROVIDER,
                            cause="meet_unavailable", provider_code=status)

    def update_event(self, token: str, event_id: str, changes: EventChanges) -> CalendarEvent:
        body: dict[str, Any] = {}
        if changes.title is not None:
            body["summary"] = changes.title
        if changes.description is not None:
            body["description"] = changes.description
        if changes.location is not None:
            body["location"] = changes.location
        if changes.start is not None:
            body["start"] = _when(changes.start, None)
        if changes.end is not None:
            body["end"] = _when(changes.end, None)
        if changes.attendees is not None:
            body["attendees"] = [_attendee(a) for a in changes.attendees]
        send = "all" if changes.send_updates else "none"
        event = self._call(token, lambda s: s.events().patch(
            calendarId="primary", eventId=event_id, body=body, conferenceDataVersion=1,
            sendUpdates=send))
        return _to_calendar_event(event)

    def cancel_event(self, token: str, event_id: str, send_updates: bool = True) -> None:
        send = "all" if send_updates else "none"
        try:
            self._call(token, lambda s: s.events().delete(calendarId="primary", eventId=event_id,
                                                          sendUpdates=send))
        except ProviderError as err:
            if err.kind is not ErrorKind.NOT_FOUND:
                raise


def _free_busy_query(emails: list[str], start: datetime, end: datetime) -> Callable[[Any], Any]:
    body = {"timeMin": _rfc3339(start), "timeMax": _rfc3339(end), "timeZone": "UTC",
            "items": [{"id": e} for e in emails]}
    return lambda s: s.freebusy().query(body=body)


def _calendars(data: dict[str, Any], emails: list[str]) -> dict[str, list[BusyBlock] | ProviderError]:
    """Each asked calendar of a freeBusy answer: its busy blocks, or the error Google put in its place."""
    calendars = data.get("calendars") or {}
    result: dict[str, list[BusyBlock] | ProviderError] = {}
    for email in emails:
        entry = calendars.get(email)
        if entry is None:
            result[email] = ProviderError(ErrorKind.NOT_FOUND, "calendar missing from answer", provider=PROVIDER)
        elif entry.get("errors"):
            reason = entry["errors"][0].get("reason", "unknown")
            kind = ErrorKind.NOT_FOUND if reason == "notFound" else ErrorKind.PROVIDER_DOWN
            result[email] = ProviderError(kind, f"calendar {reason}", provider=PROVIDER, provider_code=reason)
        else:
            result[email] = [BusyBlock(_parse(b["start"]), _parse(b["end"])) for b in entry.get("busy") or ()]
    return result


def _to_calendar_event(event: dict[str, Any]) -> CalendarEvent:
    return CalendarEvent(event_id=event["id"], html_link=event.get("htmlLink"),
                         conference=_meet_link(event))


def _meet_link(event: dict[str, Any]) -> ConferenceLink | None:
    data = event.get("conferenceData") or {}
    points = data.get("entryPoints") or []
    video = next((p for p in points if p.get("entryPointType") == "video"), None)
    join = event.get("hangoutLink") or (video or {}).get("uri")
    if not join:
        return None
    dial_in = [{"number": p.get("label") or p.get("uri", "").removeprefix("tel:"), "pin": p.get("pin")}
               for p in points if p.get("entryPointType") == "phone"]
    return ConferenceLink(provider="google_meet", join_url=join, meeting_id=data.get("conferenceId"),
                          passcode=(video or {}).get("passcode"), dial_in=dial_in)


def _attendee(a: Attendee) -> dict[str, Any]:
    out: dict[str, Any] = {"email": a.email}
    if a.name:
        out["displayName"] = a.name
    if a.optional:
        out["optional"] = True
    return out


def _when(dt: datetime, tz: str | None) -> dict[str, str]:
    out = {"dateTime": _rfc3339(dt)}
    if tz:
        out["timeZone"] = tz
    return out


def _random_request_id() -> str:
    return secrets.token_hex(16)
