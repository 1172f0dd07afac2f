"""A live hub and a live sandbox on loopback ports, shared by the end-to-end tests."""
from __future__ import annotations

import threading
import uuid

import pytest
from werkzeug.serving import make_server

from hub.app import create_app
from hub.services.directory import create_api_key
from oauth.vault import TokenVault
from tests.e2e.support import Api, LiveHub, Sandbox


def start_hub(database_url: str, sandbox_url: str, **overrides):
    """A hub served on a free port; its public URL is known only once the port is bound."""
    server = make_server("127.0.0.1", 0, lambda environ, start: [], threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    settings = {"database_url": database_url, "sandbox_url": sandbox_url, "public_url": url,
                "encryption_keys": TokenVault.generate_key_spec("e2e"), "log_json": False,
                "refresh_margin_seconds": 60, **overrides}
    app = create_app(settings)
    server.app = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, LiveHub(url, sandbox_url, app)


@pytest.fixture(scope="session")
def live_hub(database_url, sandbox_url):
    server, live = start_hub(database_url, sandbox_url)
    yield live
    server.shutdown()
    live.hub.close()


@pytest.fixture
def api(live_hub) -> Api:
    """A fresh tenant per test: tenants never see each other, so tests never do either."""
    _, key = create_api_key(live_hub.hub.db, f"tenant-{uuid.uuid4().hex[:8]}")
    return Api(live_hub.url, key)


@pytest.fixture
def sandbox(sandbox_url) -> Sandbox:
    return Sandbox(sandbox_url)
