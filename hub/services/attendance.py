"""Attendance: did the candidate join the Zoom, Meet or Teams interview — said within the grace
period, each webhook once.

An event booked with attendance gets a watch (who is the candidate, who are the interviewers,
the thresholds) and two deadline rows (`attendance_checks`): `late` at start + late_after and
`deadline` at start + grace. A provider that pushes nothing but can be read during the meeting
(Meet) also gets a `poll` row: from the start it reads the participant list every minute until
the candidate is seen or the grace deadline comes, so `candidate_joined` goes out within about a
minute of the join instead of at the next deadline. The rows are the timers: a job runner
(Celery or in-process) calls `evaluate_due(now)`, which runs every pending check whose time has
come. A check reads the provider's participant list (Zoom participants API, Meet conference
records, Teams attendance report) and decides: a no-show is only ever declared on a successful
read, never because a webhook did not arrive (Zoom retries a lost one only after 5 minutes). A
reader that reports only after the meeting (Teams) has its deadlines at the meeting's end.

Each webhook is an `attendance_notices` row inserted in the transaction that queues it in the
outbox: two workers, a webhook and a poll reaching the same conclusion send one message.
Moving the event's start moves the deadlines (and forgets what was said about the old time);
a new end alone keeps what was said; cancelling the event cancels them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.attendance.people import (CANDIDATE, INTERVIEWER, Line, Person, Sighting, attendee_key, first_join,
                                   lines, minutes_late)
from hub.errors import Invalid, NotFound
from hub.services.directory import user_connections
from hub.services.explanations import explain
from hub.storage.db import Database
from hub.storage.models import (AttendanceCheck, AttendanceNotice, AttendanceWatch, Connection, Event, User,
                                ZoomWebhookEvent)
from providers import registry
from providers.base import Attendee, AttendanceRead, ErrorKind, AttendanceReader, MeetingParticipant, ProviderError
from webhooks.outbound.outbox import enqueue

LATE, DEADLINE, POLL = "late", "deadline", "poll"
JOINED, LATE_NOTICE, NO_SHOW, INTERVIEWER_NO_SHOW = (
    "attendance.candidate_joined", "attendance.candidate_late", "attendance.no_show",
    "attendance.interviewer_no_show")
# A failed read is tried again this soon; a report not written yet (Teams) a little later.
RETRY_READ = timedelta(minutes=1)
RETRY_REPORT = timedelta(minutes=5)
# How often a poll reads a meeting that sends no notifications, between the start and the
# grace deadline: the candidate_joined webhook is at most this (plus a job tick) late.
POLL_EVERY = timedelta(minutes=1)
# Reads stop (the check fails, visibly) this long after the meeting's end.
GIVE_UP_AFTER_END = timedelta(hours=24)
# Sightings this long before the start belong to another occurrence, not to this interview.
EARLY_JOIN = timedelta(minutes=60)
# Provider clocks run a little ahead of ours at times; a join further ahead than this is not
# counted yet.
CLOCK_SKEW = timedelta(seconds=30)


@dataclass(frozen=True)
class AttendanceRules:
    """`"attendance"` of POST /v1/events and of scheduling requests."""

    grace_minutes: int = 10
    late_after_minutes: int = 3
    candidate_email: str | None = None


@dataclass(frozen=True)
class Prepared:
    """A watch decided before anything is created at a provider (bad input fails first)."""

    rules: AttendanceRules
    candidate: Attendee
    interviewers: tuple[dict[str, Any], ...]
    provider: str
    connection_id: str
    live: bool
    polled: bool = False  # read during the meeting too, the provider pushing nothing (Meet)


ReaderFor = Callable[[str], AttendanceReader]
TokenCall = Callable[[str, Callable[[str], Any]], Any]


class AttendanceService:
    def __init__(self, db: Database, reader: ReaderFor, call: TokenCall, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.reader = reader
        self.call = call  # (connection_id, action(token)) with refresh: TokenManager.call
        self.clock = clock

    # --- set up, move, stop (inside the EventService's transactions) -------------------------
    def prepare(self, session: Session, tenant_id: str, organizer: User, attendees: Iterable[Attendee],
                conferencing: str, meeting_connection: Connection, rules: AttendanceRules) -> Prepared:
        spec = registry.bringing(conferencing)
        if spec is None or spec.attendance is None or meeting_connection.provider != spec.name:
            offered = [s.meetings.label for s in registry.SPECS if s.attendance is not None and s.meetings]
            raise Invalid("attendance_unavailable", "Attendance cannot be tracked for this event",
                          f"Attendance needs a meeting the hub can read participants of ({', '.join(offered)}); "
                          f"this event's conferencing is {conferencing!r}.",
                          errors=[{"field": "attendance", "message": "needs zoom, google_meet or teams"}])
        missing = [s for s in spec.attendance_scopes if s not in (meeting_connection.scopes or [])]
        if missing:
            raise Invalid("attendance_unavailable", "Attendance cannot be read from this connection",
                          f"{spec.title} did not grant {', '.join(missing)}: turn attendance on for the tenant "
                          "(`hub tenants attendance NAME --on`) and have the organizer reconnect.",
                          cause="scopes_missing", fix=explain("scopes_missing").as_fix())
        attendees = list(attendees)
        hub_users = {u.email.lower(): u for u in session.execute(
            select(User).where(User.tenant_id == tenant_id)).scalars()}
        candidate = _candidate(attendees, hub_users, rules.candidate_email)
        interviewers = [organizer] + [hub_users[a.email.lower()] for a in attendees
                                      if not a.optional and a.email.lower() in hub_users
                                      and a.email.lower() != candidate.email.lower()
                                      and hub_users[a.email.lower()].id != organizer.id]
        people = tuple(_interviewer(session, u) for u in interviewers)
        reader = self.reader(spec.name)
        return Prepared(rules, candidate, people, spec.name, meeting_connection.id, reader.live,
                        polled=reader.live and reader.push_source is None)

    def watch(self, session: Session, event: Event, prepared: Prepared) -> None:
        rules = prepared.rules
        session.add(AttendanceWatch(
            event_id=event.id, tenant_id=event.tenant_id, grace_minutes=rules.grace_minutes,
            late_after_minutes=rules.late_after_minutes, candidate_email=prepared.candidate.email,
            candidate_name=prepared.candidate.name, interviewers=list(prepared.interviewers),
            provider=prepared.provider, connection_id=prepared.connection_id, created_at=self.clock()))
        session.flush()
        for kind in (LATE, DEADLINE, POLL) if prepared.polled else (LATE, DEADLINE):
            session.add(AttendanceCheck(event_id=event.id, tenant_id=event.tenant_id, kind=kind,
                                        due_at=_due(kind, event, rules.late_after_minutes, rules.grace_minutes,
                                                    prepared.live)))

    def moved(self, session: Session, event: Event, previous_start: datetime | None = None) -> None:
        """The event's times changed. A new start is a new chance to join: the deadlines move and
        what was said about the old time is forgotten. The same start with a new end (the
        interview extended or cut short while it runs) changes nothing that was said — saying
        `candidate_joined` or `candidate_late` again would break "each webhook once" — and only
        deadlines still waiting follow the end (a report written after the meeting: Teams).
        `previous_start`: the start before the change; None when unknown (taken as moved)."""
        watch = session.get(AttendanceWatch, event.id)
        if watch is None:
            return
        live = self.reader(watch.provider).live
        start_moved = previous_start is None or previous_start != event.start
        for check in session.execute(select(AttendanceCheck).where(AttendanceCheck.event_id == event.id)).scalars():
            if not start_moved and check.status != "pending":
                continue  # already concluded for this very start
            check.due_at = _due(check.kind, event, watch.late_after_minutes, watch.grace_minutes, live)
            if start_moved:
                check.status, check.attempts, check.done_at, check.last_error = "pending", 0, None, None
        if start_moved:
            session.execute(delete(AttendanceNotice).where(AttendanceNotice.event_id == event.id))
            watch.participants, watch.source, watch.read_at, watch.last_error = None, None, None, None

    def stopped(self, session: Session, event_id: str) -> None:
        session.execute(update(AttendanceCheck).where(AttendanceCheck.event_id == event_id,
                                                      AttendanceCheck.status == "pending")
                        .values(status="cancelled", done_at=self.clock()))

    # --- timers -------------------------------------------------------------------------------
    def evaluate_due(self, now: datetime | None = None, limit: int = 100) -> int:
        """Run every pending check whose time has come; the job runner's entry point. Safe to run
        in several processes at once: a check runs at most to one conclusion per notice."""
        now = now or self.clock()
        with self.db.session() as session:
            due = session.execute(select(AttendanceCheck.id).where(
                AttendanceCheck.status == "pending", AttendanceCheck.due_at <= now)
                .order_by(AttendanceCheck.due_at).limit(limit)).scalars().all()
        for check_id in due:
            self.run_check(check_id, now)
        return len(due)

    def check(self, event_id: str, now: datetime | None = None) -> None:
        """Run the due checks of one event (a job per event, or a test)."""
        now = now or self.clock()
        with self.db.session() as session:
            due = session.execute(select(AttendanceCheck.id).where(
                AttendanceCheck.event_id == event_id, AttendanceCheck.status == "pending",
                AttendanceCheck.due_at <= now).order_by(AttendanceCheck.due_at)).scalars().all()
        for check_id in due:
            self.run_check(check_id, now)

    def run_check(self, check_id: int, now: datetime) -> None:
        with self.db.session() as session:
            check = session.get(AttendanceCheck, check_id)
            if check is None or check.status != "pending" or check.due_at > now:
                return
            event = session.get(Event, check.event_id)
            watch = session.get(AttendanceWatch, check.event_id)
            if event is None or watch is None or event.status == "cancelled":
                if check is not None:
                    check.status, check.done_at = "cancelled", now
                return
            if check.kind == POLL and now >= _grace_at(event, watch):
                check.status, check.done_at = "done", now  # the deadline check reads from here on
                return
            conference, provider, connection_id, end = (dict(event.conferencing or {}), watch.provider,
                                                        watch.connection_id, event.end)
            check_kind = check.kind
        try:
            read = self._read(provider, connection_id, conference)
        except ProviderError as err:
            if check_kind == LATE and self._late_from_notifications(check_id, provider, err, now):
                return
            self._retry(check_id, now, end, RETRY_READ if err.retry_after is None
                        else timedelta(seconds=err.retry_after), err.as_dict())
            return
        if read.participants is None:  # the report is not there yet
            self._retry(check_id, now, end, RETRY_REPORT, None)
            return
        with self.db.session() as session:
            check = session.get(AttendanceCheck, check_id)
            if check is None or check.status != "pending":
                return
            event = session.get(Event, check.event_id)
            watch = session.get(AttendanceWatch, check.event_id)
            assert event is not None and watch is not None
            watch.participants = [_participant_row(p) for p in read.participants]
            watch.source, watch.read_at, watch.last_error = read.source, now, None
            joined = self._decide(session, event, watch, check.kind, now, read.source)
            check.last_error = None
            if check.kind == POLL and joined is None and now + POLL_EVERY < _grace_at(event, watch):
                check.due_at, check.attempts = now + POLL_EVERY, check.attempts + 1  # not seen yet: read again
            else:
                check.status, check.done_at = "done", now

    def _late_from_notifications(self, check_id: int, provider: str, err: ProviderError, now: datetime) -> bool:
        """The late check of a meeting whose running list the provider will not show (Zoom without
        its Dashboard: a per-user app on most plans). Its list comes only after the end, which
        is too late to call a candidate who is not there; the provider's own join notifications
        are all there is, so lateness is told from them, with their source named so the backend
        knows no list confirmed it. A no-show still waits for a read."""
        reader = self.reader(provider)
        if reader.push_source is None or err.cause is None or err.cause != reader.live_unreadable_cause:
            return False
        with self.db.session() as session:
            check = session.get(AttendanceCheck, check_id)
            if check is None or check.status != "pending":
                return True
            event = session.get(Event, check.event_id)
            watch = session.get(AttendanceWatch, check.event_id)
            assert event is not None and watch is not None
            check.attempts += 1
            check.last_error = _error_record(err.as_dict(), now)
            watch.last_error = check.last_error  # GET …/attendance says why no list was read
            self._decide(session, event, watch, LATE, now, reader.push_source)
            check.status, check.done_at = "done", now
        return True

    def _read(self, provider: str, connection_id: str | None, conference: dict[str, Any]) -> AttendanceRead:
        reader = self.reader(provider)
        if connection_id is None:
            raise ProviderError(ErrorKind.NOT_FOUND, "The meeting's connection is gone.", provider=provider)
        read: AttendanceRead = self.call(connection_id, lambda token: reader.participants(token, conference))
        return read

    def _retry(self, check_id: int, now: datetime, end: datetime, wait: timedelta, error: dict[str, Any] | None
               ) -> None:
        with self.db.session() as session:
            check = session.get(AttendanceCheck, check_id)
            if check is None or check.status != "pending":
                return
            check.attempts += 1
            check.last_error = _error_record(error, now) if error else None
            if now > end + GIVE_UP_AFTER_END:
                check.status, check.done_at = "failed", now
            else:
                check.due_at = now + wait
            watch = session.get(AttendanceWatch, check.event_id)
            if watch is not None and error:
                watch.last_error = check.last_error

    def _decide(self, session: Session, event: Event, watch: AttendanceWatch, kind: str, now: datetime,
                source: str) -> datetime | None:
        """Queue what this check concludes; returns when the candidate joined, if they did."""
        people = _people(event, watch)
        candidate = people[0]
        seen = lines([s for s in self._sightings(session, event, watch) if s.at <= now + CLOCK_SKEW], people)
        joined = first_join(seen, candidate)
        late_at = event.start + timedelta(minutes=watch.late_after_minutes)
        grace_at = _grace_at(event, watch)
        if joined is not None:
            self._joined(session, event, watch, joined, source, now)
        if kind == LATE and (joined is None or joined > late_at):
            self._notice(session, event, LATE_NOTICE, "", now, {
                **_about(event, watch, source), "late_after_minutes": watch.late_after_minutes,
                "deadline": grace_at})
        if kind == DEADLINE:
            if joined is None or joined > grace_at:
                self._notice(session, event, NO_SHOW, "", now, {
                    **_about(event, watch, source), "grace_minutes": watch.grace_minutes})
            for person in people[1:]:
                there = first_join(seen, person)
                if there is None or there > grace_at:
                    self._notice(session, event, INTERVIEWER_NO_SHOW, person.email.lower(), now, {
                        **_about(event, watch, source), "interviewer": {"email": person.email, "name": person.name},
                        "grace_minutes": watch.grace_minutes})
        return joined

    def _joined(self, session: Session, event: Event, watch: AttendanceWatch, joined: datetime, source: str,
                now: datetime) -> None:
        self._notice(session, event, JOINED, "", now, {
            **_about(event, watch, source), "joined_at": joined, "minutes_late": minutes_late(joined, event.start)})

    @staticmethod
    def _notice(session: Session, event: Event, kind: str, subject: str, now: datetime, data: dict[str, Any]) -> None:
        """Queue `kind` once per event (and interviewer): the notice row and the outbox message
        commit together, and a second insert of the same notice is refused by its unique key."""
        try:
            with session.begin_nested():
                session.add(AttendanceNotice(event_id=event.id, tenant_id=event.tenant_id, type=kind,
                                             subject=subject, sent_at=now))
        except IntegrityError:
            return
        enqueue(session, event.tenant_id, kind, data, now=now)

    # --- inbound provider notifications ---------------------------------------------------------
    def observed(self, event_id: str) -> None:
        """A participant webhook was recorded for this event: say at once that the candidate
        joined, if it was them (deadlines still confirm absences with a provider read)."""
        now = self.clock()
        with self.db.session() as session:
            event = session.get(Event, event_id)
            watch = session.get(AttendanceWatch, event_id)
            if event is None or watch is None or event.status == "cancelled":
                return
            people = _people(event, watch)
            joined = first_join(lines(self._sightings(session, event, watch), people), people[0])
            if joined is not None:
                # Only a provider that pushes participants gets here; its notifications are the source.
                source = self.reader(watch.provider).push_source or self.reader(watch.provider).source
                self._joined(session, event, watch, joined, source, now)

    # --- reading ------------------------------------------------------------------------------
    def report(self, tenant_id: str, event_id: str) -> dict[str, Any]:
        """GET /v1/events/{id}/attendance."""
        now = self.clock()
        with self.db.session() as session:
            event = session.get(Event, event_id)
            if event is None or event.tenant_id != tenant_id:
                raise NotFound("event_not_found", "Event not found", f"No event {event_id!r} exists for this API key.")
            watch = session.get(AttendanceWatch, event_id)
            if watch is None:
                raise NotFound("attendance_not_tracked", "Attendance is not tracked for this event",
                               "Create the event with \"attendance\" to track who joins.")
            people = _people(event, watch)
            sightings = self._sightings(session, event, watch)
            seen = lines(sightings, people)
            sent = set(session.execute(select(AttendanceNotice.type).where(
                AttendanceNotice.event_id == event_id)).scalars())
            ended = any(not s.joined and s.ref == "meeting.ended" for s in sightings)
            checks = {c.kind: c for c in session.execute(
                select(AttendanceCheck).where(AttendanceCheck.event_id == event_id)).scalars()}
            joined = first_join(seen, people[0])
            late_at = event.start + timedelta(minutes=watch.late_after_minutes)
            reader = self.reader(watch.provider)
            return {
                "event_id": event.id,
                "status": _status(event, now, joined is not None, ended),
                "source": watch.source or reader.push_source or reader.source,
                "live": reader.live,
                "read_at": watch.read_at,
                "candidate": _candidate_state(joined, late_at, now, NO_SHOW in sent),
                "watching": {"email": watch.candidate_email, "name": watch.candidate_name,
                             "key": people[0].key},
                "grace_minutes": watch.grace_minutes,
                "late_after_minutes": watch.late_after_minutes,
                "deadlines": [{"kind": c.kind, "due_at": c.due_at, "status": c.status} for c in checks.values()
                              if c.kind != POLL],  # a poll is no deadline: it only says joins sooner
                "participants": [_line_out(ln, event.start) for ln in seen if ln.joined_at is not None],
                "notices": sorted(sent),
                "error": watch.last_error,
            }

    def _sightings(self, session: Session, event: Event, watch: AttendanceWatch) -> list[Sighting]:
        """Everything known about who joined: Zoom's participant webhooks for this event plus the
        last provider read, without what happened long before this start (an earlier time)."""
        out: list[Sighting] = []
        rows = session.execute(select(ZoomWebhookEvent).where(ZoomWebhookEvent.event_id == event.id)).scalars()
        for r in rows:
            if r.event_type == "meeting.ended":
                out.append(Sighting("", r.occurred_at, joined=False, ref="meeting.ended"))
            elif r.event_type in ("meeting.participant_joined", "meeting.participant_left"):
                out.append(Sighting(r.participant_name or "", r.occurred_at,
                                    joined=r.event_type.endswith("joined"), email=r.participant_email,
                                    key=r.participant_key, ref=r.participant_id))
        for p in watch.participants or []:
            joined_at = _time(p.get("joined_at"))
            if joined_at is None:
                continue
            common = {"email": p.get("email"), "key": p.get("key"), "account_id": p.get("account_id"),
                      "ref": p.get("ref")}
            out.append(Sighting(p.get("name") or "", joined_at, **common))
            left_at = _time(p.get("left_at"))
            if left_at is not None:
                out.append(Sighting(p.get("name") or "", left_at, joined=False, **common))
        earliest = event.start - EARLY_JOIN
        return [s for s in out if s.at >= (event.start if s.ref == "meeting.ended" else earliest)]


def _due(kind: str, event: Event, late_after: int, grace: int, live: bool) -> datetime:
    if kind == POLL:
        return event.start
    at = event.start + timedelta(minutes=late_after if kind == LATE else grace)
    # Reports written only after the meeting (Teams): nothing can be known before its end.
    return at if live else max(at, event.end)


def _grace_at(event: Event, watch: AttendanceWatch) -> datetime:
    return event.start + timedelta(minutes=watch.grace_minutes)


def _error_record(error: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A failed read as stored and shown; a cause that reconnecting fixes (a scope the consent
    did not grant) carries the same fix diagnostics give for it."""
    record = {**error, "at": now.isoformat()}
    explained = explain(error.get("cause"), error.get("kind"))
    if error.get("cause") and explained.reconnect_fixes_it:
        record["fix"] = explained.as_fix()
    return record


