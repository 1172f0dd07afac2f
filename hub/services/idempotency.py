"""Idempotency keys backed by the database, so they hold across processes.

The unique (tenant, key) row is the lock: the first request inserts it `in_progress`; a
concurrent one fails the insert and answers 409; a later one with the same body gets the
stored response; a different body gets 422. A failed first attempt deletes its row so the
client may retry with the same key.
"""
from __future__ import annotations

from hub.errors import Conflict, Invalid

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, NoResultFound
from sqlalchemy.orm import Session

from hub.jobs import Unit
from hub.storage.db import Database
from hub.storage.models import IdempotencyRecord

# An in-progress row older than this belongs to a process that died mid-request.
ABANDONED_AFTER = timedelta(minutes=5)

# Built once (every keyed event create claims and completes a key): bound per call. On the
# table: no ORM unit of work around one row. Parameters named unlike the columns they compare
# with (an UPDATE takes a parameter named like a column as one more SET).
_RECORDS: Any = IdempotencyRecord.__table__
_CLAIM = _RECORDS.insert()
_COMPLETE = (_RECORDS.update()
             .where(_RECORDS.c.tenant_id == bindparam("record_tenant"), _RECORDS.c.key == bindparam("record_key")))


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict[str, Any]


def request_hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class IdempotencyStore:
    def __init__(self, db: Database, ttl: timedelta) -> None:
        self.db = db
        # Not read here: the `idempotency.sweep` job passes the same setting to expire().
        self.ttl = ttl  # pragma: no mutate

    def begin(self, tenant_id: str, key: str, fingerprint: str, now: datetime) -> Replay | None:
        if not 1 <= len(key) <= 255:
            raise Invalid("validation_failed", "Idempotency-Key is not valid",
                          "Idempotency-Key must be 1–255 characters.",  # pragma: no mutate (wording)
                          errors=[{"field": "Idempotency-Key", "message": "1–255 characters"}])
        try:
            # A transaction on a plain connection: one statement needs no ORM session.
            with self.db.write() as conn:
                _claim(conn, tenant_id, key, fingerprint, now)
            return None
        except IntegrityError:
            pass
        with self.db.session() as session:
            row = session.execute(select(IdempotencyRecord).where(
                IdempotencyRecord.tenant_id == tenant_id, IdempotencyRecord.key == key)
                .with_for_update()).scalar_one_or_none()
            if row is None:  # deleted between our insert and read: take it
                _claim(session, tenant_id, key, fingerprint, now)
                return None
            if row.request_hash != fingerprint:
                raise Invalid("idempotency_key_reused", "Idempotency-Key reused",
                              "This Idempotency-Key was used with a different request body.",  # pragma: no mutate (wording)
                              )
            if row.state == "in_progress":
                if now - row.created_at > ABANDONED_AFTER:
                    row.created_at = now
                    return None
                raise Conflict("idempotency_in_progress", "Request in progress",
                              "A request with this Idempotency-Key is still being processed; retry shortly.",  # pragma: no mutate
                              retry_after=1)
            return Replay(row.response_status or 200, row.response_body or {})

    def complete(self, tenant_id: str, key: str, status: int, body: dict[str, Any]) -> None:
        with self.db.write() as conn:
            complete_in(conn, tenant_id, key, status, body)

    def abandon(self, tenant_id: str, key: str) -> None:
        with self.db.session() as session:
            session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.tenant_id == tenant_id,
                                                            IdempotencyRecord.key == key))


def complete_in(on: Unit | Connection, tenant_id: str, key: str, status: int, body: dict[str, Any]) -> None:
    """`IdempotencyStore.complete` in the caller's transaction: the answer is stored with the
    change it answers (both or neither)."""
    # One UPDATE, not a read of the row and a flush of it; no ORM session around it.
    result: Any = on.execute(_COMPLETE, {"record_tenant": tenant_id, "record_key": key, "state": "done",
                                         "response_status": status, "response_body": body})
    if result.rowcount != 1:  # as the read's scalar_one() refused a row that is gone
        raise NoResultFound(f"no idempotency record for key {key!r}")


def _claim(on: Session | Connection, tenant_id: str, key: str, fingerprint: str, now: datetime) -> None:
    """The row that is the lock: its insert fails for everyone but the first."""
    on.execute(_CLAIM, {"tenant_id": tenant_id, "key": key, "request_hash": fingerprint, "created_at": now,
                        "state": "in_progress",  # pragma: no mutate (the column's default is the same)
                        })


def expire(db: Database, ttl: timedelta, now: datetime) -> int:
    """Forget answered keys older than `ttl` (the `idempotency.sweep` background job)."""
    with db.session() as session:
        result = session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - ttl,
                                                                 IdempotencyRecord.state == "done"))
        return result.rowcount or 0  # type: ignore[attr-defined]
