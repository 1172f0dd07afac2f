"""Free/busy for several users at once: every calendar is read concurrently, and one user's
failure — an unknown user id, a broken or unreadable connection, a slow provider — is reported
in place; it never fails or silently empties the others.

Cost per request does not grow with the number of users on the hub's side: one query loads
every user with their connections, the provider calls run on the pool under one deadline, and
the health records are written in one transaction only where something changed.

With `consistency="cached"` a participant whose busy cache is fresh (hub/services/busy_cache.py)
is answered from it first — one more statement for any number of users, on the same pooled
connection, no provider call, no pool,
nothing written — and only the others go to the provider. Every caller names the consistency:
the cache is for showing times; anything that books (events, scheduling requests' re-checks)
reads live.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from datetime import datetime, timedelta
from typing import Any, Callable, Literal

from sqlalchemy import Select, String, bindparam, null, select, type_coerce, union_all

from hub.container import Hub
from hub.errors import Invalid
from hub.services import busy_cache
from hub.services.directory import LAST_USED_RESOLUTION, error_record, newest_offering
from hub.services.fanout import Timeout, run_level
from hub.storage.fast_read import FastSelect, json_value, utc, utc_or_none
from hub.storage.in_list import in_list, in_params
from hub.storage.models import Connection, SyncState, User
from oauth.tokens import ConnectionUnusable, StoredAccess
from providers.base import BusyBlock, Capability, ErrorKind, FreeBusyBatch, ProviderError

MAX_WINDOW = timedelta(days=62)
STATUS_RANK = {"tentative": 0, "busy": 1, "oof": 2}
# Kinds that say nothing about the connection's health (the request's fault, not the grant's).
NOT_HEALTH = ("not_found", "invalid_request", "conflict")
Consistency = Literal["cached", "live"]
# Most reads in one batch the hub sends, below any provider's own limit: a batch is one serial
# chain (the hub writes every part, the provider answers every part, the hub reads every
# answer) while the other participants' calls compete for the same CPU, so one batch of 50
# came out slower than 50 single calls at zero latency although it costs less CPU; batches of
# about 10, sent at once, overlap again and keep the saving (bench/availability_endpoint.py).
BATCH_SIZE = 10


@dataclass(frozen=True)
class Reader:
    """What is needed to read one user's calendar, copied out of the database session."""

    user_id: str
    connection_id: str | None
    provider: str | None
    account_email: str | None
    found: bool = True
    timezone: str | None = None
    working_hours: dict[str, Any] | None = None
    access: StoredAccess | None = None
    # The health record as loaded, so writing it back is skipped when nothing changes.
    last_used_at: datetime | None = None
    last_error: dict[str, Any] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class UserBusy:
    busy: list[BusyBlock] | None
    error: ProviderError | None
    source: Literal["cache", "live"] = "live"
    # What the answer knows the calendar as of: the end of the last sync for the cache, the
    # moment the provider was asked for a live read; None when nothing could be read.
    fresh_as_of: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def error_out(err: ProviderError) -> dict[str, Any]:
    """A participant's error as the API shows it; `retry_after` (seconds) when the provider said
    when to come back."""
    out = err.as_dict()
    if err.retry_after is not None:
        out["retry_after"] = err.retry_after
    return out


def participant_status(res: UserBusy) -> dict[str, Any]:
    """A participant's outcome as the API shows it (free/busy adds the blocks)."""
    return {"status": "ok" if res.ok else "error", "error": error_out(res.error) if res.error else None,
            "source": res.source, "fresh_as_of": res.fresh_as_of}


def check_window(start: datetime, end: datetime) -> None:
    if end - start > MAX_WINDOW:
        raise Invalid("window_too_long", "The window is too long",
                      "Free/busy windows may span at most 62 days; split the request.",
                      errors=[{"field": "end", "message": "at most 62 days after start"}])


