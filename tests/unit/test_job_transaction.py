"""`jobs.transaction`: a plain connection's transaction hands queued work to the dispatcher
after its commit, as a session does, and nothing when it rolls back."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from hub import jobs
from hub.jobs.dispatch import DISPATCHER
from hub.storage.db import Database
from hub.storage.models import Job


class Recorder:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.sent: list[tuple[str, dict, object]] = []
        self.row_there: list[bool] = []

    def enqueue(self, name, payload, at=None) -> None:
        # Read on another connection: the job's row must be committed when its message goes.
        with self.db.read() as conn:
            self.row_there.append(conn.execute(select(Job.id).where(Job.id == payload["job_id"])).first() is not None)
        self.sent.append((name, payload, at))


@pytest.fixture
def db(database_url):
    db = Database(database_url)
    db.upgrade()
    recorder = Recorder(db)
    db.session_info[DISPATCHER] = recorder
    yield db, recorder
    db.dispose()


def job_ids(db: Database, key: str) -> list[str]:
    with db.read() as conn:
        return list(conn.execute(select(Job.id).where(Job.key == key)).scalars())


def test_work_goes_out_after_the_commit(db, unique):
    db, recorder = db
    with jobs.transaction(db) as tx:
        job_id = jobs.schedule(tx, "sync.run", {"connection_id": unique}, key=f"t:{unique}")
        assert recorder.sent == []  # not before the commit
    assert job_ids(db, f"t:{unique}") == [job_id]
    assert recorder.sent == [(jobs.store.RUN, {"job_id": job_id}, None)]
    assert recorder.row_there == [True]


def test_a_rolled_back_transaction_sends_nothing_and_stores_nothing(db, unique):
    db, recorder = db
    with pytest.raises(RuntimeError):
        with jobs.transaction(db) as tx:
            jobs.schedule(tx, "sync.run", {"connection_id": unique}, key=f"t:{unique}")
            raise RuntimeError("a later statement failed")
    assert job_ids(db, f"t:{unique}") == []
    assert recorder.sent == []
    with jobs.transaction(db) as tx:  # and the next transaction does not send the dropped work
        pass
    assert recorder.sent == []


def test_a_duplicate_key_queues_nothing(db, unique):
    db, recorder = db
    with jobs.transaction(db) as tx:
        first = jobs.schedule(tx, "sync.run", {}, key=f"t:{unique}")
    with jobs.transaction(db) as tx:
        assert jobs.schedule(tx, "sync.run", {}, key=f"t:{unique}") is None
    assert [payload for _, payload, _ in recorder.sent] == [{"job_id": first}]
