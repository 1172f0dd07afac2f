"""What support sees of background work: `/metrics` and `hub jobs list|retry` (SQLite,
in-process runner; the figures come from the records, so every runner shows the same)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hub.app import create_app
from hub.cli import main
from hub.services.directory import create_api_key
from hub.storage.db import Database
from hub.storage.models import WebhookDelivery
from oauth.vault import TokenVault
from webhooks.outbound.endpoints import create_endpoint
from webhooks.outbound.outbox import enqueue


@pytest.fixture
def setup(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    Database(url).upgrade()
    keys = TokenVault.generate_key_spec("obs")
    for name, value in {"HUB_DATABASE_URL": url, "HUB_ENCRYPTION_KEYS": keys, "HUB_BROKER_URL": "",
                        "HUB_LOG_JSON": "false"}.items():
        monkeypatch.setenv(name, value)
    app = create_app({"webhook_worker": False})
    hub = app.extensions["hub"]
    tenant_id, _ = create_api_key(hub.db, "obs")
    create_endpoint(hub.db, hub.vault, tenant_id, "http://127.0.0.1:9/hooks", ["*"], datetime.now(UTC), allow_private=True)
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    for i in range(3):
        with hub.db.session() as session:
            enqueue(session, tenant_id, "event.created", {"i": i}, now=an_hour_ago)
    with hub.db.session() as session:
        first, second, _ = session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id)).scalars()
        first.status, first.attempts, first.last_error = "failed", 10, "HTTP 500"
        second.status = "delivered"
        ids = (first.id, second.id)
    yield app, hub, ids
    hub.close()


def test_metrics_show_records_by_state_queue_depth_and_age(setup):
    app, _hub, _ = setup
    text = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'hub_jobs{kind="webhook",state="failed"} 1.0' in text
    assert 'hub_jobs{kind="webhook",state="delivered"} 1.0' in text
    assert 'hub_jobs{kind="webhook",state="due"} 1.0' in text
    age = next(line for line in text.splitlines() if line.startswith('hub_jobs_oldest_due_age_seconds{kind="webhook"}'))
    assert 3500 < float(age.split()[-1]) < 3700  # the due one has waited an hour
    assert "hub_jobs_queue_depth 3.0" in text  # three committed, none run: this runner is not started


def test_hub_jobs_lists_and_retries(setup):
    _app, hub, (failed, delivered) = setup
    cli = CliRunner()
    listed = cli.invoke(main, ["jobs", "list"])
    assert listed.exit_code == 0, listed.output
    assert failed in listed.output and "HTTP 500" in listed.output and delivered not in listed.output
    assert delivered in cli.invoke(main, ["jobs", "list", "--state", "done"]).output
    retried = cli.invoke(main, ["jobs", "retry", failed])
    assert retried.exit_code == 0, retried.output
    with hub.db.session() as session:
        row = session.get(WebhookDelivery, failed)
        assert (row.status, row.attempts) == ("pending", 0) and row.next_attempt_at <= datetime.now(UTC)
    refused = cli.invoke(main, ["jobs", "retry", delivered])
    assert refused.exit_code == 1 and "this delivery is delivered" in refused.output


def test_a_failing_job_is_retried_with_backoff_then_given_up(setup):
    """`jobs.run` records each failure on the row and enqueues the next attempt for its time."""
    from hub.jobs import store
    from hub.jobs.catalog import JOBS, JobSpec
    from hub.jobs.inprocess import InProcessRunner
    from hub.jobs.runtime import execute
    from hub.storage.models import Job

    _app, hub, _ = setup
    calls: list[dict] = []

    def flaky(_hub, payload: dict) -> None:
        calls.append(payload)
        raise RuntimeError("the provider said no")

    catalog = {**JOBS, "test.flaky": JobSpec("test.flaky", flaky)}
    hub.jobs = InProcessRunner(hub, catalog)  # not started: the test runs each attempt itself
    now = datetime.now(UTC)
    hub.clock = lambda: now
    with hub.db.session() as session:
        job_id = store.schedule(session, "test.flaky", {"hold": "h1"}, at=now)
    waits = []
    for attempt in range(1, store.MAX_ATTEMPTS + 1):
        assert execute(hub, catalog, store.RUN, {"job_id": job_id}) == "failed"
        with hub.db.session() as session:
            job = session.get(Job, job_id)
        assert job.attempts == attempt and "the provider said no" in (job.last_error or "")
        if job.status == "pending":
            waits.append((job.run_at - now).total_seconds())
            assert execute(hub, catalog, store.RUN, {"job_id": job_id}) == "ok"  # early duplicate: a no-op
            now = job.run_at
    assert job.status == "failed" and len(calls) == store.MAX_ATTEMPTS
    assert waits == [10 * 2 ** i for i in range(store.MAX_ATTEMPTS - 1)]
    assert hub.jobs.queue_depth() >= 1  # each retry was enqueued for its time
