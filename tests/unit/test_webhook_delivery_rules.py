"""Outbound webhooks without a hub: endpoints, the outbox, the delivery worker and the
connection.* messages, on a real database and a real receiver on a loopback port. The end to
end tests (tests/e2e/test_outbound_webhooks.py) drive the same code through a live hub; these
pin each rule down where that is too slow or too indirect."""
from __future__ import annotations

import json
import random
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import structlog
from sqlalchemy import delete, select

from hub.errors import Conflict, Invalid, NotFound
from hub.jobs.dispatch import DISPATCHER
from hub.storage.db import Database
from hub.storage.models import Connection, Tenant, User, WebhookDelivery, WebhookEndpoint
from oauth.vault import Binding, TokenVault, VaultError
from providers.base import ErrorKind, ProviderError
from tests.conftest import own_database
from tests.e2e.test_outbound_webhooks import Receiver
from tests.unit.test_webhook_signing import spec_verify
from webhooks.outbound import connection_events, endpoints, outbox
from webhooks.outbound.delivery import USER_AGENT, DeliveryWorker, Result, _retry_after
from webhooks.outbound.schedule import MAX_ATTEMPTS, next_delay

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


class Jobs:
    """The dispatcher the composition root puts in the session: records what is handed out."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    def enqueue(self, name, payload, at=None) -> None:
        self.sent.append((name, payload))


@pytest.fixture(scope="module")
def jobs() -> Jobs:
    return Jobs()


@pytest.fixture(scope="module")
def db(tmp_path_factory, jobs):
    """A database of its own: a worker takes every due row, whoever queued it."""
    with own_database(tmp_path_factory, "outbound") as url:
        db = Database(url)
        db.session_info[DISPATCHER] = jobs
        yield db
        db.dispose()


@pytest.fixture(autouse=True)
def _no_leftovers(db):
    """What one test leaves queued must not be delivered by the next one's worker."""
    yield
    with db.session() as s:
        s.execute(delete(WebhookDelivery))


@pytest.fixture(scope="module")
def vault() -> TokenVault:
    return TokenVault.from_config(TokenVault.generate_key_spec("w"))


@pytest.fixture
def tenant(db) -> str:
    with db.session() as s:
        row = Tenant(name=f"wh-{uuid.uuid4().hex[:8]}")
        s.add(row)
        s.flush()
        return row.id


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def add_endpoint(db, vault, tenant, url, events=("*",), now=NOW) -> tuple[str, str]:
    view, secret = endpoints.create_endpoint(db, vault, tenant, url, list(events), now, allow_private=True)
    return view.id, secret


def queue(db, tenant, event_type="event.created", data=None, now=NOW) -> None:
    with db.session() as s:
        outbox.enqueue(s, tenant, event_type, data or {"id": "evt_1"}, now=now)


def rows(db, tenant) -> list[WebhookDelivery]:
    with db.session() as s:
        return list(s.execute(select(WebhookDelivery).where(WebhookDelivery.tenant_id == tenant)
                              .order_by(WebhookDelivery.created_at, WebhookDelivery.id)).scalars())


def worker(db, vault, seed=1, **kw) -> DeliveryWorker:
    kw.setdefault("allow_private_urls", True)  # the receiver is on loopback
    return DeliveryWorker(db, vault, lambda: NOW, rng=random.Random(seed), **kw)


def utc(value: datetime | None) -> datetime | None:
    """SQLite hands times back without their zone; they are stored as UTC."""
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