def _candidate(attendees: list[Attendee], hub_users: dict[str, User], email: str | None) -> Attendee:
    if email:
        named = next((a for a in attendees if a.email.lower() == email.lower()), None)
        return named or Attendee(email)
    found = next((a for a in attendees if a.email.lower() not in hub_users), None)
    if found is None:
        raise Invalid("attendance_candidate_missing", "No candidate to watch",
                      "Every attendee is a hub user; add the candidate as an attendee or name them in "
                      "attendance.candidate_email.",
                      errors=[{"field": "attendance.candidate_email", "message": "no attendee is a candidate"}])
    return found


def _interviewer(session: Session, user: User) -> dict[str, Any]:
    """An interviewer with every address and account id they may join a meeting as: their hub
    email and those of their connected accounts (a Zoom login often differs from the calendar)."""
    conns = user_connections(session, user)
    aliases = sorted({user.email.lower(), *[(c.account_email or "").lower() for c in conns if c.account_email]})
    return {"email": user.email, "name": user.name, "aliases": aliases,
            "account_ids": sorted({c.provider_account_id for c in conns})}


def _people(event: Event, watch: AttendanceWatch) -> list[Person]:
    """The candidate first, then the interviewers."""
    candidate = Person(CANDIDATE, watch.candidate_email, watch.candidate_name,
                       frozenset({watch.candidate_email.lower()}), frozenset(),
                       attendee_key(event.id, watch.candidate_email))
    return [candidate] + [Person(INTERVIEWER, i["email"], i.get("name"), frozenset(i.get("aliases") or ()),
                                 frozenset(i.get("account_ids") or ()), attendee_key(event.id, i["email"]))
                          for i in watch.interviewers or []]