# Every requested user with each of their connections, built once per number of users (bound
# per call, hub/storage/in_list.py): one indexed read for the whole request, columns only — no
# ORM objects to build and track.
#
# Run with FastSelect (hub/storage/fast_read.py): the values come back as the driver returns
# them, and `_readers` decodes the time and JSON columns of the one connection each user is
# read with.
_READER_COLUMNS = (User.external_id, User.timezone, User.working_hours, Connection.id, Connection.provider,
                   Connection.account_email, Connection.status, Connection.capabilities, Connection.connected_at,
                   Connection.access_token_enc, Connection.access_expires_at, Connection.last_used_at,
                   Connection.last_error)


def _requested_users(count: int) -> tuple[Any, ...]:
    return User.tenant_id == bindparam("tenant_id"), in_list(User.external_id, "user_id", count)


def _readers_select(count: int, *padding: Any) -> Select[Any]:
    return (select(*_READER_COLUMNS, *padding)
            .outerjoin(Connection, (Connection.user_id == User.id) & (Connection.tenant_id == User.tenant_id))
            .where(*_requested_users(count)))


@lru_cache(maxsize=128)
def _readers_statement(count: int) -> FastSelect:
    return FastSelect(_readers_select(count))


# With `cached`: the same rows, then the busy cache's rows (busy_cache.fresh_busy_select) of
# every connection of these users — one statement, not two (a statement's fixed cost in
# SQLAlchemy is most of a small read's). Reader rows have NULL cache columns, cache rows NULL
# reader columns; `synced` tells them apart (a fresh cache always has one).
_CACHE_COLUMNS = ("cache_connection_id", "synced", "event_id", "start", "end", "show_as")


@lru_cache(maxsize=128)
def _readers_and_cache_statement(count: int) -> FastSelect:
    readers = _readers_select(count, *(type_coerce(null(), String).label(name) for name in _CACHE_COLUMNS))
    cache = busy_cache.fresh_busy_select(
        SyncState.connection_id == Connection.id, Connection.user_id == User.id,
        Connection.tenant_id == User.tenant_id, *_requested_users(count),
        leading=tuple(null() for _ in _READER_COLUMNS))
    return FastSelect(union_all(readers, cache))


def read_participants(hub: Hub, tenant_id: str, user_ids: list[str], start: datetime, end: datetime, *,
                      consistency: Consistency) -> tuple[list[Reader], dict[str, UserBusy]]:
    """Every requested user with their calendar connection (an unknown id is a reader that
    reports `user_not_found` in place) and their busy time for [start, end): with
    `cached`, the users and the fresh caches are read on one pooled connection in one statement
    for any number of users, then only the others go to their providers."""
    wanted = list(dict.fromkeys(user_ids))
    params = {"tenant_id": tenant_id, **in_params("user_id", wanted)}
    max_age = timedelta(seconds=hub.settings.cache_max_age_seconds)
    with hub.db.read() as db:
        if consistency != "cached" or max_age <= timedelta(0):
            readers, cached = _readers(_readers_statement(len(wanted)).all(db, params), wanted), {}
        else:
            now = hub.clock()
            rows = _readers_and_cache_statement(len(wanted)).all(
                db, {**params, **busy_cache.window_params(start, end, now, max_age)})
            fresh: dict[str, tuple[busy_cache.Freshness, list[BusyBlock]]] = {}
            for row in rows:
                if row.synced is not None:
                    busy_cache.add_block(fresh, *row[-len(_CACHE_COLUMNS):])
            readers = _readers([row for row in rows if row.synced is None], wanted)
            cached = _from_cache(readers, fresh, start, end)
    return readers, _read_rest(hub, readers, cached, start, end)


@dataclass(frozen=True)
class _Offer:
    """A connection row's columns that choosing a calendar reads, decoded (directory.Offering)."""

    capabilities: list[str] | None
    status: str
    connected_at: datetime
    row: Any


