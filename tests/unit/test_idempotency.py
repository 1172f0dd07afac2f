"""The Idempotency-Key store against a real database (shared/API.md "Idempotency"): the states a
key goes through, what each answers, and the sweep that forgets answered keys."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import NoResultFound

from hub.errors import Conflict, Invalid
from hub.problems import problem_of
from hub.services.directory import create_api_key
from hub.services.idempotency import ABANDONED_AFTER, IdempotencyStore, Replay, expire, request_hash
from hub.storage.models import IdempotencyRecord

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(database) -> IdempotencyStore:
    return IdempotencyStore(database, timedelta(hours=24))


@pytest.fixture
def tenant(database) -> str:
    return create_api_key(database, f"idem-{uuid.uuid4().hex[:6]}")[0]


def rows(database, tenant_id: str) -> list[tuple[str, str, str, int | None, dict | None]]:
    with database.session() as session:
        found = session.execute(select(IdempotencyRecord).where(IdempotencyRecord.tenant_id == tenant_id)
                                .order_by(IdempotencyRecord.key)).scalars()
        return [(r.key, r.state, r.request_hash, r.response_status, r.response_body) for r in found]


def test_the_request_hash_ignores_key_order_and_takes_any_json_value():
    assert request_hash({"a": 1, "b": [1, 2]}) == request_hash({"b": [1, 2], "a": 1})
    assert request_hash({"a": 1}) != request_hash({"a": 2})
    assert request_hash({"at": NOW}) == request_hash({"at": str(NOW)})  # datetimes hash by their text
    assert len(request_hash({})) == 64 and int(request_hash({}), 16) >= 0  # fits the String(64) column


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_a_key_outside_1_to_255_characters_is_a_validation_error(store, tenant, key):
    with pytest.raises(Invalid) as refused:
        store.begin(tenant, key, "fp", NOW)
    problem = problem_of(refused.value)
    assert (refused.value.code, problem.status) == ("validation_failed", 422)
    assert refused.value.title == "Idempotency-Key is not valid"  # a problem type's title is stable (RFC 9457)
    assert "Idempotency-Key" in refused.value.detail and refused.value.detail != refused.value.title
    assert refused.value.errors == [{"field": "Idempotency-Key", "message": "1–255 characters"}]


@pytest.mark.parametrize("key", ["k", "k" * 255])
def test_keys_of_1_and_255_characters_are_taken(store, tenant, key, database):
    assert store.begin(tenant, key, "fp", NOW) is None
    assert rows(database, tenant) == [(key, "in_progress", "fp", None, None)]


def test_in_flight_then_answered_then_replayed(store, tenant, database):
    assert store.begin(tenant, "k1", "fp", NOW) is None
    with pytest.raises(Conflict) as in_flight:
        store.begin(tenant, "k1", "fp", NOW + timedelta(seconds=1))
    problem = problem_of(in_flight.value)
    assert (in_flight.value.code, problem.status, problem.headers["Retry-After"]) == ("idempotency_in_progress", 409, "1")
    assert in_flight.value.title == "Request in progress"
    assert "Idempotency-Key" in in_flight.value.detail and in_flight.value.detail != in_flight.value.title
    store.complete(tenant, "k1", 201, {"id": "evt_1"})
    assert rows(database, tenant) == [("k1", "done", "fp", 201, {"id": "evt_1"})]
    assert store.begin(tenant, "k1", "fp", NOW + timedelta(hours=1)) == Replay(201, {"id": "evt_1"})


def test_completing_a_key_whose_row_is_gone_fails_and_writes_nothing(store, tenant, database):
    """complete() is one UPDATE: a key without its row (abandoned meanwhile) is refused as the
    read-then-write refused it, and completing one key leaves the tenant's other keys alone."""
    store.begin(tenant, "k1", "fp", NOW)
    store.begin(tenant, "k2", "fp2", NOW)
    store.abandon(tenant, "k1")
    with pytest.raises(NoResultFound):
        store.complete(tenant, "k1", 201, {"id": "evt_1"})
    store.complete(tenant, "k2", 201, {"id": "evt_2"})
    assert rows(database, tenant) == [("k2", "done", "fp2", 201, {"id": "evt_2"})]


def test_a_different_body_is_refused_in_flight_and_after(store, tenant):
    store.begin(tenant, "k1", "fp", NOW)
    for _ in range(2):
        with pytest.raises(Invalid) as reused:
            store.begin(tenant, "k1", "other", NOW)
        assert (reused.value.code, problem_of(reused.value).status) == ("idempotency_key_reused", 422)
        assert reused.value.title == "Idempotency-Key reused"
        assert "Idempotency-Key" in reused.value.detail and reused.value.detail != reused.value.title
        store.complete(tenant, "k1", 201, {"id": "evt_1"})


