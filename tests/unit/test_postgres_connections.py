"""PostgreSQL connections: pooled ones the server dropped are replaced at checkout, without a
ping per checkout (hub/storage/liveness.py); reads run without a transaction around them, and
that does not stay on the pooled connection. PostgreSQL only (HUB_TEST_DATABASE_URL): SQLite
has no server to lose, and its reads open no transaction anyway."""
from __future__ import annotations

import os
from typing import Any, Iterator

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from hub.storage.db import Database
from hub.storage.liveness import IDLE_PING_AFTER, check_on_checkout
from tests.conftest import empty_postgres

URL = os.environ.get("HUB_TEST_DATABASE_URL")
pytestmark = pytest.mark.skipif(not URL, reason="needs PostgreSQL (HUB_TEST_DATABASE_URL)")


@pytest.fixture
def url() -> Iterator[str]:
    assert URL
    with empty_postgres(URL) as fresh:
        yield fresh


def backend(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def terminate_all(url: str) -> int:
    """What a server restart does to every client: each backend of the database is terminated
    (FATAL 57P01, then the socket closes); waits until each is gone."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return len(conn.execute(text(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")).all())
    finally:
        admin.dispose()


def test_a_pooled_connection_the_server_terminated_is_replaced_at_checkout(url: str) -> None:
    db = Database(url)
    try:
        before = backend(db.engine)
        assert terminate_all(url) == 1
        with db.read() as conn:  # would raise "terminating connection due to administrator command"
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
        assert backend(db.engine) != before
    finally:
        db.dispose()


def test_after_a_restart_every_pooled_connection_is_replaced(url: str) -> None:
    db = Database(url)
    try:
        with db.engine.connect() as a, db.engine.connect() as b, db.engine.connect() as c:
            old = {conn.execute(text("SELECT pg_backend_pid()")).scalar_one() for conn in (a, b, c)}
        assert db.engine.pool.checkedin() == 3
        assert terminate_all(url) == 3
        with db.engine.connect() as a, db.engine.connect() as b, db.engine.connect() as c:
            new = {conn.execute(text("SELECT pg_backend_pid()")).scalar_one() for conn in (a, b, c)}
        assert not new & old and len(new) == 3
    finally:
        db.dispose()


def test_a_pooled_connection_closed_on_this_side_is_replaced(url: str) -> None:
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            raw = conn.connection.dbapi_connection
        assert raw is not None
        raw.close()  # no socket left to look at
        with db.read() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        db.dispose()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def counted_pings(engine: Engine) -> list[Any]:
    pings: list[Any] = []
    ping = engine.dialect.do_ping

    def counting(dbapi_conn: Any) -> bool:
        pings.append(dbapi_conn)
        return ping(dbapi_conn)
    engine.dialect.do_ping = counting  # type: ignore[method-assign]
    return pings


def test_a_connection_given_back_moments_ago_is_not_pinged_one_idle_a_while_is(url: str) -> None:
    clock = Clock()
    engine = create_engine(url)
    check_on_checkout(engine, clock)
    pings = counted_pings(engine)
    try:
        backend(engine)  # opened: no ping
        backend(engine)
        clock.now += IDLE_PING_AFTER - 1
        backend(engine)
        assert pings == []
        clock.now += IDLE_PING_AFTER  # idle longer than that since its last checkin
        backend(engine)
        assert len(pings) == 1
    finally:
        engine.dispose()


def test_a_read_leaves_no_transaction_open_and_writes_still_get_one(url: str) -> None:
    db = Database(url)
    try:
        with db.engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x int)"))
        with db.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
            # No BEGIN was sent, so no ROLLBACK is owed when the connection goes back.
            raw: Any = conn.connection.dbapi_connection
            assert raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        with pytest.raises(RuntimeError), db.session() as session:  # the same pooled connection
            session.execute(text("INSERT INTO t VALUES (1)"))
            raise RuntimeError("rolled back")
        with db.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
    finally:
        db.dispose()
