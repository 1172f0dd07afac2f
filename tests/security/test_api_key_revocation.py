"""A process remembers a checked API key for `HUB_API_KEY_CACHE_SECONDS` (hub/services/api_keys.py):
a revoked key must stop working within that bound, and a key is never refused from memory."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from hub.services.directory import create_api_key, hash_key
from hub.storage.models import ApiKey
from tests.security.conftest import make_app


@pytest.fixture
def build(database_url):
    apps = []

    def make(**settings):
        app = make_app(database_url, **settings)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["hub"].close()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


def revoke(app, key: str) -> None:
    with app.extensions["hub"].db.session() as session:
        session.execute(update(ApiKey).where(ApiKey.key_hash == hash_key(key))
                        .values(revoked_at=datetime.now(timezone.utc)))


def status(client, key: str) -> int:
    # 404: the key was accepted and the (unknown) user looked up; 401: the key was refused.
    return client.get("/v1/users/nobody", headers={"Authorization": f"Bearer {key}"}).status_code


def test_a_revoked_key_stops_working_within_the_cache_bound(build):
    app = build(api_key_cache_seconds=5)
    clock = app.extensions["hub"].clock = Clock()
    client = app.test_client()
    key = create_api_key(app.extensions["hub"].db, f"rev-{uuid.uuid4().hex[:8]}")[1]
    assert status(client, key) == 404
    revoke(app, key)
    clock.now += timedelta(seconds=5)
    assert status(client, key) == 401
    clock.now += timedelta(seconds=60)
    assert status(client, key) == 401  # a refused key is not remembered as valid either


def test_with_no_cache_a_revoked_key_stops_at_once(build):
    app = build(api_key_cache_seconds=0)
    client = app.test_client()
    key = create_api_key(app.extensions["hub"].db, f"rev-{uuid.uuid4().hex[:8]}")[1]
    assert status(client, key) == 404
    revoke(app, key)
    assert status(client, key) == 401


def test_an_unknown_key_is_not_remembered(build):
    """A key refused once and created afterwards (another process ran `hub keys create`) works
    on its next request: refusals are never answered from memory."""
    app = build(api_key_cache_seconds=3600)
    client = app.test_client()
    key = f"hub_live_{uuid.uuid4().hex}"
    assert status(client, key) == 401
    create_api_key(app.extensions["hub"].db, f"late-{uuid.uuid4().hex[:8]}", key)
    assert status(client, key) == 404