def test_a_failed_first_attempt_frees_the_key_at_once_for_its_tenant_only(store, tenant, database):
    other = create_api_key(database, f"idem-{uuid.uuid4().hex[:6]}")[0]
    store.begin(tenant, "k1", "fp", NOW)
    store.begin(other, "k1", "fp", NOW)  # keys are per tenant
    store.begin(tenant, "k2", "other", NOW)
    with pytest.raises(Conflict):  # k1's own row answers, not k2's
        store.begin(tenant, "k1", "fp", NOW)
    store.abandon(tenant, "k1")
    assert [r[0] for r in rows(database, tenant)] == ["k2"]
    assert store.begin(tenant, "k1", "fp", NOW) is None  # the retry, with no waiting
    with pytest.raises(Conflict):
        store.begin(other, "k1", "fp", NOW)  # the other tenant's request is still in flight


def test_an_in_progress_row_older_than_the_abandon_limit_is_taken_over(store, tenant, database):
    store.begin(tenant, "k1", "fp", NOW)
    with pytest.raises(Conflict):  # exactly at the limit it may still be running
        store.begin(tenant, "k1", "fp", NOW + ABANDONED_AFTER)
    later = NOW + ABANDONED_AFTER + timedelta(seconds=1)
    assert store.begin(tenant, "k1", "fp", later) is None  # its process died mid-request
    with pytest.raises(Conflict):  # the new owner's clock starts now
        store.begin(tenant, "k1", "fp", later + ABANDONED_AFTER)
    assert ABANDONED_AFTER == timedelta(minutes=5)


def test_an_answered_row_without_a_stored_response_replays_as_200(store, tenant, database):
    with database.session() as session:
        session.add(IdempotencyRecord(tenant_id=tenant, key="k1", request_hash="fp", state="done", created_at=NOW))
    assert store.begin(tenant, "k1", "fp", NOW) == Replay(200, {})


def test_the_sweep_forgets_answered_keys_past_the_ttl_only(store, tenant, database):
    ttl = timedelta(hours=24)
    store.begin(tenant, "old-done", "fp", NOW - ttl - timedelta(seconds=1))
    store.complete(tenant, "old-done", 201, {})
    store.begin(tenant, "edge-done", "fp", NOW - ttl)
    store.complete(tenant, "edge-done", 201, {})
    store.begin(tenant, "new-done", "fp", NOW)
    store.complete(tenant, "new-done", 201, {})
    store.begin(tenant, "old-running", "fp", NOW - ttl - timedelta(hours=1))
    assert expire(database, ttl, NOW) >= 1  # other tests' tenants share the database
    assert [r[0] for r in rows(database, tenant)] == ["edge-done", "new-done", "old-running"]
    assert expire(database, ttl, NOW) == 0


class _RowGoneBeforeRead:
    """The database as seen by a request that loses the insert race to an attempt which then
    fails and deletes its row before this request reads it."""

    def __init__(self, db) -> None:
        self.db, self.raced = db, False

    def write(self):
        if not self.raced:
            self.raced = True
            from sqlalchemy.exc import IntegrityError
            raise IntegrityError("INSERT INTO idempotency_records", {}, Exception("UNIQUE constraint failed"))
        return self.db.write()

    def session(self):
        return self.db.session()


def test_a_key_freed_between_the_failed_insert_and_the_read_is_taken(database, tenant):
    store = IdempotencyStore(_RowGoneBeforeRead(database), timedelta(hours=24))  # type: ignore[arg-type]
    assert store.begin(tenant, "k1", "fp", NOW) is None
    assert rows(database, tenant) == [("k1", "in_progress", "fp", None, None)]
    store = IdempotencyStore(database, timedelta(hours=24))
    with pytest.raises(Conflict):
        store.begin(tenant, "k1", "fp", NOW + ABANDONED_AFTER)
    assert store.begin(tenant, "k1", "fp", NOW + ABANDONED_AFTER + timedelta(seconds=1)) is None  # claimed at NOW


class _CountingSessions:
    def __init__(self, db) -> None:
        self.db, self.opened = db, 0

    def session(self):
        self.opened += 1
        return self.db.session()

    def write(self):
        self.opened += 1
        return self.db.write()


def test_a_new_key_is_claimed_by_its_insert_alone(database, tenant):
    """The unique row is the lock: a new key costs one transaction, no read-and-lock."""
    db = _CountingSessions(database)
    store = IdempotencyStore(db, timedelta(hours=24))  # type: ignore[arg-type]
    assert store.begin(tenant, "k1", "fp", NOW) is None
    assert db.opened == 1
    assert rows(database, tenant) == [("k1", "in_progress", "fp", None, None)]
