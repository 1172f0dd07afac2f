"""Creating, moving and cancelling events with a conferencing link.

Order of work on create: resolve the organizer's calendar and conferencing → (external
conferencing such as Zoom: create the meeting first) → create the calendar event with a
provider idempotency handle → on failure undo what was created → store and answer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from hub.api.schemas import EventIn, EventPatch
from hub.container import Hub
from hub.problems import Problem
from hub.services.explanations import explain
from hub.services.directory import (calendar_connection, connection_of, record_outcome,
                                    require_user, user_connections)
from hub.storage.models import Connection, Event, User
from providers import registry
from providers.base import (Attendee, CalendarEvent, Capability, ErrorKind, EventChanges, EventDraft,
                            MeetingDraft, ProviderError)
from webhooks.outbound.outbox import enqueue

NATIVE = {Capability.GOOGLE_MEET.value: "google", Capability.TEAMS.value: "microsoft"}
UNAVAILABLE_CAUSE = {Capability.GOOGLE_MEET.value: "meet_unavailable",
                     Capability.TEAMS.value: "teams_unavailable",
                     Capability.ZOOM.value: "conferencing_not_connected"}

# A native link that did not come back: Meet has no finer cause; Teams does (inactive or
# unlicensed accounts get events without a join URL — the Personio "link could not be generated").
LINK_MISSING_CAUSE = {Capability.GOOGLE_MEET.value: "meet_unavailable",
                      Capability.TEAMS.value: "teams_link_not_generated"}

# (tenant_id, user_id, provider) -> a fresh connect link URL for a "reconnect" fix.
ReconnectLink = Callable[[str, str, str], str]


@dataclass(frozen=True)
class Plan:
    calendar: Connection
    conferencing: str  # google_meet | teams | zoom | none
    zoom: Connection | None = None


class EventService:
    def __init__(self, hub: Hub, reconnect_link: ReconnectLink) -> None:
        self.hub = hub
        self.reconnect_link = reconnect_link

    # --- planning ---------------------------------------------------------------------------
    def plan(self, tenant_id: str, body: EventIn) -> tuple[User, Plan]:
        with self.hub.db.session() as session:
            user = require_user(session, tenant_id, body.organizer)
            cal = calendar_connection(session, user)
            if cal is None:
                raise Problem(409, "no_calendar_connection", "The organizer has no calendar connected",
                              f"{body.organizer} must connect a Google or Microsoft calendar first.",
                              fix=self._connect_fix(tenant_id, body.organizer, "google"),
                              cause="organizer_not_connected")
            self._require_active(tenant_id, body.organizer, cal)
            zoom = (connection_of(session, user, Capability.ZOOM.value)
                    or _offering(session, user, Capability.ZOOM.value))
            choice = body.conferencing
            if choice == "default":
                choice = user.default_conferencing or "default"
            if choice == "default":
                native = registry.get(cal.provider).native_conferencing
                if native and native.value in cal.capabilities:
                    choice = native.value
                elif zoom is not None and zoom.status == "active" and Capability.ZOOM.value in (zoom.capabilities or []):
                    choice = "zoom"
                else:
                    choice = "none"
            return user, self._check_choice(tenant_id, body.organizer, cal, zoom, choice)

    def _check_choice(self, tenant_id: str, organizer: str, cal: Connection, zoom: Connection | None,
                      choice: str) -> Plan:
        if choice == "none":
            return Plan(cal, "none")
        if choice == Capability.ZOOM.value:
            if zoom is None:
                raise self._unavailable("zoom_not_connected", "conferencing_not_connected",
                                        f"{organizer} has not connected Zoom.",
                                        self._connect_fix(tenant_id, organizer, "zoom"))
            self._require_active(tenant_id, organizer, zoom)
            if choice not in (zoom.capabilities or []):
                # Connected, but the account may not host (no meetings product, role): refuse
                # before anything is created rather than after the meeting call fails.
                raise self._unavailable("zoom_cannot_host", "zoom_cannot_host",
                                        f"{zoom.account_email} is connected to Zoom but may not host meetings "
                                        "(its Zoom plan or role has no meeting hosting).",
                                        {"action": "contact_admin", "steps": [
                                            f"Ask the Zoom account administrator to let {zoom.account_email} host "
                                            "meetings (a Basic or Licensed user with Meetings).",
                                            "Then reconnect Zoom so the hub sees the change."]})
            return Plan(cal, choice, zoom)
        provider = NATIVE[choice]
        cause = UNAVAILABLE_CAUSE[choice]
        if cal.provider != provider:
            raise self._unavailable(cause, cause, f"{choice} needs a {registry.get(provider).title} "
                                    f"connection; {organizer}'s calendar is {registry.get(cal.provider).title}.",
                                    self._connect_fix(tenant_id, organizer, provider))
        if choice not in (cal.capabilities or []):
            raise self._unavailable(cause, cause, f"{choice} is not available to {cal.account_email}: "
                                    "the account's administrator has not enabled it.",
                                    {"action": "enable_conferencing", "steps": [
                                        f"Ask the {registry.get(provider).title} administrator to allow "
                                        f"{choice} for {cal.account_email}.",
                                        "Then reconnect the calendar so the hub sees the change."]})
        return Plan(cal, choice)

    def _require_active(self, tenant_id: str, user_id: str, conn: Connection) -> None:
        if conn.status != "active":
            cause = (conn.last_error or {}).get("cause") or "token_revoked"
            raise Problem(409, "connection_needs_reauth", "The connection must be reconnected",
                          f"{registry.get(conn.provider).title} for {conn.account_email} stopped working "
                          f"({cause}); the person must reconnect it.",
                          fix={"action": "reconnect", "url": self.reconnect_link(tenant_id, user_id, conn.provider)},
                          cause=cause, connection_id=conn.id)

    def _unavailable(self, reason: str, cause: str, detail: str, fix: dict[str, Any]) -> Problem:
        return Problem(422, "conferencing_unavailable", "That conferencing is not available",
                       detail, fix=fix, reason=reason, cause=cause)

    @staticmethod
    def _explained_fix(cause: str) -> dict[str, Any]:
        return explain(cause).as_fix()

    def _connect_fix(self, tenant_id: str, user_id: str, provider: str) -> dict[str, Any]:
        return {"action": "connect", "url": self.reconnect_link(tenant_id, user_id, provider)}

    # --- provider calls with health bookkeeping ---------------------------------------------
    def _with(self, tenant_id: str, user_id: str, conn: Connection, action: Callable[[str], Any]) -> Any:
        try:
            result = self.hub.tokens.call(conn.id, action)
        except ProviderError as err:
            record_outcome(self.hub.db, conn.id, self.hub.clock(), err)
            raise self._provider_problem(tenant_id, user_id, conn, err) from None
        record_outcome(self.hub.db, conn.id, self.hub.clock(), None)
        return result

    def _provider_problem(self, tenant_id: str, user_id: str, conn: Connection, err: ProviderError) -> Problem:
        if err.kind is ErrorKind.AUTH_REVOKED:
            return Problem(409, "connection_needs_reauth", "The connection must be reconnected",
                           f"{registry.get(conn.provider).title} refused the stored grant ({err.cause}).",
                           fix={"action": "reconnect", "url": self.reconnect_link(tenant_id, user_id, conn.provider)},
                           cause=err.cause, connection_id=conn.id)
        if err.cause in UNAVAILABLE_CAUSE.values() or err.cause in ("zoom_cannot_host", "teams_link_not_generated"):
            return self._unavailable(err.cause, err.cause, err.message,
                                     {"action": "contact_admin", "steps": [err.message]})
        headers = {"Retry-After": str(int(err.retry_after))} if err.retry_after else None
        return Problem(502, "provider_error", f"{registry.get(conn.provider).title} refused the request",
                       err.message, provider=conn.provider, kind=err.kind.value, cause=err.cause,
                       headers=headers)

    # --- create -----------------------------------------------------------------------------
    def create(self, tenant_id: str, body: EventIn, handle: str) -> dict[str, Any]:
        user, plan = self.plan(tenant_id, body)
        attendees = tuple(Attendee(a.email, a.name, a.optional) for a in body.attendees)
        meeting = None
        location, description = body.location, body.description
        if plan.zoom is not None:
            zoom = self.hub.conferencing("zoom")
            draft = MeetingDraft(body.title, body.start, _minutes(body), body.timezone, body.description)
            meeting = self._with(tenant_id, body.organizer, plan.zoom, lambda t: zoom.create_meeting(t, draft))
            conference = _external_conference(meeting)
            location = with_join_location(location, conference)
            description = with_join_text(description, conference)
        calendar = self.hub.calendar(plan.calendar.provider)
        draft = EventDraft(title=body.title, start=body.start, end=body.end, attendees=attendees,
                           description=description, location=location, timezone=body.timezone,
                           native_conferencing=plan.conferencing in NATIVE,
                           send_updates=body.send_updates, idempotency_handle=handle)
        try:
            created: CalendarEvent = self._with(tenant_id, body.organizer, plan.calendar,
                                                lambda t: calendar.create_event(t, draft))
        except Problem:
            if meeting is not None:
                self._undo_meeting(plan.zoom, meeting.meeting_id)
            raise
        try:
            conference = self._conference_of(plan, created, meeting)
        except Problem:
            # Leave nothing behind: a linkless event would send invitations without a way in.
            self._undo_event(plan.calendar, created.event_id)
            raise
        with self.hub.db.session() as session:
            event = Event(tenant_id=tenant_id, organizer_id=user.id, connection_id=plan.calendar.id,
                          conference_connection_id=plan.zoom.id if plan.zoom else None,
                          title=body.title, description=body.description, location=body.location,
                          start=body.start, end=body.end, timezone=body.timezone,
                          attendees=[a.model_dump() for a in body.attendees],
                          calendar_provider=plan.calendar.provider, provider_event_id=created.event_id,
                          html_link=created.html_link, conferencing=conference, send_updates=body.send_updates)
            session.add(event)
            session.flush()
            out = event_out(event, body.organizer)
            # Queued in the transaction that stores the event: both or neither.
            enqueue(session, tenant_id, "event.created", out, now=self.hub.clock())
            return out

    def _conference_of(self, plan: Plan, created: CalendarEvent, meeting) -> dict[str, Any] | None:
        if meeting is not None:
            return _external_conference(meeting)
        if plan.conferencing in NATIVE:
            if created.conference is None:
                # The event exists without a link: say so rather than return a linkless success,
                # and keep it on the connection's health record for diagnostics.
                cause = LINK_MISSING_CAUSE[plan.conferencing]
                message = (f"The calendar event was created but the provider returned no "
                           f"{plan.conferencing} link.")
                record_outcome(self.hub.db, plan.calendar.id, self.hub.clock(),
                               ProviderError(ErrorKind.UNKNOWN, message, provider=plan.calendar.provider,
                                             cause=cause))
                raise Problem(502, "provider_error", "The meeting link was not generated", message,
                              cause=cause, provider=plan.calendar.provider, event_id=created.event_id,
                              fix=self._explained_fix(cause))
            return created.conference.as_dict()
        return None

    def _undo_event(self, conn: Connection, event_id: str) -> None:
        calendar = self.hub.calendar(conn.provider)
        try:
            self.hub.tokens.call(conn.id, lambda t: calendar.cancel_event(t, event_id, False))
        except ProviderError:
            pass  # the original failure is what the caller needs to see

    def _restore_meeting(self, conn: Connection, meeting_id: str, draft: MeetingDraft) -> None:
        zoom = self.hub.conferencing("zoom")
        try:
            self.hub.tokens.call(conn.id, lambda t: zoom.update_meeting(t, meeting_id, draft))
        except ProviderError:
            pass  # the calendar failure is what the caller needs to see

    def _undo_meeting(self, conn: Connection | None, meeting_id: str) -> None:
        if conn is None:
            return
        zoom = self.hub.conferencing("zoom")
        try:
            self.hub.tokens.call(conn.id, lambda t: zoom.delete_meeting(t, meeting_id))
        except ProviderError:
            pass  # reported through the original failure; the orphan is logged by the adapter

    # --- read / move / cancel ---------------------------------------------------------------
    def _load(self, session, tenant_id: str, event_id: str) -> Event:
        event = session.get(Event, event_id)
        if event is None or event.tenant_id != tenant_id:
            raise Problem(404, "event_not_found", "Event not found", f"No event {event_id!r} exists for this API key.")
        return event

    def get(self, tenant_id: str, event_id: str) -> dict[str, Any]:
        with self.hub.db.session() as session:
            event = self._load(session, tenant_id, event_id)
            return event_out(event, _organizer_id(session, event))

    def update(self, tenant_id: str, event_id: str, patch: EventPatch) -> dict[str, Any]:
        with self.hub.db.session() as session:
            event = self._load(session, tenant_id, event_id)
            if event.status == "cancelled":
                raise Problem(409, "event_cancelled", "The event is cancelled", "A cancelled event cannot be changed.")
            organizer = _organizer_id(session, event)
            cal = session.get(Connection, event.connection_id)
            zoom_conn = session.get(Connection, event.conference_connection_id) if event.conference_connection_id else None
            start, end = patch.start or event.start, patch.end or event.end
        if end <= start:
            raise Problem(422, "validation_failed", "The request is not valid", "end must be after start.",
                          errors=[{"field": "end", "message": "must be after start"}])
        if cal is None:
            raise Problem(409, "no_calendar_connection", "The calendar connection is gone",
                          "The connection that holds this event was removed; the event cannot be moved.")
        fields = patch.model_fields_set
        external = zoom_conn is not None and bool((event.conferencing or {}).get("meeting_id"))
        # A new description must keep the meeting's join details, or the link vanishes from
        # the invitation.
        description = (with_join_text(patch.description, event.conferencing) if external else patch.description)
        changes = EventChanges(
            title=patch.title if "title" in fields else None,
            description=description if "description" in fields else None,
            start=patch.start, end=patch.end,
            attendees=(tuple(Attendee(a.email, a.name, a.optional) for a in patch.attendees)
                       if patch.attendees is not None else None),
            send_updates=patch.send_updates)
        # Both connections must be usable before anything moves: half a move is worse than none.
        self._require_active(tenant_id, organizer, cal)
        moved_meeting = None
        if external and (patch.start or patch.end or {"title", "description"} & fields):
            self._require_active(tenant_id, organizer, zoom_conn)
            zoom = self.hub.conferencing("zoom")
            meeting_id = event.conferencing["meeting_id"]
            draft = MeetingDraft(patch.title or event.title, start, max(1, int((end - start).total_seconds() // 60)),
                                 event.timezone, patch.description if "description" in fields else event.description)
            self._with(tenant_id, organizer, zoom_conn, lambda t: zoom.update_meeting(t, meeting_id, draft))
            moved_meeting = (meeting_id, MeetingDraft(event.title, event.start,
                                                      max(1, int((event.end - event.start).total_seconds() // 60)),
                                                      event.timezone, event.description))
        calendar = self.hub.calendar(cal.provider)
        try:
            self._with(tenant_id, organizer, cal, lambda t: calendar.update_event(t, event.provider_event_id, changes))
        except Problem:
            if moved_meeting is not None:  # put the meeting back where the calendar still has it
                self._restore_meeting(zoom_conn, *moved_meeting)
            raise
        with self.hub.db.session() as session:
            event = self._load(session, tenant_id, event_id)
            event.start, event.end = start, end
            if "title" in fields and patch.title:
                event.title = patch.title
            if "description" in fields:
                event.description = patch.description
            if patch.attendees is not None:
                event.attendees = [a.model_dump() for a in patch.attendees]
            session.flush()
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
            zoom_conn = session.get(Connection, event.conference_connection_id) if event.conference_connection_id else None
        if cal is not None:
            calendar = self.hub.calendar(cal.provider)
            self._require_active(tenant_id, organizer, cal)
            self._with(tenant_id, organizer, cal,
                       lambda t: calendar.cancel_event(t, event.provider_event_id, event.send_updates))
        meeting_id = (event.conferencing or {}).get("meeting_id")
        if zoom_conn is not None and meeting_id:
            zoom = self.hub.conferencing("zoom")
            self._with(tenant_id, organizer, zoom_conn, lambda t: zoom.delete_meeting(t, meeting_id))
        with self.hub.db.session() as session:
            event = self._load(session, tenant_id, event_id)
            if event.status != "cancelled":  # a concurrent cancel may have got here first: one message
                event.status = "cancelled"
                session.flush()
                enqueue(session, tenant_id, "event.cancelled", event_out(event, organizer),  # same transaction
                        now=self.hub.clock())


def _offering(session, user: User, capability: str) -> Connection | None:
    """The newest connection to a provider that offers `capability`, whether or not this
    account can use it: "connected but may not" is its own cause, not "not connected"."""
    def offers(conn: Connection) -> bool:
        spec = registry.PROVIDERS.get(conn.provider)
        return spec is not None and Capability(capability) in spec.capabilities
    candidates = [c for c in user_connections(session, user) if offers(c)]
    active = [c for c in candidates if c.status == "active"]
    pool = active or candidates
    return max(pool, key=lambda c: c.connected_at) if pool else None


def _external_conference(meeting) -> dict[str, Any]:
    return {"provider": "zoom", "join_url": meeting.join_url, "meeting_id": meeting.meeting_id,
            "passcode": meeting.passcode}


def with_join_location(location: str | None, conference: dict[str, Any]) -> str:
    """The join URL is the event's location (where people go); a place the organizer named
    stays in front of it."""
    return "; ".join(filter(None, [location, conference["join_url"]]))


def with_join_text(description: str | None, conference: dict[str, Any] | None) -> str | None:
    """The organizer's text followed by the join details, as Zoom's own invitation words them."""
    if not conference:
        return description
    lines = [f"Join Zoom Meeting: {conference['join_url']}"]
    if conference.get("meeting_id"):
        mid = str(conference["meeting_id"])
        lines.append("Meeting ID: " + " ".join([mid[:3], mid[3:7], mid[7:]]).strip())
    if conference.get("passcode"):
        lines.append(f"Passcode: {conference['passcode']}")
    return "\n\n".join(filter(None, [description, "\n".join(lines)]))


def _minutes(body: EventIn) -> int:
    return max(1, int((body.end - body.start).total_seconds() // 60))


def _organizer_id(session, event: Event) -> str:
    user = session.get(User, event.organizer_id)
    return user.external_id if user else ""


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
        "attendees": list(event.attendees or []),
        "calendar": {"provider": event.calendar_provider, "event_id": event.provider_event_id,
                     "html_link": event.html_link},
        "conferencing": conference,
        "status": event.status,
    }
