"""`hub doctor USER_ID [--tenant T]`: the diagnostics report in a terminal.

The same diagnosis as ``GET /v1/diagnostics/users/{id}`` (same service, same words), built
straight on the database and the providers from ``HUB_*`` settings — no running hub needed.
Exit code: 0 healthy, 1 unhealthy, 2 when the user or tenant cannot be found or the hub is not
configured to read its tokens.
"""
from __future__ import annotations

import json
from typing import Any, Callable

import click

from hub.config import Settings
from hub.services.diagnostics import DiagnosticsService, Report

HEALTHY, UNHEALTHY, CANNOT_DIAGNOSE = 0, 1, 2
MARKS = {"pass": ("✔", "green"), "warn": ("!", "yellow"), "fail": ("✖", "red"), "skip": ("–", "bright_black")}


def run_doctor(user_id: str, tenant: str, as_json: bool = False, settings: Settings | None = None,
               echo: Callable[[str], None] = click.echo) -> int:
    from hub.container import Hub
    from hub.metrics import Metrics
    from hub.errors import HubError
    from hub.services.directory import tenant_id_by_name
    from hub.storage.db import Database
    from oauth.vault import TokenVault

    settings = settings or Settings.from_env()
    if not settings.encryption_keys:
        echo(click.style("HUB_ENCRYPTION_KEYS is not set: the stored tokens cannot be read.", fg="red"))
        return CANNOT_DIAGNOSE
    db = Database(settings.database_url)
    hub = Hub(settings=settings, db=db, vault=TokenVault.from_config(settings.encryption_keys), metrics=Metrics())
    try:
        tenant_id = tenant_id_by_name(db, tenant)
        if tenant_id is None:
            echo(click.style(f"No tenant named {tenant!r}.", fg="red"))
            return CANNOT_DIAGNOSE
        try:
            report = DiagnosticsService.for_hub(hub, hub.connect).diagnose_user(tenant_id, user_id)
        except HubError as problem:
            text = f"No user {user_id!r} in tenant {tenant!r}." if problem.code == "user_not_found" else problem.detail
            echo(click.style(text, fg="red"))
            return CANNOT_DIAGNOSE
    finally:
        hub.close()
    if as_json:
        echo(json.dumps(report.as_dict(), default=_iso, indent=2))
    else:
        for line in render(report, tenant):
            echo(line)
    return HEALTHY if report.healthy else UNHEALTHY


def render(report: Report, tenant: str) -> list[str]:
    verdict = (click.style("HEALTHY", fg="green", bold=True) if report.healthy
               else click.style("UNHEALTHY", fg="red", bold=True))
    lines = [f"{click.style(report.user_id or '?', bold=True)} (tenant {tenant}): {verdict}"
             + click.style(f"  diagnosed in {report.elapsed_ms or 0:.0f} ms", fg="bright_black"), ""]
    for check in report.checks:
        mark, colour = MARKS.get(check.status, ("?", "white"))
        where = click.style(f" [{check.connection_id}]", fg="bright_black") if check.connection_id else ""
        lines.append(f"{click.style(mark, fg=colour, bold=True)} {click.style(check.id, fg=colour)}{where}  "
                     f"{check.summary}")
        if check.status in ("fail", "warn"):
            if check.cause:
                lines.append(f"    cause:  {click.style(check.cause, fg=colour, bold=True)}")
            if check.detail:
                lines.append(click.style(f"    detail: {check.detail}", fg="bright_black"))
            if check.fix:
                lines.append(f"    fix:    {check.fix['action']}"
                             + (f" → {click.style(check.fix['url'], underline=True)}" if check.fix.get("url") else ""))
                for n, step in enumerate(check.fix.get("steps") or [], 1):
                    lines.append(f"            {n}. {step}")
    if report.connections:
        lines += ["", click.style("Connections (stored health record)", bold=True)]
        for conn in report.connections:
            lines.append(_connection_line(conn))
    return lines


def _connection_line(conn: dict[str, Any]) -> str:
    status = conn["status"]
    colour = "green" if status == "active" else "red"
    last = conn.get("last_error") or {}
    parts = [f"  {conn['id']}  {conn['provider']:<9} {conn.get('account_email') or '-'}",
             click.style(status, fg=colour),
             f"last used {_when(conn.get('last_used_at'))}",
             f"refresh failures {conn.get('refresh_failures', 0)}"]
    if last:
        parts.append(click.style(f"last error {last.get('cause') or last.get('kind')}", fg="red"))
    return "  ".join(parts)


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if hasattr(value, "strftime") else "never"


def _iso(value: Any) -> Any:
    from hub.app import HubJSON  # the API's own time format (`…Z`)
    return HubJSON.default(value)
