"""The sync service with a hand-written CalendarSync (tests/sync_fakes.py): channels, the push
receiver's verification, the runner, change webhooks and the status route — the edge cases the
end-to-end tests (tests/e2e/test_sync_push.py) cannot reach cheaply. Jobs are driven by hand
on a database of their own."""
from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
import structlog
from sqlalchemy import select

from hub.app import create_app
from hub.jobs import catalog, store
from hub.services import disconnect
from hub.services import busy_cache
from hub.services.connections import delete_connection
from hub.services.diagnostics import rules
from hub.services.directory import create_api_key
from hub.services.sync import channels, runner
from hub.services.disconnect import RETIRE
from hub.services.sync.records import OPEN, RENEW, RUN, STOP, secret_hash
from hub.services.sync.status import SyncStatus
from hub.storage.models import (CachedEvent, Connection, Event, Job, SyncChannel, SyncState, User, WebhookDelivery,
                                WebhookEndpoint)
from oauth.flows import Grant
from oauth.tokens import refresh_binding
from oauth.vault import TokenVault, VaultError
from providers.base import AttendeeResponse, ErrorKind, ProviderError, SyncedEvent
from tests.conftest import own_database
from tests.sync_fakes import FakeSync, install


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture(scope="module")
def db_url(tmp_path_factory):
    with own_database(tmp_path_factory, "sync") as url:
        yield url


class Env:
    def __init__(self, app, hub, fake, key):
        self.app, self.hub, self.fake, self.key = app, hub, fake, key
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {key}"}
        with hub.db.session() as s:
            self.tenant_id = s.execute(select(User.tenant_id).limit(0)).scalar() or None

    def connection(self) -> str:
        user_id = f"u{uuid.uuid4().hex[:6]}"
        email = f"{user_id}@example.com"
        r = self.client.put(f"/v1/users/{user_id}", json={"email": email}, headers=self.headers)
        assert r.status_code == 201, r.json
        with self.hub.db.session() as s:
            user = s.execute(select(User).where(User.external_id == user_id, User.email == email)).scalar_one()
            conn = Connection(tenant_id=user.tenant_id, user_id=user.id, provider=self.fake.name,
                              provider_account_id=email, account_email=email, capabilities=["calendar"], scopes=[])
            s.add(conn)
            s.flush()
            self.hub.tokens.store_grant(conn, Grant("tok", "ref", _now() + timedelta(hours=1), ()))
            self.tenant_id = user.tenant_id
            self.user_row = user.id
            return conn.id

    def jobs(self, name: str, connection_id: str | None = None) -> list[Job]:
        with self.hub.db.session() as s:
            rows = list(s.execute(select(Job).where(Job.name == name)).scalars())
        return [j for j in rows if connection_id is None or connection_id in json.dumps(j.payload)]

    def channel(self, connection_id: str, status: str = "active") -> SyncChannel:
        with self.hub.db.session() as s:
            return s.execute(select(SyncChannel).where(SyncChannel.connection_id == connection_id,
                                                       SyncChannel.status == status)).scalar_one()

    def state(self, connection_id: str) -> SyncState | None:
        with self.hub.db.session() as s:
            return s.get(SyncState, connection_id)

    def notify(self, channel_id: str, secret: str | None, kind: str = "changed", lifecycle: bool = False, **extra):
        path = f"/webhooks/{self.fake.name}" + ("/lifecycle" if lifecycle else "")
        body = [{"channel_id": channel_id, "secret": secret, "kind": kind, **extra}]
        return self.client.post(path, data=json.dumps(body))

    def open(self, connection_id: str) -> tuple[SyncChannel, str]:
        """Open a channel and learn its secret (the fake saw the request)."""
        channels.open_channel(self.hub, connection_id)
        request = self.fake.opened[-1]
        return self.channel(connection_id), request.secret

    def open_another(self, connection_id: str) -> tuple[SyncChannel, str]:
        """A new channel; the one it replaces waits in `stopping`, still open at the provider."""
        first = self.channel(connection_id)
        channels.open_channel(self.hub, connection_id, replacing=first.id, resync=False)
        request = self.fake.opened[-1]
        with self.hub.db.session() as s:
            row = s.execute(select(SyncChannel).where(SyncChannel.external_id == f"ext-{request.channel_id}")).scalar_one()
        return row, request.secret

    def hub_event(self, connection_id: str, provider_event_id: str, start: datetime, title: str = "Interview",
                  attendees: list | None = None) -> str:
        with self.hub.db.session() as s:
            conn = s.get(Connection, connection_id)
            ev = Event(tenant_id=conn.tenant_id, organizer_id=conn.user_id, connection_id=connection_id,
                       title=title, start=start, end=start + timedelta(hours=1), calendar_provider=conn.provider,
                       provider_event_id=provider_event_id,
                       attendees=attendees if attendees is not None else [{"email": "cand@example.com", "name": None,
                                                                           "optional": False}])
            s.add(ev)
            s.flush()
            return ev.id

    def deliveries(self, event_type: str) -> list[dict]:
        with self.hub.db.session() as s:
            rows = s.execute(select(WebhookDelivery.payload).where(WebhookDelivery.tenant_id == self.tenant_id,
                                                                   WebhookDelivery.event_type == event_type)).scalars()
            return [json.loads(p) for p in rows]

    def subscribe(self) -> None:
        with self.hub.db.session() as s:
            s.add(WebhookEndpoint(tenant_id=self.tenant_id, url="https://backend.example/hook", events=["*"],
                                  secret_enc="x"))


@pytest.fixture
def env(db_url, monkeypatch, request):
    """Google's receiver by default; parametrize indirectly with a provider name for another."""
    app = create_app({"database_url": db_url, "encryption_keys": TokenVault.generate_key_spec("s"),
                      "log_json": False, "webhook_worker": False, "public_url": "https://hub.example"})
    hub = app.extensions["hub"]
    fake = FakeSync(getattr(request, "param", "google"))
    install(monkeypatch, hub, fake)
    _, key = create_api_key(hub.db, f"sync-{uuid.uuid4().hex[:8]}")
    yield Env(app, hub, fake, key)
    hub.close()


# --- channels ---------------------------------------------------------------------------------

