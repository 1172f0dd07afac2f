"""CalDAV calendars (iCloud, Fastmail, Nextcloud, Radicale …) on the `caldav` library.

The `token` every port method receives is the stored credential (credential.py). Free/busy
asks the server for a `free-busy-query` REPORT (RFC 4791 §7.10) and, where the server does not
support it, reads the events in the window with a `calendar-query` time-range REPORT and
expands recurrences itself (recurring-ical-events). Events are iCalendar objects PUT at
`<calendar>/<uid>.ics`: `If-None-Match: *` to create (the UID derives from the hub's
idempotency key, so a retried create finds its first copy), `If-Match: <etag>` to change,
DELETE to cancel. There is no native conferencing; a Zoom link travels in LOCATION and
DESCRIPTION like any other text. Only ProviderError leaves this module.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any, TypeVar, cast

import icalendar
import recurring_ical_events  # type: ignore[import-untyped]
from caldav.calendarobjectresource import CalendarObjectResource, FreeBusy
from caldav.collection import Calendar
from caldav.davclient import DAVClient
from caldav.elements import dav
from caldav.lib import error as dav_error

from providers.base import (
    Attendee,
    BusyBlock,
    CalendarEvent,
    ErrorKind,
    EventChanges,
    EventDraft,
    ProviderError,
)
from providers.caldav.credential import (
    ClientOptions,
    Credential,
    client_options,
    find_principal,
    make_client,
)
from providers.caldav.errors import PROVIDER, classify_exception, classify_status

if TYPE_CHECKING:  # pragma: no cover
    from providers.base import ProviderConfig

T = TypeVar("T")
# UIDs made from idempotency handles: same handle, same UID, same URL.
UID_NAMESPACE = uuid.UUID("6f1d3c55-4f0e-4b53-9a57-0c2f3b1f6a10")
PRODID = "-//Calendar Hub//CalDAV adapter//EN"
# Statuses a server gives when it does not do free-busy-query on a calendar collection.
FREE_BUSY_UNSUPPORTED = frozenset({400, 403, 405, 415, 422, 501})
FBTYPE_STATUS = {"BUSY": "busy", "BUSY-TENTATIVE": "tentative", "BUSY-UNAVAILABLE": "oof"}


class CalDAVCalendar:
    name = PROVIDER

    def __init__(self, options: ClientOptions | None = None) -> None:
        self.options = options or ClientOptions()

    # -- plumbing ------------------------------------------------------------------------------
    def _call(self, token: str, action: Callable[[Credential, DAVClient, Calendar], T]) -> T:
        cred = Credential.decode(token)
        try:
            client = make_client(cred.calendar_url or cred.server_url, cred.username, cred.password,
                                 self.options, cred.auth_type)
            with client:
                return action(cred, client, Calendar(client=client, url=cred.calendar_url))
        except Exception as exc:  # noqa: BLE001 — the caldav library and its HTTP library raise many types
            raise classify_exception(exc, cred.server_url) from None

    # -- free/busy -----------------------------------------------------------------------------
    def free_busy(self, token: str, emails: list[str], start: datetime, end: datetime
                  ) -> dict[str, list[BusyBlock] | ProviderError]:
        cred = Credential.decode(token)
        out: dict[str, list[BusyBlock] | ProviderError] = {
            email: ProviderError(ErrorKind.NOT_FOUND, "A CalDAV connection reads only its own calendar.",
                                 provider=PROVIDER) for email in emails if not cred.owns(email)}
        if len(out) < len(emails):
            blocks = self._call(token, lambda _c, _client, cal: self._busy(cal, start, end))
            out.update({email: blocks for email in emails if cred.owns(email)})
        return out

    def _busy(self, cal: Calendar, start: datetime, end: datetime) -> list[BusyBlock]:
        try:
            answer = cast(FreeBusy, cal.freebusy_request(start, end))
        except dav_error.DAVError as exc:
            if exc.status not in FREE_BUSY_UNSUPPORTED:
                raise
            return self._busy_from_events(cal, start, end)
        fb = _parse_free_busy(answer.data or "")
        return fb if fb is not None else self._busy_from_events(cal, start, end)

    def _busy_from_events(self, cal: Calendar, start: datetime, end: datetime) -> list[BusyBlock]:
        found = cast(list[CalendarObjectResource], cal.search(start=start, end=end, event=True, expand=False))
        return busy_from_calendars([obj.icalendar_instance for obj in found], start, end)

    def busy_events(self, token: str, start: datetime, end: datetime) -> list[BusyBlock]:
        # The event id the hub keeps for a CalDAV event is its UID (see create_event).
        return self._call(token, lambda _c, _client, cal: self._busy_from_events(cal, start, end))

    # -- events --------------------------------------------------------------------------------
    def create_event(self, token: str, draft: EventDraft) -> CalendarEvent:
        uid = str(uuid.uuid5(UID_NAMESPACE, draft.idempotency_handle)) if draft.idempotency_handle \
            else str(uuid.uuid4())

        def create(cred: Credential, client: DAVClient, cal: Calendar) -> CalendarEvent:
            body = new_event_ical(uid, draft, organizer=cred.email)
            answer = client.put(_event_url(cred, uid), body,
                                {"Content-Type": "text/calendar; charset=utf-8", "If-None-Match": "*"})
            # 412: an object with this UID is there already — a retried create; it is the same event.
            if answer.status not in (200, 201, 204, 412):
                raise classify_status(answer.status, server_url=cred.server_url)
            return CalendarEvent(uid, None, None)

        return self._call(token, create)

    def update_event(self, token: str, event_id: str, changes: EventChanges) -> CalendarEvent:
        def update(cred: Credential, client: DAVClient, cal: Calendar) -> CalendarEvent:
            url = _event_url(cred, event_id)
            current = client.request(url, "GET")
            if current.status == 404:
                raise _event_gone(client, cred)
            if current.status >= 300:
                raise classify_status(current.status, server_url=cred.server_url)
            body = changed_event_ical(_text(current.raw), changes)
            etag = current.headers.get("ETag")
            headers = {"Content-Type": "text/calendar; charset=utf-8", **({"If-Match": etag} if etag else {})}
            answer = client.put(url, body, headers)
            if answer.status not in (200, 201, 204):
                raise classify_status(answer.status, server_url=cred.server_url)
            return CalendarEvent(event_id, None, None)

        return self._call(token, update)

    def cancel_event(self, token: str, event_id: str, send_updates: bool = True) -> None:
        def cancel(cred: Credential, client: DAVClient, cal: Calendar) -> None:
            answer = client.delete(_event_url(cred, event_id))
            if answer.status not in (200, 204, 404):  # 404: gone already, which is what we want
                raise classify_status(answer.status, server_url=cred.server_url)

        self._call(token, cancel)

    # -- capabilities --------------------------------------------------------------------------
    def conferencing_allowed(self, token: str) -> bool:
        return False  # CalDAV has no conferencing of its own; Zoom links go into the event text

    def principal_url(self, token: str) -> str:
        """Who the server says the credential is (RFC 5397 current-user-principal), asked at
        the server URL the person typed: proves the password and that it is a CalDAV server."""
        def ask(cred: Credential, _client: DAVClient, _cal: Calendar) -> str:
            with make_client(cred.server_url, cred.username, cred.password, self.options, cred.auth_type) as client:
                return str(find_principal(client).url)

        return self._call(token, ask)

    def verify_mailbox(self, token: str) -> None:
        """The stored calendar is still there and is a calendar."""
        self._call(token, lambda _c, _client, cal: check_calendar(cal))


def calendar_for(config: ProviderConfig) -> CalDAVCalendar:
    return CalDAVCalendar(client_options(config))


def check_calendar(cal: Calendar) -> None:
    props = cast(dict[str, Any], cal.get_properties([dav.ResourceType()]))
    kinds = str(props.get(dav.ResourceType.tag, ""))
    if "calendar" not in kinds:
        raise ProviderError(ErrorKind.NOT_FOUND, "The stored URL is no longer a calendar.", provider=PROVIDER,
                            cause="calendar_not_found")


def _event_url(cred: Credential, event_id: str) -> str:
    if not event_id or "/" in event_id or event_id.startswith("."):
        raise ProviderError(ErrorKind.INVALID_REQUEST, "Not a CalDAV event id.", provider=PROVIDER)
    return cred.calendar_url.rstrip("/") + "/" + event_id + ".ics"


def _event_gone(client: DAVClient, cred: Credential) -> ProviderError:
    """A missing event, or its whole calendar gone: the second is the one a person must hear."""
    try:
        check_calendar(Calendar(client=client, url=cred.calendar_url))
    except dav_error.NotFoundError:
        return classify_status(404, server_url=cred.server_url)
    return ProviderError(ErrorKind.NOT_FOUND, "The event is not on the calendar any more.",
                         provider=PROVIDER, http_status=404, provider_code="404")


def _text(raw: Any) -> str:
    return raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)


# -- iCalendar ---------------------------------------------------------------------------------
def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _attendee(person: Attendee) -> icalendar.vCalAddress:
    address = icalendar.vCalAddress(f"mailto:{person.email}")
    if person.name:
        address.params["CN"] = person.name
    address.params["ROLE"] = "OPT-PARTICIPANT" if person.optional else "REQ-PARTICIPANT"
    address.params["PARTSTAT"] = "NEEDS-ACTION"
    address.params["RSVP"] = "TRUE"
    return address


def _set_attendees(event: icalendar.Event, attendees: Iterable[Attendee]) -> None:
    event.pop("ATTENDEE", None)
    for person in attendees:
        event.add("attendee", _attendee(person), encode=False)


def new_event_ical(uid: str, draft: EventDraft, *, organizer: str) -> str:
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", _utc(draft.start))
    event.add("dtend", _utc(draft.end))
    event.add("summary", draft.title)
    event.add("sequence", 0)
    # A hold is TENTATIVE and still OPAQUE: it blocks the time for everyone who reads it.
    event.add("status", "TENTATIVE" if draft.show_as == "tentative" else "CONFIRMED")
    event.add("transp", "OPAQUE")
    if draft.description:
        event.add("description", draft.description)
    if draft.location:
        event.add("location", draft.location)
    if draft.attendees:
        event.add("organizer", icalendar.vCalAddress(f"mailto:{organizer}"), encode=False)
        _set_attendees(event, draft.attendees)
    cal.add_component(event)
    return cal.to_ical().decode()


def changed_event_ical(text: str, changes: EventChanges) -> str:
    cal = icalendar.Calendar.from_ical(text)
    event = cast(icalendar.Event, next(iter(cal.walk("VEVENT"))))
    for name, value in (("summary", changes.title), ("description", changes.description),
                        ("location", changes.location)):
        if value is not None:
            event.pop(name.upper(), None)
            event.add(name, value)
    for name, moment in (("dtstart", changes.start), ("dtend", changes.end)):
        if moment is not None:
            event.pop(name.upper(), None)
            event.add(name, _utc(moment))
    if changes.attendees is not None:
        _set_attendees(event, changes.attendees)
    # RFC 5545 §3.8.7.4: a change of time or attendees raises SEQUENCE so clients take it.
    sequence = int(event.get("sequence", 0)) + 1
    event.pop("SEQUENCE", None)
    event.add("sequence", sequence)
    event.pop("DTSTAMP", None)
    event.add("dtstamp", datetime.now(UTC))
    return cal.to_ical().decode()


def _as_utc(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else _utc(value)
    return datetime.combine(value, time.min, tzinfo=UTC)  # all-day: floating, read as UTC


def busy_from_calendars(calendars: Iterable[icalendar.Calendar], start: datetime, end: datetime
                        ) -> list[BusyBlock]:
    """Busy blocks of the VEVENTs in the window, recurrences expanded; transparent and cancelled
    occurrences are free, tentative ones are tentative (RFC 4791 §7.10 says the same)."""
    blocks: list[BusyBlock] = []
    for cal in calendars:
        for occurrence in recurring_ical_events.of(cal).between(start, end):
            if str(occurrence.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
                continue
            status = str(occurrence.get("STATUS", "CONFIRMED")).upper()
            if status == "CANCELLED":
                continue
            begin = _as_utc(occurrence["DTSTART"].dt)
            finish = _as_utc(occurrence["DTEND"].dt) if "DTEND" in occurrence else begin
            if finish > start and begin < end:
                blocks.append(BusyBlock(max(begin, start), min(finish, end),
                                        "tentative" if status == "TENTATIVE" else "busy",
                                        str(occurrence.get("UID", "")) or None))
    return sorted(blocks, key=lambda b: (b.start, b.end))


def _parse_free_busy(text: str) -> list[BusyBlock] | None:
    """FREEBUSY periods of a VFREEBUSY answer; None when the answer is not one."""
    try:
        cal = icalendar.Calendar.from_ical(text)
    except ValueError:
        return None
    components = cal.walk("VFREEBUSY")
    if not components:
        return None
    blocks: list[BusyBlock] = []
    for component in components:
        values = component.get("FREEBUSY", [])
        for prop in values if isinstance(values, list) else [values]:
            status = FBTYPE_STATUS.get(str(prop.params.get("FBTYPE", "BUSY")).upper())
            if status is None:  # FBTYPE=FREE
                continue
            for period in prop.dt if isinstance(prop.dt, list) else [prop.dt]:
                begin, finish = period
                finish = begin + finish if not isinstance(finish, datetime) else finish
                blocks.append(BusyBlock(_as_utc(begin), _as_utc(finish), status))
    return sorted(blocks, key=lambda b: (b.start, b.end))
