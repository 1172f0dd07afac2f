"""Live checks of the interviewers' calendars: who is busy during which offered slot.

Always the provider, never the busy cache (hub/services/busy_cache.py): offering, holding and
booking must not trust a copy that may be a push notification behind.

Events are listed with their ids (not free/busy) so the request's own holds can be left out:
free/busy merges a hold with a real meeting at the same time into one block, which would hide
the meeting."""
from __future__ import annotations

from typing import Any

from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from hub.container import Hub
from hub.services.directory import calendar_connection, find_user, record_outcome
from hub.services.scheduling.errors import fail
from hub.services.scheduling.grid import Interval
from hub.storage.models import User
from providers.base import BusyBlock, ProviderError


def require_users(session: Session, tenant_id: str, user_ids: list[str]) -> dict[str, User]:
    found = {uid: find_user(session, tenant_id, uid) for uid in user_ids}
    users = {uid: user for uid, user in found.items() if user is not None}
    unknown = [uid for uid in user_ids if uid not in users]
    if unknown:
        raise fail("unknown_users", f"No user {', '.join(map(repr, unknown))} exists for this API key; "
                              "create them with PUT /v1/users/{user_id}.", unknown=unknown,
                              errors=[{"field": "interviewers", "message": f"unknown user {u}"} for u in unknown])
    return users


def calendars(hub: Hub, tenant_id: str, user_ids: list[str]) -> dict[str, tuple[str, str]]:
    """user id → (connection id, provider) of the calendar the hub writes; every one is needed."""
    out: dict[str, tuple[str, str]] = {}
    missing = []
    with hub.db.session() as session:
        for uid, user in require_users(session, tenant_id, user_ids).items():
            conn = calendar_connection(session, user)
            if conn is None or conn.status != "active":
                missing.append(uid)
            else:
                out[uid] = (conn.id, conn.provider)
    if missing:
        raise fail("calendar_unavailable", f"{', '.join(missing)} must connect a working calendar "
                              "before times can be offered or held.", users=missing, cause="organizer_not_connected")
    return out


def busy_conflicts(hub: Hub, tenant_id: str, user_ids: list[str], slots: list[Interval], settings: dict[str, Any],
                   *, exclude: set[str] | frozenset[str] = frozenset()) -> dict[Interval, list[str]]:
    """Slot → the interviewers busy during it (widened by the buffers), read live; events whose
    ids are in `exclude` do not count. The request's buffers widen each slot. A calendar that
    cannot be read is an error, never a guess."""
    if not slots:
        return {}
    before = timedelta(minutes=settings["buffer_before_minutes"])
    after = timedelta(minutes=settings["buffer_after_minutes"])
    cals = calendars(hub, tenant_id, user_ids)
    start = min(s.start for s in slots) - before
    end = max(s.end for s in slots) + after
    futures = {uid: hub.executor.submit(_read, hub, conn, provider, start, end)
               for uid, (conn, provider) in cals.items()}
    busy: dict[str, list[BusyBlock]] = {}
    failed: dict[str, dict[str, Any]] = {}
    for uid, future in futures.items():
        try:
            result = future.result(timeout=hub.settings.provider_timeout_seconds + 5)
        except FutureTimeout:
            failed[uid] = {"kind": "provider_down", "cause": "provider_unavailable", "message": "no answer in time"}
            continue
        if isinstance(result, ProviderError):
            failed[uid] = result.as_dict()
        else:
            busy[uid] = [b for b in result if b.event_id not in exclude]
    if failed:
        raise fail("calendar_unavailable", "An interviewer's calendar could not be read, so the time "
                              "cannot be confirmed free.", users=sorted(failed), provider_errors=failed)
    out: dict[Interval, list[str]] = {}
    for slot in slots:
        wide = slot.widened(before, after)
        names = [uid for uid in user_ids if any(Interval(b.start, b.end).overlaps(wide) for b in busy[uid])]
        if names:
            out[slot] = names
    return out


def _read(hub: Hub, connection_id: str, provider: str, start: datetime, end: datetime) -> list[BusyBlock] | ProviderError:
    calendar = hub.calendar(provider)
    try:
        blocks = hub.tokens.call(connection_id, lambda token: calendar.busy_events(token, start, end))
    except ProviderError as err:
        record_outcome(hub.db, connection_id, hub.clock(), err)
        return err
    record_outcome(hub.db, connection_id, hub.clock(), None)
    return blocks