# --- delivery ---------------------------------------------------------------------------------------
def test_a_2xx_delivers_signed_bytes_once(db, vault, tenant, receiver):
    endpoint_id, secret = add_endpoint(db, vault, tenant, receiver.url)
    queue(db, tenant, data={"id": "evt_ü"})
    [row] = rows(db, tenant)
    sent_at = time.time()
    w = worker(db, vault, wall_clock=lambda: sent_at)
    with structlog.testing.capture_logs() as logs:
        assert w.deliver(row.id) is None
    [call] = receiver.hooks()
    assert call["body"] == row.payload.encode()
    assert call["headers"]["Content-Type"] == "application/json"
    assert call["headers"]["User-Agent"] == USER_AGENT
    assert call["headers"]["Webhook-Timestamp"] == str(int(sent_at))  # the real time, for the receiver's window
    assert spec_verify(secret, call["headers"], call["body"], now=sent_at)
    [row] = rows(db, tenant)
    assert (row.status, row.attempts, row.last_status_code, row.last_error, row.locked_until) == (
        "delivered", 1, 204, None, None)
    assert utc(row.delivered_at) == NOW and utc(row.last_attempt_at) == NOW
    [entry] = [e for e in logs if e["event"] == "webhook_delivered"]
    assert {k: entry[k] for k in ("delivery_id", "message_id", "endpoint_id", "event_type", "attempt",
                                  "status_code")} == {
        "delivery_id": row.id, "message_id": row.message_id, "endpoint_id": endpoint_id,
        "event_type": "event.created", "attempt": 1, "status_code": 204}
    assert w.deliver(row.id) is None and w.deliver_due(NOW + timedelta(days=5)) == 0  # never again
    assert len(receiver.hooks()) == 1


@pytest.mark.parametrize("status, error", [(500, "HTTP 500"), (404, "HTTP 404"), (400, "HTTP 400"),
                                           (307, "HTTP 307 (redirects are not followed; register the final URL)"),
                                           (300, "HTTP 300 (redirects are not followed; register the final URL)"),
                                           (399, "HTTP 399 (redirects are not followed; register the final URL)")])
def test_a_failure_is_retried_on_the_schedule(db, vault, tenant, receiver, status, error):
    add_endpoint(db, vault, tenant, receiver.url)
    queue(db, tenant)
    [row] = rows(db, tenant)
    receiver.answers = [status]
    with structlog.testing.capture_logs() as logs:
        due = worker(db, vault, seed=5).deliver(row.id)
    expected = NOW + next_delay(1, None, random.Random(5))
    assert due == expected
    [row] = rows(db, tenant)
    assert (row.status, row.attempts, row.last_status_code, row.last_error, row.locked_until) == (
        "pending", 1, status, error, None)
    assert utc(row.next_attempt_at) == expected and row.delivered_at is None
    [entry] = [e for e in logs if e["event"] == "webhook_attempt_failed"]
    assert (entry["status_code"], entry["error"], entry["next_attempt_at"], entry["delivery_id"], entry["attempt"]) == (
        status, error, expected.isoformat(), row.id, 1)
    assert [c["path"] for c in receiver.calls] == ["/hooks"]  # a redirect is not followed


@pytest.mark.parametrize("header, seconds", [("120", 120), (" 90 ", 90), ("Mon, 02 Mar 2026 09:10:00 GMT", 600)])
def test_a_retry_after_is_honoured(db, vault, tenant, receiver, header, seconds):
    add_endpoint(db, vault, tenant, receiver.url)
    queue(db, tenant)
    receiver.answers = [503]
    receiver.headers = [("Retry-After", header)]
    w = worker(db, vault, wall_clock=lambda: NOW.timestamp())
    assert w.deliver_due(NOW) == 1
    [row] = rows(db, tenant)
    assert utc(row.next_attempt_at) == NOW + max(timedelta(seconds=seconds), next_delay(1, None, random.Random(1)))