def test_connect_schedules_the_channel_and_opening_it_stores_only_a_hash(env):
    cid = env.connection()
    with env.hub.db.session() as s:
        env.hub._connected(s, s.get(Connection, cid), None)
    assert [j.payload for j in env.jobs(OPEN, cid)] == [{"connection_id": cid, "resync": True}]
    row, secret = env.open(cid)
    request = env.fake.opened[-1]
    assert request.address == "https://hub.example/webhooks/google"
    assert request.lifecycle_address == "https://hub.example/webhooks/google/lifecycle"
    assert row.secret_hash == secret_hash(secret) and secret not in row.secret_hash
    assert row.external_id == f"ext-{request.channel_id}" and row.resource_id == "res-1"
    renewals = env.jobs(RENEW, row.id)
    assert len(renewals) == 1 and renewals[0].run_at == row.expires_at - timedelta(days=1)
    assert [j.payload["full"] for j in env.jobs(RUN, cid)] == [True]


def test_reconnect_with_a_live_channel_keeps_it_and_resyncs(env):
    cid = env.connection()
    row, _ = env.open(cid)
    channels.open_channel(env.hub, cid)
    assert len(env.fake.opened) == 1 and env.channel(cid).id == row.id
    assert len(env.jobs(RUN, cid)) == 2


def test_open_failure_is_recorded_and_retried_then_shown(env):
    cid = env.connection()
    env.fake.fail_open = ProviderError(ErrorKind.INVALID_REQUEST, "Unauthorized WebHook callback channel",
                                       provider="google", cause="push_address_refused")
    with pytest.raises(ProviderError):  # raised: the job store retries it with backoff
        channels.open_channel(env.hub, cid)
    failed = env.channel(cid, "failed")
    assert failed.last_error["cause"] == "push_address_refused"
    r = env.client.get(f"/v1/connections/{cid}/sync", headers=env.headers)
    assert r.status_code == 200
    assert r.json["channel"]["status"] == "failed"
    assert r.json["channel"]["last_error"]["message"] == "Unauthorized WebHook callback channel"
    env.fake.fail_open = None
    channels.open_channel(env.hub, cid)  # the retry works: the failed row is retired
    assert env.channel(cid).status == "active"
    assert env.client.get(f"/v1/connections/{cid}/sync", headers=env.headers).json["channel"]["status"] == "active"


def test_google_renewal_opens_a_new_channel_then_stops_the_old_one(env):
    cid = env.connection()
    old, _ = env.open(cid)
    channels.renew(env.hub, old.id)
    new = env.channel(cid)
    assert new.id != old.id and len(env.fake.opened) == 2
    assert env.channel(cid, "stopping").id == old.id
    assert [j.payload for j in env.jobs(STOP, old.id)] == [{"channel_id": old.id}]
    channels.stop(env.hub, old.id)
    assert env.fake.closed[-1].channel_id == old.external_id and env.fake.closed[-1].resource_id == old.resource_id
    assert env.channel(cid, "stopped").id == old.id


def test_graph_renewal_extends_in_place_and_a_gone_subscription_is_recreated(env):
    env.fake.renewable = True
    cid = env.connection()
    row, _ = env.open(cid)
    channels.renew(env.hub, row.id)
    assert env.fake.renewed[-1].channel_id == row.external_id and env.channel(cid).id == row.id
    env.fake.fail_renew = ProviderError(ErrorKind.NOT_FOUND, "gone", provider="google")
    channels.renew(env.hub, row.id)
    assert env.channel(cid).id != row.id and len(env.fake.opened) == 2


class FakeFlow:
    """The OAuth flow's refresh and revoke, recorded in one list with the fake's channel stops
    (`steps`), so the order shows."""

    def __init__(self, fake: FakeSync) -> None:
        self.steps: list[tuple[str, str]] = []
        self.refreshed: list[str] = []
        self.fail_revoke: ProviderError | None = None
        close = fake.close_channel

        def closing(token, channel):
            self.steps.append(("stop", channel.channel_id))
            self.tokens_used.append(token)
            close(token, channel)

        fake.close_channel = closing
        self.tokens_used: list[str] = []

    def refresh(self, refresh_token: str, scopes: tuple[str, ...] = ()) -> Grant:
        self.refreshed.append(refresh_token)
        return Grant("tok-new", "ref-new", _now() + timedelta(hours=1), scopes)

    def revoke(self, token: str) -> None:
        if self.fail_revoke is not None:
            raise self.fail_revoke
        self.steps.append(("revoke", token))


@pytest.fixture
def flow(env):
    fake_flow = FakeFlow(env.fake)
    env.hub.use("flow", env.fake.name, fake_flow)
    return fake_flow


def _retire_jobs(env, cid: str) -> list[Job]:
    return env.jobs(RETIRE, cid)


def _run_job(env, job: Job, fails: bool = False) -> None:
    """One attempt through the job store, as a worker makes it (claim, run, finish or fail)."""
    with env.hub.db.session() as s:
        s.get(Job, job.id).run_at = _now() - timedelta(seconds=1)  # due now (a retry waits)
    if fails:
        with pytest.raises(ProviderError):  # raised: the worker logs it, the row is retried
            catalog.run_stored_job(env.hub, {"job_id": job.id})
    else:
        catalog.run_stored_job(env.hub, {"job_id": job.id})


def test_disconnect_is_immediate_and_a_job_stops_the_channel_then_revokes(env, flow):
    cid = env.connection()
    env.subscribe()
    row, secret = env.open(cid)
    delete_connection(env.hub, env.tenant_id, cid)
    # Gone at once, announced, and nothing asked of the provider on the way.
    with env.hub.db.session() as s:
        assert s.get(Connection, cid) is None and s.get(SyncChannel, row.id) is None
    assert [d["data"]["connection_id"] for d in env.deliveries("connection.deleted")] == [cid]
    assert flow.steps == [] and env.fake.closed == []
    [job] = _retire_jobs(env, cid)
    assert job.payload["channels"] == [{"channel_id": row.external_id, "resource_id": row.resource_id,
                                        "expires_at": row.expires_at.isoformat()}]
    # The tokens travel sealed to the job's row: not in clear, not openable as the connection's.
    assert {"tok", "ref"}.isdisjoint(str(v) for v in job.payload.values())
    with pytest.raises(VaultError):
        env.hub.vault.decrypt(job.payload["refresh_token_enc"], refresh_binding(cid))
    assert env.hub.vault.decrypt(job.payload["refresh_token_enc"],
                                 disconnect.job_binding(job.id, "refresh_token_enc")) == "ref"
    # The deleted connection's channel is no longer the hub's: its notices are refused.
    assert env.notify(row.external_id, secret, resource_id=row.resource_id).status_code == 404

    _run_job(env, job)
    assert flow.steps == [("stop", row.external_id), ("revoke", "ref")]
    assert flow.tokens_used == ["tok"]
    with env.hub.db.session() as s:
        done = s.get(Job, job.id)
        assert done.status == "done"
        assert done.payload["access_token_enc"] is None and done.payload["refresh_token_enc"] is None
    _run_job(env, job)  # a duplicate message: the job is done, nothing happens again
    assert len(flow.steps) == 2


