"""Shared fixtures: a real database (SQLite file, or PostgreSQL when HUB_TEST_DATABASE_URL says so),
the sandbox served over real HTTP, and hubs wired to both."""
from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import text

from hub.storage.db import Database


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("HUB_TEST_DATABASE_URL") or ""
    if not url:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'hub.sqlite3'}"
    db = Database(url)
    if not db.is_sqlite:
        # A clean schema per test session: migrations must build it from nothing.
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    db.upgrade()
    db.dispose()
    return url


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