def _about(event: Event, watch: AttendanceWatch, source: str) -> dict[str, Any]:
    return {"event_id": event.id, "start": event.start, "source": source,
            "candidate": {"email": watch.candidate_email, "name": watch.candidate_name}}


def _participant_row(p: MeetingParticipant) -> dict[str, Any]:
    return {"name": p.name, "email": p.email, "joined_at": p.joined_at.isoformat(),
            "left_at": p.left_at.isoformat() if p.left_at else None, "key": p.key, "account_id": p.account_id}


def _line_out(line: Line, start: datetime) -> dict[str, Any]:
    assert line.joined_at is not None
    out: dict[str, Any] = {"name": line.name, "role": line.role, "joined_at": line.joined_at,
                           "left_at": line.left_at, "minutes_late": minutes_late(line.joined_at, start)}
    if line.email:
        out = {"email": line.email, **out}
    return out


def _status(event: Event, now: datetime, candidate_joined: bool, ended: bool) -> str:
    if event.status == "cancelled":
        return "cancelled"
    if ended or now >= event.end:
        return "ended"
    if now < event.start:
        return "scheduled"
    return "in_progress" if candidate_joined else "waiting"


def _candidate_state(joined: datetime | None, late_at: datetime, now: datetime, no_show: bool) -> str:
    if joined is not None:
        return "on_time" if joined <= late_at else "late"
    if no_show:
        return "no_show"
    return "late" if now >= late_at else "unknown"


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