def test_a_failing_provider_is_retried_and_the_retry_does_only_what_is_left(env, flow):
    cid = env.connection()
    first, _ = env.open(cid)
    second, _ = env.open_another(cid)
    down = ProviderError(ErrorKind.PROVIDER_DOWN, "Backend Error", provider="google", cause="provider_unavailable")
    close = env.fake.close_channel

    def flaky(token, channel):
        if channel.channel_id == second.external_id and down is not None:
            raise down
        close(token, channel)

    env.fake.close_channel = flaky
    delete_connection(env.hub, env.tenant_id, cid)
    [job] = _retire_jobs(env, cid)
    _run_job(env, job, fails=True)
    # The first channel stopped; the second failed, so the grant is not revoked yet (after that
    # no token could stop the channel).
    assert flow.steps == [("stop", first.external_id)]
    with env.hub.db.session() as s:
        row = s.get(Job, job.id)
        assert row.status == "pending" and row.run_at > _now() and "ProviderError" in row.last_error
        assert [c["channel_id"] for c in row.payload["channels"]] == [second.external_id]
    down = None
    _run_job(env, job)
    assert flow.steps == [("stop", first.external_id), ("stop", second.external_id), ("revoke", "ref")]


def test_on_the_last_attempt_the_grant_is_revoked_anyway_and_the_failure_is_reported(env, flow):
    cid = env.connection()
    row, _ = env.open(cid)

    def down(token, channel):
        raise ProviderError(ErrorKind.PROVIDER_DOWN, "Backend Error", provider="google")

    env.fake.close_channel = down
    delete_connection(env.hub, env.tenant_id, cid)
    [job] = _retire_jobs(env, cid)
    with env.hub.db.session() as s:
        s.get(Job, job.id).attempts = store.MAX_ATTEMPTS - 1
    with structlog.testing.capture_logs() as logs:
        _run_job(env, job, fails=True)
    assert flow.steps == [("revoke", "ref")]
    [gave_up] = [e for e in logs if e["event"] == "disconnect_gave_up"]
    assert gave_up["log_level"] == "error" and gave_up["channels_left"] == 1 and gave_up["grant_revoked"] is True
    assert [e["job"] for e in logs if e["event"] == "job_gave_up"] == [RETIRE]
    with env.hub.db.session() as s:
        failed = s.get(Job, job.id)
        assert failed.status == "failed"
        assert failed.payload["access_token_enc"] is None and failed.payload["refresh_token_enc"] is None


def test_a_refused_revocation_is_final_and_logged(env, flow):
    cid = env.connection()
    flow.fail_revoke = ProviderError(ErrorKind.AUTH_REVOKED, "Token expired or revoked", provider="google",
                                     cause="token_revoked")
    delete_connection(env.hub, env.tenant_id, cid)
    [job] = _retire_jobs(env, cid)
    assert job.payload["channels"] == []
    with structlog.testing.capture_logs() as logs:
        _run_job(env, job)
    assert [e["cause"] for e in logs if e["event"] == "disconnect_revoke_refused"] == ["token_revoked"]
    with env.hub.db.session() as s:
        assert s.get(Job, job.id).status == "done"


def test_a_stale_access_token_is_refreshed_to_stop_the_channel(env, flow):
    cid = env.connection()
    row, _ = env.open(cid)
    with env.hub.db.session() as s:
        s.get(Connection, cid).access_expires_at = _now() - timedelta(minutes=1)
    delete_connection(env.hub, env.tenant_id, cid)
    [job] = _retire_jobs(env, cid)
    _run_job(env, job)
    assert flow.refreshed == ["ref"] and flow.tokens_used == ["tok-new"]
    # Revoked with the newest refresh token the provider handed out.
    assert flow.steps == [("stop", row.external_id), ("revoke", "ref-new")]


def test_an_account_connected_again_before_the_job_ran_keeps_its_new_grant(env, flow):
    cid = env.connection()
    with env.hub.db.session() as s:
        conn = s.get(Connection, cid)
        account, user_row = conn.provider_account_id, conn.user_id
    delete_connection(env.hub, env.tenant_id, cid)
    with env.hub.db.session() as s:  # the person connects the same account again
        again = Connection(tenant_id=env.tenant_id, user_id=user_row, provider=env.fake.name,
                           provider_account_id=account, account_email=account, capabilities=["calendar"], scopes=[],
                           consented_at=_now() + timedelta(seconds=1))
        s.add(again)
    [job] = _retire_jobs(env, cid)
    with structlog.testing.capture_logs() as logs:
        _run_job(env, job)
    assert flow.steps == []
    assert [e["reason"] for e in logs if e["event"] == "revoke_skipped"] == ["account_connected_again"]


def test_a_hub_whose_keys_cannot_open_the_sealed_tokens_leaves_the_job_to_one_that_can(env, flow, db_url,
                                                                                    monkeypatch):
    from hub.services.sync.records import ForeignCredentials
    cid = env.connection()
    row, _ = env.open(cid)
    delete_connection(env.hub, env.tenant_id, cid)
    [job] = _retire_jobs(env, cid)
    other = create_app({"database_url": db_url, "encryption_keys": TokenVault.generate_key_spec("x"),
                        "log_json": False, "webhook_worker": False})
    stranger = other.extensions["hub"]
    install(monkeypatch, stranger, env.fake)
    stranger.use("flow", env.fake.name, flow)
    try:
        with env.hub.db.session() as s:
            s.get(Job, job.id).run_at = _now() - timedelta(seconds=1)
        with pytest.raises(ForeignCredentials):
            catalog.run_stored_job(stranger, {"job_id": job.id})
    finally:
        stranger.close()
    assert flow.steps == []
    with env.hub.db.session() as s:
        kept = s.get(Job, job.id)
        assert kept.status == "pending" and kept.payload["refresh_token_enc"] == job.payload["refresh_token_enc"]
    _run_job(env, job)  # a process with the keys does it
    assert flow.steps == [("stop", row.external_id), ("revoke", "ref")]


