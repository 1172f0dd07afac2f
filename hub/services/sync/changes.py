"""Changes people make at the provider to events the hub created → the hub's Event row and
`event.updated` / `event.cancelled`.

Compared with what the hub stored: a change the hub made itself (PATCH /v1/events writes the
row after the provider accepted it) reads as no change and sends nothing; while the hub is still
writing an event at its provider (`Event.write_started_at`) the row is left alone, since the
provider may already show the hub's change and the row not yet. Moved, retitled or an
attendee's answer changed → the row is updated and `event.updated` carries the event as it is
now plus `changes` (previous and current values); deleted at the provider → `cancelled` and
`event.cancelled` — inside the synced window only, and only once the event's own read says it
is gone: a "removed" or an event missing from a listing may just mean "not in the window". A
move also moves the event's attendance deadlines (AttendanceService.moved, the same hook
PATCH /v1/events uses).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.services.events import event_out
from hub.storage.models import Event, User
from providers.base import SyncBatch, SyncedEvent
from webhooks.outbound.outbox import enqueue

if TYPE_CHECKING:  # pragma: no cover
    from hub.container import Hub

NEEDS_ACTION = "needs_action"
# A write mark older than this is one a crashed process left behind: the row is reconciled
# again. Provider calls time out long before.
WRITE_MARK_EXPIRES = timedelta(minutes=10)


@dataclass(frozen=True)
class Applied:
    sent: int  # webhooks queued
    deferred: int  # rows left alone because the hub was writing them; see `apply`


def apply(hub: Hub, session: Session, connection_id: str, batch: SyncBatch, window: tuple[datetime, datetime],
          read_from: datetime, confirmed: Mapping[str, SyncedEvent] | None = None) -> Applied:
    """Bring the hub's events of this connection in line with the batch. `read_from` is when
    the provider was asked: a row the hub wrote since (an event it just created or moved
    itself) may be newer than the batch, and a row the hub is still writing may be older than
    it; both are deferred. The caller then makes the next sync a full one — an incremental
    batch is not delivered twice, and a person's change in it would otherwise be lost — and
    the hub's write queues that sync when it is done.

    `confirmed`: the events `removals` named, as the provider holds them now (read one by one
    by the caller). A window only shows what lies inside it: an event moved far ahead drops
    out of a full listing and Graph's delta reports it `@removed`, so only the event's own
    read tells a move from a deletion."""
    confirmed = confirmed or {}
    sent = deferred = 0
    for event, synced in _claims(session, connection_id, batch, window):
        if _being_written(event, read_from):
            deferred += 1
            continue
        if synced.cancelled:
            synced = confirmed.get(event.provider_event_id, synced)
        sent += _reconcile(hub, session, event, synced)
    return Applied(sent, deferred)


def removals(session: Session, connection_id: str, batch: SyncBatch, window: tuple[datetime, datetime]) -> list[str]:
    """Provider ids of the hub's events this batch would cancel: to be confirmed one by one
    before `apply` (see there). Read-only, so no provider call happens inside a transaction."""
    return [event.provider_event_id for event, synced in _claims(session, connection_id, batch, window)
            if synced.cancelled]


def _claims(session: Session, connection_id: str, batch: SyncBatch,
            window: tuple[datetime, datetime]) -> Iterator[tuple[Event, SyncedEvent]]:
    """Each of the hub's live events of this connection that the batch says something about,
    with what it says."""
    by_id = {e.event_id: e for e in batch.events}
    query = select(Event).where(Event.connection_id == connection_id, Event.status != "cancelled")
    if not batch.full:
        if not by_id:
            return
        query = query.where(Event.provider_event_id.in_(list(by_id)))
    for event in session.execute(query).scalars():
        synced = by_id.get(event.provider_event_id)
        outside = event.end <= window[0] or event.start >= window[1]
        if synced is None:
            # A full sync lists the whole window: a hub event inside it that is not listed is
            # gone from it. Outside the window nothing is known.
            if outside:
                continue
            synced = SyncedEvent(event.provider_event_id, cancelled=True)
        elif synced.cancelled and outside:
            # A windowed sync (Graph's calendarView delta) reports a change to an event outside
            # its window as removed: that says nothing about whether it still exists.
            continue
        yield event, synced


def _being_written(event: Event, read_from: datetime) -> bool:
    return (event.updated_at >= read_from or event.created_at >= read_from
            or (event.write_started_at is not None and event.write_started_at > read_from - WRITE_MARK_EXPIRES))


def _reconcile(hub: Hub, session: Session, event: Event, synced: SyncedEvent) -> int:
    now = hub.clock()
    if synced.cancelled:
        event.status = "cancelled"
        session.flush()
        _attendance(hub).stopped(session, event.id)
        enqueue(session, event.tenant_id, "event.cancelled",
                {**event_out(event, _organizer(session, event)), "changed_by": "provider"}, now=now)
        return 1
    diff: dict[str, Any] = {}
    for field in ("start", "end", "title"):
        new = getattr(synced, field)
        old = getattr(event, field)
        if new is not None and new != old:
            diff[field] = {"previous": old, "current": new}
    answers = _answers(event, synced)
    if not diff and not answers:
        return 0
    for field, values in diff.items():
        setattr(event, field, values["current"])
    if answers:
        event.attendees = [
            {**a, "response_status": answers[a["email"].lower()]["current"]}
            if a.get("email", "").lower() in answers else a
            for a in event.attendees or []]
        diff["attendees"] = [{"email": values["email"], "previous": values["previous"], "current": values["current"]}
                             for values in answers.values()]
    session.flush()
    if "start" in diff or "end" in diff:
        _attendance(hub).moved(session, event, diff["start"]["previous"] if "start" in diff else event.start)
    enqueue(session, event.tenant_id, "event.updated",
            {**event_out(event, _organizer(session, event)), "changes": diff, "changed_by": "provider"}, now=now)
    return 1


def _answers(event: Event, synced: SyncedEvent) -> dict[str, dict[str, str]]:
    """Attendees of the hub's event whose answer differs from the stored one."""
    reported = {a.email.lower(): a.response_status for a in synced.attendees}
    out: dict[str, dict[str, str]] = {}
    for attendee in event.attendees or []:
        email = str(attendee.get("email") or "").lower()
        if email in reported:
            previous = attendee.get("response_status") or NEEDS_ACTION
            if reported[email] != previous:
                out[email] = {"email": str(attendee.get("email")), "previous": previous, "current": reported[email]}
    return out


def _organizer(session: Session, event: Event) -> str:
    user = session.get(User, event.organizer_id)
    return user.external_id if user else ""


def _attendance(hub: Hub) -> Any:
    from hub.services.attendance import AttendanceService  # services import the container
    return AttendanceService(hub.db, hub.attendance, hub.tokens.call, lambda: hub.clock())
