"""Fixtures for the security tests: an in-process hub on the test database, and a tenant key."""
from __future__ import annotations

import uuid

import pytest

from hub.app import create_app
from hub.services.directory import create_api_key
from oauth.vault import TokenVault


def make_app(database_url: str, **overrides):
    settings = {"database_url": database_url, "log_json": False, "webhook_worker": False,
                "rate_limit_failed_auth": "100000/minute",
                "encryption_keys": TokenVault.generate_key_spec("sec"), **overrides}
    return create_app(settings)


@pytest.fixture
def app(database_url):
    app = make_app(database_url)
    yield app
    app.extensions["hub"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def key(app) -> str:
    return create_api_key(app.extensions["hub"].db, f"sec-{uuid.uuid4().hex[:8]}")[1]


@pytest.fixture
def auth(key) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
