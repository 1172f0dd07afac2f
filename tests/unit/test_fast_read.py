"""FastSelect (hub/storage/fast_read.py): the driver's cursor on success, SQLAlchemy for every
failure and every observer — on SQLite and, with HUB_TEST_DATABASE_URL, PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, event, exc, insert, select, union_all

from hub.storage.db import Database
from hub.storage.fast_read import FastSelect
from hub.storage.models import Tenant, User
from tests.conftest import own_database

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    with own_database(tmp_path_factory, "fast-read") as url:
        database = Database(url)
        with database.write() as conn:
            conn.execute(insert(Tenant), [{"id": "t1", "name": "one"}, {"id": "t2", "name": "two"}])
            conn.execute(insert(User), [
                {"id": "u1", "tenant_id": "t1", "external_id": "ann", "email": "a@x.example", "created_at": T0, "updated_at": T0},
                {"id": "u2", "tenant_id": "t1", "external_id": "bob", "email": "b@x.example", "created_at": T0 + timedelta(hours=1),
                 "updated_at": T0},
                {"id": "u3", "tenant_id": "t2", "external_id": "ann", "email": "a@x.example", "created_at": T0, "updated_at": T0}])
        yield database
        database.dispose()


STATEMENT = (select(User.external_id, User.created_at, User.working_hours)
             .where(User.tenant_id == bindparam("tenant_id"), User.created_at >= bindparam("since"))
             .order_by(User.external_id))


def _utc(value):
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def test_rows_are_sqlalchemys_rows_as_the_driver_returns_them(db):
    fast = FastSelect(STATEMENT)
    # A time in another zone is bound as SQLAlchemy binds it (the column type's processor: UTC).
    since = (T0 + timedelta(minutes=30)).astimezone(timezone(timedelta(hours=2)))
    with db.read() as conn:
        rows = fast.all(conn, {"tenant_id": "t1", "since": since})
        expected = conn.execute(STATEMENT, {"tenant_id": "t1", "since": since}).all()
    assert [r.external_id for r in rows] == [r.external_id for r in expected] == ["bob"]
    assert _utc(rows[0].created_at) == expected[0].created_at == T0 + timedelta(hours=1)
    assert rows[0]._fields == ("external_id", "created_at", "working_hours")


def test_fixed_values_and_repeated_parameters_are_bound(db):
    """A union repeats parameters (positional on SQLite) and carries literal values."""
    fast = FastSelect(union_all(select(User.external_id).where(User.tenant_id == bindparam("tenant_id"),
                                                               User.external_id == "ann"),
                                select(User.external_id).where(User.tenant_id == bindparam("tenant_id"),
                                                               User.external_id == "bob")))
    with db.read() as conn:
        assert sorted(r.external_id for r in fast.all(conn, {"tenant_id": "t1"})) == ["ann", "bob"]
        assert [r.external_id for r in fast.all(conn, {"tenant_id": "t2"})] == ["ann"]
        with pytest.raises(KeyError):
            fast.all(conn, {})


def test_a_failure_is_raised_as_sqlalchemy_raises_it(db):
    """The driver's error goes through SQLAlchemy's execution, so callers (and the hub's 503
    mapping, storage/db.py `unavailability`) see a DBAPIError as before."""
    fast = FastSelect(STATEMENT)
    with db.read() as conn:
        plan = fast._plan(conn.dialect)
        plan.sql = plan.sql.replace("users", "no_such_table")
        with pytest.raises(exc.DBAPIError):
            fast.all(conn, {"tenant_id": "t1", "since": T0})


def test_execution_events_see_the_statement(db):
    fast = FastSelect(STATEMENT)
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        with db.read() as conn:
            rows = fast.all(conn, {"tenant_id": "t1", "since": T0})
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert [r.external_id for r in rows] == ["ann", "bob"]
    assert len(seen) == 1 and "users" in seen[0]


def test_execution_events_on_one_connection_see_the_statement(tmp_path_factory):
    """A listener on the connection alone, its engine never listened to (a database of its
    own: SQLAlchemy's engine flag stays set once any listener was added), sees the statement."""
    fast = FastSelect(STATEMENT)
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    with own_database(tmp_path_factory, "fast-read-conn-events") as url:
        database = Database(url)
        try:
            with database.write() as conn:
                conn.execute(insert(Tenant), [{"id": "t1", "name": "one"}])
            with database.read() as conn:
                assert fast.all(conn, {"tenant_id": "t1", "since": T0}) == []  # the fast path, unobserved
                event.listen(conn, "after_cursor_execute", count)
                fast.all(conn, {"tenant_id": "t1", "since": T0})
        finally:
            database.dispose()
    assert len(seen) == 1 and "users" in seen[0]
