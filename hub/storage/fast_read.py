"""A SELECT on a hot read path, run on the pooled connection's DB-API cursor.

SQLAlchemy's execution of an already compiled and cached statement — an execution context,
bind processing, a result object, a processed Row per row — cost ~0.45 M instructions of a
cached free/busy's ~2.1 M (callgrind), twice what SQLite takes to answer the statement. Here
SQLAlchemy still does everything but that: it compiles the statement (once per dialect), owns
the connection (pool, liveness check, AUTOCOMMIT on PostgreSQL; `Database.read`), turns each
parameter into what the driver takes (each type's own bind processor), and is the path of
every failure and of every observer:

* whatever the driver raises, the statement is run again through `Connection.exec_driver_sql`,
  which raises what SQLAlchemy raises for it (wrapped as `DBAPIError`, the connection
  invalidated on a disconnect) — or answers, a read being safe to repeat;
* when an engine or connection has execution events (`before_cursor_execute`, …: tracing,
  tests counting statements), the statement goes through `exec_driver_sql` too, so they see it.

Values come back as the driver returns them, with no result processing: times as text on
SQLite and as datetimes on PostgreSQL, JSON as text on SQLite and decoded on PostgreSQL; the
caller decodes the few it reads (`utc`, `utc_or_none`, `json_value` below, as the hub's column
types would). Rows are named tuples of the statement's column names.
"""
from __future__ import annotations

import json
import threading
from collections import namedtuple
from contextlib import suppress
from datetime import datetime, timezone
from typing import Any, Mapping

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import Select
from sqlalchemy.sql.selectable import CompoundSelect

_REQUIRED = object()
# The events whose listeners must see every statement (SQLAlchemy fires them around execution;
# `handle_error` fires on failures, which all take SQLAlchemy's path).
_EVENTS = ("before_execute", "after_execute", "before_cursor_execute", "after_cursor_execute")


class FastSelect:
    def __init__(self, statement: Select[Any] | CompoundSelect[Any]) -> None:
        self.statement = statement
        self.row: Any = namedtuple("FastRow", list(statement.selected_columns.keys()))  # type: ignore[misc]
        self._plans: dict[Dialect, _Plan] = {}
        self._planning = threading.Lock()

    def all(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        plan = self._plans.get(conn.dialect) or self._plan(conn.dialect)
        args = plan.args(params)
        make = self.row._make
        # SQLAlchemy's own test before firing execution events first (`Connection._execute_context`):
        # without any listener on the connection or its engine, the joined dispatcher is not
        # asked for each event — each ask builds its listener collection through two
        # `__getattr__` misses (AttributeErrors built and dropped), on every read.
        if (conn._has_events or conn.engine._has_events) and any(getattr(conn.dispatch, name) for name in _EVENTS):
            return [make(r) for r in conn.exec_driver_sql(plan.sql, args).all()]
        try:
            cursor = conn.connection.cursor()
            try:
                cursor.execute(plan.sql, args)
                rows = cursor.fetchall()
            finally:
                with suppress(Exception):  # a dead connection's cursor may fail to close
                    cursor.close()
        except Exception:  # noqa: BLE001 - SQLAlchemy's own path raises (or answers) as it always has
            rows = conn.exec_driver_sql(plan.sql, args).all()
        return [make(r) for r in rows]

    def _plan(self, dialect: Dialect) -> _Plan:
        with self._planning:
            plan = self._plans.get(dialect)
            if plan is None:
                plan = self._plans[dialect] = _Plan(self.statement, dialect)
            return plan


class _Plan:
    """The statement compiled for one dialect, with how to turn parameters into driver values."""

    def __init__(self, statement: Any, dialect: Dialect) -> None:
        compiled: Any = statement.compile(dialect=dialect)
        if compiled.post_compile_params or compiled.literal_execute_params or compiled.escaped_bind_names:
            raise ValueError("FastSelect takes plain bound parameters only (hub/storage/in_list.py)")
        self.sql: str = compiled.string
        self.binds: list[tuple[str, Any, Any]] = []  # name, fixed value or _REQUIRED, bind processor
        for name, bind in compiled.binds.items():
            fixed = _REQUIRED if bind.required else bind.effective_value
            self.binds.append((name, fixed, bind.type.dialect_impl(dialect).bind_processor(dialect)))
        self.order: tuple[str, ...] | None = tuple(compiled.positiontup) if compiled.positional else None

    def args(self, params: Mapping[str, Any]) -> Any:
        values: dict[str, Any] = {}
        for name, fixed, process in self.binds:
            value = params.get(name, fixed)
            if value is _REQUIRED:
                raise KeyError(f"no value for the bound parameter {name!r}")
            values[name] = process(value) if process is not None and value is not None else value
        return values if self.order is None else tuple(values[name] for name in self.order)


def utc(value: str | datetime) -> datetime:
    """A stored UTC time as the driver returned it: text on SQLite ("2026-03-02 10:00:00.000000",
    naive UTC), a datetime on PostgreSQL — made aware UTC as `UTCDateTime` returns it."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def utc_or_none(value: str | datetime | None) -> datetime | None:
    return None if value is None else utc(value)


def json_value(value: Any) -> Any:
    """A JSON column as the driver returned it: text on SQLite, already decoded by psycopg on
    PostgreSQL (the hub's JSON columns hold objects, lists or null, never a bare string)."""
    return json.loads(value) if isinstance(value, str) else value
