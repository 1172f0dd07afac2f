"""Users: the people whose calendars the hub reads. Creating, updating, deleting."""
from __future__ import annotations

from hub.errors import NotFound, invalid_fields

from typing import Any, Callable, Protocol

from hub.services.directory import find_user, require_user, user_connections
from hub.storage.db import Database
from hub.storage.models import User
from hub.logs import get_logger

log = get_logger(__name__)

# (working_hours dict, default zone) -> normalised dict; raises ValueError subclasses carrying
# `.field` and `.message`. Injected so this module does not depend on the engine's internals.
WorkingHoursParser = Callable[[dict[str, Any], str], dict[str, Any]]


class UserFields(Protocol):
    """A person's details as given (the API's validated body satisfies it). `model_fields_set`
    names the fields the caller set, so an update leaves the others alone."""

    @property
    def email(self) -> Any: ...
    @property
    def name(self) -> str | None: ...
    @property
    def timezone(self) -> str | None: ...
    @property
    def working_hours(self) -> dict[str, Any] | None: ...
    @property
    def default_conferencing(self) -> str | None: ...
    @property
    def model_fields_set(self) -> set[str]: ...


def upsert_user(db: Database, tenant_id: str, user_id: str, body: UserFields,
                parse_working_hours: WorkingHoursParser) -> tuple[User, bool]:
    fields = body.model_fields_set
    working_hours = None
    if body.working_hours is not None:
        try:
            working_hours = parse_working_hours(body.working_hours, body.timezone or "UTC")
        except ValueError as exc:
            errors = (exc.as_problem_errors() if hasattr(exc, "as_problem_errors")
                      else [{"field": "working_hours", "message": str(exc)}])
            raise invalid_fields(errors) from None
    with db.session() as session:
        user = find_user(session, tenant_id, user_id)
        created = user is None
        if user is None:
            user = User(tenant_id=tenant_id, external_id=user_id, email=str(body.email))
            session.add(user)
        user.email = str(body.email)
        if created or "name" in fields:
            user.name = body.name
        if created or "timezone" in fields:
            user.timezone = body.timezone
        if created or "working_hours" in fields:
            user.working_hours = working_hours
        if created or "default_conferencing" in fields:
            user.default_conferencing = body.default_conferencing
        session.flush()
        return user, created


def get_user(db: Database, tenant_id: str, user_id: str) -> User:
    with db.session() as session:
        return require_user(session, tenant_id, user_id)


def delete_user(db: Database, tenant_id: str, user_id: str,
                disconnect: Callable[[str], None]) -> None:
    """Disconnect each connection (revoked at its provider on a best-effort basis — a provider
    that is down must not keep a person's data here — and announced as connection.deleted),
    then delete everything else of the user."""
    with db.session() as session:
        user = require_user(session, tenant_id, user_id)
        connection_ids = [c.id for c in user_connections(session, user)]
    for connection_id in connection_ids:
        disconnect(connection_id)
    with db.session() as session:
        gone = find_user(session, tenant_id, user_id)
        if gone is None:
            raise NotFound("user_not_found", "User not found", "The user was deleted meanwhile.")
        session.delete(gone)