@pytest.fixture
def server_in_new_york(monkeypatch):
    """The process's local zone is not UTC (as on a server set to local time)."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_retry_after_dates_and_junk(server_in_new_york):
    now = datetime(2015, 10, 21, 7, 27, tzinfo=timezone.utc).timestamp()
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 -0000", now) == 60  # no zone given: UTC
    assert _retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now) == 0  # already past: at once
    assert _retry_after("", now) is None and _retry_after("later", now) is None


def test_the_last_failure_gives_up(db, vault, tenant, receiver):
    add_endpoint(db, vault, tenant, receiver.url)
    queue(db, tenant)
    with db.session() as s:
        s.execute(WebhookDelivery.__table__.update().where(WebhookDelivery.tenant_id == tenant)
                  .values(attempts=MAX_ATTEMPTS - 1))
    receiver.answers = [500]
    with structlog.testing.capture_logs() as logs:
        assert worker(db, vault).deliver_due(NOW) == 1
    [row] = rows(db, tenant)
    assert (row.status, row.attempts, row.last_error) == ("failed", MAX_ATTEMPTS, "HTTP 500")
    assert [(e["error"], e["status_code"], e["delivery_id"], e["attempt"]) for e in logs
            if e["event"] == "webhook_given_up"] == [("HTTP 500", 500, row.id, MAX_ATTEMPTS)]


def test_gone_disables_the_endpoint_and_cancels_only_its_queue(db, vault, tenant, receiver):
    gone_id, _ = add_endpoint(db, vault, tenant, receiver.url, ["event.created"])
    other = Receiver()
    try:
        kept_id, _ = add_endpoint(db, vault, tenant, other.url, ["event.created"])
        queue(db, tenant, data={"id": "a"})
        queue(db, tenant, data={"id": "b"}, now=NOW - timedelta(hours=1))
        receiver.default = 410
        w = worker(db, vault)
        first, held = [r for r in rows(db, tenant) if r.endpoint_id == gone_id]
        with db.session() as s:  # another worker holds the second one
            s.get(WebhookDelivery, held.id).locked_until = NOW + timedelta(minutes=1)
        with structlog.testing.capture_logs() as logs:
            assert w.deliver(first.id) is None
        assert [(e["endpoint_id"], e["status_code"]) for e in logs if e["event"] == "webhook_endpoint_disabled"] == [
            (gone_id, 410)]
        with db.session() as s:
            gone, kept = s.get(WebhookEndpoint, gone_id), s.get(WebhookEndpoint, kept_id)
            assert (gone.status, utc(gone.disabled_at), gone.disabled_reason) == (
                "disabled", NOW, "The endpoint answered 410 Gone.")
            assert (kept.status, kept.disabled_at) == ("enabled", None)
        states = {(r.endpoint_id, r.id == first.id): (r.status, r.last_error, r.locked_until) for r in rows(db, tenant)}
        assert states[(gone_id, True)] == ("failed", "HTTP 410", None)
        [listed] = [v for v in endpoints.list_endpoints(db, tenant) if v.id == gone_id]
        assert (listed.status, listed.disabled_reason, utc(listed.disabled_at)) == (
            "disabled", "The endpoint answered 410 Gone.", NOW)  # what the API shows the tenant
        assert states[(gone_id, False)] == ("cancelled", "endpoint disabled", None)
        assert {states[(kept_id, False)][0]} == {"pending"}
        assert w.deliver_due(NOW + timedelta(hours=2)) == 2 and len(other.hooks()) == 2
        assert len(receiver.hooks()) == 1
    finally:
        other.close()


def test_an_endpoint_disabled_after_queueing_gets_nothing(db, vault, tenant, receiver):
    endpoint_id, _ = add_endpoint(db, vault, tenant, receiver.url)
    queue(db, tenant, now=NOW - timedelta(minutes=1))
    with db.session() as s:
        s.get(WebhookEndpoint, endpoint_id).status = "disabled"
    other = Receiver()
    try:
        add_endpoint(db, vault, tenant, other.url)  # enabled, with a row due after the cancelled one
        queue(db, tenant)
        assert worker(db, vault).deliver_due(NOW) == 1
        cancelled = [r for r in rows(db, tenant) if r.endpoint_id == endpoint_id]
        assert [(r.status, r.last_error, r.locked_until, r.attempts) for r in cancelled] == [
            ("cancelled", "endpoint disabled", None, 0)]
        assert receiver.hooks() == [] and len(other.hooks()) == 1  # the round went on past it
    finally:
        other.close()


def test_what_is_not_due_or_is_held_waits(db, vault, tenant, receiver):
    add_endpoint(db, vault, tenant, receiver.url)
    queue(db, tenant, now=NOW + timedelta(seconds=1))  # due a second from now
    w = worker(db, vault)
    assert w.deliver_due(NOW) == 0 and w.due_ids(NOW) == []
    [row] = rows(db, tenant)
    assert w.deliver(row.id, NOW) is None
    later = NOW + timedelta(seconds=1)
    assert w.due_ids(later, due_before=NOW) == []  # the sweep's grace: due, but not overdue yet
    assert w.due_ids(later) == w.due_ids(later, due_before=later) == [row.id]
    with db.session() as s:  # another worker holds it until `later`
        s.get(WebhookDelivery, row.id).locked_until = later + timedelta(seconds=1)
    assert w.deliver_due(later) == 0 and w.due_ids(later) == []
    assert w.deliver_due(later + timedelta(seconds=1)) == 1  # its lease ran out
    assert len(receiver.hooks()) == 1


def test_deliver_takes_only_the_row_it_names(db, vault, tenant, receiver):
    add_endpoint(db, vault, tenant, receiver.url)
    queue(db, tenant, data={"id": "older"}, now=NOW - timedelta(minutes=1))
    queue(db, tenant, data={"id": "named"})
    older, named = rows(db, tenant)
    assert worker(db, vault).deliver(named.id) is None
    older, named = rows(db, tenant)
    assert (named.status, older.status, older.locked_until) == ("delivered", "pending", None)
    assert [c["body"] for c in receiver.hooks()] == [named.payload.encode()]


def test_a_claim_holds_the_row_for_longer_than_an_attempt(db, vault, tenant):
    w = worker(db, vault, connect_timeout=2, read_timeout=3)
    assert w.lease == timedelta(seconds=35)
    endpoint_id, _ = add_endpoint(db, vault, tenant, "http://127.0.0.1:9/hooks")
    queue(db, tenant)
    [claimed] = w._claim(NOW)
    [row] = rows(db, tenant)
    assert utc(row.locked_until) == NOW + w.lease
    assert (claimed.endpoint_id, claimed.attempt, claimed.event_type, claimed.payload) == (
        endpoint_id, 1, "event.created", row.payload)
    assert w._claim(NOW + w.lease - timedelta(seconds=1)) == []  # still held


def test_a_round_takes_a_batch_oldest_first(db, vault, tenant, receiver):
    add_endpoint(db, vault, tenant, receiver.url)
    for n in range(5):  # queued newest first: the order is the due time's, not the queue's
        queue(db, tenant, data={"id": f"evt_{n}"}, now=NOW - timedelta(minutes=n + 1))
    w = worker(db, vault, batch_size=3)
    order = [r.id for r in sorted(rows(db, tenant), key=lambda r: r.next_attempt_at)]
    assert w.due_ids(NOW, limit=2) == order[:2]
    assert w.deliver_due(NOW) == 3
    assert sorted(r.id for r in rows(db, tenant) if r.status == "delivered") == sorted(order[:3])
    assert w.deliver_due(NOW) == 2 and len(receiver.hooks()) == 5
    assert worker(db, vault).deliver_due(NOW) == 0


def test_a_secret_this_process_cannot_read_is_left_for_another(db, vault, tenant, receiver):
    endpoint_id, _ = add_endpoint(db, vault, tenant, receiver.url)
    queue(db, tenant)
    stranger = TokenVault.from_config(TokenVault.generate_key_spec("x"))
    with structlog.testing.capture_logs() as logs:
        assert worker(db, stranger).deliver_due(NOW) == 0
    [row] = rows(db, tenant)
    assert (row.status, row.attempts, row.locked_until, row.last_attempt_at) == ("pending", 0, None, None)
    # capture_logs sees every thread's lines (a live hub's background deliveries in this process
    # too): this endpoint's are the ones to judge.
    assert [e["event"] for e in logs if e["event"].startswith("webhook_")
            and e.get("endpoint_id") == endpoint_id] == ["webhook_secret_unreadable"]
    assert receiver.hooks() == []
    assert worker(db, vault).deliver_due(NOW) == 1  # a process with the keys sends it


def test_transport_failures_are_named_without_the_url(db, vault, tenant, receiver, monkeypatch):
    add_endpoint(db, vault, tenant, receiver.url)
    queue(db, tenant)
    w = worker(db, vault, read_timeout=0.2)
    receiver.delay = 1.0
    w.deliver_due(NOW)
    [row] = rows(db, tenant)
    assert (row.last_status_code, row.last_error) == (None, "timed out")
    with db.session() as s:
        s.get(WebhookEndpoint, row.endpoint_id).url = "http://127.0.0.1:9/hooks?token=s3cret"
    w.deliver_due(NOW + timedelta(hours=1))
    assert rows(db, tenant)[0].last_error == "connection failed"
    with db.session() as s:
        s.get(WebhookEndpoint, row.endpoint_id).url = "http://[::1/hooks?token=s3cret"
    w.deliver_due(NOW + timedelta(hours=2))
    assert rows(db, tenant)[0].last_error == "request failed (InvalidURL)"


def test_private_addresses_are_refused_at_every_attempt(db, vault, tenant, receiver):
    add_endpoint(db, vault, tenant, receiver.url)
    queue(db, tenant)
    DeliveryWorker(db, vault, lambda: NOW).deliver_due(NOW)  # refusing is the default
    [row] = rows(db, tenant)
    assert row.last_error.startswith("address not allowed (") and receiver.hooks() == []


def test_proxies_from_the_environment_are_not_used(db, vault, tenant, receiver, monkeypatch):
    add_endpoint(db, vault, tenant, receiver.url)
    queue(db, tenant)
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert worker(db, vault).deliver_due(NOW) == 1
    assert rows(db, tenant)[0].status == "delivered"


def test_a_result_is_ok_only_for_2xx():
    assert [Result(code).ok for code in (199, 200, 299, 300)] == [False, True, True, False]
    assert not Result().ok


@pytest.mark.parametrize("status", [200, 299])
def test_every_2xx_is_a_delivery(db, vault, tenant, receiver, status):
    add_endpoint(db, vault, tenant, receiver.url)
    queue(db, tenant)
    receiver.answers = [status]
    assert worker(db, vault).deliver_due(NOW) == 1
    [row] = rows(db, tenant)
    assert (row.status, row.last_status_code, row.last_error) == ("delivered", status, None)


def test_an_outcome_for_a_row_no_longer_pending_is_dropped(db, vault, tenant, receiver):
    add_endpoint(db, vault, tenant, receiver.url)
    queue(db, tenant)
    w = worker(db, vault)
    [claimed] = w._claim(NOW)
    with db.session() as s:  # cancelled meanwhile (its endpoint said 410 to another worker)
        s.get(WebhookDelivery, claimed.delivery_id).status = "cancelled"
    assert w._record(claimed, Result(204), NOW) is None
    [row] = rows(db, tenant)
    assert (row.status, row.attempts, row.delivered_at) == ("cancelled", 0, None)


def test_an_outcome_for_a_row_that_went_away_is_dropped(db, vault, tenant, receiver):
    endpoint_id, _ = add_endpoint(db, vault, tenant, receiver.url)
    queue(db, tenant)
    w = worker(db, vault)
    [claimed] = w._claim(NOW)
    endpoints.delete_endpoint(db, tenant, endpoint_id)
    assert w._record(claimed, Result(500, "HTTP 500"), NOW) is None
    assert rows(db, tenant) == []


# --- the outbox -------------------------------------------------------------------------------------
def test_enqueue_writes_one_message_per_subscriber_and_hands_it_out_after_commit(db, vault, tenant, jobs):
    b, _ = add_endpoint(db, vault, tenant, "http://127.0.0.1:9/b", ["*"], now=NOW + timedelta(seconds=1))
    a, _ = add_endpoint(db, vault, tenant, "http://127.0.0.1:9/a", ["event.created"], now=NOW)  # made earlier
    add_endpoint(db, vault, tenant, "http://127.0.0.1:9/c", ["event.updated"])
    disabled, _ = add_endpoint(db, vault, tenant, "http://127.0.0.1:9/d", ["*"])
    with db.session() as s:
        s.get(WebhookEndpoint, disabled).status = "disabled"
        assert outbox.subscribers(s, tenant, "event.created") == [a, b]
        assert outbox.subscribers(s, "ten_other", "event.created") == []
    sent = len(jobs.sent)
    queue(db, tenant, data={"id": "evt_9"})
    made = rows(db, tenant)
    assert [r.endpoint_id for r in sorted(made, key=lambda r: r.endpoint_id)] == sorted([a, b])
    assert len({r.message_id for r in made}) == 1 and made[0].message_id.startswith("msg_")
    assert all(r.id.startswith("whd_") for r in made)
    assert {(r.status, r.attempts, utc(r.next_attempt_at), r.event_type) for r in made} == {
        ("pending", 0, NOW, "event.created")}
    assert made[0].payload == '{"type":"event.created","created_at":"2026-03-02T09:00:00Z","data":{"id":"evt_9"}}'
    assert sorted(jobs.sent[sent:], key=str) == sorted([("webhooks.deliver", {"delivery_id": r.id}) for r in made],
                                                      key=str)


def test_enqueue_refuses_unknown_types_and_stamps_the_time(db, vault, tenant):
    with db.session() as s, pytest.raises(ValueError, match="event.exploded"):
        outbox.enqueue(s, tenant, "event.exploded", {})
    add_endpoint(db, vault, tenant, "http://127.0.0.1:9/a")
    before = datetime.now(timezone.utc).replace(microsecond=0)
    with db.session() as s:
        outbox.enqueue(s, tenant, "event.created", {})
    [row] = rows(db, tenant)
    assert before <= utc(row.next_attempt_at) <= datetime.now(timezone.utc)


def test_subscribed_rules():
    assert outbox.subscribed(["*"], "event.created") and outbox.subscribed(["event.created"], "event.created")
    assert not outbox.subscribed(["event.updated"], "event.created")
    assert not outbox.subscribed(None, "event.created") and not outbox.subscribed([], "event.created")


def test_body_times_are_utc_whatever_the_servers_zone(server_in_new_york):
    when = datetime(2026, 3, 2, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    assert outbox.encode_body({"at": when}) == '{"at":"2026-03-02T08:00:00Z"}'


def test_body_keeps_unicode_and_writes_dates():
    body = outbox.encode_body({"a": "ü", "d": datetime(2026, 3, 2).date()})
    assert body == '{"a":"ü","d":"2026-03-02"}'
    with pytest.raises(TypeError, match="set is not JSON serialisable"):
        outbox.encode_body({"x": {1}})


# --- endpoints --------------------------------------------------------------------------------------
def test_create_keeps_the_secret_sealed_to_its_row(db, vault, tenant):
    view, secret = endpoints.create_endpoint(db, vault, tenant, "https://example.com/hook", ["event.created"], NOW,
                                             allow_private=False)
    assert (view.url, view.events, view.status, view.disabled_reason, view.disabled_at, utc(view.created_at)) == (
        "https://example.com/hook", ["event.created"], "enabled", None, None, NOW)
    assert view.id.startswith("whe_") and secret.startswith("whsec_")
    with db.session() as s:
        stored = s.get(WebhookEndpoint, view.id).secret_enc
    assert vault.decrypt(stored, endpoints.secret_binding(view.id)) == secret
    with pytest.raises(VaultError):  # copied onto another row, it does not open
        vault.decrypt(stored, endpoints.secret_binding("whe_other"))
    assert endpoints.list_endpoints(db, tenant) == [view]


@pytest.mark.parametrize("url, why", [("http://127.0.0.1/hook", "loopback"), ("http://10.0.0.1/hook", "private")])
def test_private_urls_are_refused_unless_allowed(db, vault, tenant, url, why):
    with pytest.raises(Invalid) as refused:
        endpoints.create_endpoint(db, vault, tenant, url, ["*"], NOW)
    assert refused.value.code == "url_not_allowed" and refused.value.errors[0]["field"] == "url"
    assert "HUB_WEBHOOK_ALLOW_PRIVATE_URLS" in refused.value.detail and refused.value.title != refused.value.detail
    assert why in refused.value.errors[0]["message"]
    assert endpoints.list_endpoints(db, tenant) == []
    endpoints.create_endpoint(db, vault, tenant, url, ["*"], NOW, allow_private=True)


def test_a_tenant_has_at_most_the_limit(db, vault, tenant):
    for n in range(endpoints.MAX_ENDPOINTS_PER_TENANT):
        add_endpoint(db, vault, tenant, f"http://127.0.0.1:9/{n}", now=NOW + timedelta(seconds=n))
    with pytest.raises(Conflict) as refused:
        add_endpoint(db, vault, tenant, "http://127.0.0.1:9/more")
    assert refused.value.code == "webhook_endpoint_limit"
    assert str(endpoints.MAX_ENDPOINTS_PER_TENANT) in refused.value.detail and refused.value.title != refused.value.detail
    listed = endpoints.list_endpoints(db, tenant)
    assert [v.url for v in listed] == [f"http://127.0.0.1:9/{n}" for n in range(endpoints.MAX_ENDPOINTS_PER_TENANT)]


def test_secrets_sealed_by_earlier_versions_still_open(vault):
    """The binding is part of every stored ciphertext: it must stay what it was, or no existing
    endpoint's secret opens after an upgrade."""
    sealed = vault.encrypt("whsec_x", Binding(WebhookEndpoint.__tablename__, "secret", "whe_1"))
    assert vault.decrypt(sealed, endpoints.secret_binding("whe_1")) == "whsec_x"