def _readers(rows: Sequence[Any], wanted: list[str]) -> list[Reader]:
    users: dict[str, Any] = {}
    conns: dict[str, list[_Offer]] = {}
    for row in rows:
        users[row.external_id] = row
        bucket = conns.setdefault(row.external_id, [])
        if row.id is not None:
            bucket.append(_Offer(json_value(row.capabilities), row.status, utc(row.connected_at), row))
    readers = []
    for user_id in wanted:
        user = users.get(user_id)
        if user is None:
            readers.append(Reader(user_id, None, None, None, found=False))  # pragma: no mutate (None is as false)
            continue
        offer = newest_offering(conns[user_id], Capability.CALENDAR.value)
        if offer is None:
            # no user without a calendar is offered slots, so their hours are never read
            readers.append(Reader(user_id, None, None, None, timezone=user.timezone,  # pragma: no mutate
                                  working_hours=json_value(user.working_hours)))  # pragma: no mutate
            continue
        conn = offer.row
        readers.append(Reader(
            user_id, conn.id, conn.provider, conn.account_email, timezone=user.timezone,
            working_hours=json_value(user.working_hours),
            access=StoredAccess(conn.id, conn.status, conn.access_token_enc, utc_or_none(conn.access_expires_at)),
            last_used_at=utc_or_none(conn.last_used_at), last_error=json_value(conn.last_error)))
    return readers


def _read_rest(hub: Hub, readers: list[Reader], cached: dict[str, UserBusy], start: datetime, end: datetime
               ) -> dict[str, UserBusy]:
    """Readers not answered by `cached` are read live. Latency ~ the slowest provider call, not
    the sum: every live reader runs on the pool — alone, or in a batch with others of a
    provider that reads many people in one round trip — and the whole fan-out shares one
    deadline."""
    live = [r for r in readers if r.user_id not in cached]
    deadline = hub.settings.provider_timeout_seconds + 1
    batches, singles = _batches(hub, [r for r in live if r.connection_id])
    # Batches first: each waits for the slowest of its parts, so it should not queue.
    calls: dict[str | tuple[str, ...], Callable[[], Any]] = {
        tuple(r.user_id for r in group): partial(_read_batch, hub, group, start, end) for group in batches}
    calls.update({r.user_id: partial(_read_one, hub, r, start, end) for r in singles})
    results: dict[str, Any] = {}
    for key, result in (run_level(hub.executor, calls, deadline) if calls else {}).items():
        if isinstance(key, str):
            results[key] = result
        elif isinstance(result, dict):
            results.update(result)
        else:  # the batch timed out or failed: each of its readers as if read alone
            results.update(dict.fromkeys(key, result))
    out: dict[str, UserBusy] = dict(cached)
    for reader in live:
        result = results.get(reader.user_id)
        if not reader.found:
            out[reader.user_id] = UserBusy(None, ProviderError(
                ErrorKind.NOT_FOUND, f"no user {reader.user_id!r} exists for this API key",
                provider="hub", cause="user_not_found"))
        elif reader.connection_id is None:
            out[reader.user_id] = UserBusy(None, ProviderError(
                ErrorKind.NOT_FOUND, "this user has not connected a calendar", provider="hub",
                cause="calendar_not_connected"))
        elif isinstance(result, UserBusy):
            out[reader.user_id] = result
        elif isinstance(result, Timeout):
            out[reader.user_id] = UserBusy(None, ProviderError(
                ErrorKind.PROVIDER_DOWN, "the calendar did not answer in time", provider=reader.provider or "hub",
                cause="provider_unavailable"))
        else:  # a bug in an adapter: reported in place, never a 500 for everyone
            out[reader.user_id] = UserBusy(None, ProviderError(
                ErrorKind.UNKNOWN, f"reading the calendar failed ({type(result).__name__})",
                provider=reader.provider or "hub"))
    _record_outcomes(hub, live, out)  # a cached answer used no grant: nothing to record
    return {r.user_id: out[r.user_id] for r in readers}


