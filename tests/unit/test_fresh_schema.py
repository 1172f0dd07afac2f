"""A database without tables gets the models' schema at once and a stamp at the scripts' heads
(`Database.create_if_empty`) instead of every migration in turn. That shortcut is only right
while both roads lead to the same schema: compared here with alembic's autogenerate diff and,
for what that diff does not look at, with everything SQLAlchemy reflects — on SQLite, and on
PostgreSQL when HUB_TEST_DATABASE_URL names one."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from hub.storage.db import Database, script_heads
from hub.storage.models import Base
from tests.conftest import empty_postgres


@contextmanager
def empty_database(tmp_path, name: str) -> Iterator[Database]:
    url = os.environ.get("HUB_TEST_DATABASE_URL")
    if not url:
        db = Database(f"sqlite:///{tmp_path / name}.sqlite3")
        yield db
        db.dispose()
        return
    with empty_postgres(url) as fresh:
        db = Database(fresh)
        yield db
        db.dispose()


@pytest.fixture
def migrated(tmp_path) -> Iterator[Database]:
    with empty_database(tmp_path, "migrated") as db:
        db.migrate()
        yield db


@pytest.fixture
def created(tmp_path) -> Iterator[Database]:
    with empty_database(tmp_path, "created") as db:
        assert db.create_if_empty()
        yield db


def model_diff(db: Database) -> list[Any]:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        return compare_metadata(context, Base.metadata)


def reflected(db: Database) -> dict[str, Any]:
    """Every table as the database describes it: columns, keys, indexes, constraints. Columns
    by name: a migration appends the columns it adds, where the model may list them earlier."""
    found = inspect(db.engine)

    def named(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted((item.get("name") or "", tuple(item.get("column_names") or ()),
                       repr(sorted((k, repr(v)) for k, v in item.items() if k not in ("name", "column_names"))))
                      for item in items)

    return {table: {
        "columns": sorted((c["name"], str(c["type"]), c["nullable"], str(c.get("default")), c.get("autoincrement"))
                          for c in found.get_columns(table)),
        "primary_key": found.get_pk_constraint(table)["constrained_columns"],
        "foreign_keys": named(found.get_foreign_keys(table)),
        "indexes": named(found.get_indexes(table)),
        "unique": named(found.get_unique_constraints(table)),
        "checks": sorted(c["sqltext"] for c in found.get_check_constraints(table)),
    } for table in sorted(found.get_table_names())}


def stamped(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def test_the_migrations_build_exactly_the_models(migrated):
    assert model_diff(migrated) == []


def test_a_created_schema_is_the_migrated_one(migrated, created):
    assert model_diff(created) == []
    assert reflected(created) == reflected(migrated)
    assert stamped(created) == stamped(migrated) == set(script_heads())


def test_a_created_schema_is_at_heads_for_alembic(created):
    before = reflected(created)
    assert created.at_heads()
    created.migrate()  # alembic agrees: nothing left to run
    assert reflected(created) == before and stamped(created) == set(script_heads())


def test_only_a_database_without_tables_is_created(tmp_path):
    with empty_database(tmp_path, "other") as db:
        with db.engine.begin() as conn:
            conn.execute(text("CREATE TABLE someone_elses (id INTEGER PRIMARY KEY)"))
        assert not db.create_if_empty()
        assert inspect(db.engine).get_table_names() == ["someone_elses"]


def test_upgrade_on_an_empty_database_creates_and_stamps(tmp_path):
    with empty_database(tmp_path, "upgraded") as db:
        db.upgrade()
        assert db.at_heads() and model_diff(db) == []