def test_a_channel_opened_while_the_connection_was_deleted_is_stopped_with_the_token_that_opened_it(env, flow):
    cid = env.connection()
    opening = env.fake.open_channel

    def open_then_disconnected(token, request):
        pushed = opening(token, request)
        delete_connection(env.hub, env.tenant_id, cid)  # the person disconnects meanwhile
        return pushed

    env.fake.open_channel = open_then_disconnected
    assert channels.open_channel(env.hub, cid) is None
    [closed] = env.fake.closed
    assert closed.channel_id == f"ext-{env.fake.opened[-1].channel_id}" and flow.tokens_used == ["tok"]
    with env.hub.db.session() as s:
        assert s.execute(select(SyncChannel).where(SyncChannel.connection_id == cid)).first() is None


def test_sweep_opens_missing_channels_and_marks_expired_ones(env):
    cid = env.connection()
    channels.sweep(env.hub)
    assert env.jobs(OPEN, cid)
    row, _ = env.open(cid)
    with env.hub.db.session() as s:
        s.get(SyncChannel, row.id).expires_at = _now() - timedelta(minutes=1)
    channels.sweep(env.hub)
    assert env.channel(cid, "expired").id == row.id
    assert any(j.key.endswith(f"expired:{row.id}") for j in env.jobs(OPEN, cid))


# --- the receiver -----------------------------------------------------------------------------

def test_verified_notice_marks_dirty_and_queues_one_sync_per_burst(env):
    cid = env.connection()
    row, secret = env.open(cid)
    before = len(env.jobs(RUN, cid))
    for n in range(5):
        r = env.notify(row.external_id, secret, resource_id=row.resource_id, dedupe_key=str(n))
        assert r.status_code == 200, r.json
    assert env.state(cid).dirty_since is not None
    assert len(env.jobs(RUN, cid)) == before + 1
    # Acknowledged without a provider call: the sync is the job's (the 3 s answer never waits).
    assert (env.fake.syncs, env.fake.event_reads, len(env.fake.opened)) == ([], [], 1)


@pytest.mark.parametrize("forgery", ["secret", "channel", "resource", "no_secret"])
def test_forged_notices_are_refused_and_change_nothing(env, forgery):
    cid = env.connection()
    row, secret = env.open(cid)
    before = len(env.jobs(RUN, cid))
    channel_id, given, resource = row.external_id, secret, row.resource_id
    if forgery == "secret":
        given = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    elif forgery == "channel":
        channel_id = "ext-unknown"
    elif forgery == "resource":
        resource = "res-other"
    else:
        given = None
    r = env.notify(channel_id, given, resource_id=resource)
    assert r.status_code == (404 if forgery == "channel" else 401)
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert r.json["code"] == ("channel_unknown" if forgery == "channel" else "webhook_signature_invalid")
    # A short title, and a detail telling the sender that nothing happened.
    assert r.json["title"] != r.json["detail"] and "nothing was done" in r.json["detail"]
    state = env.state(cid)
    assert state is None or state.dirty_since is None
    assert len(env.jobs(RUN, cid)) == before
    assert env.channel(cid).last_notice_at is None


def test_one_forged_notice_refuses_the_whole_request(env):
    cid = env.connection()
    row, secret = env.open(cid)
    body = [{"channel_id": row.external_id, "secret": secret, "kind": "changed", "resource_id": row.resource_id},
            {"channel_id": row.external_id, "secret": "wrong", "kind": "changed", "resource_id": row.resource_id}]
    assert env.client.post("/webhooks/google", data=json.dumps(body)).status_code == 401
    assert env.state(cid) is None or env.state(cid).dirty_since is None


def test_duplicate_is_acknowledged_and_does_nothing(env):
    cid = env.connection()
    row, secret = env.open(cid)
    assert env.notify(row.external_id, secret, resource_id=row.resource_id, dedupe_key="m1").status_code == 200
    jobs_after_first = len(env.jobs(RUN, cid))
    with env.hub.db.session() as s:
        s.get(SyncState, cid).dirty_since = None  # as if the sync ran
    r = env.notify(row.external_id, secret, resource_id=row.resource_id, dedupe_key="m1")
    assert r.status_code == 200 and r.json == {"status": "duplicate"}
    assert env.state(cid).dirty_since is None and len(env.jobs(RUN, cid)) == jobs_after_first


def test_validation_token_is_echoed_as_text(env):
    r = env.client.post("/webhooks/google?validationToken=Validation%3A+Testing+client+application")
    assert r.status_code == 200 and r.mimetype == "text/plain"
    assert r.get_data(as_text=True) == "Validation: Testing client application"


def test_not_a_notification_is_400(env):
    r = env.client.post("/webhooks/google", data="{}")
    assert r.status_code == 400 and r.json["code"] == "bad_request"
    assert "google" in r.json["detail"] and "google" not in r.json["title"]  # the detail names the format expected


def test_lifecycle_notices_queue_what_they_ask_for(env):
    cid = env.connection()
    row, secret = env.open(cid)
    assert env.notify(row.external_id, secret, "reauthorize", resource_id=row.resource_id).status_code == 200
    assert any("reauth" in j.key for j in env.jobs(RENEW, row.id))
    assert env.notify(row.external_id, secret, "missed", resource_id=row.resource_id).status_code == 200
    assert any(":missed:" in j.key for j in env.jobs(RUN, cid))
    assert env.notify(row.external_id, secret, "removed", resource_id=row.resource_id).status_code == 200
    assert [j.payload for j in env.jobs(OPEN, cid) if "removed" in j.key] == [
        {"connection_id": cid, "replacing": row.id, "resync": True}]
    channels.open_channel(env.hub, cid, replacing=row.id)
    assert env.channel(cid).id != row.id


def test_late_notice_of_a_stopped_channel_is_acknowledged_only(env):
    cid = env.connection()
    row, secret = env.open(cid)
    with env.hub.db.session() as s:
        s.get(SyncChannel, row.id).status = "stopped"
    before = len(env.jobs(RUN, cid))
    assert env.notify(row.external_id, secret, resource_id=row.resource_id).status_code == 200
    assert len(env.jobs(RUN, cid)) == before