def test_endpoints_made_at_the_same_moment_list_in_a_stable_order(db, vault, tenant):
    made = [add_endpoint(db, vault, tenant, f"http://127.0.0.1:9/{n}", now=NOW)[0] for n in range(6)]
    assert [v.id for v in endpoints.list_endpoints(db, tenant)] == sorted(made)


def test_list_and_delete_are_tenant_scoped(db, vault, tenant):
    mine, _ = add_endpoint(db, vault, tenant, "http://127.0.0.1:9/a")
    other = Tenant(name=f"wh-{uuid.uuid4().hex[:8]}")
    with db.session() as s:
        s.add(other)
    assert endpoints.list_endpoints(db, other.id) == []
    with pytest.raises(NotFound) as missing:
        endpoints.delete_endpoint(db, other.id, mine)
    assert missing.value.code == "webhook_endpoint_not_found"
    assert mine in missing.value.detail and missing.value.title != missing.value.detail
    with pytest.raises(NotFound):
        endpoints.delete_endpoint(db, tenant, "whe_nope")
    queue(db, tenant)
    endpoints.delete_endpoint(db, tenant, mine)
    assert endpoints.list_endpoints(db, tenant) == [] and rows(db, tenant) == []


# --- connection.* messages -------------------------------------------------------------------------
def connection(db, tenant, status="active", last_error=None) -> Connection:
    with db.session() as s:
        user = User(tenant_id=tenant, external_id=f"u-{uuid.uuid4().hex[:6]}", email="ada@example.com")
        s.add(user)
        s.flush()
        conn = Connection(tenant_id=tenant, user_id=user.id, provider="google", provider_account_id="ada",
                          account_email="ada@example.com", status=status, capabilities=["calendar"],
                          last_error=last_error)
        s.add(conn)
        s.flush()
        return conn


