"""`hub demo`: the hub and the sandbox side by side, ready to click through with no credentials."""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from hub.config import Settings
from hub.instance import DEMO_TENANT, DemoInstance

if TYPE_CHECKING:
    from hub.demo_sandbox import DemoSandbox
    from hub.storage.db import Database

# Sandbox accounts the demo starts with: (provider, email, name, busy hours from 09:00 local).
DEMO_ACCOUNTS = (
    ("google", "alice@demo.example", "Alice Interviewer", (10, 14)),
    ("google", "bob@demo.example", "Bob Recruiter", (11,)),
    ("microsoft", "carol@demo.example", "Carol Hiring Manager", (9, 15)),
    ("zoom", "alice@demo.example", "Alice Interviewer", ()),
    # CalDAV: the sandbox's Radicale; connect with the password `app-password`.
    ("caldav", "dave@demo.example", "Dave Engineer", (13,)),
)


@dataclass(frozen=True)
class DemoPerson:
    """A demo account's hub user, as `upsert_user` takes it (the API's body has the same fields)."""

    email: str
    name: str
    timezone: str = "UTC"
    working_hours: dict[str, Any] | None = None
    default_conferencing: str | None = None

    @property
    def model_fields_set(self) -> set[str]:
        return {"email", "name", "timezone"}


def add_users(db: Database, tenant_id: str) -> None:
    """The hub users of the demo accounts (`alice`, `bob`, …), made before the hub serves: the
    README's first request (alice's connect link) works from the hub's first answer, not only
    once the sandbox is built and seeded."""
    from hub.services.users import upsert_user

    def no_working_hours(hours: dict[str, Any], zone: str) -> dict[str, Any]:
        raise AssertionError("demo users have no working hours")  # pragma: no cover

    for _, email, name, _ in DEMO_ACCOUNTS:
        upsert_user(db, tenant_id, email.split("@")[0], DemoPerson(email, name), no_working_hours)


def demo_settings(host: str, port: int) -> Settings:
    return DemoInstance().settings(host, port)


def tomorrow() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)


def seed(settings: Settings, api_key: str, instance: DemoInstance, restored: bool = False) -> None:
    """Sandbox accounts with a few busy blocks tomorrow (their hub users exist already: `add_users`).
    After a restart the accounts (and their grants) are already there: only a new day's blocks are added."""
    import requests  # here: this runs after the hub serves, and requests is ~0.1 s of a start
    sandbox, hub = settings.sandbox_url, settings.public_url
    day = tomorrow()
    marker = instance.root / "seeded-day"
    fresh_day = not (restored and marker.exists() and marker.read_text().strip() == day.date().isoformat())
    headers = {"Authorization": f"Bearer {api_key}"}
    # The sandbox's Zoom sends meeting and participant webhooks to the hub, signed as Zoom does.
    requests.post(f"{sandbox}/_control/webhooks", timeout=5, json={
        "provider": "zoom", "url": f"{hub}/webhooks/zoom",
        "secret": settings.provider("zoom").get("webhook_secret")}).raise_for_status()
    for provider, email, name, busy_hours in DEMO_ACCOUNTS:
        requests.post(f"{sandbox}/_control/accounts", json={"provider": provider, "email": email, "name": name},
                      timeout=5).raise_for_status()
        for hour in busy_hours if fresh_day else ():
            start = day + timedelta(hours=hour)
            requests.post(f"{sandbox}/_control/events", timeout=5, json={
                "provider": provider, "email": email, "start": start.isoformat(),
                "end": (start + timedelta(hours=1)).isoformat(), "subject": "Busy (demo)"}).raise_for_status()
    marker.write_text(day.date().isoformat())
    link = requests.post(f"{hub}/v1/users/alice/settings-links", json={}, headers=headers, timeout=5)
    if link.status_code == 201:
        click.echo(f"settings {link.json()['url']}   (alice's settings page; single use, 15 minutes)")


def prepare(settings: Settings, api_key: str, instance: DemoInstance, sandbox: DemoSandbox) -> None:
    """The demo's background thread: the sandbox built, then seeded (the hub already serves)."""
    restored = sandbox.build()
    if instance.sandbox_file.exists() and not restored:
        click.echo(f"sandbox  could not read {instance.sandbox_file}: started empty")
    seed(settings, api_key, instance, restored)


def run_demo(host: str, port: int) -> None:
    from hub.devserver import make_hub_server, pause_gc, resume_gc
    pause_gc()
    from hub.app import create_app
    from hub.demo_sandbox import DemoSandbox
    from hub.services.directory import create_api_key

    instance = DemoInstance()
    settings = instance.settings(host, port)
    instance.record_address(host, port)  # where `hub doctor` and `hub keys` find this demo
    had_state = instance.sandbox_file.exists()
    sandbox = DemoSandbox(host, port + 1, instance.sandbox_file)  # listening now, built after the hub
    app = create_app(settings)
    hub = app.extensions["hub"]
    tenant_id, api_key = create_api_key(hub.db, DEMO_TENANT, instance.api_key(os.environ.get("HUB_DEMO_API_KEY")))
    from hub.services.tenants import set_attendance
    set_attendance(hub.db, DEMO_TENANT, True)  # the demo shows attendance on Meet too
    add_users(hub.db, tenant_id)
    server = make_hub_server(host, port, app)
    resume_gc()
    threading.Thread(target=prepare, args=(settings, api_key, instance, sandbox), name="demo-prepare",
                     daemon=True).start()
    day = tomorrow()
    click.echo(f"hub      http://{host}:{port}   (API docs at /docs)")
    click.echo(f"sandbox  {sandbox.url}   (control API at /_control; "
               f"{'state restored from' if had_state else 'state kept in'} {instance.sandbox_file})")
    click.echo(f"tenant   {DEMO_TENANT}")
    click.echo(f"API key  {api_key}   (kept in {instance.root}/demo-api-key)")
    curl = f"curl -s -X POST http://{host}:{port}/v1"
    auth = f"-H 'Authorization: Bearer {api_key}' -H 'Content-Type: application/json'"
    window = {"users": ["alice"], "start": day.strftime("%Y-%m-%dT%H:%M:%SZ"),
              "end": (day + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    click.echo(f"""try:     {curl}/users/alice/connect-links {auth} -d '{{"provider":"google"}}'""")
    click.echo(f"then:    {curl}/freebusy {auth} -d '{json.dumps(window, separators=(',', ':'))}'")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        sandbox.shutdown()
