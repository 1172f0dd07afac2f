"""Engine, sessions and migrations for one database URL (SQLite file or PostgreSQL)."""
from __future__ import annotations

import ast
import re
import threading
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import cache
from pathlib import Path
from typing import Iterator

import orjson
from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, create_engine, event, exc, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from hub.storage.liveness import check_on_checkout

MIGRATIONS = Path(__file__).with_name("migrations")


class DatabaseReadOnly(Exception):
    """The database answers but refuses writes."""


def unavailability(error: BaseException) -> str | None:
    """`database_read_only` / `database_unavailable` when `error` means the database cannot
    serve requests right now (down, unreachable, read-only) rather than a bug; else None."""
    if isinstance(error, DatabaseReadOnly):
        return "database_read_only"
    if isinstance(error, exc.DBAPIError):
        message = str(error.orig).lower()
        if "readonly" in message or "read-only" in message:
            return "database_read_only"
        if isinstance(error, (exc.OperationalError, exc.InterfaceError)) or error.connection_invalidated:
            return "database_unavailable"
    if isinstance(error, exc.DisconnectionError) or (
            isinstance(error, exc.TimeoutError)):  # the connection pool ran dry
        return "database_unavailable"
    return None


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = _make_engine(url)
        # Copied into every session's `info`: the composition root puts the job dispatcher
        # here, so work queued inside a transaction is handed to the broker after it commits.
        self.session_info: dict[str, object] = {}
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, info=self.session_info)
        self._row_lock_stand_in = threading.Lock()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def serial(self) -> AbstractContextManager[object]:
        """Wrap a read-check-write whose one winner a row lock (SELECT … FOR UPDATE) decides on
        PostgreSQL. SQLite has no row locks, so such blocks take turns in this process — on one
        lock per database, whichever service or job instance runs them."""
        return self._row_lock_stand_in if self.is_sqlite else nullcontext()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits when the block ends cleanly, rolls back otherwise."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads on hot paths: no ORM session, no identity map, no commit
        (the transaction ends when the connection goes back to the pool). On PostgreSQL in
        autocommit: a transaction around a read would cost a BEGIN and a ROLLBACK, a round
        trip each, and gives a lone statement nothing at READ COMMITTED (each statement reads
        its own snapshot either way)."""
        with self.engine.connect() as conn:
            if not self.is_sqlite:
                conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction on a plain connection, for a statement or two on a hot path that need
        no ORM session: commits when the block ends cleanly, rolls back otherwise."""
        with self.engine.begin() as conn:
            yield conn

    def upgrade(self) -> None:
        if self.at_heads():
            return  # the usual restart: importing alembic and its scripts would cost ~1 s
        if self.create_if_empty():
            return  # a first start: the newest schema made at once
        self.migrate()

    def migrate(self) -> None:
        """Run every migration not yet applied, with alembic."""
        # Imported here: alembic was a third of `import hub.app`, and only migrating needs it.
        from alembic import command
        from alembic.config import Config as AlembicConfig

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "heads")  # feature branches may add parallel heads

    def create_if_empty(self) -> bool:
        """On a database without tables: create the models' schema and stamp it at the scripts'
        heads, as alembic's `stamp` would, and answer True. The result equals what every
        migration run in turn makes (tests/unit/test_fresh_schema.py compares the two, on SQLite
        and PostgreSQL); it costs a few CREATE statements where the migrations import alembic
        and copy tables on SQLite (a fifth of a first `hub demo` start)."""
        heads = script_heads()
        if not heads:
            return False
        from hub.storage.models import Base  # the hub has imported them already; a CLI may not

        with self.engine.begin() as conn:
            if inspect(conn).get_table_names():
                return False
            Base.metadata.create_all(conn)
            version = _alembic_version_table()
            version.create(conn)
            conn.execute(version.insert(), [{"version_num": head} for head in sorted(heads)])
        return True

    def at_heads(self) -> bool:
        """True when the database records exactly the migration scripts' heads, read with one
        SELECT and the scripts' own ``revision`` / ``down_revision`` lines; anything unclear
        (no version table yet, unreadable scripts) answers False and alembic decides."""
        heads = script_heads()
        if not heads:
            return False
        try:
            with self.engine.connect() as conn:
                stamped = {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
        except exc.DBAPIError:
            return False
        return stamped == heads

    def ping(self) -> None:
        """Raises unless the database answers *and* takes writes: a read-only SQLite file or a
        PostgreSQL standby answers SELECT 1 while every write of the hub fails."""
        with self.engine.connect() as conn:
            if self.is_sqlite:
                # A write that changes nothing, rolled back; a short busy timeout because a lock
                # held by another writer proves the file is writable.
                conn.exec_driver_sql("PRAGMA busy_timeout = 500")
                try:
                    conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
                except exc.OperationalError as err:
                    if "locked" not in str(err.orig):
                        raise
                finally:
                    conn.rollback()
                    conn.exec_driver_sql("PRAGMA busy_timeout = 30000")
            elif conn.execute(text("SHOW transaction_read_only")).scalar() == "on":
                raise DatabaseReadOnly("the server accepts no writes (a standby?)")

    def dispose(self) -> None:
        self.engine.dispose()


@cache
def script_heads() -> frozenset[str]:
    """Revisions no other migration script names as its down_revision (alembic's "heads"),
    read from the scripts' module-level assignments without importing alembic or them."""
    revisions: set[str] = set()
    parents: set[str] = set()
    try:
        for path in (MIGRATIONS / "versions").glob("*.py"):
            source = path.read_text()
            # alembic's template assigns both above the functions: parsing only that header
            # is a tenth of parsing the file (~20 ms of every start for ten scripts). A script
            # that assigns them lower down is parsed whole.
            header = _FIRST_DEF.search(source)
            body = ast.parse(source[:header.start()] if header else source).body
            if header and not any(_assigns(node, "revision") for node in body):
                body = ast.parse(source).body
            for node in body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1:
                    target, expr = node.targets[0], node.value
                elif isinstance(node, ast.AnnAssign) and node.value is not None:
                    target, expr = node.target, node.value
                else:
                    continue
                if not isinstance(target, ast.Name):
                    continue
                if target.id == "revision":
                    revisions.add(ast.literal_eval(expr))
                elif target.id == "down_revision":
                    value = ast.literal_eval(expr)
                    parents.update([value] if isinstance(value, str) else value or ())
    except (OSError, SyntaxError, ValueError, TypeError):
        return frozenset()
    return frozenset(revisions - parents)


_FIRST_DEF = re.compile(r"^(?:async\s+def|def|class)\s", re.MULTILINE)


def _assigns(node: ast.stmt, name: str) -> bool:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
    return any(isinstance(t, ast.Name) and t.id == name for t in targets)


def _alembic_version_table() -> Table:
    # The table alembic keeps its revisions in, as alembic's MigrationContext defines it.
    return Table("alembic_version", MetaData(), Column("version_num", String(32), nullable=False),
                 PrimaryKeyConstraint("version_num", name="alembic_version_pkc"))


def _json_dumps(value: object) -> str:
    # OPT_NON_STR_KEYS: a non-string key becomes a string, as json.dumps makes it.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# JSON columns through orjson (the hub's JSON library for answers too): the standard library's
# dumps/loads per JSON value was about a hundredth of an event create's instructions (attendees,
# conferencing, a job's payload written; capabilities and last error read). Same values in and
# out; the stored text is compact (no spaces after separators), which reads back the same.
JSON_CODEC = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **JSON_CODEC)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            # WAL lets the demo's readers run while a writer commits.
            if ":memory:" not in url:
                cur.execute("PRAGMA journal_mode=WAL")
                # With WAL, NORMAL is still crash-safe (no corruption); it skips an fsync per commit.
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    # Liveness checked at checkout without a round trip unless there is doubt (liveness.py),
    # not `pool_pre_ping`'s ping per checkout.
    engine = create_engine(url, pool_size=10, max_overflow=20, **JSON_CODEC)
    check_on_checkout(engine)
    return engine
