"""Tenant-wide switches."""
from __future__ import annotations

from sqlalchemy import select

from hub.errors import NotFound
from hub.storage.db import Database
from hub.storage.models import Tenant


def set_attendance(db: Database, tenant_name: str, enabled: bool) -> None:
    """Attendance on: connect flows ask for the scopes that read meeting participants (Meet's
    meetings.space.readonly). People connected before must reconnect to grant them."""
    with db.session() as session:
        tenant = session.execute(select(Tenant).where(Tenant.name == tenant_name)).scalar_one_or_none()
        if tenant is None:
            raise NotFound("tenant_not_found", "Tenant not found", f"No tenant named {tenant_name!r}.")
        tenant.attendance_enabled = enabled