def messages(db, tenant) -> list[dict]:
    return [json.loads(r.payload) for r in rows(db, tenant)]


def test_connected_announces_new_and_restored_only(db, vault, tenant):
    add_endpoint(db, vault, tenant, "http://127.0.0.1:9/a", ["connection.created", "connection.restored"])
    conn = connection(db, tenant)
    with db.session() as s:
        assert connection_events.wanted(s, tenant, "connection.created")
        assert not connection_events.wanted(s, tenant, "connection.deleted")  # nobody listens for it
        assert not connection_events.wanted(s, "ten_other", "connection.created")
        c = s.get(Connection, conn.id)
        user = s.get(User, c.user_id)
    data = {"connection_id": conn.id, "user_id": user.external_id, "provider": "google",
            "account_email": "ada@example.com", "capabilities": ["calendar"]}
    for old, expected in [(None, "connection.created"), ("needs_reauth", "connection.restored"),
                          ("active", None)]:  # fresh tokens on a healthy one: nothing
        before = len(messages(db, tenant))
        with db.session() as s:
            connection_events.connected(s, s.get(Connection, conn.id), old, NOW)
        new = messages(db, tenant)[before:]
        assert [(m["type"], m["created_at"], m["data"]) for m in new] == (
            [(expected, "2026-03-02T09:00:00Z", data)] if expected else []), old


