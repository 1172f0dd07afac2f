"""Key management commands and the error shape of the HTTP surface."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner
from sqlalchemy import select

from hub.app import create_app
from hub.cli import main
from hub.jobs.store import schedule
from hub.services.directory import hash_key, tenant_for_key
from hub.services.disconnect import RETIRE, job_binding
from hub.storage.db import Database
from hub.storage.models import ApiKey, Connection, Job, Tenant, User
from oauth.flows import Grant
from oauth.tokens import TokenManager, access_binding, refresh_binding
from oauth.vault import TokenVault


def test_keys_create_prints_once_and_stores_hash(database_url):
    tenant = f"cli-{uuid.uuid4().hex[:6]}"
    result = CliRunner().invoke(main, ["keys", "create", "--tenant", tenant], env={"HUB_DATABASE_URL": database_url})
    assert result.exit_code == 0, result.output
    key = result.output.strip()
    db = Database(database_url)
    assert tenant_for_key(db, key) is not None
    with db.session() as s:
        stored = s.execute(select(ApiKey).where(ApiKey.key_hash == hash_key(key))).scalar_one()
        assert key not in (stored.key_hash, stored.prefix)
    db.dispose()


def test_rotate_encryption_moves_every_secret_to_the_new_key(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'rotate.sqlite3'}"
    old, new = TokenVault.generate_key_spec("old"), TokenVault.generate_key_spec("new")
    db = Database(database_url)
    db.upgrade()
    vault_old = TokenVault.from_config(old)
    tm = TokenManager(db, vault_old, lambda p: None)
    with db.session() as s:
        t = Tenant(name=f"rot-{uuid.uuid4().hex[:6]}")
        s.add(t)
        s.flush()
        u = User(tenant_id=t.id, external_id="u", email="u@example.com")
        s.add(u)
        s.flush()
        c = Connection(tenant_id=t.id, user_id=u.id, provider="google", provider_account_id=uuid.uuid4().hex)
        s.add(c)
        s.flush()
        tm.store_grant(c, Grant("access-xyz", "refresh-xyz", datetime.now(timezone.utc) + timedelta(hours=1), ()))
        cid = c.id
        # A disconnect's job still to run carries tokens sealed to its own row (its payload).
        job_id = "job_rotation1"
        schedule(s, RETIRE, {"job": job_id, "refresh_token_enc": vault_old.encrypt(
            "refresh-old-conn", job_binding(job_id, "refresh_token_enc")), "access_token_enc": None},
            job_id=job_id, key=f"{RETIRE}:{job_id}")
    result = CliRunner().invoke(main, ["keys", "rotate-encryption"],
                                env={"HUB_DATABASE_URL": database_url, "HUB_ENCRYPTION_KEYS": f"{new},{old}"})
    assert result.exit_code == 0, result.output
    assert "re-encrypted 3 value(s)" in result.output
    both = TokenVault.from_config(f"{new},{old}")
    with db.session() as s:
        c = s.get(Connection, cid)
        assert both.key_id_of(c.access_token_enc) == "new" and both.key_id_of(c.refresh_token_enc) == "new"
        assert both.decrypt(c.access_token_enc, access_binding(cid)) == "access-xyz"
        assert both.decrypt(c.refresh_token_enc, refresh_binding(cid)) == "refresh-xyz"
        sealed = s.get(Job, job_id).payload["refresh_token_enc"]
        assert both.key_id_of(sealed) == "new"
        assert both.decrypt(sealed, job_binding(job_id, "refresh_token_enc")) == "refresh-old-conn"
    db.dispose()


def test_http_errors_are_problem_json(database_url):
    app = create_app({"database_url": database_url, "log_json": False})

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret ya29.token in message")

    client = app.test_client()
    for method, path, status, code in [("GET", "/nope", 404, "not_found"), ("DELETE", "/healthz", 405, "method_not_allowed"),
                                       ("GET", "/boom", 500, "internal_error")]:
        r = client.open(path, method=method)
        assert r.status_code == status and r.mimetype == "application/problem+json"
        assert r.json["code"] == code and r.json["status"] == status
        assert "ya29" not in r.get_data(as_text=True)
    app.extensions["hub"].close()


def test_rotation_reports_values_no_key_opens(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'rotate2.sqlite3'}"
    db = Database(database_url)
    db.upgrade()
    stranger = TokenVault.from_config(TokenVault.generate_key_spec("gone"))
    with db.session() as s:
        t = Tenant(name="x")
        s.add(t)
        s.flush()
        u = User(tenant_id=t.id, external_id="u", email="u@example.com")
        s.add(u)
        s.flush()
        c = Connection(tenant_id=t.id, user_id=u.id, provider="google", provider_account_id="a")
        s.add(c)
        s.flush()
        c.access_token_enc = stranger.encrypt("tok", access_binding(c.id))
        before = c.access_token_enc
        cid = c.id
    result = CliRunner().invoke(main, ["keys", "rotate-encryption"],
                                env={"HUB_DATABASE_URL": database_url,
                                     "HUB_ENCRYPTION_KEYS": TokenVault.generate_key_spec("new")})
    assert result.exit_code == 1 and f"connections.access_token_enc:{cid}" in result.output
    with db.session() as s:
        assert s.get(Connection, cid).access_token_enc == before
    db.dispose()
