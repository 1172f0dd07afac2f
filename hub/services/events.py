"""Creating, moving and cancelling events with a conferencing link.

Order of work on create: resolve the organizer's calendar and conferencing → (external
conferencing, a provider whose meetings live outside the calendar: create the meeting first) →
create the calendar event with a provider idempotency handle → on failure undo what was created →
store and answer. No provider is named here: which provider brings which meetings, and what
their loss is called, comes from the provider specs (providers/registry.py).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol

from sqlalchemy import and_, bindparam, literal_column, select
from sqlalchemy.orm import Session

from hub import jobs
from hub.container import Hub
from hub.jobs import Unit
from hub.errors import Conflict, HubError, Invalid, NotFound, ProviderFailed
from hub.services.directory import (LAST_USED_RESOLUTION, Organizer, calendar_of, newest, newest_offering,
                                    record_outcome, require_user_and_connections)
from hub.services.explanations import explain
from hub.services.sync.channels import ACTIVE
from hub.services.sync.notices import CHANNELS, STATES, calendar_written
from hub.storage.models import Connection, Event, User, new_id
from hub.storage.types import utcnow
from providers import registry
from providers.base import (Attendee, CalendarEvent, ErrorKind, EventChanges, EventDraft, Meeting,
                            MeetingDraft, ProviderError, ProviderSpec)
from oauth.tokens import AccessColumns, StoredAccess
from webhooks.outbound.outbox import ENABLED, ENDPOINTS, enqueue

if TYPE_CHECKING:  # pragma: no cover
    from hub.services.attendance import AttendanceRules, AttendanceService

# (tenant_id, user_id, provider) -> a fresh connect link URL for a "reconnect" fix.
ReconnectLink = Callable[[str, str, str], str]
NONE = "none"
DEFAULT = "default"
# A new event's row, built once: bound per create.
_EVENTS: Any = Event.__table__
_INSERT_EVENT = _EVENTS.insert()
_CONFIRMED = _EVENTS.c.status.default.arg  # the column's default, which event_out reports
# What storing a new event reads, in one statement instead of two (each ~2% of a create): the
# calendar's active push channel and its sync state, as calendar_written's ACTIVE_CHANNEL reads
# them, and the tenant's enabled webhook endpoints, as the outbox's SUBSCRIBERS reads them (in
# its order). Each is left-joined to a one-row anchor, so there is always a row: the channel's
# columns repeat on every endpoint's row, are NULL without an active channel, and the endpoint's
# are NULL without endpoints.
_ANCHOR = select(literal_column("1").label("one")).subquery("written")
_STORE_READS = (
    select(CHANNELS.c.connection_id, CHANNELS.c.tenant_id, CHANNELS.c.provider, STATES.c.connection_id.label("state"),
           ENDPOINTS.c.id.label("endpoint_id"), ENDPOINTS.c.events)
    .select_from(_ANCHOR
                 .outerjoin(CHANNELS, and_(CHANNELS.c.connection_id == bindparam("connection_id"),
                                           CHANNELS.c.status == ACTIVE))
                 .outerjoin(STATES, STATES.c.connection_id == CHANNELS.c.connection_id)
                 .outerjoin(ENDPOINTS, and_(ENDPOINTS.c.tenant_id == bindparam("tenant_id"),
                                            ENDPOINTS.c.status == ENABLED)))
    .order_by(ENDPOINTS.c.created_at))


@dataclass(frozen=True)
class NewEvent:
    """What `POST /v1/events` (and a candidate's booking) asks for."""

    organizer: str
    title: str
    start: datetime
    end: datetime
    attendees: tuple[Attendee, ...] = ()
    description: str | None = None
    location: str | None = None
    timezone: str | None = None
    conferencing: str = DEFAULT  # a capability ("google_meet", "zoom" …), "default" or "none"
    send_updates: bool = True
    attendance: "AttendanceRules | None" = None  # track whether the candidate joins

    @property
    def minutes(self) -> int:
        # pragma on the next line: `//` and `/` agree under int() for a positive span.
        return max(1, int((self.end - self.start).total_seconds() // 60))  # pragma: no mutate


@dataclass(frozen=True)
class EventUpdate:
    """A partial change; `given` names the fields the caller set (a None description clears it)."""

    given: frozenset[str] = field(default_factory=frozenset)
    start: datetime | None = None
    end: datetime | None = None
    title: str | None = None
    description: str | None = None
    attendees: tuple[Attendee, ...] | None = None
    send_updates: bool = True


class Planned(AccessColumns, Protocol):
    """A connection as the hub uses it for an event: a `Connection`, or the row of its columns
    planning reads (directory.require_user_and_connections)."""

    @property
    def provider(self) -> str: ...
    @property
    def account_email(self) -> str | None: ...
    @property
    def capabilities(self) -> Any: ...
    @property
    def connected_at(self) -> datetime: ...
    @property
    def last_used_at(self) -> datetime | None: ...
    @property
    def last_error(self) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class Plan:
    calendar: Planned
    conferencing: str  # a capability value, or "none"
    # The connection whose provider makes the meeting when it lives outside the calendar (Zoom).
    external: Planned | None = None

    @property
    def native(self) -> bool:
        return self.external is None and self.conferencing != NONE


class EventService:
    def __init__(self, hub: Hub, reconnect_link: ReconnectLink,
                 attendance: "AttendanceService | None" = None) -> None:
        self.hub = hub
        self.reconnect_link = reconnect_link
        self.attendance = attendance

    # --- planning ---------------------------------------------------------------------------
    def plan(self, tenant_id: str, body: NewEvent) -> tuple[Organizer, Plan]:
        # Read only, so a plain connection: no ORM session to open and commit.
        with self.hub.db.read() as read:
            user, connections = require_user_and_connections(read, tenant_id, body.organizer)
        cal = calendar_of(connections)
        if cal is None:
            calendars = [s.name for s in registry.SPECS if s.calendar is not None]
            raise Conflict("no_calendar_connection", "The organizer has no calendar connected",
                           f"{body.organizer} must connect a calendar "
                           f"({', '.join(registry.get(n).title for n in calendars)}) first.",
                           fix=self._connect_fix(tenant_id, body.organizer, calendars[0]),
                           cause="organizer_not_connected")
        self._require_active(tenant_id, body.organizer, cal)
        choice = body.conferencing
        if choice == DEFAULT:
            choice = user.default_conferencing or DEFAULT
        if choice == DEFAULT:
            choice = self._default_choice(connections, cal)
        return user, self._check_choice(connections, tenant_id, user, cal, choice)

    def _default_choice(self, connections: list[Any], cal: Planned) -> str:
        """The calendar's own meetings when it has them, else the first external conferencing
        this person has working, else none."""
        native = registry.get(cal.provider).native_conferencing
        if native is not None and native.value in (cal.capabilities or []):
            return native.value
        for spec in registry.SPECS:
            wanted = spec.external_conferencing
            if wanted is None:
                continue
            conn = newest_offering(connections, wanted.value)
            if conn is not None and conn.status == "active":
                return wanted.value
        return NONE

    def _check_choice(self, connections: list[Any], tenant_id: str, user: Organizer, cal: Planned,
                      choice: str) -> Plan:
        if choice == NONE:
            return Plan(cal, NONE)
        organizer = user.external_id
        spec = registry.bringing(choice)
        if spec is None or spec.meetings is None:
            raise Invalid("conferencing_unavailable", "That conferencing is not available",
                          f"No provider on this hub brings {choice!r} meetings.", reason="unknown_conferencing")
        cause = spec.meetings.unavailable_cause
        if spec.native:
            if cal.provider != spec.name:
                raise self._unavailable(cause, cause, f"{spec.meetings.label} needs a {spec.title} "
                                        f"connection; {organizer}'s calendar is {registry.get(cal.provider).title}.",
                                        self._connect_fix(tenant_id, organizer, spec.name))
            if choice not in (cal.capabilities or []):
                raise self._unavailable(cause, cause, f"{spec.meetings.label} is not available to "
                                        f"{cal.account_email}: the account's administrator has not enabled it.",
                                        self._explained_fix(cause))
            return Plan(cal, choice)
        external = newest_offering(connections, choice) or _offering(connections, choice)
        if external is None:
            raise self._unavailable(f"{spec.name}_not_connected", "conferencing_not_connected",
                                    f"{organizer} has not connected {spec.title}.",
                                    self._connect_fix(tenant_id, organizer, spec.name))
        self._require_active(tenant_id, organizer, external)
        if choice not in (external.capabilities or []):
            # Connected, but the account may not host (plan, role): refuse before anything is
            # created rather than after the meeting call fails.
            raise self._unavailable(cause, cause, f"{external.account_email} is connected to {spec.title} "
                                    f"but may not host {spec.meetings.label} meetings.",
                                    self._explained_fix(cause))
        return Plan(cal, choice, external)

    def _require_active(self, tenant_id: str, user_id: str, conn: Planned) -> None:
        if conn.status != "active":
            cause = (conn.last_error or {}).get("cause") or "token_revoked"
            raise Conflict("connection_needs_reauth", "The connection must be reconnected",
                           f"{registry.get(conn.provider).title} for {conn.account_email} stopped working "
                           f"({cause}); the person must reconnect it.",
                           fix={"action": "reconnect", "url": self.reconnect_link(tenant_id, user_id, conn.provider)},
                           cause=cause, connection_id=conn.id)

    @staticmethod
    def _unavailable(reason: str, cause: str, detail: str, fix: dict[str, Any]) -> Invalid:
        return Invalid("conferencing_unavailable", "That conferencing is not available",
                       detail, fix=fix, reason=reason, cause=cause)

    @staticmethod
    def _explained_fix(cause: str) -> dict[str, Any]:
        """The same steps diagnostics and the settings page give for this cause."""
        return explain(cause).as_fix()

    def _connect_fix(self, tenant_id: str, user_id: str, provider: str) -> dict[str, Any]:
        return {"action": "connect", "url": self.reconnect_link(tenant_id, user_id, provider)}

    # --- provider calls with health bookkeeping ---------------------------------------------
    def _with(self, tenant_id: str, user_id: str, conn: Planned, action: Callable[[str], Any]) -> Any:
        try:
            # The row as planning read it: a fresh token there is used without reading it again.
            # (no mutate: without `known` the token is only read again, with the same result)
            result = self.hub.tokens.call(conn.id, action, known=StoredAccess.of(conn))  # pragma: no mutate
        except ProviderError as err:
            record_outcome(self.hub.db, conn.id, self.hub.clock(), err)
            raise self._provider_problem(tenant_id, user_id, conn, err) from None
        now = self.hub.clock()
        # A healthy connection used within the last minute has nothing new to record: no write.
        if (conn.last_error is not None or conn.last_used_at is None
                or now - conn.last_used_at >= LAST_USED_RESOLUTION):
            record_outcome(self.hub.db, conn.id, now, None)
        return result

    def _provider_problem(self, tenant_id: str, user_id: str, conn: Planned, err: ProviderError) -> HubError:
        title = registry.get(conn.provider).title
        if err.kind is ErrorKind.AUTH_REVOKED:
            return Conflict("connection_needs_reauth", "The connection must be reconnected",
                            f"{title} refused the stored grant ({err.cause}).",
                            fix={"action": "reconnect", "url": self.reconnect_link(tenant_id, user_id, conn.provider)},
                            cause=err.cause, connection_id=conn.id)
        if err.cause in _CONFERENCING_CAUSES:
            # The provider's own text ("Invalid conference type value.") stays in `detail`;
            # the steps are the ones diagnostics gives for the same cause.
            return self._unavailable(err.cause, err.cause, f"{title}: {err.message}", self._explained_fix(err.cause))
        return ProviderFailed("provider_error", f"{title} refused the request", err.message,
                              provider=conn.provider, kind=err.kind.value, cause=err.cause,
                              retry_after=err.retry_after)

    # --- create -----------------------------------------------------------------------------
    def create(self, tenant_id: str, body: NewEvent, handle: str,
               answered: Callable[[Unit, dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """`answered(transaction, answer)`: run in the transaction that stores the event (an
        idempotency key's stored response goes with the event, both or neither)."""
        user, plan = self.plan(tenant_id, body)
        watching = self._prepare_attendance(tenant_id, user, plan, body)  # refused before anything exists
        meeting_spec = registry.get(plan.external.provider) if plan.external is not None else None
        # (no mutate: read only behind `plan.external is not None`, where it has been set)
        meeting: Meeting | None = None  # pragma: no mutate
        location, description = body.location, body.description
        # (no mutate: meeting_spec is set exactly when plan.external is; the second test narrows the type)
        if plan.external is not None and meeting_spec is not None:  # pragma: no mutate
            meetings = self.hub.conferencing(plan.external.provider)
            draft = MeetingDraft(body.title, body.start, body.minutes, body.timezone, body.description)
            meeting = self._with(tenant_id, body.organizer, plan.external, lambda t: meetings.create_meeting(t, draft))
            conference = _external_conference(meeting_spec, meeting)
            location = with_join_location(location, conference)
            description = with_join_text(description, conference)
        calendar = self.hub.calendar(plan.calendar.provider)
        event_draft = EventDraft(title=body.title, start=body.start, end=body.end, attendees=body.attendees,
                                 description=description, location=location, timezone=body.timezone,
                                 native_conferencing=plan.native, send_updates=body.send_updates,
                                 idempotency_handle=handle)
        try:
            created: CalendarEvent = self._with(tenant_id, body.organizer, plan.calendar,
                                                lambda t: calendar.create_event(t, event_draft))
        except HubError:
            # (no mutate: a meeting exists only with an external connection; both tests narrow types)
            if meeting is not None and plan.external is not None:  # pragma: no mutate
                self._undo_meeting(plan.external, meeting.meeting_id)
            raise
        if meeting is not None and meeting_spec is not None:  # pragma: no mutate (as above)
            conference_out: dict[str, Any] | None = _external_conference(meeting_spec, meeting)
        else:
            try:
                conference_out = self._native_conference(plan, created)
            except HubError:
                # Leave nothing behind: a linkless event would send invitations without a way in.
                self._undo_event(plan.calendar, created.event_id)
                raise
        # The row as the columns' defaults complete it, and the answer read from the same values.
        values = dict(id=new_id("evt"), tenant_id=tenant_id, organizer_id=user.id, connection_id=plan.calendar.id,
                      conference_connection_id=plan.external.id if plan.external else None,
                      title=body.title, description=body.description, location=body.location,
                      start=body.start, end=body.end, timezone=body.timezone,
                      attendees=_attendee_rows(body.attendees),
                      calendar_provider=plan.calendar.provider, provider_event_id=created.event_id,
                      html_link=created.html_link, conferencing=conference_out,
                      send_updates=body.send_updates, status=_CONFIRMED, write_started_at=None)
        # Untyped on purpose: read like an `Event` (event_out, attendance) without being one.
        event: Any = SimpleNamespace(**values)
        if watching is None or self.attendance is None:
            # The usual create writes Core statements only: a plain connection's transaction,
            # no ORM session around it (jobs and webhooks still go out after the commit).
            with jobs.transaction(self.hub.db) as tx:
                return self._store(tx, tenant_id, values, event, body.organizer, plan.calendar.id, answered)
        with self.hub.db.session() as session:  # attendance adds its watch as an entity
            attendance = self.attendance
            return self._store(session, tenant_id, values, event, body.organizer, plan.calendar.id, answered,
                               lambda: attendance.watch(session, event, watching))

    def _store(self, unit: Unit, tenant_id: str, values: dict[str, Any], event: Any, organizer: str,
               calendar_id: str, answered: Callable[[Unit, dict[str, Any]], None] | None,
               watch: Callable[[], None] | None = None) -> dict[str, Any]:
        """The new event's row, the write mark of its calendar, what watches it, the
        `event.created` webhook and the caller's `answered`: one transaction (all or nothing),
        the answer read from it."""
        # Core, not `session.add`: nothing reads this row back through a session, and the ORM's
        # unit of work costs more than the statement (created_at/updated_at: the defaults).
        unit.execute(_INSERT_EVENT, values)
        rows = unit.execute(_STORE_READS, {"connection_id": calendar_id, "tenant_id": tenant_id}).all()
        calendar_written(unit, calendar_id, self.hub.clock(), rows[0] if rows[0].connection_id is not None else None)
        if watch is not None:
            watch()
        out = event_out(event, organizer)
        enqueue(unit, tenant_id, "event.created", out, now=self.hub.clock(),
                endpoints=[(row.endpoint_id, row.events) for row in rows if row.endpoint_id is not None])
        if answered is not None:
            answered(unit, out)
        return out

    def check_attendance(self, tenant_id: str, body: NewEvent) -> None:
        """Whether `body` could be created with its attendance, refused as `create` would refuse
        it, without creating anything (a scheduling request checks before offering times)."""
        user, plan = self.plan(tenant_id, body)
        self._prepare_attendance(tenant_id, user, plan, body)

    def _prepare_attendance(self, tenant_id: str, user: Organizer, plan: Plan, body: NewEvent) -> Any:
        if body.attendance is None:
            return None
        if self.attendance is None:
            raise Invalid("attendance_unavailable", "Attendance is not tracked by this hub")
        with self.hub.db.session() as session:
            # Planning read columns; attendance reads the entities (and their neighbours) in this session.
            return self.attendance.prepare(session, tenant_id, session.get_one(User, user.id), body.attendees,
                                           plan.conferencing,
                                           session.get_one(Connection, (plan.external or plan.calendar).id),
                                           body.attendance)

    def _native_conference(self, plan: Plan, created: CalendarEvent) -> dict[str, Any] | None:
        if not plan.native:
            return None
        if created.conference is None:
            # The event came back without a link: say so rather than return a linkless success
            # (the caller removes the event), and keep it on the health record for diagnostics.
            spec = registry.get(plan.calendar.provider)
            assert spec.meetings is not None
            cause = spec.meetings.link_missing_cause
            message = (f"{spec.title} returned no {spec.meetings.label} link, so the calendar event was "
                       "deleted again; nothing was booked.")
            record_outcome(self.hub.db, plan.calendar.id, self.hub.clock(),
                           # (no mutate: the record keeps kind, cause and message, not the provider; the
                           # pragma goes where the call starts, the node mutmut mutates)
                           ProviderError(ErrorKind.UNKNOWN, message, cause=cause,  # pragma: no mutate
                                         provider=plan.calendar.provider))
            raise ProviderFailed("provider_error", "The meeting link was not generated", message,
                                 cause=cause, provider=plan.calendar.provider, fix=self._explained_fix(cause))
        return created.conference.as_dict()

    def _undo_event(self, conn: Planned, event_id: str) -> None:
        calendar = self.hub.calendar(conn.provider)
        try:
            self.hub.tokens.call(conn.id, lambda t: calendar.cancel_event(t, event_id, False))
        except ProviderError:
            pass  # the original failure is what the caller needs to see

    def _restore_meeting(self, conn: Planned, meeting_id: str, draft: MeetingDraft) -> None:
        meetings = self.hub.conferencing(conn.provider)
        try:
            self.hub.tokens.call(conn.id, lambda t: meetings.update_meeting(t, meeting_id, draft))
        except ProviderError:
            pass  # the calendar failure is what the caller needs to see

    def _undo_meeting(self, conn: Planned, meeting_id: str) -> None:
        meetings = self.hub.conferencing(conn.provider)
        try:
            self.hub.tokens.call(conn.id, lambda t: meetings.delete_meeting(t, meeting_id))
        except ProviderError:
            pass  # reported through the original failure; the orphan is logged by the adapter

    # --- read / move / cancel ---------------------------------------------------------------
    @contextmanager
    def _writing_at_provider(self, tenant_id: str, event_id: str) -> Iterator[None]:
        """Marks the event while the hub changes it at its provider, until the row holds the
        result (the caller clears the mark in that same transaction). A sync that reads the
        provider in between skips the row instead of reporting the hub's own change as a
        person's. When the write fails the mark goes and a sync is queued: a person's change
        skipped meanwhile is still found."""
        with self.hub.db.session() as session:
            self._load(session, tenant_id, event_id).write_started_at = utcnow()
        try:
            yield
        except BaseException:
            with self.hub.db.session() as session:
                event = self._load(session, tenant_id, event_id)
                event.write_started_at = None
                calendar_written(session, event.connection_id, self.hub.clock())
            raise

    def _load(self, session: Session, tenant_id: str, event_id: str) -> Event:
        event: Event | None = session.get(Event, event_id)
        if event is None or event.tenant_id != tenant_id:
            raise NotFound("event_not_found", "Event not found", f"No event {event_id!r} exists for this API key.")
        return event

    def get(self, tenant_id: str, event_id: str) -> dict[str, Any]:
        with self.hub.db.session() as session:
            event = self._load(session, tenant_id, event_id)
            return event_out(event, _organizer_id(session, event))

    def update(self, tenant_id: str, event_id: str, patch: EventUpdate) -> dict[str, Any]:
        with self.hub.db.session() as session:
            event = self._load(session, tenant_id, event_id)
            if event.status == "cancelled":
                raise Conflict("event_cancelled", "The event is cancelled", "A cancelled event cannot be changed.")
            organizer = _organizer_id(session, event)
            cal = session.get(Connection, event.connection_id)
            external = (session.get(Connection, event.conference_connection_id)
                        if event.conference_connection_id else None)
            start, end = patch.start or event.start, patch.end or event.end
        if end <= start:
            raise Invalid("validation_failed", "The request is not valid", "end must be after start.",
                          errors=[{"field": "end", "message": "must be after start"}])
        if cal is None:
            raise Conflict("no_calendar_connection", "The calendar connection is gone",
                           "The connection that holds this event was removed; the event cannot be moved.")
        given = patch.given
        meeting_id = (event.conferencing or {}).get("meeting_id")
        has_meeting = external is not None and bool(meeting_id)
        # A new description must keep the meeting's join details, or the link vanishes from
        # the invitation.
        description = with_join_text(patch.description, event.conferencing) if has_meeting else patch.description
        changes = EventChanges(
            title=patch.title,  # None when not given (a title is never cleared)
            description=description if "description" in given else None,
            start=patch.start, end=patch.end, attendees=patch.attendees, send_updates=patch.send_updates)
        # Both connections must be usable before anything moves: half a move is worse than none.
        self._require_active(tenant_id, organizer, cal)
        moving = external if external is not None and meeting_id and (
            patch.start or patch.end or {"title", "description"} & given) else None
        if moving is not None:
            self._require_active(tenant_id, organizer, moving)
        with self._writing_at_provider(tenant_id, event_id):
            moved_back: tuple[Connection, str, MeetingDraft] | None = None
            if moving is not None and meeting_id:
                meetings = self.hub.conferencing(moving.provider)
                minutes = max(1, int((end - start).total_seconds() // 60))  # pragma: no mutate (// vs / as above)
                draft = MeetingDraft(patch.title or event.title, start, minutes, event.timezone,
                                     patch.description if "description" in given else event.description)
                self._with(tenant_id, organizer, moving, lambda t: meetings.update_meeting(t, meeting_id, draft))
                before = MeetingDraft(event.title, event.start,
                                      max(1, int((event.end - event.start).total_seconds() // 60)),  # pragma: no mutate
                                      event.timezone, event.description)
                moved_back = (moving, meeting_id, before)
            calendar = self.hub.calendar(cal.provider)
            try:
                self._with(tenant_id, organizer, cal,
                           lambda t: calendar.update_event(t, event.provider_event_id, changes))
            except HubError:
                if moved_back is not None:  # put the meeting back where the calendar still has it
                    self._restore_meeting(*moved_back)
                raise
        with self.hub.db.session() as session:
            event = self._load(session, tenant_id, event_id)
            event.write_started_at = None
            previous_start = event.start
            event.start, event.end = start, end
            if "title" in given and patch.title:
                event.title = patch.title
            if "description" in given:
                event.description = patch.description
            if patch.attendees is not None:
                event.attendees = _attendee_rows(patch.attendees)
            session.flush()
            calendar_written(session, event.connection_id, self.hub.clock())
            if self.attendance is not None and (patch.start or patch.end):
                self.attendance.moved(session, event, previous_start)  # the deadlines move with the event
            out = event_out(event, organizer)
            enqueue(session, tenant_id, "event.updated", out, now=self.hub.clock())  # same transaction
            return out

    def cancel(self, tenant_id: str, event_id: str) -> None:
        with self.hub.db.session() as session:
            event = self._load(session, tenant_id, event_id)
            if event.status == "cancelled":
                return
            organizer = _organizer_id(session, event)
            cal = session.get(Connection, event.connection_id)
            external = (session.get(Connection, event.conference_connection_id)
                        if event.conference_connection_id else None)
        meeting_id = (event.conferencing or {}).get("meeting_id")
        # Both connections must be usable before anything goes, as for a move: a calendar event
        # gone while its meeting stays (and the row still says confirmed) is worse than a 409.
        if cal is not None:
            self._require_active(tenant_id, organizer, cal)
        if external is not None and meeting_id:
            self._require_active(tenant_id, organizer, external)
        # The meeting's deletion is inside the mark too: when it fails after the calendar event
        # went, the mark must go (and a sync be queued) like after any failed write.
        with self._writing_at_provider(tenant_id, event_id):
            if cal is not None:
                calendar = self.hub.calendar(cal.provider)
                self._with(tenant_id, organizer, cal,
                           lambda t: calendar.cancel_event(t, event.provider_event_id, event.send_updates))
            if external is not None and meeting_id:
                meetings = self.hub.conferencing(external.provider)
                self._with(tenant_id, organizer, external, lambda t: meetings.delete_meeting(t, meeting_id))
        with self.hub.db.session() as session:
            event = self._load(session, tenant_id, event_id)
            event.write_started_at = None
            if event.status != "cancelled":  # a concurrent cancel may have got here first: one message
                event.status = "cancelled"
                session.flush()
                calendar_written(session, event.connection_id, self.hub.clock())
                if self.attendance is not None:
                    self.attendance.stopped(session, event.id)  # no deadline fires for a cancelled event
                enqueue(session, tenant_id, "event.cancelled", event_out(event, organizer),  # same transaction
                        now=self.hub.clock())


# Causes that mean "this conferencing cannot be had" wherever a provider reports them.
_CONFERENCING_CAUSES = frozenset(
    cause for spec in registry.SPECS if spec.meetings is not None
    for cause in (spec.meetings.unavailable_cause, spec.meetings.link_missing_cause))


def _offering(connections: list[Any], capability: str) -> Any:
    """The newest connection to a provider that offers `capability`, whether or not this
    account can use it: "connected but may not" is its own cause, not "not connected"."""
    spec = registry.bringing(capability)
    return newest([c for c in connections if spec is not None and c.provider == spec.name])


def _external_conference(spec: ProviderSpec, meeting: Meeting) -> dict[str, Any]:
    assert spec.meetings is not None
    return {"provider": spec.meetings.capability.value, "join_url": meeting.join_url,
            "meeting_id": meeting.meeting_id, "passcode": meeting.passcode}


def with_join_location(location: str | None, conference: dict[str, Any]) -> str:
    """The join URL is the event's location (where people go); a place the organizer named
    stays in front of it."""
    return "; ".join(filter(None, [location, conference["join_url"]]))


def with_join_text(description: str | None, conference: dict[str, Any] | None) -> str | None:
    """The organizer's text followed by the join details, worded as the meeting provider's own
    invitations word them (its spec's `join_label`)."""
    if not conference:
        return description
    # (no mutate: any name no provider brings finds no spec, "" as well as another)
    spec = registry.bringing(conference.get("provider") or "")  # pragma: no mutate
    label = spec.meetings.join_label if spec is not None and spec.meetings is not None else "Join the meeting"
    lines = [f"{label}: {conference['join_url']}"]
    if conference.get("meeting_id"):
        mid = str(conference["meeting_id"])
        # Long numeric ids are read out in groups (123 4567 8901), as invitations print them.
        lines.append("Meeting ID: " + (" ".join([mid[:3], mid[3:7], mid[7:]]).strip() if mid.isdigit() else mid))
    if conference.get("passcode"):
        lines.append(f"Passcode: {conference['passcode']}")
    return "\n\n".join(filter(None, [description, "\n".join(lines)]))


def _organizer_id(session: Session, event: Event) -> str:
    user = session.get(User, event.organizer_id)
    # (no mutate: unreachable fallback, an organizer's events are deleted with them, ON DELETE CASCADE)
    return user.external_id if user else ""  # pragma: no mutate


def _attendee_rows(attendees: tuple[Attendee, ...]) -> list[dict[str, Any]]:
    return [asdict(a) for a in attendees]


def event_out(event: Event, organizer: str) -> dict[str, Any]:
    conference = event.conferencing
    if conference:
        conference = {k: v for k, v in conference.items() if v not in (None, [], "")}
    return {
        "id": event.id,
        "organizer": organizer,
        "title": event.title,
        "description": event.description,
        "start": event.start,
        "end": event.end,
        "timezone": event.timezone,
        # An answer the attendee gave in their calendar arrives through sync (hub/services/sync).
        "attendees": [{**a, "response_status": a.get("response_status") or "needs_action"}
                      for a in event.attendees or []],
        "calendar": {"provider": event.calendar_provider, "event_id": event.provider_event_id,
                     "html_link": event.html_link},
        "conferencing": conference,
        "status": event.status,
    }