def test_needs_reauth_says_why_and_how_to_reconnect(db, vault, tenant):
    add_endpoint(db, vault, tenant, "http://127.0.0.1:9/a")
    recorded = connection(db, tenant, "needs_reauth", {"cause": "consent_revoked", "message": "Recorded."})
    bare = connection(db, tenant, "needs_reauth")
    err = ProviderError(ErrorKind.AUTH_REVOKED, "Told now.", provider="google", cause="token_expired")
    with db.session() as s:
        connection_events.needs_reauth(s, s.get(Connection, recorded.id), err, "https://hub/connect/1", NOW)
        connection_events.needs_reauth(s, s.get(Connection, recorded.id), None, None, NOW)
        connection_events.needs_reauth(s, s.get(Connection, bare.id), None, None, NOW)
    got = [(m["type"], m["data"]["connection_id"], m["data"]["cause"], m["data"]["message"], m["data"]["reconnect_url"])
           for m in messages(db, tenant)]
    assert {m["created_at"] for m in messages(db, tenant)} == {"2026-03-02T09:00:00Z"}  # the caller's time
    assert sorted(got, key=str) == sorted([
        ("connection.needs_reauth", recorded.id, "token_expired", "Told now.", "https://hub/connect/1"),
        ("connection.needs_reauth", recorded.id, "consent_revoked", "Recorded.", None),
        ("connection.needs_reauth", bare.id, "token_revoked", None, None)], key=str)


def test_deleted_names_the_connection(db, vault, tenant):
    add_endpoint(db, vault, tenant, "http://127.0.0.1:9/a")
    conn = connection(db, tenant)
    with db.session() as s:
        c = s.get(Connection, conn.id)
        user = s.get(User, c.user_id)
        connection_events.deleted(s, c, NOW)
    [m] = messages(db, tenant)
    assert m["created_at"] == "2026-03-02T09:00:00Z"
    assert (m["type"], m["data"]) == ("connection.deleted", {"connection_id": conn.id, "user_id": user.external_id,
                                                             "provider": "google", "account_email": "ada@example.com"})


def test_a_connection_whose_user_is_gone_has_no_user_id(db, tenant):
    with db.session() as s:
        ghost = Connection(tenant_id=tenant, user_id="usr_gone", provider="google", provider_account_id="x",
                           account_email=None)
        assert connection_events.connection_data(s, ghost)["user_id"] is None

