"""`hub demo`: the hub and the sandbox side by side, ready to click through with no credentials."""
from __future__ import annotations

import os
import secrets
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
import requests

from hub.config import Settings

DEMO_TENANT = "demo"
INSTANCE = Path("instance")
# Sandbox accounts the demo starts with: (provider, email, name, busy hours from 09:00 local).
DEMO_ACCOUNTS = (
    ("google", "alice@demo.example", "Alice Interviewer", (10, 14)),
    ("google", "bob@demo.example", "Bob Recruiter", (11,)),
    ("microsoft", "carol@demo.example", "Carol Hiring Manager", (9, 15)),
    ("zoom", "alice@demo.example", "Alice Interviewer", ()),
)


def demo_settings(host: str, port: int) -> Settings:
    INSTANCE.mkdir(exist_ok=True)
    key_file = INSTANCE / "demo-encryption.key"
    if not key_file.exists():
        from oauth.vault import TokenVault
        key_file.write_text(TokenVault.generate_key_spec("demo"))
        key_file.chmod(0o600)
    secret_file = INSTANCE / "demo-secret.key"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_hex(32))
        secret_file.chmod(0o600)
    env = dict(os.environ)
    return Settings.from_env(env, **{
        "database_url": env.get("HUB_DATABASE_URL") or f"sqlite:///{(INSTANCE / 'demo.sqlite3').resolve()}",
        "encryption_keys": env.get("HUB_ENCRYPTION_KEYS") or key_file.read_text().strip(),
        "secret_key": env.get("HUB_SECRET_KEY") or secret_file.read_text().strip(),
        "public_url": f"http://{host}:{port}",
        "sandbox_url": f"http://{host}:{port + 1}",
        "auto_migrate": True,
        "log_json": False,
        # The demo's webhook receivers run on this machine; an explicit setting wins.
        "webhook_allow_private_urls": Settings.from_env(env).webhook_allow_private_urls
        if "HUB_WEBHOOK_ALLOW_PRIVATE_URLS" in env else True,
    })


def seed(settings: Settings, api_key: str) -> None:
    """Sandbox accounts with a few busy blocks today, and matching hub users."""
    sandbox, hub = settings.sandbox_url, settings.public_url
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    headers = {"Authorization": f"Bearer {api_key}"}
    for provider, email, name, busy_hours in DEMO_ACCOUNTS:
        requests.post(f"{sandbox}/_control/accounts", json={"provider": provider, "email": email, "name": name},
                      timeout=5).raise_for_status()
        for hour in busy_hours:
            start = today + timedelta(days=1, hours=hour)
            requests.post(f"{sandbox}/_control/events", timeout=5, json={
                "provider": provider, "email": email, "start": start.isoformat(),
                "end": (start + timedelta(hours=1)).isoformat(), "subject": "Busy (demo)"}).raise_for_status()
        user_id = email.split("@")[0]
        requests.put(f"{hub}/v1/users/{user_id}", json={"email": email, "name": name, "timezone": "UTC"},
                     headers=headers, timeout=5).raise_for_status()
    link = requests.post(f"{hub}/v1/users/alice/settings-links", json={}, headers=headers, timeout=5)
    if link.status_code == 201:
        click.echo(f"settings {link.json()['url']}   (alice's settings page; single use, 15 minutes)")


def run_demo(host: str, port: int) -> None:
    from hub.app import create_app
    from hub.devserver import make_hub_server
    from hub.services.directory import create_api_key
    from providers.sandbox import create_sandbox_app, serve

    settings = demo_settings(host, port)
    sandbox_server, _, sandbox_url = serve(create_sandbox_app(), host, port + 1)
    app = create_app(settings)
    hub = app.extensions["hub"]
    _, api_key = create_api_key(hub.db, DEMO_TENANT, os.environ.get("HUB_DEMO_API_KEY") or None)
    server = make_hub_server(host, port, app)
    threading.Thread(target=lambda: seed(settings, api_key), daemon=True).start()
    click.echo(f"hub      http://{host}:{port}   (API docs at /docs)")
    click.echo(f"sandbox  {sandbox_url}   (control API at /_control)")
    click.echo(f"tenant   {DEMO_TENANT}")
    click.echo(f"API key  {api_key}")
    click.echo("try:     curl -s -X POST http://%s:%d/v1/users/alice/connect-links -H 'Authorization: Bearer %s' "
               "-H 'Content-Type: application/json' -d '{\"provider\":\"google\"}'" % (host, port, api_key))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        sandbox_server.shutdown()