def _from_cache(readers: list[Reader], fresh: dict[str, tuple[busy_cache.Freshness, list[BusyBlock]]],
                start: datetime, end: datetime) -> dict[str, UserBusy]:
    """The readers whose busy cache is fresh for [start, end) (`fresh`: every fresh connection of
    theirs), answered from it, merged and clipped exactly as a live answer; no pool, no
    provider, nothing written. A connection that needs reauthorization is left to the live
    path, which reports it."""
    out: dict[str, UserBusy] = {}
    for r in readers:
        if r.connection_id is None or r.access is None or r.access.status != "active":
            continue
        entry = fresh.get(r.connection_id)
        if entry is not None:
            as_of, blocks = entry
            out[r.user_id] = UserBusy(merge_clip(blocks, start, end), None, "cache", as_of.fresh_as_of)
    return out


def _batches(hub: Hub, readers: list[Reader]) -> tuple[list[list[Reader]], list[Reader]]:
    """The readers whose provider reads many people in one round trip (FreeBusyBatch), grouped
    per provider in balanced groups of at most BATCH_SIZE (and its batch limit); the rest, read
    one by one. Only
    a reader whose stored token can be used as it is joins a batch: one that must be refreshed
    first is read alone, its refresh running in parallel with everything else, not in turn."""
    groups: dict[str, list[Reader]] = {}
    singles: list[Reader] = []
    batching: dict[str, FreeBusyBatch | None] = {}
    for reader in readers:
        provider = reader.provider or ""  # pragma: no mutate (set with connection_id)
        if provider not in batching:
            try:
                calendar = hub.calendar(provider)
            except KeyError:  # no calendar (any more): the single read reports it in place
                calendar = None
            batching[provider] = calendar if isinstance(calendar, FreeBusyBatch) else None
        if batching[provider] is not None and _token_ready(hub, reader):
            groups.setdefault(provider, []).append(reader)
        else:
            singles.append(reader)
    batches: list[list[Reader]] = []
    for provider, group in groups.items():
        if len(group) < 2:  # one read gains nothing from a batch's envelope
            singles.extend(group)
            continue
        limit = max(1, min(BATCH_SIZE, batching[provider].batch_limit))  # type: ignore[union-attr]
        count = -(-len(group) // limit)
        size = -(-len(group) // count)
        batches.extend(group[i:i + size] for i in range(0, len(group), size))
    return batches, singles


def _token_ready(hub: Hub, reader: Reader) -> bool:
    """Whether TokenManager.call would use the token read with the row as it is (its `known`)."""
    return reader.access is not None and hub.tokens.usable_as_read(reader.access)


def _read_batch(hub: Hub, group: list[Reader], start: datetime, end: datetime) -> dict[str, UserBusy]:
    """Readers of one provider in one batch: each reader's outcome is what `_read_one` would give
    — a token the token manager cannot hand out, a calendar error, a refused token refreshed
    and read again alone (through TokenManager.call, as a single read's 401 is)."""
    assert group[0].provider is not None  # pragma: no mutate (a guard for mypy)
    calendar: FreeBusyBatch = hub.calendar(group[0].provider)  # type: ignore[assignment]
    out: dict[str, UserBusy] = {}
    ready: list[tuple[Reader, str]] = []
    for reader in group:
        assert reader.connection_id is not None  # pragma: no mutate (a guard for mypy)
        try:
            ready.append((reader, hub.tokens.call(reader.connection_id, _token, known=reader.access)))
        except ProviderError as err:
            out[reader.user_id] = _outcome(hub, reader, err, (start, end), hub.clock())
    asked = hub.clock()
    answers = calendar.free_busy_batch([(token, r.account_email or "") for r, token in ready], start, end)
    for (reader, token), answer in zip(ready, answers):
        if isinstance(answer, ProviderError) and answer.kind is ErrorKind.AUTH_EXPIRED:
            out[reader.user_id] = _read_one(hub, reader, start, end, refused=(token, answer))
        else:
            out[reader.user_id] = _outcome(hub, reader, answer, (start, end), asked)
    return out


def _token(token: str) -> str:
    return token


def _read_one(hub: Hub, reader: Reader, start: datetime, end: datetime,
              refused: tuple[str, ProviderError] | None = None) -> UserBusy:
    """One reader's own free/busy call. `refused`: a batch already sent this token and it was
    refused — TokenManager.call sees that refusal as its first attempt's, refreshes and reads
    again, as it would after a single call's 401."""
    assert reader.connection_id is not None and reader.provider is not None  # pragma: no mutate (a guard for mypy)
    calendar = hub.calendar(reader.provider)
    email = reader.account_email or ""  # pragma: no mutate (adapters answer under the key asked)
    asked = hub.clock()

    def read(token: str) -> dict[str, list[BusyBlock] | ProviderError]:
        nonlocal refused
        if refused is not None and refused[0] == token:
            err, refused = refused[1], None
            raise err
        return calendar.free_busy(token, [email], start, end)

    try:
        answer: list[BusyBlock] | ProviderError | None = hub.tokens.call(
            reader.connection_id, read, known=reader.access).get(email)
    except ProviderError as err:
        answer = err
    return _outcome(hub, reader, answer, (start, end), asked)


def _outcome(hub: Hub, reader: Reader, answer: list[BusyBlock] | ProviderError | None,
             window: tuple[datetime, datetime], asked: datetime) -> UserBusy:
    """A reader's answer (its blocks, or the error in their place) counted and clipped."""
    provider = reader.provider or ""  # pragma: no mutate (set with connection_id: every reader read has one)
    if isinstance(answer, ProviderError):
        hub.metrics.provider_call(provider, answer.kind.value)
        return UserBusy(None, answer)
    hub.metrics.provider_call(provider, "ok")
    return UserBusy(merge_clip(answer or [], *window), None, "live", asked)


def _record_outcomes(hub: Hub, readers: list[Reader], results: dict[str, UserBusy]) -> None:
    """The health record of every connection read, in one transaction, and only where it
    changes: a new error, an error cleared, or last use more than a minute old. A healthy
    calendar read again within the minute writes nothing."""
    now = hub.clock()
    changes: dict[str, dict[str, Any]] = {}
    for reader in readers:
        res = results.get(reader.user_id)
        if reader.connection_id is None or res is None:
            continue
        if res.error is None:
            change: dict[str, Any] = {}
            if reader.last_used_at is None or now - reader.last_used_at >= LAST_USED_RESOLUTION:
                change["last_used_at"] = now
            if reader.last_error is not None and (reader.access is None or reader.access.status == "active"):
                change["last_error"] = None
        elif res.error.kind.value not in NOT_HEALTH and not _already_recorded(reader, res.error):
            change = {"last_error": error_record(res.error, now)}
        else:
            change = {}
        if change:
            changes[reader.connection_id] = change
    if not changes:
        return
    with hub.db.session() as session:
        for conn in session.execute(select(Connection).where(Connection.id.in_(list(changes)))).scalars():
            change = changes[conn.id]
            if "last_error" in change and change["last_error"] is None and conn.status != "active":
                change.pop("last_error")  # became needs_reauth meanwhile: keep why
            for name, value in change.items():
                setattr(conn, name, value)


def _already_recorded(reader: Reader, err: ProviderError) -> bool:
    """The TokenManager has already written this failure (a dead or unreadable grant marks the
    connection itself); rewriting it would only move its time."""
    return isinstance(err, ConnectionUnusable)


def merge_clip(blocks: list[BusyBlock], start: datetime, end: datetime) -> list[BusyBlock]:
    """Clip to the window and merge overlapping or touching blocks; the stronger status wins."""
    clipped = sorted((BusyBlock(max(b.start, start), min(b.end, end), b.status)
                      for b in blocks if b.end > start and b.start < end),  # pragma: no mutate (outside: clipped empty)
                     key=lambda b: b.start)
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


def free_busy(hub: Hub, tenant_id: str, user_ids: list[str], start: datetime, end: datetime, *,
              consistency: Consistency) -> dict[str, UserBusy]:
    check_window(start, end)
    return read_participants(hub, tenant_id, user_ids, start, end, consistency=consistency)[1]
