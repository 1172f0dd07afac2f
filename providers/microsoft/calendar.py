"""Microsoft 365 calendar adapter on msgraph-sdk (Graph v1.0), behind the `CalendarProvider` port.

- free/busy: ``/me/calendar/getSchedule`` in windows of at most 62 days and 20 schedules,
  times asked for in UTC; tentative and out-of-office stay statuses; a schedule Graph cannot
  read (error inside HTTP 200) becomes a ProviderError for that address only.
- events: ``/me/events`` with ``isOnlineMeeting`` + ``teamsForBusiness`` for Teams and a
  ``transactionId`` derived from the hub's idempotency handle, so a retried create returns
  the first event. A Teams event that comes back without ``onlineMeeting`` is returned with
  ``conference=None``: the event service reports it and removes the event.
- mailbox: ``mailboxSettings.userPurpose`` tells a person's mailbox from a shared, room or
  equipment one; ``MailboxNotEnabledForRESTAPI`` means no Exchange Online mailbox at all.
SDK plumbing (event loop, token per call, no kiota retries, per-mailbox concurrency) lives in
graph_runtime.py and mailbox_gate.py.
"""
from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from providers.base import (BusyBlock, CalendarEvent, ConferenceLink, ErrorKind, EventChanges, EventDraft,
                            ProviderError)

from .errors import PROVIDER, classify_schedule_error, mailbox_purpose_error
from .graph_runtime import GraphRuntime, json_post
from .timezones import zone_named

MAX_WINDOW = timedelta(days=62)  # getSchedule refuses more (ErrorTimeIntervalTooBig)
MAX_SCHEDULES = 20
VIEW_INTERVAL = 30
UTC_PREFERENCE = 'outlook.timezone="UTC"'
# availabilityView digit → status; 0 (free, or working elsewhere) is not busy.
VIEW_STATUS = {"1": "tentative", "2": "busy", "3": "oof"}
KEPT_STATUSES = {"busy": "busy", "tentative": "tentative", "oof": "oof", "unknown": "busy"}


def transaction_id_for(handle: str) -> str:
    """A GUID-shaped transactionId derived from the hub's idempotency handle (Graph documents no
    format; a GUID is what Outlook clients send)."""
    return str(uuid.UUID(bytes=hashlib.sha256(handle.encode()).digest()[:16]))


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _parse_json_dtz(value: dict[str, Any]) -> datetime:
    """A dateTimeTimeZone object as an aware UTC instant (we ask for UTC; other zones are read
    too, in case a proxy or tenant policy ignores the Prefer header)."""
    return parse_date_time_zone(value.get("dateTime"), value.get("timeZone"))


