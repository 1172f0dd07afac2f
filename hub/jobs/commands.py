"""`hub jobs list` and `hub jobs retry`: the records of background work, for support."""
from __future__ import annotations

from datetime import UTC, datetime

import click

from hub.jobs.observe import NotRetryable, list_jobs, retry
from hub.jobs.settings import settings_here


def _hub():
    from hub.app import build_hub
    return build_hub(settings_here())


def list_command(states: set[str], limit: int) -> None:
    hub = _hub()
    try:
        rows = list_jobs(hub.db, datetime.now(UTC), states, limit)
    finally:
        hub.close()
    if not rows:
        click.echo(f"no jobs {'/'.join(sorted(states))}")
        return
    click.echo(f"{'id':<29} {'state':<9} {'attempts':>8}  {'due (UTC)':<19}  job / last error")
    for row in rows:
        line = f"{row.id:<29} {row.state:<9} {row.attempts:>8}  {row.due_at:%Y-%m-%d %H:%M:%S}  {row.name}"
        if row.last_error:
            line += f"  ({row.last_error})"
        click.echo(line)


def retry_command(ident: str) -> None:
    hub = _hub()
    try:
        kind = retry(hub.db, ident, datetime.now(UTC))
    except NotRetryable as exc:
        raise click.ClickException(f"{ident}: {exc}") from None
    finally:
        hub.close()
    where = "a worker" if hub.settings.broker_url else "the hub's next sweep"
    click.echo(f"{ident} ({kind}) is due now; {where} runs it")
