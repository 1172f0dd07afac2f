"""Tentative holds on the interviewers' calendars, and their release.

A hold is a row before it is an event: the row is written first (`placing`), so a crash between
the provider call and the commit leaves a row to clean up rather than an orphan nobody knows.
Releasing is two steps for the same reason: a transaction marks holds `releasing` together with
the change that ends them (booked, cancelled, expired), and `release_pending` deletes them at the
provider afterwards, retrying with backoff until the provider confirms, so no hold is forgotten.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from hub.container import Hub
from hub.services.directory import record_outcome
from hub.storage.models import SchedulingHold
from providers.base import EventDraft, ProviderError

RETRY_BASE = timedelta(seconds=30)
RETRY_MAX = timedelta(hours=1)


@dataclass(frozen=True)
class HoldPlan:
    hold_id: str
    connection_id: str
    provider: str
    draft: EventDraft


def hold_draft(title: str, start: datetime, end: datetime, handle: str) -> EventDraft:
    """No attendees and no notifications: a hold only keeps the time, nobody is told."""
    return EventDraft(title=f"Held: {title}", start=start, end=end, show_as="tentative", send_updates=False,
                      description="Held for an interview being scheduled; it is removed automatically.",
                      idempotency_handle=handle)


def place(hub: Hub, plans: list[HoldPlan]) -> dict[str, str | ProviderError]:
    """Create every hold concurrently: latency ~ the slowest calendar, not the sum."""
    futures = {p.hold_id: hub.executor.submit(_create_one, hub, p) for p in plans}
    return {hold_id: f.result() for hold_id, f in futures.items()}


def _create_one(hub: Hub, plan: HoldPlan) -> str | ProviderError:
    calendar = hub.calendar(plan.provider)
    try:
        created = hub.tokens.call(plan.connection_id, lambda token: calendar.create_event(token, plan.draft))
    except ProviderError as err:
        record_outcome(hub.db, plan.connection_id, hub.clock(), err)
        return err
    return created.event_id


def mark_releasing(session: Session, holds: list[SchedulingHold], now: datetime) -> None:
    for hold in holds:
        if hold.status in ("placing", "active"):
            hold.status = "releasing"
            hold.next_attempt_at = now


def release_pending(hub: Hub, *, request_id: str | None = None, now: datetime | None = None) -> int:
    """Delete the due `releasing` holds at their providers; returns how many still wait (due or
    not).
    Safe to run from several places at once: deleting an event twice is harmless."""
    now = now or hub.clock()
    with hub.db.session() as session:
        query = select(SchedulingHold).where(SchedulingHold.status == "releasing",
                                             or_(SchedulingHold.next_attempt_at.is_(None),
                                                 SchedulingHold.next_attempt_at <= now))
        if request_id is not None:
            query = query.where(SchedulingHold.request_id == request_id)
        due = [(h.id, h.connection_id, h.provider, h.provider_event_id) for h in session.execute(query).scalars()]
    futures = {hold_id: hub.executor.submit(_delete_one, hub, conn, provider, event_id)
               for hold_id, conn, provider, event_id in due}
    for hold_id, future in futures.items():
        error = future.result()
        with hub.db.session() as session:
            hold = session.get(SchedulingHold, hold_id)
            if hold is None or hold.status != "releasing":
                continue
            if error is None:
                hold.status = "released"
                hold.last_error = None
            else:
                hold.attempts += 1
                hold.last_error = f"{error.kind.value}: {error.message}"
                hold.next_attempt_at = now + min(RETRY_BASE * 2 ** min(hold.attempts - 1, 10), RETRY_MAX)
    with hub.db.session() as session:
        count = select(func.count()).select_from(SchedulingHold).where(SchedulingHold.status == "releasing")
        if request_id is not None:
            count = count.where(SchedulingHold.request_id == request_id)
        return int(session.execute(count).scalar_one())


def _delete_one(hub: Hub, connection_id: str, provider: str, event_id: str | None) -> ProviderError | None:
    if event_id is None:  # the create never answered: nothing is known to exist
        return None
    calendar = hub.calendar(provider)
    try:
        hub.tokens.call(connection_id, lambda token: calendar.cancel_event(token, event_id, False))
    except ProviderError as err:
        record_outcome(hub.db, connection_id, hub.clock(), err)
        return err
    return None
