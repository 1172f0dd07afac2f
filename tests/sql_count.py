"""Count the SQL a request sends, leaving out the in-process background jobs (their threads are
named `job…` by hub/jobs/inprocess.py): a periodic sweep that happens to run during the
request is not the request's cost."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import event
from sqlalchemy.engine import Engine


@contextmanager
def request_statements(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        if not threading.current_thread().name.startswith("job"):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)
