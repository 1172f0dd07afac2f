"""The providers' warm-up runs only for providers the deployment has connections of: msgraph's
~47 MB per worker is not paid where nobody connected Microsoft — and a first Microsoft
connection starts it. Each case runs in a fresh interpreter, so `sys.modules` tells what was
imported."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import sys, tempfile, time
    from hub.app import create_app
    from hub.storage.models import Connection, Tenant, User
    from oauth.vault import TokenVault

    def app_on(url):
        app = create_app({"database_url": url, "auto_migrate": True, "log_json": False, "webhook_worker": False,
                          "encryption_keys": TokenVault.generate_key_spec("w")})
        assert app.test_client().get("/healthz").status_code == 200
        assert app.extensions["hub_warm_up"].done.wait(120)
        return app.extensions["hub"]

    def warmed():
        return any(m.startswith("msgraph.generated.models.event") for m in sys.modules)

    def microsoft_connection(hub):
        with hub.db.session() as s:
            tenant = Tenant(name="t")
            s.add(tenant)
            s.flush()
            user = User(tenant_id=tenant.id, external_id="u", email="u@example.com")
            s.add(user)
            s.flush()
            conn = Connection(tenant_id=tenant.id, user_id=user.id, provider="microsoft", provider_account_id="u",
                              account_email="u@example.com", capabilities=["calendar"], scopes=[])
            s.add(conn)
            s.flush()
            if sys.argv[1] == "connect":
                hub._connected(s, conn, None)  # what a finished OAuth flow calls

    url = f"sqlite:///{tempfile.mkdtemp()}/warm.sqlite3"
    hub = app_on(url)
    print(warmed())
    microsoft_connection(hub)
    if sys.argv[1] == "restart":
        assert not warmed()  # a row alone starts nothing in a running worker…
        app_on(url)  # …a worker started with it warms at its first request
    deadline = time.monotonic() + 120
    while not warmed() and time.monotonic() < deadline:
        time.sleep(0.05)
    print(warmed())
""")


@pytest.mark.parametrize("how", ["connect", "restart"])
def test_msgraph_is_warmed_only_once_a_microsoft_connection_exists(how):
    done = subprocess.run([sys.executable, "-c", SCRIPT, how], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["False", "True"], done.stdout + done.stderr[-2000:]
