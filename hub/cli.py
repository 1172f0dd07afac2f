"""The `hub` command: database, keys, sandbox, demo, web server."""
from __future__ import annotations

import os
import sys

import click

from hub.config import Settings


def _settings() -> Settings:
    """HUB_* settings, or those of a `hub demo` in ./instance when the hub is not configured."""
    from hub.instance import command_settings
    return command_settings(lambda text: click.echo(click.style(text, fg="bright_black"), err=True))


@click.group()
def main() -> None:
    """Calendar and conferencing integration hub."""


@main.command("providers")
@click.option("--markdown", "as_markdown", is_flag=True, help="The README's provider table.")
def providers_command(as_markdown: bool) -> None:
    """The providers this hub has (from the registry), their capabilities and settings."""
    from hub import provider_docs
    from providers import registry
    if as_markdown:
        click.echo(provider_docs.markdown(), nl=False)
        return
    for spec in registry.SPECS:
        caps = ", ".join(sorted(c.value for c in spec.capabilities))
        click.echo(f"{spec.name:<10} {spec.title:<18} {caps:<22} {provider_docs.connect_method(spec)}")
        for setting in spec.settings:
            click.echo(f"    {setting.env_name(spec.name)}  {setting.help}")


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration (HUB_DATABASE_URL; else a `hub demo` here; else ./hub.sqlite3)."""
    from hub.storage.db import Database
    settings = _settings()
    Database(settings.database_url).upgrade()
    click.echo("database is at the newest schema")


@main.group()
def keys() -> None:
    """API keys and encryption keys."""


@keys.command("create")
@click.option("--tenant", required=True, help="Tenant name; created when new.")
def keys_create(tenant: str) -> None:
    """Create an API key for TENANT. The key is printed once and stored only as a hash."""
    from hub.services.directory import create_api_key
    from hub.storage.db import Database
    settings = _settings()
    database = Database(settings.database_url)
    database.upgrade()
    _, key = create_api_key(database, tenant)
    click.echo(key)


@main.group()
def tenants() -> None:
    """Tenant settings and switches."""


@tenants.command("attendance")
@click.argument("tenant")
@click.option("--on/--off", "enabled", default=True, help="Ask connect flows for attendance scopes.")
def tenants_attendance(tenant: str, enabled: bool) -> None:
    """Turn attendance (who joined the meeting) on or off for TENANT: connect flows then ask for
    the extra scopes that read meeting participants (people reconnect to grant them)."""
    from hub.errors import HubError
    from hub.services.tenants import set_attendance
    from hub.storage.db import Database
    try:
        set_attendance(Database(Settings.from_env().database_url), tenant, enabled)
    except HubError as err:
        raise click.ClickException(err.detail) from None
    click.echo(f"attendance {'on' if enabled else 'off'} for {tenant}")


@keys.command("generate-encryption-key")
@click.option("--kid", default=None, help="Key id (alphanumeric).")
def keys_generate(kid: str | None) -> None:
    """Print a new `kid:base64key` entry for HUB_ENCRYPTION_KEYS (put it first to make it primary)."""
    from oauth.vault import TokenVault
    click.echo(TokenVault.generate_key_spec(kid))


@keys.command("rotate-encryption")
def keys_rotate() -> None:
    """Re-encrypt every stored secret under the first key of HUB_ENCRYPTION_KEYS, online."""
    from hub.services.key_rotation import rotate_all
    from hub.storage.db import Database
    from oauth.vault import TokenVault
    settings = _settings()
    if not settings.encryption_keys:
        raise click.ClickException("HUB_ENCRYPTION_KEYS is not set")
    counts = rotate_all(Database(settings.database_url), TokenVault.from_config(settings.encryption_keys))
    click.echo(f"re-encrypted {counts.rotated} value(s); {counts.current} already current")
    if counts.unreadable:
        click.echo(f"{len(counts.unreadable)} value(s) no configured key opens (left as they are):", err=True)
        for where in counts.unreadable[:20]:
            click.echo(f"  {where}", err=True)
        sys.exit(1)


@tenants.command("set-return-origins")
@click.argument("tenant")
@click.argument("origins", nargs=-1)
def tenants_set_return_origins(tenant: str, origins: tuple[str, ...]) -> None:
    """Allow return_url only on ORIGINS (https://ats.example.com …); none lifts the restriction."""
    from sqlalchemy import select

    from hub.services.return_urls import set_return_origins
    from hub.storage.db import Database
    from hub.storage.models import Tenant
    db = Database(Settings.from_env().database_url)
    with db.session() as session:
        tenant_id = session.execute(select(Tenant.id).where(Tenant.name == tenant)).scalar_one_or_none()
    if tenant_id is None:
        raise click.ClickException(f"no tenant named {tenant!r}")
    try:
        saved = set_return_origins(db, tenant_id, list(origins))
    except ValueError as bad:
        raise click.ClickException(str(bad)) from None
    click.echo(f"{tenant}: return_url origins " + (", ".join(saved) if saved else "unrestricted"))


@main.command()
@click.argument("user_id")
@click.option("--tenant", default="demo", show_default=True, help="Tenant name.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def doctor(user_id: str, tenant: str, as_json: bool) -> None:
    """Diagnose USER_ID's connections live (refresh + read-only probes) and print the report.

    Exit code 0 when healthy, 1 when unhealthy, 2 when the user cannot be diagnosed."""
    from hub.doctor import run_doctor
    sys.exit(run_doctor(user_id, tenant, as_json, settings=_settings()))


@main.group()
def jobs() -> None:
    """Background jobs: what is due, running or failed; retry one."""


@jobs.command("list")
@click.option("--state", "states", multiple=True, show_default=True, default=("due", "running", "failed"),
              type=click.Choice(["due", "running", "scheduled", "failed", "done", "cancelled"]),
              help="Repeat for several.")
@click.option("--limit", default=50, show_default=True)
def jobs_list(states: tuple[str, ...], limit: int) -> None:
    """List jobs and webhook deliveries in the given states, oldest due first."""
    from hub.jobs.commands import list_command
    list_command(set(states), limit)


@jobs.command("retry")
@click.argument("job_id")
def jobs_retry(job_id: str) -> None:
    """Run JOB_ID (a job_… or whd_… id from `hub jobs list`) again now, with fresh attempts."""
    from hub.jobs.commands import retry_command
    retry_command(job_id)


@main.command()
@click.option("--port", default=8001, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
def sandbox(port: int, host: str) -> None:
    """Serve the provider emulators (Google, Microsoft, Zoom) and their control API."""
    from providers.sandbox import create_sandbox_app
    from werkzeug.serving import run_simple
    click.echo(f"sandbox on http://{host}:{port} (control API at /_control)")
    run_simple(host, port, create_sandbox_app(), threaded=True, use_reloader=False)


@main.command()
@click.option("--port", default=8000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
def demo(port: int, host: str) -> None:
    """Run the hub on PORT and the sandbox on PORT+1 with SQLite: no credentials needed."""
    from hub.demo import run_demo
    run_demo(host, port)


@main.command()
@click.option("--port", default=int(os.environ.get("PORT", 8000)), show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
def serve(port: int, host: str) -> None:
    """Development server (production: gunicorn 'hub.wsgi:app', see the Procfile)."""
    from hub.devserver import make_hub_server, pause_gc, resume_gc
    pause_gc()
    from hub.app import create_app
    server = make_hub_server(host, port, create_app())
    resume_gc()
    server.serve_forever()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
