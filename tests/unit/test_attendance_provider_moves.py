"""Attendance when an interview's times change at the provider (someone edits the calendar event
and the hub's sync reads it): a new end alone — the interview extended while it runs — keeps
what was said and the deadlines already run; a new start moves the deadlines and forgets it.
On the sync service's test bench (a fake provider sync, the real database and services)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from hub.services.sync import runner
from hub.storage.models import AttendanceCheck, AttendanceNotice, AttendanceWatch
from providers.base import SyncedEvent
from tests.unit.test_sync_service import _at, _now, db_url, env  # noqa: F401 - the bench's fixtures

JOINED = "attendance.candidate_joined"


def _watched(bench, cid: str, provider_event_id: str, start: datetime) -> str:
    """A hub event with attendance whose late deadline ran (the candidate's join was told) and
    whose grace deadline is still to come."""
    event_id = bench.hub_event(cid, provider_event_id, start)
    with bench.hub.db.session() as s:
        s.add(AttendanceWatch(event_id=event_id, tenant_id=bench.tenant_id, grace_minutes=10, late_after_minutes=3,
                              candidate_email="cand@example.com", candidate_name=None, interviewers=[],
                              provider="google", connection_id=cid, created_at=_now()))
        s.flush()
        s.add(AttendanceCheck(event_id=event_id, tenant_id=bench.tenant_id, kind="late",
                              due_at=start + timedelta(minutes=3), status="done", done_at=start + timedelta(minutes=3)))
        s.add(AttendanceCheck(event_id=event_id, tenant_id=bench.tenant_id, kind="deadline",
                              due_at=start + timedelta(minutes=10)))
        s.add(AttendanceNotice(event_id=event_id, tenant_id=bench.tenant_id, type=JOINED, subject="",
                               sent_at=start + timedelta(minutes=1)))
    return event_id


def _state(bench, event_id: str) -> tuple[dict[str, tuple[datetime, str]], list[str]]:
    with bench.hub.db.session() as s:
        checks = {c.kind: (c.due_at, c.status) for c in s.execute(
            select(AttendanceCheck).where(AttendanceCheck.event_id == event_id)).scalars()}
        notices = list(s.execute(select(AttendanceNotice.type).where(AttendanceNotice.event_id == event_id)).scalars())
    return checks, notices


def test_a_new_end_keeps_what_was_said_and_a_new_start_forgets_it(env):  # noqa: F811
    cid = env.connection()
    start = _at(30)
    event_id = _watched(env, cid, "att-ext", start)
    env.fake.put(SyncedEvent("att-ext", start=start, end=start + timedelta(hours=1), title="Interview"))
    env.open(cid)
    runner.run(env.hub, cid)

    # Extended by 15 minutes in the calendar: same start.
    env.fake.put(SyncedEvent("att-ext", start=start, end=start + timedelta(minutes=75), title="Interview"))
    runner.run(env.hub, cid)
    checks, notices = _state(env, event_id)
    assert checks == {"late": (start + timedelta(minutes=3), "done"),
                      "deadline": (start + timedelta(minutes=10), "pending")}
    assert notices == [JOINED]  # said once; not to be said again

    # Moved to another time: a new chance to join.
    moved = start + timedelta(hours=2)
    env.fake.put(SyncedEvent("att-ext", start=moved, end=moved + timedelta(hours=1), title="Interview"))
    runner.run(env.hub, cid)
    checks, notices = _state(env, event_id)
    assert checks == {"late": (moved + timedelta(minutes=3), "pending"),
                      "deadline": (moved + timedelta(minutes=10), "pending")}
    assert notices == []
