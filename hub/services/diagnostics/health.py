"""The health record a diagnosis leaves behind — the one thing besides a refreshed token that
running diagnostics writes.

Per connection: `last_error` carries the cause the diagnosis named (refined: a bare
`token_revoked` becomes `token_expired_testing_app` when that is why), so the settings page and
`GET /v1/users/{id}/connections` show the same words as the report; a connection that passed
has its error cleared and counts as used; `flags.last_diagnosis` keeps when and what was found.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from hub.services.connections import connection_out, stored_time
from hub.services.diagnostics.model import Check
from hub.storage.db import Database
from hub.storage.models import Connection
from providers.probes import FAIL

DIAGNOSIS_FLAG = "last_diagnosis"


def record(db: Database, connection_id: str, checks: Sequence[Check], at: datetime, probed_ok: bool) -> None:
    """`probed_ok`: the provider answered the refresh and probes (the grant was used)."""
    failing = [c for c in checks if c.status == FAIL and c.cause]
    with db.session() as session:
        conn = session.get(Connection, connection_id)
        if conn is None:
            return
        if probed_ok:
            conn.last_used_at = at
        if failing:
            first = failing[0]
            stored = dict(conn.last_error or {})
            if conn.status != "active" and stored:
                # A dead grant keeps its record (when and what the provider said); the diagnosis
                # only names the cause more precisely, e.g. token_expired_testing_app.
                conn.last_error = {**stored, "cause": first.cause}
            else:
                conn.last_error = {"kind": first.kind or "unknown", "cause": first.cause,
                                   "message": (first.message or first.detail)[:500], "at": at.isoformat(),
                                   "provider_code": first.provider_code}
        elif conn.status == "active":
            conn.last_error = None
        conn.flags = {**(conn.flags or {}), DIAGNOSIS_FLAG: {
            "at": at.isoformat(), "healthy": not failing,
            "causes": list(dict.fromkeys(c.cause for c in failing))}}


def _with_time(diagnosis: dict[str, Any] | None) -> dict[str, Any] | None:
    return {**diagnosis, "at": stored_time(diagnosis.get("at"))} if diagnosis else diagnosis


def health_view(conn: Connection) -> dict[str, Any]:
    """A connection as the API lists it, plus the rest of its stored health record."""
    out = connection_out(conn)
    out.update(consented_at=conn.consented_at, last_refresh_at=conn.last_refresh_at,
               last_refresh_error_at=conn.last_refresh_error_at, refresh_failures=conn.refresh_failures,
               reconnect_count=conn.reconnect_count,
               last_diagnosis=_with_time((conn.flags or {}).get(DIAGNOSIS_FLAG)),
               account_mismatch=(conn.flags or {}).get("account_mismatch"))
    return out