# --- the runner -------------------------------------------------------------------------------

def _at(hours: int) -> datetime:
    return _now().replace(minute=0, second=0) + timedelta(hours=hours)


def test_full_then_incremental_sync_fill_the_cache(env):
    cid = env.connection()
    env.fake.put(SyncedEvent("a", start=_at(2), end=_at(3), title="A"))
    env.fake.put(SyncedEvent("far", start=_now() + timedelta(days=90), end=_now() + timedelta(days=90, hours=1)))
    env.open(cid)
    assert runner.run(env.hub, cid) == "full"
    with env.hub.db.session() as s:
        assert set(s.execute(select(CachedEvent.event_id).where(CachedEvent.connection_id == cid)).scalars()) == {"a"}
    state = env.state(cid)
    day = _now().replace(hour=0, minute=0, second=0)
    assert (state.window_start, state.window_end) == (day - timedelta(days=1), day + timedelta(days=63))
    env.fake.put(SyncedEvent("b", start=_at(4), end=_at(5)))
    env.fake.put(SyncedEvent("a", cancelled=True))
    assert runner.run(env.hub, cid) == "synced"
    assert env.fake.syncs[-1] == env.fake.syncs[-1] and env.fake.syncs[-1] is not None
    with env.hub.db.session() as s:
        assert set(s.execute(select(CachedEvent.event_id).where(CachedEvent.connection_id == cid)).scalars()) == {"b"}
    fresh = busy_cache.freshness(env.hub.db.session().__enter__(), [cid], _at(1), _at(6), _now(),
                                 timedelta(minutes=5))
    assert cid in fresh


def test_refused_cursor_wipes_and_resyncs_in_full(env):
    cid = env.connection()
    env.fake.put(SyncedEvent("a", start=_at(2), end=_at(3)))
    env.open(cid)
    runner.run(env.hub, cid)
    with env.hub.db.session() as s:  # something the cache holds that the calendar no longer has
        s.add(CachedEvent(connection_id=cid, event_id="ghost", tenant_id=env.tenant_id, start=_at(7), end=_at(8),
                          attendees=[]))
    env.fake.cursor_refused = True
    assert runner.run(env.hub, cid) == "full"
    assert env.fake.syncs[-2:] == [env.fake.syncs[-2], None] and env.fake.syncs[-2] is not None
    with env.hub.db.session() as s:
        assert set(s.execute(select(CachedEvent.event_id).where(CachedEvent.connection_id == cid)).scalars()) == {"a"}


def test_dirty_is_cleared_only_when_no_notice_came_during_the_sync(env):
    cid = env.connection()
    row, secret = env.open(cid)
    env.notify(row.external_id, secret, resource_id=row.resource_id)
    runner.run(env.hub, cid)
    assert env.state(cid).dirty_since is None
    env.notify(row.external_id, secret, resource_id=row.resource_id)
    original = env.fake.sync

    def sync_while_notified(token, cursor, start, end):  # a notice lands while the provider answers
        with env.hub.db.session() as s:
            s.get(SyncChannel, row.id).last_notice_at = datetime.now(timezone.utc) + timedelta(seconds=1)
        return original(token, cursor, start, end)

    env.fake.sync = sync_while_notified
    runner.run(env.hub, cid)
    assert env.state(cid).dirty_since is not None
    assert any(":again:" in j.key for j in env.jobs(RUN, cid))


def test_failed_sync_is_recorded_and_raised_for_retry(env):
    cid = env.connection()
    env.open(cid)

    def down(token, cursor, start, end):
        raise ProviderError(ErrorKind.PROVIDER_DOWN, "Backend Error", provider="google", cause="provider_unavailable")

    env.fake.sync = down
    with pytest.raises(ProviderError):
        runner.run(env.hub, cid)
    r = env.client.get(f"/v1/connections/{cid}/sync", headers=env.headers)
    assert [e["cause"] for e in r.json["errors"]] == ["provider_unavailable"]


def test_resync_sweep_queues_stale_connections(env):
    cid = env.connection()
    env.open(cid)
    runner.run(env.hub, cid)
    with env.hub.db.session() as s:
        s.get(SyncState, cid).last_synced_at = _now() - timedelta(minutes=3)  # > max age / 2
    runner.sweep(env.hub)
    assert any(":sweep:" in j.key for j in env.jobs(RUN, cid))


# --- change webhooks ----------------------------------------------------------------------------

