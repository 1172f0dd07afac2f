"""Attendance deadlines run as the periodic job `attendance.evaluate` of the one job catalog,
on whichever runner the hub has; a hub whose settings turn it off (tests on their own clock)
runs nothing."""
from __future__ import annotations

import pytest

from hub.app import create_app
from hub.jobs.catalog import JOBS, periodic
from hub.services.attendance import AttendanceService
from oauth.vault import TokenVault


@pytest.fixture
def make_hub(database_url):
    made = []

    def make(on: bool):
        app = create_app({"database_url": database_url, "log_json": False, "webhook_worker": False,
                          "attendance_timer": on, "encryption_keys": TokenVault.generate_key_spec("t")})
        made.append(app.extensions["hub"])
        return made[-1]

    yield make
    for hub in made:
        hub.close()


def test_it_is_a_periodic_job_of_the_catalog():
    assert JOBS["attendance.evaluate"] in periodic()
    assert JOBS["attendance.evaluate"].every is not None and JOBS["attendance.evaluate"].every.total_seconds() <= 60


@pytest.mark.parametrize("on", [True, False])
def test_the_job_evaluates_due_deadlines_only_when_switched_on(make_hub, monkeypatch, on):
    rounds: list[object] = []
    monkeypatch.setattr(AttendanceService, "evaluate_due", lambda self, now=None, limit=100: rounds.append(now) or 0)
    hub = make_hub(on)
    JOBS["attendance.evaluate"].run(hub, {})
    assert rounds == ([None] if on else [])
