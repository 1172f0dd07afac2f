"""The `hub` command: database, keys, sandbox, demo, web server."""
from __future__ import annotations

import os
import sys

import click

from hub.config import Settings


@click.group()
def main() -> None:
    """Calendar and conferencing integration hub."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration (HUB_DATABASE_URL, SQLite file by default)."""
    from hub.storage.db import Database
    settings = Settings.from_env()
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
    settings = Settings.from_env()
    database = Database(settings.database_url)
    database.upgrade()
    _, key = create_api_key(database, tenant)
    click.echo(key)


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
    settings = Settings.from_env()
    if not settings.encryption_keys:
        raise click.ClickException("HUB_ENCRYPTION_KEYS is not set")
    counts = rotate_all(Database(settings.database_url), TokenVault.from_config(settings.encryption_keys))
    click.echo(f"re-encrypted {counts.rotated} value(s); {counts.current} already current")
    if counts.unreadable:
        click.echo(f"{len(counts.unreadable)} value(s) no configured key opens (left as they are):", err=True)
        for where in counts.unreadable[:20]:
            click.echo(f"  {where}", err=True)
        sys.exit(1)


@main.group()
def tenants() -> None:
    """Tenant settings."""


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
    sys.exit(run_doctor(user_id, tenant, as_json))


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
    from hub.app import create_app
    from hub.devserver import make_hub_server
    make_hub_server(host, port, create_app()).serve_forever()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