def test_moved_retitled_answered_and_deleted_events_become_webhooks(env):
    cid = env.connection()
    env.subscribe()
    start = _at(26)
    event_id = env.hub_event(cid, "pe1", start)
    env.fake.put(SyncedEvent("pe1", start=start, end=start + timedelta(hours=1), title="Interview",
                             attendees=(AttendeeResponse("cand@example.com", "needs_action"),)))
    env.open(cid)
    runner.run(env.hub, cid)
    assert env.deliveries("event.updated") == []  # as the hub stored it: nothing to say
    moved = start + timedelta(hours=2)
    env.fake.put(SyncedEvent("pe1", start=moved, end=moved + timedelta(hours=1), title="Interview (moved)",
                             attendees=(AttendeeResponse("Cand@Example.com", "declined"),)))
    runner.run(env.hub, cid)
    [update] = env.deliveries("event.updated")
    data = update["data"]
    assert data["id"] == event_id and data["changed_by"] == "provider"
    assert data["start"] == moved.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert data["changes"]["start"]["previous"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert data["changes"]["title"] == {"previous": "Interview", "current": "Interview (moved)"}
    assert data["changes"]["attendees"] == [{"email": "cand@example.com", "previous": "needs_action",
                                             "current": "declined"}]
    assert data["attendees"][0]["response_status"] == "declined"
    r = env.client.get(f"/v1/events/{event_id}", headers=env.headers)
    assert r.json["attendees"][0]["response_status"] == "declined" and r.json["title"] == "Interview (moved)"
    runner.run(env.hub, cid)  # nothing new: nothing sent
    assert len(env.deliveries("event.updated")) == 1
    env.fake.put(SyncedEvent("pe1", cancelled=True))
    runner.run(env.hub, cid)
    [cancelled] = env.deliveries("event.cancelled")
    assert cancelled["data"]["id"] == event_id and cancelled["data"]["status"] == "cancelled"


def test_full_sync_missing_a_hub_event_in_the_window_cancels_it(env):
    cid = env.connection()
    env.subscribe()
    event_id = env.hub_event(cid, "gone", _at(30))
    env.open(cid)
    runner.run(env.hub, cid)
    assert [d["data"]["id"] for d in env.deliveries("event.cancelled")] == [event_id]

    assert env.fake.event_reads == ["gone"]  # confirmed by reading the event itself


def test_a_hub_event_gone_from_the_window_because_it_moved_is_a_move(env):
    """Not listed by a full sync, or reported removed by a windowed delta (Graph), yet still
    there: moved beyond the window. The event's own read tells; the backend hears of a move."""
    cid = env.connection()
    env.subscribe()
    start = _at(30)
    listed_id = env.hub_event(cid, "far1", start)
    removed_id = env.hub_event(cid, "far2", start)
    far = start + timedelta(days=90)
    env.fake.put(SyncedEvent("far1", start=far, end=far + timedelta(hours=1), title="Interview"))
    env.fake.put(SyncedEvent("far2", start=start, end=start + timedelta(hours=1), title="Interview"))
    env.open(cid)
    runner.run(env.hub, cid)  # full: far1 is not in the window
    env.fake.put(SyncedEvent("far2", start=far, end=far + timedelta(hours=1), title="Interview"))
    with env.fake.lock:  # …and a windowed delta says "removed" for it
        env.fake.log.append((env.fake.sequence, SyncedEvent("far2", cancelled=True)))
    runner.run(env.hub, cid)
    assert env.deliveries("event.cancelled") == []
    updates = {u["data"]["id"]: u["data"] for u in env.deliveries("event.updated")}
    assert set(updates) == {listed_id, removed_id}
    for update in updates.values():
        assert update["changes"]["start"]["current"] == far.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert update["status"] == "confirmed" and update["changed_by"] == "provider"
    assert sorted(env.fake.event_reads) == ["far1", "far2"]


def test_a_failed_confirmation_read_cancels_nothing_and_fails_the_sync(env):
    cid = env.connection()
    env.subscribe()
    event_id = env.hub_event(cid, "unsure", _at(30))
    env.open(cid)

    def down(token, event_id):
        raise ProviderError(ErrorKind.PROVIDER_DOWN, "read failed", provider="google")

    env.fake.read_event = down
    with pytest.raises(ProviderError):
        runner.run(env.hub, cid)
    assert env.deliveries("event.cancelled") == []
    with env.hub.db.session() as s:
        assert s.get(Event, event_id).status == "confirmed"
    assert env.state(cid).errors and env.state(cid).errors[-1]["kind"] == "provider_down"


# --- status and diagnostics -------------------------------------------------------------------

def test_sync_status_is_tenant_scoped(env):
    cid = env.connection()
    env.open(cid)
    runner.run(env.hub, cid)
    r = env.client.get(f"/v1/connections/{cid}/sync", headers=env.headers)
    assert r.status_code == 200
    assert r.json["channel"]["status"] == "active" and r.json["last_synced_at"] and r.json["window"]["start"]
    _, other = create_api_key(env.hub.db, f"other-{uuid.uuid4().hex[:6]}")
    r = env.client.get(f"/v1/connections/{cid}/sync", headers={"Authorization": f"Bearer {other}"})
    assert r.status_code == 404


def test_diagnostics_rule_names_channel_failed():
    from hub.services.diagnostics.model import ConnectionState
    from hub.services.diagnostics.providers import ProviderFacts
    now = _now()
    state = ConnectionState("c1", "u1", "google", "a", "a@example.com", "active", (), ("calendar",), now, now,
                            None, None, None, 0, 0, None, {})
    facts = ProviderFacts.__new__(ProviderFacts)
    object.__setattr__(facts, "title", "Google Calendar")
    ev = rules.Evidence(state, facts)
    ev.sync = SyncStatus("failed", None, {"at": now, "cause": "provider_unavailable", "message": "no route"},
                         None, None, None, [])
    check = rules.sync_check(ev, now)
    assert check is not None and check.status == "fail" and check.cause == "channel_failed"
    assert "no route" in check.detail
    ev.sync = SyncStatus("failed", None, {"at": now, "kind": "rate_limited", "cause": "rate_limited"}, None, None,
                         None, [])
    assert rules.sync_check(ev, now).status == "warn"  # retried by itself; the cause shows where it hit
    ev.sync = SyncStatus("active", now + timedelta(days=6), None, now, now, now + timedelta(days=60), [])
    assert rules.sync_check(ev, now).status == "pass"


def test_a_hub_that_cannot_read_the_tokens_leaves_the_connection_alone(env, db_url, monkeypatch):
    """Jobs are shared through the database; a process whose keys cannot open the connection's
    tokens must not declare it dead (the next API use names the cause) — it fails, for a retry."""
    from hub.services.sync.records import ForeignCredentials
    cid = env.connection()
    other = create_app({"database_url": db_url, "encryption_keys": TokenVault.generate_key_spec("x"),
                        "log_json": False, "webhook_worker": False})
    hub = other.extensions["hub"]
    install(monkeypatch, hub, env.fake)
    try:
        with pytest.raises(ForeignCredentials):
            channels.open_channel(hub, cid)
        with pytest.raises(ForeignCredentials):
            runner.run(hub, cid)
    finally:
        hub.close()
    with env.hub.db.session() as s:
        assert s.get(Connection, cid).status == "active"
    assert env.fake.opened == []


def test_refused_notifications_count_against_the_sender(db_url, monkeypatch):
    app = create_app({"database_url": db_url, "encryption_keys": TokenVault.generate_key_spec("r"),
                      "log_json": False, "webhook_worker": False, "rate_limit_failed_auth": "3/minute",
                      "rate_limit_key_prefix": f"t{uuid.uuid4().hex[:6]}"})
    hub = app.extensions["hub"]
    install(monkeypatch, hub, FakeSync())
    try:
        client = app.test_client()
        body = json.dumps([{"channel_id": "nope", "secret": "x", "kind": "changed"}])
        codes = [client.post("/webhooks/google", data=body).status_code for _ in range(4)]
        assert codes == [404, 404, 404, 429]
    finally:
        hub.close()


def test_a_move_at_the_provider_moves_the_attendance_deadlines_and_a_deletion_stops_them(env):
    from hub.storage.models import AttendanceCheck, AttendanceWatch
    cid = env.connection()
    start = _at(30)
    event_id = env.hub_event(cid, "att1", start)
    with env.hub.db.session() as s:
        s.add(AttendanceWatch(event_id=event_id, tenant_id=env.tenant_id, grace_minutes=10, late_after_minutes=3,
                              candidate_email="cand@example.com", candidate_name=None, interviewers=[],
                              provider="google", connection_id=cid, created_at=_now()))
        s.flush()
        for kind, minutes in (("late", 3), ("deadline", 10)):
            s.add(AttendanceCheck(event_id=event_id, tenant_id=env.tenant_id, kind=kind,
                                  due_at=start + timedelta(minutes=minutes)))
    env.fake.put(SyncedEvent("att1", start=start, end=start + timedelta(hours=1), title="Interview"))
    env.open(cid)
    runner.run(env.hub, cid)
    moved = start + timedelta(hours=2)
    env.fake.put(SyncedEvent("att1", start=moved, end=moved + timedelta(hours=1), title="Interview"))
    runner.run(env.hub, cid)

    def checks() -> dict[str, tuple[datetime, str]]:
        with env.hub.db.session() as s:
            return {c.kind: (c.due_at, c.status) for c in s.execute(
                select(AttendanceCheck).where(AttendanceCheck.event_id == event_id)).scalars()}

    assert checks() == {"late": (moved + timedelta(minutes=3), "pending"),
                        "deadline": (moved + timedelta(minutes=10), "pending")}
    env.fake.put(SyncedEvent("att1", cancelled=True))
    runner.run(env.hub, cid)
    assert {status for _, status in checks().values()} == {"cancelled"}


def test_a_row_the_hub_wrote_after_the_provider_was_read_is_left_to_the_next_sync(env):
    """The hub's own PATCH writes its row after the provider accepted the move; a sync that
    read the calendar just before must not take its older answer for a change made there."""
    cid, event_id, start = _synced_hub_event(env, "race1", 28)
    env.fake.put(SyncedEvent("race1", start=start, end=start + timedelta(hours=1), title="Interview"))
    moved = start + timedelta(hours=1)
    original = env.fake.sync

    def read_then_hub_writes(token, cursor, s, e):
        batch = original(token, cursor, s, e)  # the calendar as it was when read
        with env.hub.db.session() as session:  # …then the hub's PATCH lands in its own row
            row = session.get(Event, event_id)
            row.start, row.end = moved, moved + timedelta(hours=1)
        return batch

    env.fake.sync = read_then_hub_writes
    runner.run(env.hub, cid)
    assert env.deliveries("event.updated") == []
    with env.hub.db.session() as s:
        assert s.get(Event, event_id).start == moved


def test_a_removal_reported_outside_the_window_cancels_nothing(env):
    """Graph's windowed delta reports a change to an event outside its window as removed."""
    cid = env.connection()
    env.subscribe()
    past = _now() - timedelta(days=30)
    event_id = env.hub_event(cid, "old1", past)
    env.open(cid)
    runner.run(env.hub, cid)
    env.fake.put(SyncedEvent("old1", cancelled=True))
    runner.run(env.hub, cid)
    assert env.deliveries("event.cancelled") == []
    assert env.client.get(f"/v1/events/{event_id}", headers=env.headers).json["status"] == "confirmed"


class _CalendarSyncedMidWrite:
    """A calendar adapter whose write lands at the provider and is then seen by a sync before
    the hub's own row is written — the order a push notification can bring at any time."""

    def __init__(self, env, cid: str, fail: bool = False, answers: tuple = ()) -> None:
        self.env, self.cid, self.fail, self.answers = env, cid, fail, answers

    def update_event(self, token, event_id, changes):
        previous = self.env.fake.events[event_id]
        self.env.fake.put(SyncedEvent(event_id, start=changes.start, end=changes.end, title=previous.title,
                                      attendees=self.answers))
        runner.run(self.env.hub, self.cid)
        if self.fail:
            raise ProviderError(ErrorKind.PROVIDER_DOWN, "answer lost", provider="google")
        return None

    def cancel_event(self, token, event_id, send_updates=True):
        self.env.fake.put(SyncedEvent(event_id, cancelled=True))
        runner.run(self.env.hub, self.cid)


def _synced_hub_event(env, provider_event_id: str = "mid1", hours: int = 30) -> tuple[str, str, datetime]:
    """A hub event the provider holds as is, synced once (full), with a webhook subscriber."""
    cid = env.connection()
    env.subscribe()
    start = _at(hours)
    event_id = env.hub_event(cid, provider_event_id, start)
    env.fake.put(SyncedEvent(provider_event_id, start=start, end=start + timedelta(hours=1), title="Interview"))
    env.open(cid)
    runner.run(env.hub, cid)
    return cid, event_id, start


def _organizer(env, event_id: str) -> str:
    with env.hub.db.session() as s:
        return s.get(User, s.get(Event, event_id).organizer_id).external_id


def test_a_sync_during_the_hubs_own_move_reports_nothing_as_the_providers(env):
    cid, event_id, start = _synced_hub_event(env)
    env.hub.use("calendar", "google", _CalendarSyncedMidWrite(env, cid))
    moved = start + timedelta(hours=2)
    r = env.client.patch(f"/v1/events/{event_id}", headers=env.headers,
                         json={"start": moved.isoformat(), "end": (moved + timedelta(hours=1)).isoformat()})
    assert r.status_code == 200, r.json
    updates = env.deliveries("event.updated")
    assert [u["data"].get("changed_by") for u in updates] == [None]  # the hub's own message, once
    assert updates[0]["data"]["start"] == moved.strftime("%Y-%m-%dT%H:%M:%SZ")
    with env.hub.db.session() as s:
        row = s.get(Event, event_id)
        assert row.start == moved and row.write_started_at is None


def test_a_persons_answer_seen_during_the_hubs_own_move_is_reported_by_the_next_sync(env):
    """The deferred incremental batch is not delivered again: the next sync lists in full."""
    cid, event_id, start = _synced_hub_event(env)
    answer = (AttendeeResponse("cand@example.com", "declined"),)
    env.hub.use("calendar", "google", _CalendarSyncedMidWrite(env, cid, answers=answer))
    moved = start + timedelta(hours=2)
    r = env.client.patch(f"/v1/events/{event_id}", headers=env.headers,
                         json={"start": moved.isoformat(), "end": (moved + timedelta(hours=1)).isoformat()})
    assert r.status_code == 200, r.json
    assert env.state(cid).cursor is None
    runner.run(env.hub, cid)
    by_provider = [u["data"] for u in env.deliveries("event.updated") if u["data"].get("changed_by")]
    assert [u["changes"] for u in by_provider] == [
        {"attendees": [{"email": "cand@example.com", "previous": "needs_action", "current": "declined"}]}]
    assert env.state(cid).cursor is not None


def test_a_sync_during_the_hubs_own_cancel_reports_nothing_as_the_providers(env):
    cid, event_id, _ = _synced_hub_event(env)
    env.hub.use("calendar", "google", _CalendarSyncedMidWrite(env, cid))
    r = env.client.delete(f"/v1/events/{event_id}", headers=env.headers)
    assert r.status_code == 204
    assert [c["data"].get("changed_by") for c in env.deliveries("event.cancelled")] == [None]


def test_a_failed_write_drops_its_mark_and_a_sync_then_finds_what_changed(env):
    """The sync skipped the row while the write was in flight; after the failure the mark goes
    and a sync is queued, which reports the calendar as it now is."""
    cid, event_id, start = _synced_hub_event(env)
    env.hub.use("calendar", "google", _CalendarSyncedMidWrite(env, cid, fail=True))
    moved = start + timedelta(hours=3)
    before = len(env.jobs(RUN, cid))
    r = env.client.patch(f"/v1/events/{event_id}", headers=env.headers,
                         json={"start": moved.isoformat(), "end": (moved + timedelta(hours=1)).isoformat()})
    assert r.status_code == 502 and r.json["detail"] == "answer lost", r.json
    assert env.deliveries("event.updated") == []
    with env.hub.db.session() as s:
        assert s.get(Event, event_id).write_started_at is None
    assert len(env.jobs(RUN, cid)) > before
    runner.run(env.hub, cid)
    assert [u["data"]["changed_by"] for u in env.deliveries("event.updated")] == ["provider"]


def test_a_write_mark_left_by_a_crashed_process_expires(env):
    cid, event_id, start = _synced_hub_event(env)
    with env.hub.db.session() as s:
        s.get(Event, event_id).write_started_at = _now() - timedelta(minutes=11)
    moved = start + timedelta(hours=4)
    env.fake.put(SyncedEvent("mid1", start=moved, end=moved + timedelta(hours=1), title="Interview"))
    runner.run(env.hub, cid)
    assert [u["data"]["changed_by"] for u in env.deliveries("event.updated")] == ["provider"]


def test_with_sync_switched_off_a_queued_run_reads_nothing(env, monkeypatch):
    """HUB_SYNC_ENABLED=false: the hub's own writes still queue runs (they mark the connection
    behind); such a run must not read the provider and make a stale cache look fresh."""
    from hub.jobs.catalog import run_sync
    cid = env.connection()
    env.open(cid)
    runner.run(env.hub, cid)
    before = list(env.fake.syncs)
    settings = env.hub.settings
    monkeypatch.setattr(env.hub, "settings", replace(settings, sync_enabled=False))
    run_sync(env.hub, {"connection_id": cid})
    assert env.fake.syncs == before
    monkeypatch.setattr(env.hub, "settings", settings)
    run_sync(env.hub, {"connection_id": cid})
    assert len(env.fake.syncs) == len(before) + 1


def test_with_sync_off_the_push_receiver_is_not_there(db_url, monkeypatch):
    """HUB_SYNC_ENABLED=false: no channel was opened, so nothing may be accepted or echoed."""
    app = create_app({"database_url": db_url, "encryption_keys": TokenVault.generate_key_spec("o"),
                      "log_json": False, "webhook_worker": False, "sync_enabled": False})
    hub = app.extensions["hub"]
    install(monkeypatch, hub, FakeSync())
    try:
        client = app.test_client()
        body = json.dumps([{"channel_id": "any", "secret": "x", "kind": "changed"}])
        missing = client.post("/webhooks/nosuch").json  # what a route that does not exist answers
        expected = {**missing, "detail": missing["detail"].replace("/webhooks/nosuch", "/webhooks/google")}
        for r in (client.post("/webhooks/google", data=body),
                  client.post("/webhooks/google?validationToken=echo-me")):
            assert r.status_code == 404 and r.json == expected
    finally:
        hub.close()


@pytest.mark.parametrize("env", ["microsoft"], indirect=True)
@pytest.mark.parametrize("lifecycle", [False, True])
def test_graph_is_answered_202_on_both_routes_and_each_request_is_logged(env, lifecycle):
    """Graph wants 202 Accepted. Operators read the receiver from its log: which provider, what
    came of it, how many notices, which route."""
    cid = env.connection()
    row, secret = env.open(cid)
    notes = [{"channel_id": row.external_id, "secret": secret, "kind": "changed", "resource_id": row.resource_id,
              "dedupe_key": f"{lifecycle}-{n}"} for n in range(2)]
    path = "/webhooks/microsoft" + ("/lifecycle" if lifecycle else "")
    with structlog.testing.capture_logs() as logs:
        r = env.client.post(path, data=json.dumps(notes), headers={"X-Test-Header": "kept"})
    assert r.status_code == 202, r.json
    [entry] = [e for e in logs if e["event"] == "calendar_push"]
    assert {k: entry.get(k) for k in ("provider", "outcome", "notices", "lifecycle")} == {
        "provider": "microsoft", "outcome": r.json["status"], "notices": 2, "lifecycle": lifecycle}
    # The adapter reads the request's headers (Google's notices are all headers) and is told
    # which route the notices came by (Graph's lifecycle notices are worded apart).
    [(headers, read_as_lifecycle)] = env.fake.reads
    assert (headers.get("X-Test-Header"), read_as_lifecycle) == ("kept", lifecycle)


def test_only_graph_has_a_lifecycle_route(env):
    """Google sends no lifecycle notifications: its receiver has one route, the rest is missing."""
    cid = env.connection()
    row, secret = env.open(cid)
    r = env.notify(row.external_id, secret, "missed", lifecycle=True, resource_id=row.resource_id)
    assert r.status_code == 404 and r.json["code"] == "not_found"
    assert env.fake.reads == []
