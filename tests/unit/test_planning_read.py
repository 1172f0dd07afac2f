"""Event planning's read (directory.require_user_and_connections, run with FastSelect): the
values a `Connection` has through the ORM's column types — aware UTC times, decoded JSON —
on SQLite and, with HUB_TEST_DATABASE_URL, PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from hub.errors import NotFound
from hub.services.directory import Organizer, require_user_and_connections
from hub.storage.db import Database
from hub.storage.models import Connection, Tenant, User
from oauth.tokens import StoredAccess
from tests.conftest import own_database

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
PLUS_TWO = timezone(timedelta(hours=2))
COLUMNS = ("id", "provider", "account_email", "status", "capabilities", "access_token_enc", "access_expires_at",
           "connected_at", "last_used_at", "last_error")


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    with own_database(tmp_path_factory, "planning-read") as url:
        database = Database(url)
        with database.session() as session:
            session.add_all([Tenant(id="t1", name="one"), Tenant(id="t2", name="two")])
            session.flush()
            session.add_all([User(id="u1", tenant_id="t1", external_id="ann", email="a@x.example",
                                  default_conferencing="zoom"),
                             User(id="u2", tenant_id="t1", external_id="bob", email="b@x.example"),
                             User(id="u3", tenant_id="t2", external_id="ann", email="a@x.example")])
            session.flush()
            session.add_all([
                # Given in another zone: stored and read back as UTC.
                Connection(id="c-new", tenant_id="t1", user_id="u1", provider="zoom", provider_account_id="z",
                           account_email="a@zoom.example", status="broken", capabilities=["zoom_meetings"],
                           access_token_enc="sealed", access_expires_at=(T0 + timedelta(hours=1)).astimezone(PLUS_TWO),
                           connected_at=T0.astimezone(PLUS_TWO), last_used_at=T0 + timedelta(minutes=5),
                           last_error={"kind": "auth_revoked", "cause": "invalid_grant", "at": T0.isoformat()}),
                Connection(id="c-old", tenant_id="t1", user_id="u1", provider="google", provider_account_id="g",
                           capabilities=["calendar", "google_meet"], connected_at=T0 - timedelta(days=1)),
                # Another tenant's user of the same id: never read.
                Connection(id="c-other", tenant_id="t2", user_id="u3", provider="google", provider_account_id="o",
                           capabilities=["calendar"], connected_at=T0)])
        yield database
        database.dispose()


def test_connections_read_as_the_orm_reads_them_oldest_first(db):
    with db.read() as conn:
        organizer, planned = require_user_and_connections(conn, "t1", "ann")
    with db.session() as session:
        expected = [session.get(Connection, cid) for cid in ("c-old", "c-new")]
        assert [tuple(row) for row in planned] == [tuple(getattr(c, name) for name in COLUMNS) for c in expected]
    assert organizer == Organizer("u1", "ann", "zoom")
    new = planned[1]
    assert new.capabilities == ["zoom_meetings"] and new.last_error["cause"] == "invalid_grant"
    assert planned[0].capabilities == ["calendar", "google_meet"] and planned[0].last_error is None
    for moment in (new.access_expires_at, new.connected_at, new.last_used_at, planned[0].connected_at):
        assert moment.tzinfo == timezone.utc  # aware UTC, as UTCDateTime returns it
    assert (new.connected_at, new.access_expires_at) == (T0, T0 + timedelta(hours=1))
    assert planned[0].access_expires_at is None and planned[0].last_used_at is None
    assert StoredAccess.of(new) == StoredAccess("c-new", "broken", "sealed", T0 + timedelta(hours=1))


def test_a_user_without_connections_and_an_unknown_user(db):
    with db.read() as conn:
        assert require_user_and_connections(conn, "t1", "bob") == (Organizer("u2", "bob", None), [])
        with pytest.raises(NotFound):
            require_user_and_connections(conn, "t2", "bob")
