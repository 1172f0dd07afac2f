"""Tentative holds on the interviewers' calendars, and their release.

A hold is a row before it is an event: the row is written first (`placing`), so a crash or a
timeout between the provider call and the commit leaves a row to clean up rather than an
orphan nobody knows. Each hold's event is created with an idempotency handle derived from the
row id, so whether or not the first create got through, creating again with the same handle
names the one event (Google event id, Graph transactionId) — that is how a hold whose id was
never learnt is found and removed.

Releasing is two steps: a transaction marks holds `releasing` together with the change that
ends them (booked, completed, cancelled, expired), and `release_pending` deletes them at the
provider afterwards, retrying with backoff until the provider confirms — no hold is forgotten.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from hub.container import Hub
from hub.services.directory import record_outcome
from hub.services.sync.notices import calendar_written
from hub.storage.models import SchedulingHold, SchedulingRequest, SchedulingSlot
from providers.base import EventDraft, ProviderError

RETRY_BASE = timedelta(seconds=30)
RETRY_MAX = timedelta(hours=1)
# A hold still `placing` this long after it was written belongs to a request whose creation died.
STALE_PLACING = timedelta(minutes=10)


@dataclass(frozen=True)
class HoldPlan:
    hold_id: str
    connection_id: str
    provider: str
    draft: EventDraft


def hold_draft(hold: SchedulingHold, req: SchedulingRequest, slot: SchedulingSlot) -> EventDraft:
    """No attendees and no notifications: a hold only keeps the time, nobody is told."""
    title = req.settings["title"].replace("{", "").replace("}", "")
    return EventDraft(title=f"Held: {title}", start=slot.start, end=slot.end, show_as="tentative",
                      send_updates=False, idempotency_handle=f"{req.tenant_id}:hold:{hold.id}",
                      description="Held for an interview being scheduled; it is removed automatically.")


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


def record_placed(hold: SchedulingHold, result: str | ProviderError) -> None:
    if isinstance(result, str):
        hold.provider_event_id, hold.status = result, "active"
    elif not result.kind.retryable:
        hold.status, hold.last_error = "failed", f"{result.kind.value}: {result.message}"  # refused: nothing made
    # else: the outcome is unknown (timeout, 5xx) and the row stays `placing` until released


def mark_releasing(session: Session, holds: list[SchedulingHold], now: datetime) -> None:
    for hold in holds:
        if hold.status in ("placing", "active"):
            hold.status = "releasing"
            hold.next_attempt_at = now


def release_pending(hub: Hub, *, request_id: str | None = None, now: datetime | None = None) -> int:
    """Delete the due `releasing` holds at their providers (and, in the periodic run, holds left
    `placing` by a creation that died); returns how many still wait. Safe to run from several
    places at once: deleting an event twice is harmless."""
    now = now or hub.clock()
    with hub.db.session() as session:
        if request_id is None:
            stale = select(SchedulingHold).where(SchedulingHold.status == "placing",
                                                 SchedulingHold.created_at < now - STALE_PLACING)
            mark_releasing(session, list(session.execute(stale).scalars()), now)
        query = select(SchedulingHold).where(SchedulingHold.status == "releasing",
                                             or_(SchedulingHold.next_attempt_at.is_(None),
                                                 SchedulingHold.next_attempt_at <= now))
        if request_id is not None:
            query = query.where(SchedulingHold.request_id == request_id)
        due = []
        for hold in session.execute(query).scalars():
            draft = None
            if hold.provider_event_id is None:  # never learnt: the same handle finds it
                req = session.get_one(SchedulingRequest, hold.request_id)
                draft = hold_draft(hold, req, session.get_one(SchedulingSlot, hold.slot_id))
            due.append((hold.id, hold.connection_id, hold.provider, hold.provider_event_id, draft))
    futures = {hold_id: hub.executor.submit(_delete_one, hub, conn, provider, event_id, draft)
               for hold_id, conn, provider, event_id, draft in due}
    for hold_id, future in futures.items():
        error = future.result()
        with hub.db.session() as session:
            row = session.get(SchedulingHold, hold_id)
            if row is None or row.status != "releasing":
                continue
            if error is None:
                row.status = "released"
                row.last_error = None
                calendar_written(session, row.connection_id, now)  # cached reads see the time free
            else:
                row.attempts += 1
                row.last_error = f"{error.kind.value}: {error.message}"
                row.next_attempt_at = now + min(RETRY_BASE * 2 ** min(row.attempts - 1, 10), RETRY_MAX)
    with hub.db.session() as session:
        count = select(func.count()).select_from(SchedulingHold).where(SchedulingHold.status == "releasing")
        if request_id is not None:
            count = count.where(SchedulingHold.request_id == request_id)
        return int(session.execute(count).scalar_one())


def _delete_one(hub: Hub, connection_id: str, provider: str, event_id: str | None,
                draft: EventDraft | None) -> ProviderError | None:
    calendar = hub.calendar(provider)

    def remove(token: str) -> None:
        target = event_id
        if target is None and draft is not None:
            target = calendar.create_event(token, draft).event_id
        if target is not None:
            calendar.cancel_event(token, target, False)

    try:
        hub.tokens.call(connection_id, remove)
    except ProviderError as err:
        record_outcome(hub.db, connection_id, hub.clock(), err)
        return err
    return None
