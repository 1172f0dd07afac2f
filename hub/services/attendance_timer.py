"""The in-process runner of attendance deadlines: one daemon thread that runs
`AttendanceService.evaluate_due` every few seconds.

It stands in until the background-work runner (Celery, or its in-process twin) calls
`evaluate_due` as a periodic job; the deadlines live in `attendance_checks`, so whichever runs
them, nothing is lost when a process dies and nothing is sent twice when two run at once.
"""
from __future__ import annotations

import threading
from typing import Callable

from hub.logs import get_logger

log = get_logger(__name__)


class AttendanceTimer:
    def __init__(self, evaluate_due: Callable[[], int], interval_seconds: float = 15.0) -> None:
        self.evaluate_due = evaluate_due
        self.interval = interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="attendance-timer", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.evaluate_due():
                    continue  # more may be due right away
            except Exception as exc:  # noqa: BLE001 - the loop must outlive a bad round
                log.error("attendance_timer_error", error=type(exc).__name__)
            self._stop.wait(self.interval)
