"""Online re-encryption: every stored secret moves to the primary key, a row at a time.

Readers keep working throughout because every configured key still decrypts; each row is
re-encrypted in its own short transaction under a row lock, so a concurrent token refresh
either sees the old ciphertext (and writes a new one under the primary key) or the new one.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from hub.storage.db import Database
from hub.services.scheduling.records import token_binding
from hub.services.disconnect import RETIRE, SECRETS, job_binding
from hub.storage.models import ConnectAttempt, Connection, Job, SchedulingCandidate, WebhookEndpoint
from oauth.connect import verifier_binding
from oauth.tokens import access_binding, refresh_binding
from oauth.vault import TokenVault, VaultError
from webhooks.outbound.endpoints import secret_binding

# (model, column attribute, binding factory)
ENCRYPTED_COLUMNS = (
    (Connection, "access_token_enc", access_binding),
    (Connection, "refresh_token_enc", refresh_binding),
    (ConnectAttempt, "code_verifier_enc", verifier_binding),
    (WebhookEndpoint, "secret_enc", secret_binding),
    (SchedulingCandidate, "token_enc", token_binding),
)


@dataclass
class RotationCounts:
    rotated: int = 0
    current: int = 0
    # Values no configured key opens: reported, never overwritten (the key may be missing only here).
    unreadable: list[str] = field(default_factory=list)


def rotate_all(db: Database, vault: TokenVault) -> RotationCounts:
    counts = RotationCounts()
    _rotate_sealed_jobs(db, vault, counts)
    for model, column, binding in ENCRYPTED_COLUMNS:
        with db.session() as session:
            ids = list(session.execute(select(model.id).where(getattr(model, column).is_not(None))).scalars())
        for row_id in ids:
            with db.session() as session:
                row = session.execute(select(model).where(model.id == row_id).with_for_update()).scalar_one_or_none()
                value = getattr(row, column) if row is not None else None
                if value is None:
                    continue
                try:
                    new = vault.reencrypt(value, binding(row_id))
                except VaultError:
                    counts.unreadable.append(f"{model.__tablename__}.{column}:{row_id}")
                    continue
                if new is None:
                    counts.current += 1
                else:
                    setattr(row, column, new)
                    counts.rotated += 1
    return counts


def _rotate_sealed_jobs(db: Database, vault: TokenVault, counts: RotationCounts) -> None:
    """Tokens a disconnect's job carries (hub/services/disconnect.py) until it ends: sealed to
    the job's row, inside its payload. Only jobs still to run hold any."""
    with db.session() as session:
        ids = list(session.execute(select(Job.id).where(Job.name == RETIRE, Job.status == "pending")).scalars())
    for job_id in ids:
        with db.session() as session:
            job = session.execute(select(Job).where(Job.id == job_id).with_for_update()).scalar_one_or_none()
            if job is None:
                continue
            payload = dict(job.payload or {})
            for column in SECRETS:
                value = payload.get(column)
                if not value:
                    continue
                try:
                    new = vault.reencrypt(value, job_binding(job_id, column))
                except VaultError:
                    counts.unreadable.append(f"jobs.payload.{column}:{job_id}")
                    continue
                if new is None:
                    counts.current += 1
                else:
                    payload[column] = new
                    counts.rotated += 1
            job.payload = payload
