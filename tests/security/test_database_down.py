"""When the database is down or read-only the hub says so — 503 with Retry-After and a code
that names the database — instead of 500 `internal_error`; /readyz agrees with what writes do."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import make_url

from hub.services.directory import create_api_key
from hub.storage.db import Database
from tests.security.conftest import make_app


def calls(client, key: str) -> dict[str, object]:
    auth = {"Authorization": f"Bearer {key}"}
    return {
        "put_user": client.put("/v1/users/ada", json={"email": "ada@example.com"}, headers=auth),
        "get_user": client.get("/v1/users/ada", headers=auth),
        "freebusy": client.post("/v1/freebusy", json={"users": ["ada"], "start": "2026-03-02T00:00:00Z",
                                                      "end": "2026-03-03T00:00:00Z"}, headers=auth),
        "connect_link": client.post("/v1/users/ada/connect-links", json={"provider": "google"}, headers=auth),
        "readyz": client.get("/readyz"),
    }


def assert_unavailable(response, code: str) -> None:
    assert response.status_code == 503, response.data
    assert response.json["code"] == code
    assert int(response.headers["Retry-After"]) > 0
    assert response.mimetype == "application/problem+json"


def test_database_unreachable_answers_503_everywhere():
    app = make_app("postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2")
    try:
        client = app.test_client()
        for response in calls(client, "hub_whatever").values():
            assert_unavailable(response, "database_unavailable")
        assert client.get("/healthz").status_code == 200  # the process itself is alive
    finally:
        app.extensions["hub"].close()


@pytest.fixture
def read_only_sqlite(tmp_path):
    path = tmp_path / "ro.sqlite3"
    writable = Database(f"sqlite:///{path}")
    writable.upgrade()
    _, key = create_api_key(writable, f"ro-{uuid.uuid4().hex[:6]}")
    writable.dispose()
    return f"sqlite:///file:{path}?mode=ro&uri=true", key


def test_read_only_sqlite_is_not_ready_and_writes_answer_503(read_only_sqlite):
    url, key = read_only_sqlite
    app = make_app(url)
    try:
        client = app.test_client()
        results = calls(client, key)
        assert_unavailable(results["readyz"], "database_read_only")
        assert_unavailable(results["put_user"], "database_read_only")
        assert results["get_user"].status_code == 404  # reads still work
    finally:
        app.extensions["hub"].close()


def test_a_writable_database_is_ready(database_url):
    app = make_app(database_url)
    try:
        assert app.test_client().get("/readyz").json == {"status": "ready"}
    finally:
        app.extensions["hub"].close()


def test_a_postgres_standby_is_not_ready(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    url = make_url(database_url).update_query_dict({"options": "-c default_transaction_read_only=on"})
    app = make_app(url.render_as_string(hide_password=False))
    try:
        assert_unavailable(app.test_client().get("/readyz"), "database_read_only")
    finally:
        app.extensions["hub"].close()
