"""The one-winner rule's stand-in on SQLite: a booking (web request) and an expiry (background
job, which builds its own service instance) take turns on one lock per database."""
from __future__ import annotations

import pytest

from hub.app import create_app
from hub.jobs import catalog
from oauth.vault import TokenVault


@pytest.fixture
def app(database_url):
    return create_app({"database_url": database_url, "encryption_keys": TokenVault.generate_key_spec("se"),
                       "log_json": False, "webhook_worker": False})


def test_the_expiry_job_and_a_booking_take_turns(app):
    hub = app.extensions["hub"]
    web = app.extensions["hub_services"].scheduling
    job = catalog._scheduling(hub)  # what scheduling.expire / scheduling.sweep run on
    if not hub.db.is_sqlite:
        pytest.skip("PostgreSQL: the request's row lock decides")
    assert job is not web
    with web.serial():
        turn = job.serial()
        assert turn.acquire(blocking=False) is False  # type: ignore[attr-defined]
    with job.serial():
        assert web.serial().acquire(blocking=False) is False  # type: ignore[attr-defined]
    with web.serial():  # free again once both are out
        pass
