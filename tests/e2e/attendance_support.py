"""What the attendance e2e modules share: the interview's start and a clock the test moves (the
attendance job's deadlines are judged against it, never against the wall clock); each module
makes its own (a module-scoped `clock` fixture)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

START = datetime(2026, 3, 2, 13, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = START - timedelta(hours=1)

    def __call__(self) -> datetime:
        return self.now