# Graph's answers read as plain JSON: a value of an unexpected type counts as absent (that
# person's schedule reads as empty or as missing, never as a failure for everyone).
def _objects(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def parse_date_time_zone(date_time: str | None, time_zone: str | None) -> datetime:
    """A dateTimeTimeZone's two fields as an aware UTC instant (also for raw JSON)."""
    local = datetime.fromisoformat((date_time or "").replace("Z", ""))
    tz = zone_named(time_zone or "UTC")
    if tz is None:
        # Reading an unknown zone as UTC would move the time by hours without anyone noticing.
        raise ProviderError(ErrorKind.UNKNOWN, f"Microsoft reported a time zone the hub does not know: "
                            f"{time_zone!r}", provider=PROVIDER, cause="unknown_time_zone",
                            provider_code=time_zone)
    return local.replace(tzinfo=tz).astimezone(timezone.utc)


def _enum(value: Any) -> str:
    return str(getattr(value, "value", value) or "")


class MicrosoftCalendar:
    name = PROVIDER

    def __init__(self, api_base: str, timeout: float = 20.0, graph: GraphRuntime | None = None) -> None:
        self.graph = graph or GraphRuntime(api_base, timeout)

    def warm(self) -> None:
        self.graph.warm()

    def _config(self):
        from kiota_abstractions.base_request_configuration import RequestConfiguration

        config: RequestConfiguration[Any] = RequestConfiguration()
        config.headers.add("Prefer", UTC_PREFERENCE)
        return config

    # --- reads ----------------------------------------------------------------------------
    def free_busy(self, token: str, emails: list[str], start: datetime, end: datetime
                  ) -> dict[str, list[BusyBlock] | ProviderError]:
        result: dict[str, list[BusyBlock] | ProviderError] = {e: [] for e in emails}
        window_start = start
        while window_start < end:
            window_end = min(end, window_start + MAX_WINDOW)
            for i in range(0, len(emails), MAX_SCHEDULES):
                chunk = emails[i:i + MAX_SCHEDULES]
                for email, blocks in self._schedule(token, chunk, window_start, window_end).items():
                    if isinstance(result.get(email), ProviderError):
                        continue
                    if isinstance(blocks, ProviderError):
                        result[email] = blocks
                    else:
                        earlier = result[email]
                        assert isinstance(earlier, list)  # an error for this email was `continue`d above
                        seen = set(earlier)  # an event spanning two windows is reported twice
                        result[email] = earlier + [b for b in blocks if b not in seen]
            window_start = window_end
        return {e: (sorted(v, key=lambda b: (b.start, b.end)) if isinstance(v, list) else v)
                for e, v in result.items()}

    def _schedule(self, token: str, emails: list[str], start: datetime, end: datetime
                  ) -> dict[str, list[BusyBlock] | ProviderError]:
        # Plain JSON both ways through the SDK's request adapter (GraphRuntime.get_json): building
        # and reading getSchedule's models was most of the hub's CPU in a 100-person fan-out.
        # The keys as msgraph's GetSchedulePostRequestBody writes them (PascalCase at the top).
        body = {"AvailabilityViewInterval": VIEW_INTERVAL,
                "EndTime": {"dateTime": _utc_text(end), "timeZone": "UTC"},
                "Schedules": list(emails),
                "StartTime": {"dateTime": _utc_text(start), "timeZone": "UTC"}}
        config = self._config()
        answer = self.graph.get_json(token, lambda c: json_post(c.me.calendar.get_schedule, body, config))
        out: dict[str, list[BusyBlock] | ProviderError] = {}
        for info in _objects(answer.get("value")):
            schedule_id = _text(info.get("scheduleId"))
            email = next((e for e in emails if e.lower() == schedule_id.lower()), schedule_id)
            error = _object(info.get("error"))
            if error.get("responseCode") or error.get("message"):
                out[email] = classify_schedule_error(email, _text(error.get("responseCode")) or None,
                                                     _text(error.get("message")) or None)
            else:
                try:
                    out[email] = self._blocks(info, start)
                except ProviderError as err:  # e.g. a time zone we cannot map: this person only
                    out[email] = err
        for email in emails:
            out.setdefault(email, ProviderError(ErrorKind.NOT_FOUND, f"Microsoft did not report a schedule for {email}",
                                                provider=PROVIDER))
        return out

    def _blocks(self, info: dict[str, Any], start: datetime) -> list[BusyBlock]:
        items = _objects(info.get("scheduleItems"))
        if items:
            blocks = []
            for item in items:
                status = KEPT_STATUSES.get(item.get("status") or "")
                if status is not None:  # free and workingElsewhere do not block time
                    blocks.append(BusyBlock(_parse_json_dtz(_object(item.get("start"))),
                                            _parse_json_dtz(_object(item.get("end"))), status))
            return blocks
        # Some schedules (other organisations, restricted sharing) come with the view only.
        return _view_blocks(_text(info.get("availabilityView")), start)

    def busy_events(self, token: str, start: datetime, end: datetime) -> list[BusyBlock]:
        from msgraph.generated.users.item.calendar_view.calendar_view_request_builder import (
            CalendarViewRequestBuilder,
        )

        config = self._config()
        config.query_parameters = CalendarViewRequestBuilder.CalendarViewRequestBuilderGetQueryParameters(
            start_date_time=_utc_text(start) + "Z", end_date_time=_utc_text(end) + "Z",
            select=["id", "start", "end", "showAs", "isCancelled", "isAllDay"], top=250)
        blocks: list[BusyBlock] = []
        url: str | None = None
        while True:
            page = self._view_page(token, url, config if url is None else self._config())
            for item in page.get("value") or []:
                status = KEPT_STATUSES.get(item.get("showAs") or "")
                if status is None or item.get("isCancelled") or item.get("isAllDay"):
                    continue
                blocks.append(BusyBlock(_parse_json_dtz(item["start"]), _parse_json_dtz(item["end"]), status, item["id"]))
            url = page.get("@odata.nextLink")
            if not url:
                return blocks

    def _view_page(self, token: str, url: str | None, config: Any) -> dict[str, Any]:
        # Plain JSON (GraphRuntime.get_json): SDK models cost ~25 ms an event to read.
        def request(client: Any) -> Any:
            builder = client.me.calendar_view if url is None else client.me.calendar_view.with_url(url)
            return builder.to_get_request_information(request_configuration=config)

        return self.graph.get_json(token, request)

    def conferencing_allowed(self, token: str) -> bool:
        calendar = self.graph.call(token, lambda c: c.me.calendar.get())
        allowed = [_enum(p) for p in (calendar.allowed_online_meeting_providers or [])] if calendar else []
        return "teamsForBusiness" in allowed

    def verify_mailbox(self, token: str) -> None:
        # MailboxNotEnabledForRESTAPI (no Exchange Online mailbox) arrives as a ProviderError
        # with cause mailbox_unlicensed from the error table.
        settings = self.graph.call(token, lambda c: c.me.mailbox_settings.get())
        purpose = _enum(settings.user_purpose) if settings else ""
        error = mailbox_purpose_error(purpose)
        if error is not None:
            raise error

    # --- writes ---------------------------------------------------------------------------
    def create_event(self, token: str, draft: EventDraft) -> CalendarEvent:
        event = self._event(title=draft.title, description=draft.description, location=draft.location,
                            start=draft.start, end=draft.end, attendees=draft.attendees, zone=draft.timezone)
        if draft.native_conferencing:
            from msgraph.generated.models.online_meeting_provider_type import OnlineMeetingProviderType

            event.is_online_meeting = True
            event.online_meeting_provider = OnlineMeetingProviderType.TeamsForBusiness
        if draft.idempotency_handle:
            event.transaction_id = transaction_id_for(draft.idempotency_handle)
        if draft.show_as == "tentative":
            from msgraph.generated.models.free_busy_status import FreeBusyStatus

            event.show_as = FreeBusyStatus.Tentative
            event.response_requested = False  # a hold asks nobody for anything
        created = self.graph.call(token, lambda c: c.me.events.post(event))
        return _to_calendar_event(created)

    def update_event(self, token: str, event_id: str, changes: EventChanges) -> CalendarEvent:
        event = self._event(title=changes.title, description=changes.description, location=changes.location,
                            start=changes.start, end=changes.end, attendees=changes.attendees, zone=None)
        updated = self.graph.call(token, lambda c: c.me.events.by_event_id(event_id).patch(event))
        return _to_calendar_event(updated)

    def cancel_event(self, token: str, event_id: str, send_updates: bool = True) -> None:
        # Graph sends cancellations to attendees whenever the organizer deletes a meeting;
        # send_updates cannot be honoured here.
        try:
            self.graph.call(token, lambda c: c.me.events.by_event_id(event_id).delete())
        except ProviderError as err:
            if err.kind is not ErrorKind.NOT_FOUND:
                raise

    def _event(self, *, title, description, location, start, end, attendees, zone):
        from msgraph.generated.models.attendee import Attendee as GraphAttendee
        from msgraph.generated.models.attendee_type import AttendeeType
        from msgraph.generated.models.body_type import BodyType
        from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
        from msgraph.generated.models.email_address import EmailAddress
        from msgraph.generated.models.event import Event
        from msgraph.generated.models.item_body import ItemBody
        from msgraph.generated.models.location import Location

        event = Event()
        if title is not None:
            event.subject = title
        if description is not None:
            event.body = ItemBody(content_type=BodyType.Text, content=description)
        if location is not None:
            event.location = Location(display_name=location)
        # Times go in the event's own zone when there is one, so Outlook shows them as meant.
        tz = zone_named(zone) if zone else None
        for attr, moment in (("start", start), ("end", end)):
            if moment is not None:
                local = moment.astimezone(tz) if tz else moment.astimezone(timezone.utc)
                setattr(event, attr, DateTimeTimeZone(date_time=local.strftime("%Y-%m-%dT%H:%M:%S"),
                                                      time_zone=zone if tz else "UTC"))
        if attendees is not None:
            event.attendees = [GraphAttendee(
                type=AttendeeType.Optional if a.optional else AttendeeType.Required,
                email_address=EmailAddress(address=a.email, name=a.name or None)) for a in attendees]
        return event


def _to_calendar_event(event: Any) -> CalendarEvent:
    meeting = event.online_meeting
    conference = None
    if meeting is not None and meeting.join_url:
        dial_in = [{"number": meeting.toll_number, "pin": meeting.conference_id}] if meeting.toll_number else []
        conference = ConferenceLink(provider="teams", join_url=meeting.join_url, dial_in=dial_in)
    return CalendarEvent(event_id=event.id, html_link=event.web_link, conference=conference)


def _view_blocks(view: str, start: datetime) -> list[BusyBlock]:
    blocks: list[BusyBlock] = []
    step = timedelta(minutes=VIEW_INTERVAL)
    for i, digit in enumerate(view):
        status = VIEW_STATUS.get(digit)
        if status is None:
            continue
        slot_start = start + step * i
        if blocks and blocks[-1].end == slot_start and blocks[-1].status == status:
            blocks[-1] = BusyBlock(blocks[-1].start, slot_start + step, status)
        else:
            blocks.append(BusyBlock(slot_start, slot_start + step, status))
    return blocks
