"""Disconnecting: the connection is gone from the hub at once; a job cleans up at the provider.

`retire_later` runs in the transaction that deletes the connection (with its
`connection.deleted` webhook): it records a `connections.retire` job, so the answer to
DELETE /v1/connections/{id} never waits for a provider, and a provider that is down does not
leave the grant alive. The job stops the connection's push channels, then revokes the grant —
in that order, since no token could stop a channel once the grant is revoked.

The connection row (and with it the channel rows, so the hub refuses the channels' late
notices) is gone when the job runs, so the job carries what it needs: the channels' ids and the
tokens, re-encrypted by the vault bound to the job's own row (never in clear text, and removed
from the row when the job ends, however it ends). CalDAV carries nothing: a form credential
has nothing to revoke and no channel, so no job is made.

A provider failure is retried with the job store's backoff (hub/jobs/store.py); progress is
kept on the job's row, so a retry does only what is left. On the last attempt the grant is
revoked even if a channel could not be stopped (a channel runs out by itself within days; a
live grant does not). A job that gives up logs `disconnect_gave_up` and fails its row.

Someone who connects the same account again before the job ran keeps the new grant: Google's
revocation ends every grant of the account to this app, so the job then leaves the old grant
alone (logged `revoke_skipped`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import jobs
from hub.jobs import store
from hub.logs import get_logger
from hub.services.sync.records import ForeignCredentials
from hub.storage.models import Connection, Job, SyncChannel, new_id
from oauth.credential_form import CredentialForm
from oauth.tokens import access_binding, refresh_binding
from oauth.vault import Binding, VaultError
from providers.base import ErrorKind, ProviderError, PushChannel

if TYPE_CHECKING:  # pragma: no cover
    from hub.container import Hub

log = get_logger(__name__)
T = TypeVar("T")

RETIRE = "connections.retire"
SECRETS = ("access_token_enc", "refresh_token_enc")
# Channel rows the provider may still hold open (a replaced Google channel waits in `stopping`).
OPEN_CHANNELS = ("active", "stopping")


def job_binding(job_id: str, column: str) -> Binding:
    """A token copied onto a job is bound to that job's row: pasted into another job (or back
    into a connection) it does not decrypt."""
    return Binding("jobs", column, job_id)


def retire_later(hub: Hub, session: Session, conn: Connection) -> str | None:
    """In the deleting transaction: record the job that stops `conn`'s channels and revokes
    its grant. Returns the job's id, or None when there is nothing to do at the provider."""
    flow = hub.flow(conn.provider)
    revoke = not isinstance(flow, CredentialForm) and bool(conn.refresh_token_enc or conn.access_token_enc)
    channels = [{"channel_id": row.external_id, "resource_id": row.resource_id,
                 "expires_at": row.expires_at.isoformat() if row.expires_at else None}
                for row in session.execute(select(SyncChannel).where(
                    SyncChannel.connection_id == conn.id, SyncChannel.status.in_(OPEN_CHANNELS),
                    SyncChannel.external_id.is_not(None))).scalars()]
    if not revoke and not channels:
        return None
    job_id = new_id("job")
    sealed = {column: _reseal(hub, enc, binding, job_binding(job_id, column))
              for column, enc, binding in (("access_token_enc", conn.access_token_enc, access_binding(conn.id)),
                                           ("refresh_token_enc", conn.refresh_token_enc, refresh_binding(conn.id)))}
    if not any(sealed.values()):
        # No token this hub can open: nothing can be stopped or revoked (the channels run out
        # by themselves; the person can remove the app at the provider).
        log.warning("disconnect_credentials_unreadable", connection_id=conn.id, provider=conn.provider)
        return None
    payload: dict[str, Any] = {
        "job": job_id, "connection_id": conn.id, "tenant_id": conn.tenant_id, "provider": conn.provider,
        "account": conn.provider_account_id, "scopes": list(conn.scopes or []),
        "requested_at": hub.clock().isoformat(), "channels": channels, "revoke": revoke,
        "access_expires_at": conn.access_expires_at.isoformat() if conn.access_expires_at else None,
        **sealed,
    }
    jobs.schedule(session, RETIRE, payload, key=f"{RETIRE}:{job_id}", job_id=job_id)
    return job_id


def _reseal(hub: Hub, enc: str | None, binding: Binding, to: Binding) -> str | None:
    """The stored token, opened and sealed again for the job in memory (never written in
    clear text); None when there is none or no configured key opens it."""
    if not enc:
        return None
    try:
        return hub.vault.encrypt(hub.vault.decrypt(enc, binding), to)
    except VaultError:
        return None


def _retryable(err: ProviderError) -> bool:
    """Only a provider that is down or asks to wait may answer differently later; a refusal
    (grant already dead, channel unknown, bad request) is final."""
    return err.kind.retryable or err.kind is ErrorKind.UNKNOWN


