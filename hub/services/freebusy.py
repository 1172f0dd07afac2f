"""Free/busy for several users at once: every calendar is read concurrently, and one user's
failure is reported in place — it never fails or silently empties the others."""
from __future__ import annotations

from hub.errors import Invalid

from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.container import Hub
from hub.services.directory import calendar_connection, record_outcome, require_user
from providers.base import BusyBlock, ErrorKind, ProviderError

MAX_WINDOW = timedelta(days=62)
STATUS_RANK = {"tentative": 0, "busy": 1, "oof": 2}


@dataclass(frozen=True)
class Reader:
    """What is needed to read one user's calendar, copied out of the database session."""

    user_id: str
    connection_id: str | None
    provider: str | None
    account_email: str | None


@dataclass(frozen=True)
class UserBusy:
    busy: list[BusyBlock] | None
    error: ProviderError | None

    @property
    def ok(self) -> bool:
        return self.error is None


def check_window(start: datetime, end: datetime) -> None:
    if end - start > MAX_WINDOW:
        raise Invalid("window_too_long", "The window is too long",
                      "Free/busy windows may span at most 62 days; split the request.",
                      errors=[{"field": "end", "message": "at most 62 days after start"}])


def resolve_readers(hub: Hub, tenant_id: str, user_ids: list[str]) -> list[Reader]:
    readers = []
    with hub.db.session() as session:
        for user_id in dict.fromkeys(user_ids):
            user = require_user(session, tenant_id, user_id)
            conn = calendar_connection(session, user)
            readers.append(Reader(user_id, conn.id if conn else None, conn.provider if conn else None,
                                  conn.account_email if conn else None))
    return readers


def read_busy(hub: Hub, readers: list[Reader], start: datetime, end: datetime) -> dict[str, UserBusy]:
    """Latency ~ the slowest provider call, not the sum: every reader runs on the pool."""
    futures = {r.user_id: hub.executor.submit(_read_one, hub, r, start, end) for r in readers}
    deadline = hub.settings.provider_timeout_seconds + 5
    out: dict[str, UserBusy] = {}
    for user_id, future in futures.items():
        try:
            out[user_id] = future.result(timeout=deadline)
        except FutureTimeout:
            out[user_id] = UserBusy(None, ProviderError(ErrorKind.PROVIDER_DOWN, "the calendar did not answer in time",
                                                        provider="hub", cause="provider_unavailable"))
    return out


def _read_one(hub: Hub, reader: Reader, start: datetime, end: datetime) -> UserBusy:
    if reader.connection_id is None or reader.provider is None:
        return UserBusy(None, ProviderError(ErrorKind.NOT_FOUND, "this user has not connected a calendar",
                                            provider="hub", cause="calendar_not_connected"))
    calendar = hub.calendar(reader.provider)
    email = reader.account_email or ""
    try:
        result = hub.tokens.call(reader.connection_id,
                                 lambda token: calendar.free_busy(token, [email], start, end))
        blocks = result.get(email)
        if isinstance(blocks, ProviderError):
            raise blocks
    except ProviderError as err:
        record_outcome(hub.db, reader.connection_id, hub.clock(), err)
        hub.metrics.provider_calls.labels(reader.provider, err.kind.value).inc()
        return UserBusy(None, err)
    record_outcome(hub.db, reader.connection_id, hub.clock(), None)
    hub.metrics.provider_calls.labels(reader.provider, "ok").inc()
    return UserBusy(merge_clip(blocks or [], start, end), None)


def merge_clip(blocks: list[BusyBlock], start: datetime, end: datetime) -> list[BusyBlock]:
    """Clip to the window and merge overlapping or touching blocks; the stronger status wins."""
    clipped = sorted((BusyBlock(max(b.start, start), min(b.end, end), b.status)
                      for b in blocks if b.end > start and b.start < end), key=lambda b: b.start)
    merged: list[BusyBlock] = []
    for block in clipped:
        if block.end <= block.start:
            continue
        if merged and block.start <= merged[-1].end:
            last = merged[-1]
            status = max(last.status, block.status, key=lambda s: STATUS_RANK.get(s, 1))
            merged[-1] = BusyBlock(last.start, max(last.end, block.end), status)
        else:
            merged.append(block)
    return merged


def free_busy(hub: Hub, tenant_id: str, user_ids: list[str], start: datetime, end: datetime
              ) -> dict[str, UserBusy]:
    check_window(start, end)
    return read_busy(hub, resolve_readers(hub, tenant_id, user_ids), start, end)
