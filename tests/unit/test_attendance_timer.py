"""The in-process attendance timer runs the deadlines by itself, keeps going after a failed
round, and stops with the hub."""
from __future__ import annotations

import threading

from hub.services.attendance_timer import AttendanceTimer


def test_the_timer_runs_rounds_until_stopped_and_survives_a_failure():
    rounds: list[int] = []
    enough = threading.Event()

    def evaluate_due() -> int:
        rounds.append(1)
        if len(rounds) == 1:
            raise RuntimeError("database away")
        if len(rounds) >= 3:
            enough.set()
        return 0

    timer = AttendanceTimer(evaluate_due, interval_seconds=0.01)
    timer.start()
    assert enough.wait(10), "the timer did not run again after a failed round"
    timer.stop()
    assert not timer.running and not timer._thread.is_alive()  # stop() waited for the loop to end


def test_create_app_starts_it_and_close_stops_it(database_url, monkeypatch):
    from hub.app import create_app
    from oauth.vault import TokenVault

    started: list[AttendanceTimer] = []
    stopped = threading.Event()
    monkeypatch.setattr(AttendanceTimer, "start", lambda self: started.append(self))
    monkeypatch.setattr(AttendanceTimer, "stop", lambda self: stopped.set())
    app = create_app({"database_url": database_url, "log_json": False, "webhook_worker": False,
                      "attendance_timer": True, "encryption_keys": TokenVault.generate_key_spec("t")})
    assert len(started) == 1 and started[0].interval == 15.0
    app.extensions["hub"].close()
    assert stopped.is_set()
