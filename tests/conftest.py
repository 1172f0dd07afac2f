"""Shared fixtures: a real database (SQLite file, or PostgreSQL when HUB_TEST_DATABASE_URL says so),
the sandbox served over real HTTP, and hubs wired to both."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, make_url, text

from hub.storage.db import Database

# Property tests judge answers, not speed: on a loaded 2-core runner hypothesis' timing checks
# (a per-example deadline, "input generation is slow") fail tests whose behaviour is fine.
settings.register_profile("hub", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("hub")


@pytest.fixture(scope="session", autouse=True)
def _attendance_timer_off():
    """Hubs built by tests run attendance deadlines only when a test says so, on its own clock:
    a timer thread of one test's hub must not act on another test's events in the shared
    database. tests/jobs/test_attendance_job.py runs the job itself."""
    previous = os.environ.get("HUB_ATTENDANCE_TIMER")
    os.environ["HUB_ATTENDANCE_TIMER"] = "false"
    yield
    if previous is None:
        os.environ.pop("HUB_ATTENDANCE_TIMER", None)
    else:
        os.environ["HUB_ATTENDANCE_TIMER"] = previous


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """SQLite file by default; with HUB_TEST_DATABASE_URL (PostgreSQL) a fresh database is made
    for this session and dropped after it, so concurrent runs never see each other's rows and
    the schema is always built from nothing."""
    with own_database(tmp_path_factory, "db") as url:
        yield url


@contextmanager
def own_database(tmp_path_factory, label: str) -> Iterator[str]:
    """A migrated database nobody else uses: a SQLite file, or with HUB_TEST_DATABASE_URL a new
    PostgreSQL database dropped afterwards."""
    url = os.environ.get("HUB_TEST_DATABASE_URL") or ""
    if not url:
        url = f"sqlite:///{tmp_path_factory.mktemp(label) / 'hub.sqlite3'}"
        Database(url).upgrade()
        yield url
        return
    with fresh_postgres(url) as fresh:
        yield fresh


@contextmanager
def fresh_postgres(url: str) -> Iterator[str]:
    """A new, migrated database on the PostgreSQL server of `url`, dropped afterwards."""
    with empty_postgres(url) as session_url:
        db = Database(session_url)
        db.upgrade()
        db.dispose()
        yield session_url


@contextmanager
def empty_postgres(url: str) -> Iterator[str]:
    """A new database without any table on the PostgreSQL server of `url`, dropped afterwards."""
    admin = make_url(url)
    name = f"hub_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(scope="session")
def database(database_url) -> Database:
    db = Database(database_url)
    yield db
    db.dispose()


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def sandbox_url():
    """The provider emulators served over real HTTP on a free loopback port."""
    from providers.sandbox import create_sandbox_app, serve
    server, _thread, url = serve(create_sandbox_app(), "127.0.0.1", 0)
    yield url
    server.shutdown()


@pytest.fixture(scope="session")
def live_hub(database_url, sandbox_url):
    """A hub served on a loopback port, wired to the sandbox; shared by e2e and browser tests."""
    from tests.e2e.support import start_hub
    # Tests register webhook receivers on loopback.
    server, live = start_hub(database_url, sandbox_url, webhook_allow_private_urls=True)
    yield live
    server.shutdown()
    live.hub.close()


@pytest.fixture
def api(live_hub):
    """A fresh tenant per test: tenants never see each other, so tests never do either."""
    from hub.services.directory import create_api_key
    from tests.e2e.support import Api
    _, key = create_api_key(live_hub.hub.db, f"tenant-{uuid.uuid4().hex[:8]}")
    # This hub runs its background jobs: `connect` waits for the push channel and first sync
    # a connect starts, so a test's one-shot provider fault is not spent by them.
    return Api(live_hub.url, key, settle_sync=True)


@pytest.fixture
def sandbox(sandbox_url):
    from tests.e2e.support import Sandbox
    return Sandbox(sandbox_url)
