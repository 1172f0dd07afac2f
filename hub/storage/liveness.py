"""Is a pooled server connection still alive? Answered at checkout without a round trip when
the answer is plain, with the dialect's ping when it is not.

`pool_pre_ping` sends a ping on every checkout: on PostgreSQL a round trip per checkout, two or
three per request, about a twentieth of an event create's CPU. Most checkouts take a connection
given back moments ago, and a connection the server dropped on purpose — the server restarted
or shut down, the backend terminated — has something to read: the server's FATAL message and
the end of the stream. So a checkout pings only when

* the socket has something to read (an idle connection in the pool is sent nothing else), or
* the connection has lain in the pool longer than `IDLE_PING_AFTER` (a connection dropped
  without a word, by a firewall or a rebooted host, is the rarer case: it is caught when it
  has been idle a while, where pinging costs nothing that matters).

A ping that fails raises `DisconnectionError` from the pool's `checkout` event, which is how
SQLAlchemy documents a custom pessimistic check: the pool discards the connection and checks
out (or opens) another. A connection that dies while in use is handled as without pre-ping:
SQLAlchemy invalidates it and the rest of the pool.
"""
from __future__ import annotations

import select
import time
from typing import Any, Callable

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

IDLE_PING_AFTER = 30.0  # seconds in the pool after which a checkout pings whatever the socket says
_CHECKED_IN = "liveness_checked_in_at"


def check_on_checkout(engine: Engine, clock: Callable[[], float] = time.monotonic) -> None:
    """Install the check on `engine`'s pool (instead of `pool_pre_ping`)."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = clock()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        checked_in = record.info.get(_CHECKED_IN)
        if checked_in is None:
            return  # just opened by the pool: nothing to doubt yet
        if clock() - checked_in < IDLE_PING_AFTER and not _has_input(dbapi_conn):
            return
        try:
            dialect.do_ping(dbapi_conn)
        except Exception as err:  # noqa: BLE001 - whatever the ping met, this connection is not to be used
            raise exc.DisconnectionError(f"pooled connection failed its ping: {err}") from err


def _has_input(dbapi_conn: Any) -> bool:
    """Whether the server sent anything to this idle connection (or closed it): a zero-timeout
    poll of its socket (the DB-API driver's `fileno()`), no data read."""
    try:
        fd = dbapi_conn.fileno()
    except Exception:  # noqa: BLE001 - a closed connection has no socket: ping it and let that decide
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))
