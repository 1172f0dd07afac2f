"""The live part of a diagnosis, one level at a time, everything in a level at once.

Level 1 refreshes every active connection's grant (through the TokenManager, so single-flight
and persisted before use — the only token write diagnostics makes). Level 2 runs every probe
of every refreshed connection. Each level costs about one provider round trip however many
connections and probes there are: the calls run on the hub's provider pool. Levels are
flat lists of calls — no call waits on the pool from inside the pool, so a busy pool cannot
deadlock a diagnosis.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Sequence, cast

from hub.container import Hub
from hub.logs import get_logger
from hub.services.fanout import Timeout, run_level
from oauth.tokens import access_binding
from oauth.vault import VaultError
from providers.base import ErrorKind, ProviderError
from providers.probes import FAIL, SKIP, Finding, Probe, Subject
from hub.storage.models import Connection

log = get_logger(__name__)


def force_refresh(hub: Hub, connection_id: str) -> str:
    """Refresh the grant now, even if the stored access token is still fresh: only a refresh
    proves the grant is alive (an access token can outlive its revoked grant for an hour)."""
    with hub.db.session() as session:
        conn = session.get(Connection, connection_id)
        enc = conn.access_token_enc if conn is not None else None
    try:
        current = hub.vault.decrypt(enc, access_binding(connection_id)) if enc else None
    except VaultError:
        current = None  # the TokenManager finds it unreadable too, and says so on the record
    # `stale=current`: the TokenManager refreshes unless another thread already replaced it.
    return hub.tokens.access_token(connection_id, stale=current)


def refresh_all(hub: Hub, connection_ids: Sequence[str], timeout: float) -> dict[str, str | ProviderError]:
    results = run_level(hub.executor, {cid: partial(force_refresh, hub, cid) for cid in connection_ids},
                        timeout)
    return {cid: _as_token_or_error(value, "refreshing the access token") for cid, value in results.items()}


@dataclass(frozen=True)
class ProbeJob:
    connection_id: str
    probe: Probe
    token: str
    subject: Subject


def probe_all(hub: Hub, jobs: Sequence[ProbeJob], timeout: float) -> dict[str, list[Finding]]:
    """Every probe of every connection at once; findings grouped per connection in probe order."""
    results = run_level(hub.executor, {i: partial(job.probe.run, job.token, job.subject)
                                       for i, job in enumerate(jobs)}, timeout)
    out: dict[str, list[Finding]] = {}
    for i, job in enumerate(jobs):
        out.setdefault(job.connection_id, []).extend(_complete(job.probe, results[i]))
    return out


def _complete(probe: Probe, result: object) -> list[Finding]:
    """The probe's findings, with a failure for an exception and a skip for every check the
    probe could not reach."""
    if isinstance(result, BaseException):
        err = _provider_error(result, probe.name)
        findings = [Finding.from_error(probe.checks[0], err, f"Probe {probe.name}")]
    else:
        findings = list(cast(Sequence[Finding], result))
    seen = {f.check for f in findings}
    failed = any(f.status == FAIL for f in findings)
    for check in probe.checks:
        if check not in seen:
            findings.append(Finding(check, SKIP, "Not checked: an earlier step of the same probe failed."
                                    if failed else "Not checked.", f"{probe.name} did not report on {check}"))
    return findings


def _as_token_or_error(value: object, doing: str) -> str | ProviderError:
    if isinstance(value, str):
        return value
    return _provider_error(value, doing)


def _provider_error(value: object, doing: str) -> ProviderError:
    if isinstance(value, ProviderError):
        return value
    if isinstance(value, Timeout):
        return ProviderError(ErrorKind.PROVIDER_DOWN, f"{doing} did not finish in time", provider="hub",
                             cause="provider_unavailable")
    # The type only: an exception's text may quote a URL holding a token.
    log.error("diagnostics_probe_crashed", doing=doing, error=type(value).__name__)
    return ProviderError(ErrorKind.UNKNOWN, f"{doing} failed unexpectedly ({type(value).__name__})", provider="hub")
