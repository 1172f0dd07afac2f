"""`Database.upgrade()` skips alembic when the database is already at the scripts' heads; the
cheap check must agree with alembic itself, and never skip a database that needs migrating."""
from __future__ import annotations

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

from hub.storage.db import MIGRATIONS, Database, script_heads


def test_script_heads_are_alembics_heads():
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert script_heads() == frozenset(ScriptDirectory.from_config(cfg).get_heads())


def test_at_heads_only_when_every_head_is_stamped(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/hub.sqlite3")
    try:
        assert not db.at_heads()  # no version table yet
        db.upgrade()
        assert db.at_heads()
        some_head = sorted(script_heads())[0]
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM alembic_version WHERE version_num = :v"), {"v": some_head})
        assert not db.at_heads()  # a branch behind: alembic must run
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": some_head})
        db.upgrade()  # at heads again: nothing to do, nothing fails
        assert db.at_heads()
    finally:
        db.dispose()