@dataclass
class _Access:
    """The job's tokens: the access token while it is fresh, else a refresh with the refresh
    token (its new tokens are written back to the job's row, sealed, for a retry)."""

    hub: Hub
    payload: dict[str, Any]
    _access: str | None = field(default=None, repr=False)

    def _open(self, column: str) -> str | None:
        enc = self.payload.get(column)
        return self.hub.vault.decrypt(enc, job_binding(self.payload["job"], column)) if enc else None

    def _fresh(self) -> bool:
        expires = self.payload.get("access_expires_at")
        if not self.payload.get("access_token_enc"):
            return False
        return expires is None or datetime.fromisoformat(expires) - self.hub.tokens.margin > self.hub.clock()

    def token(self) -> str:
        if self._access is None:
            self._access = self._open("access_token_enc") if self._fresh() else self.refresh()
        assert self._access is not None
        return self._access

    def refresh(self) -> str:
        refresh_token = self._open("refresh_token_enc")
        if refresh_token is None:
            raise ProviderError(ErrorKind.AUTH_REVOKED, "no refresh token to renew the access token",
                                provider=self.payload["provider"], cause="token_revoked")
        grant = self.hub.flow(self.payload["provider"]).refresh(refresh_token, tuple(self.payload.get("scopes") or ()))
        job_id = self.payload["job"]
        self.payload["access_token_enc"] = self.hub.vault.encrypt(grant.access_token,
                                                                  job_binding(job_id, "access_token_enc"))
        self.payload["access_expires_at"] = grant.expires_at.isoformat() if grant.expires_at else None
        if grant.refresh_token:  # Microsoft rotates: keep the newest for a retry
            self.payload["refresh_token_enc"] = self.hub.vault.encrypt(grant.refresh_token,
                                                                       job_binding(job_id, "refresh_token_enc"))
        self._access = grant.access_token
        return grant.access_token

    def call(self, action: Callable[[str], T]) -> T:
        token = self.token()
        try:
            return action(token)
        except ProviderError as err:
            if err.kind is not ErrorKind.AUTH_EXPIRED:
                raise
        return action(self.refresh())


def retire(hub: Hub, payload: dict[str, Any]) -> None:
    """Job RETIRE: stop the channels, then revoke the grant (see the module docstring)."""
    job_id = payload["job"]
    with hub.db.session() as session:
        row = session.get(Job, job_id)
        attempt = row.attempts if row is not None else 1
    if not any(payload.get(column) for column in SECRETS):
        return  # ended already: a duplicate message
    last = attempt >= store.MAX_ATTEMPTS
    failure: Exception | None
    try:
        failure = _attempt(hub, payload, last)
    except VaultError:
        # Every process shares the keys in production, so this is a key removed before the
        # rotation finished — or another hub on a shared database: one that can open them
        # takes the retry (as the sync jobs do, records.ForeignCredentials).
        failure = ForeignCredentials(f"job {job_id}: the sealed tokens do not open with this process's keys")
    if failure is None:
        _save(hub, job_id, {**payload, **dict.fromkeys(SECRETS)})  # the tokens leave the row
        log.info("disconnect_done", job_id=job_id, connection_id=payload.get("connection_id"),
                 provider=payload["provider"])
        return
    if not last:
        _save(hub, job_id, payload)  # what is done stays done; the retry does the rest
        raise failure
    log.error("disconnect_gave_up", job_id=job_id, connection_id=payload.get("connection_id"),
              provider=payload["provider"], channels_left=len(payload.get("channels") or []),
              grant_revoked=not payload.get("revoke"), error=type(failure).__name__,
              kind=failure.kind.value if isinstance(failure, ProviderError) else None)
    _save(hub, job_id, {**payload, **dict.fromkeys(SECRETS)})  # the tokens leave the row either way
    raise failure


def _attempt(hub: Hub, payload: dict[str, Any], last: bool) -> ProviderError | None:
    """One try at what is left; `payload` is updated with what got done. Returns the first
    failure worth a retry when something is still left, else None."""
    job_id, provider = payload["job"], payload["provider"]
    access = _Access(hub, payload)
    failure: ProviderError | None = None
    left = []
    for channel in payload.get("channels") or []:
        try:
            _stop(hub, provider, access, channel)
        except ProviderError as err:
            if not _retryable(err):
                log.warning("disconnect_channel_not_stopped", job_id=job_id, provider=provider,
                            kind=err.kind.value, cause=err.cause)  # it runs out by itself; its notices are refused
                continue
            left.append(channel)
            failure = failure or err
    payload["channels"] = left
    if payload.get("revoke") and (not left or last):
        try:
            _revoke(hub, payload)
            payload["revoke"] = False
        except ProviderError as err:
            if _retryable(err):
                failure = failure or err
            else:
                log.warning("disconnect_revoke_refused", job_id=job_id, provider=provider, kind=err.kind.value,
                            cause=err.cause)
                payload["revoke"] = False
    return failure if payload["channels"] or payload.get("revoke") else None


def _stop(hub: Hub, provider: str, access: _Access, channel: dict[str, Any]) -> None:
    from hub.services.sync.adapters import adapter  # that package imports the container
    expires = channel.get("expires_at")
    pushed = PushChannel(channel["channel_id"], datetime.fromisoformat(expires) if expires else hub.clock(),
                         channel.get("resource_id"))
    sync = adapter(hub, provider)
    try:
        access.call(lambda token: sync.close_channel(token, pushed))
    except ProviderError as err:
        if err.kind is not ErrorKind.NOT_FOUND:  # gone already: that is what was wanted
            raise


def _revoke(hub: Hub, payload: dict[str, Any]) -> None:
    provider, requested = payload["provider"], datetime.fromisoformat(payload["requested_at"])
    with hub.db.session() as session:
        again = session.execute(select(Connection.id).where(
            Connection.provider == provider, Connection.provider_account_id == payload["account"],
            Connection.consented_at >= requested).limit(1)).scalar_one_or_none()
    if again is not None:
        # Connected again since: revoking would end that new grant too (Google revokes every
        # grant of the account to this app).
        log.info("revoke_skipped", job_id=payload["job"], provider=provider, reason="account_connected_again")
        return
    column = "refresh_token_enc" if payload.get("refresh_token_enc") else "access_token_enc"
    token = payload[column]
    hub.flow(provider).revoke(hub.vault.decrypt(token, job_binding(payload["job"], column)))


def _save(hub: Hub, job_id: str, payload: dict[str, Any]) -> None:
    with hub.db.session() as session:
        row = session.get(Job, job_id)
        if row is not None:
            row.payload = dict(payload)
