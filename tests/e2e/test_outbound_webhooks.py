"""Outbound webhooks end to end: a real receiver on a loopback port, the hub over HTTP, the
sandbox's Google behind it, and every delivery checked with a Standard Webhooks verifier.

Most tests run on a hub of their own with the background worker off, and move time by calling
`deliver_due(now)` with a later `now` — a three-day retry schedule cannot be waited out. One
test uses the shared live hub, whose worker thread is on, to show deliveries happen by
themselves. All hubs of the session share one database: a worker that picks up a row whose
secret it cannot decrypt (another hub's keys) hands it back, so the loops below retry until
the right hub has done the delivering.
"""
from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests
import structlog
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.serving import make_server
from werkzeug.wrappers import Request

from hub.services.directory import create_api_key
from hub.storage.models import Connection, WebhookDelivery, WebhookEndpoint
from tests.conftest import own_database
from tests.e2e.support import start_hub
from tests.e2e.support import Api, connect
from tests.unit.test_webhook_signing import spec_verify
from webhooks.outbound.delivery import DeliveryWorker
from webhooks.outbound.outbox import enqueue

DAY = "2026-03-02"
WINDOW = {"start": f"{DAY}T08:00:00+01:00", "end": f"{DAY}T18:00:00+01:00"}


class Receiver:
    """A backend's webhook endpoint: records every request as received (raw body bytes) and
    answers with the scripted statuses in turn, then `default`."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.answers: list[int] = []
        self.default = 204
        self.delay = 0.0
        self.headers: list[tuple[str, str]] = []  # sent with every answer
        self._lock = threading.Lock()
        self.server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _app(self, environ, start_response):
        request = Request(environ)
        body = request.get_data()
        with self._lock:
            status = self.answers.pop(0) if self.answers else self.default
            self.calls.append({"path": request.path, "headers": dict(request.headers), "body": body,
                               "status": status})
        time.sleep(self.delay)
        headers = [("Content-Type", "text/plain"), *self.headers]
        if 300 <= status < 400:
            headers.append(("Location", self.url.replace("/hooks", "/elsewhere")))
        start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'Status')}", headers)
        return [b"noted"]

    def hooks(self) -> list[dict]:
        with self._lock:
            return [c for c in self.calls if c["path"] == "/hooks"]

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def quiet_database(tmp_path_factory):
    """A database of its own: the shared live hub's sweeps hand out every due delivery of the
    database they run on, and would race these tests, which drive delivery themselves."""
    with own_database(tmp_path_factory, "quiet") as url:
        yield url


@pytest.fixture(scope="module")
def quiet_hub(quiet_database, sandbox_url):
    """A hub whose background runner is off: the tests drive delivery themselves."""
    server, live = start_hub(quiet_database, sandbox_url, webhook_worker=False,
                             webhook_allow_private_urls=True)  # the receivers are on loopback
    assert not live.hub.jobs.running
    yield live
    server.shutdown()
    live.hub.close()


@pytest.fixture
def tenant(quiet_hub):
    tenant_id, key = create_api_key(quiet_hub.hub.db, f"wh-{uuid.uuid4().hex[:8]}")
    return tenant_id, Api(quiet_hub.url, key)


def register(api: Api, url: str, events: list[str]) -> dict:
    r = api.post("/v1/webhook-endpoints", json={"url": url, "events": events})
    assert r.status_code == 201, r.text
    return r.json()


def person(api: Api, sandbox, provider: str = "google") -> dict:
    tag = uuid.uuid4().hex[:8]
    email = f"ada.{tag}@example.com"
    sandbox.account(provider, email, name="Ada Lovelace", timezone="Europe/Stockholm")
    r = api.put(f"/v1/users/ada-{tag}", json={"email": email, "timezone": "Europe/Stockholm"})
    assert r.status_code == 201, r.text
    return {"user_id": f"ada-{tag}", "email": email}


def connected(api: Api, who: dict) -> str:
    result = connect(api, who["user_id"], "google", who["email"])
    assert result.status == "connected", result
    return result.params["connection_id"]


def deliveries(hub, tenant_id: str) -> list[WebhookDelivery]:
    with hub.db.session() as s:
        return list(s.execute(select(WebhookDelivery).where(WebhookDelivery.tenant_id == tenant_id)
                              .order_by(WebhookDelivery.created_at, WebhookDelivery.id)).scalars())


def drive(hub, until, at: datetime | None = None, timeout: float = 15.0) -> None:
    """Run delivery rounds at time `at` until `until()` holds."""
    deadline = time.monotonic() + timeout
    while True:
        hub.webhooks.deliver_due(at)
        if until():
            return
        assert time.monotonic() < deadline, "the delivery did not happen"
        time.sleep(0.05)


def verified(secret: str, call: dict) -> dict:
    """The body of a request that passes both verifiers (the spec's and the reference library)."""
    assert spec_verify(secret, call["headers"], call["body"], now=time.time())
    return Webhook(secret).verify(call["body"], call["headers"])


def follow_link(url: str, account: str) -> requests.Response:
    """A person opening a connect link and allowing access (no return_url: a result page)."""
    browser = requests.Session()
    browser.trust_env = False
    hop = browser.get(url, allow_redirects=False, timeout=30)
    assert hop.status_code == 302, hop.text
    authorize = hop.headers["Location"]
    assert browser.get(authorize, timeout=30).status_code == 200
    consent = browser.post(authorize, data={"account": account, "decision": "allow"}, allow_redirects=False,
                           timeout=30)
    assert consent.status_code in (302, 303), consent.text
    return browser.get(consent.headers["Location"], allow_redirects=False, timeout=60)


# --- the Must hold ------------------------------------------------------------------------------
def test_stale_connection_is_announced_once_even_through_an_outage(quiet_hub, tenant, sandbox, receiver):
    hub = quiet_hub.hub
    tenant_id, api = tenant
    endpoint = register(api, receiver.url, ["connection.needs_reauth", "connection.restored"])
    who = person(api, sandbox)
    connection_id = connected(api, who)
    assert deliveries(hub, tenant_id) == []  # connection.created: not subscribed

    # The grant dies at Google; an ordinary free/busy request is what finds out.
    sandbox.fault("google", "invalid_grant", email=who["email"])
    sandbox.fault("google", "expire_access_tokens", email=who["email"])
    for _ in range(2):  # asking again must not announce it again
        fb = api.post("/v1/freebusy", json={"users": [who["user_id"]], **WINDOW}).json()
        assert fb["users"][who["user_id"]]["error"]["cause"] == "token_revoked"
    [row] = deliveries(hub, tenant_id)
    assert (row.event_type, row.status, row.attempts) == ("connection.needs_reauth", "pending", 0)

    # The receiver is down for a while: 503, 503, 500, then it comes back.
    receiver.answers = [503, 503, 500]
    t0 = datetime.now(timezone.utc)
    drive(hub, lambda: len(receiver.hooks()) == 1, at=t0)
    hub.webhooks.deliver_due(t0 + timedelta(seconds=1))  # not due yet: nothing is sent
    assert len(receiver.hooks()) == 1
    [row] = deliveries(hub, tenant_id)
    assert (row.status, row.attempts, row.last_status_code, row.last_error) == ("pending", 1, 503, "HTTP 503")
    assert timedelta(seconds=4) <= row.next_attempt_at - t0 <= timedelta(seconds=6)  # 5 s ± jitter
    drive(hub, lambda: len(receiver.hooks()) == 2, at=t0 + timedelta(seconds=10))
    drive(hub, lambda: len(receiver.hooks()) == 3, at=t0 + timedelta(minutes=10))
    drive(hub, lambda: len(receiver.hooks()) == 4, at=t0 + timedelta(hours=1))
    for later in (timedelta(hours=5), timedelta(days=4)):  # delivered: never sent again
        hub.webhooks.deliver_due(t0 + later)
    assert [c["status"] for c in receiver.hooks()] == [503, 503, 500, 204]
    [row] = deliveries(hub, tenant_id)
    assert (row.status, row.attempts, row.last_status_code, row.last_error) == ("delivered", 4, 204, None)

    calls = receiver.hooks()
    assert len({c["headers"]["Webhook-Id"] for c in calls}) == 1  # one message: receivers dedupe on it
    assert len({c["body"] for c in calls}) == 1
    bodies = [verified(endpoint["secret"], c) for c in calls]
    message = bodies[-1]
    assert message["type"] == "connection.needs_reauth"
    assert set(message) == {"type", "created_at", "data"}
    data = message["data"]
    assert data["connection_id"] == connection_id and data["user_id"] == who["user_id"]
    assert (data["provider"], data["account_email"], data["cause"]) == ("google", who["email"], "token_revoked")
    assert data["message"]
    assert data["reconnect_url"].startswith(quiet_hub.url + "/connect/")

    # The link in the message works long after it was minted, and reconnecting is announced.
    done = follow_link(data["reconnect_url"], who["email"])
    assert done.status_code == 200, done.text
    conns = api.get(f"/v1/users/{who['user_id']}/connections").json()["connections"]
    assert [(c["id"], c["status"]) for c in conns] == [(connection_id, "active")]
    drive(hub, lambda: len(receiver.hooks()) == 5)
    restored = verified(endpoint["secret"], receiver.hooks()[-1])
    assert restored["type"] == "connection.restored"
    assert restored["data"]["connection_id"] == connection_id
    assert receiver.hooks()[-1]["headers"]["Webhook-Id"] != calls[0]["headers"]["Webhook-Id"]


def test_gone_disables_the_endpoint_and_cancels_what_is_queued(quiet_hub, tenant, receiver):
    hub = quiet_hub.hub
    tenant_id, api = tenant
    endpoint = register(api, receiver.url, ["*"])
    other = Receiver()
    try:
        kept = register(api, other.url, ["event.created"])
        with hub.db.session() as s:
            for n in range(3):
                enqueue(s, tenant_id, "event.created", {"id": f"evt_{n}"})
        receiver.default = 410
        drive(hub, lambda: len(receiver.hooks()) >= 1 and len(other.hooks()) == 3)
        listed = {e["id"]: e for e in api.get("/v1/webhook-endpoints").json()["webhook_endpoints"]}
        assert listed[endpoint["id"]]["status"] == "disabled"
        assert "410" in listed[endpoint["id"]]["disabled_reason"]
        assert listed[kept["id"]]["status"] == "enabled"  # only the one that said Gone
        mine = [d for d in deliveries(hub, tenant_id) if d.endpoint_id == endpoint["id"]]
        assert {d.status for d in mine} <= {"failed", "cancelled"} and "failed" in {d.status for d in mine}

        seen = len(receiver.hooks())
        with hub.db.session() as s:
            enqueue(s, tenant_id, "event.created", {"id": "evt_later"})
        drive(hub, lambda: len(other.hooks()) == 4)
        assert len(receiver.hooks()) == seen  # nothing more goes to a disabled endpoint
        assert len([d for d in deliveries(hub, tenant_id) if d.endpoint_id == endpoint["id"]]) == len(mine)
    finally:
        other.close()


def test_event_webhooks_are_delivered_by_the_background_worker(live_hub, api, sandbox, receiver):
    """The shared live hub runs the worker thread (the default): nothing to drive here."""
    assert live_hub.hub.jobs.running
    endpoint = register(api, receiver.url, ["event.created", "event.updated", "event.cancelled"])
    who = person(api, sandbox)
    connected(api, who)  # connection.created: not subscribed, never sent
    body = {"organizer": who["user_id"], "title": "Interview: Grace", "start": f"{DAY}T14:00:00+01:00",
            "end": f"{DAY}T15:00:00+01:00", "timezone": "Europe/Stockholm", "conferencing": "google_meet"}
    created = api.post("/v1/events", json=body)
    assert created.status_code == 201, created.text
    event = created.json()
    moved = api.patch(f"/v1/events/{event['id']}", json={"start": f"{DAY}T16:00:00+01:00",
                                                        "end": f"{DAY}T16:30:00+01:00"})
    assert moved.status_code == 200, moved.text
    assert api.delete(f"/v1/events/{event['id']}").status_code == 204
    assert api.delete(f"/v1/events/{event['id']}").status_code == 204  # already cancelled: no second message

    # Done when every queued message for this endpoint is delivered: nothing is left to send,
    # so a duplicate could only come from a second delivery of a delivered row.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with live_hub.hub.db.session() as s:
            states = s.execute(select(WebhookDelivery.status).where(
                WebhookDelivery.endpoint_id == endpoint["id"])).scalars().all()
        if len(states) == 3 and set(states) == {"delivered"}:
            break
        time.sleep(0.05)
    messages = {m["type"]: m for m in (verified(endpoint["secret"], c) for c in receiver.hooks())}
    assert len(receiver.hooks()) == 3 and set(messages) == {"event.created", "event.updated", "event.cancelled"}
    assert messages["event.created"]["data"] == event  # the event's JSON, as the API answered it
    assert messages["event.updated"]["data"] == moved.json()
    cancelled = messages["event.cancelled"]["data"]
    assert cancelled["id"] == event["id"] and cancelled["status"] == "cancelled"


# --- the endpoint API -----------------------------------------------------------------------------
def test_endpoint_api_validates_hides_secrets_and_is_tenant_scoped(live_hub, api, receiver):
    for body, field in [({"url": "ftp://example.com/x", "events": ["*"]}, "url"),
                        ({"url": "not a url", "events": ["*"]}, "url"),
                        ({"url": "https://user:pw@example.com/x", "events": ["*"]}, "url"),
                        ({"url": "https://example.com/x", "events": ["event.created", "nope"]}, "events[1]"),
                        ({"url": "https://example.com/x", "events": []}, "events"),
                        ({"events": ["*"]}, "url")]:
        r = api.post("/v1/webhook-endpoints", json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["code"] == "validation_failed"
        assert field in [e["field"] for e in r.json()["errors"]], (body, r.json())

    made = register(api, receiver.url, ["connection.needs_reauth", "connection.needs_reauth", "event.created"])
    assert set(made) == {"id", "url", "events", "secret"}
    assert made["events"] == ["connection.needs_reauth", "event.created"]
    assert made["secret"].startswith("whsec_")
    listed = api.get("/v1/webhook-endpoints")
    assert listed.status_code == 200
    assert made["secret"] not in listed.text and "secret" not in listed.text
    [entry] = listed.json()["webhook_endpoints"]
    assert (entry["id"], entry["url"], entry["status"], entry["disabled_reason"]) == (
        made["id"], receiver.url, "enabled", None)
    with live_hub.hub.db.session() as s:
        stored = s.get(WebhookEndpoint, made["id"]).secret_enc
    assert made["secret"] not in stored and made["secret"].removeprefix("whsec_") not in stored
    assert stored.startswith("v1.")  # a vault ciphertext

    _, other_key = create_api_key(live_hub.hub.db, f"other-{uuid.uuid4().hex[:6]}")
    other = Api(live_hub.url, other_key)
    assert other.get("/v1/webhook-endpoints").json() == {"webhook_endpoints": []}
    gone = other.delete(f"/v1/webhook-endpoints/{made['id']}")
    assert gone.status_code == 404 and gone.json()["code"] == "webhook_endpoint_not_found"
    assert api.delete(f"/v1/webhook-endpoints/{made['id']}").status_code == 204
    assert api.delete(f"/v1/webhook-endpoints/{made['id']}").status_code == 404
    assert api.get("/v1/webhook-endpoints").json() == {"webhook_endpoints": []}
    assert Api(live_hub.url, "nope").get("/v1/webhook-endpoints").status_code == 401

    doc = requests.get(live_hub.url + "/openapi.json", timeout=10).json()
    assert {"get", "post"} <= set(doc["paths"]["/v1/webhook-endpoints"])
    assert "delete" in doc["paths"]["/v1/webhook-endpoints/{endpoint_id}"]


# --- transport: what the HTTP client will not do ---------------------------------------------------
def test_secrets_and_signatures_never_reach_the_logs(quiet_hub, tenant, receiver, caplog):
    hub = quiet_hub.hub
    tenant_id, api = tenant
    with structlog.testing.capture_logs() as logs:
        endpoint = register(api, receiver.url, ["*"])
        receiver.answers = [500]
        with hub.db.session() as s:
            enqueue(s, tenant_id, "event.created", {"id": "evt_log"})
        drive(hub, lambda: len(receiver.hooks()) == 1)
        drive(hub, lambda: len(receiver.hooks()) == 2, at=datetime.now(timezone.utc) + timedelta(minutes=1))
    events = {entry["event"] for entry in logs}
    assert {"webhook_attempt_failed", "webhook_delivered"} <= events  # the capture did capture
    text = repr(logs) + caplog.text
    secrets = [endpoint["secret"], endpoint["secret"].removeprefix("whsec_")]
    signatures = [c["headers"]["Webhook-Signature"] for c in receiver.hooks()]
    for value in secrets + signatures + [s.removeprefix("v1,") for s in signatures]:
        assert value not in text


def test_redirects_are_not_followed_proxies_are_ignored_and_timeouts_are_short(quiet_hub, tenant, receiver,
                                                                               monkeypatch):
    hub = quiet_hub.hub
    tenant_id, api = tenant
    register(api, receiver.url, ["*"])
    with hub.db.session() as s:
        enqueue(s, tenant_id, "connection.deleted", {"connection_id": "con_x"})
    receiver.answers = [307]
    drive(hub, lambda: len(receiver.calls) >= 1)
    # deliver_due returns after the POST: a followed redirect would already be in the calls.
    assert [c["path"] for c in receiver.calls] == ["/hooks"]  # /elsewhere never asked
    [row] = deliveries(hub, tenant_id)
    assert (row.status, row.last_status_code) == ("pending", 307) and "redirect" in row.last_error

    worker = hub.webhooks
    assert worker.connect_timeout <= 10 and worker.read_timeout <= 10
    monkeypatch.setattr(worker, "read_timeout", 0.5)
    receiver.delay = 2.0
    t1 = datetime.now(timezone.utc) + timedelta(minutes=1)
    drive(hub, lambda: deliveries(hub, tenant_id)[0].attempts == 2, at=t1)
    [row] = deliveries(hub, tenant_id)
    assert (row.status, row.last_status_code, row.last_error) == ("pending", None, "timed out")

    # A proxy in the environment would swallow the request; the client must not use it.
    receiver.delay = 0.0
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    drive(hub, lambda: deliveries(hub, tenant_id)[0].status == "delivered", at=t1 + timedelta(hours=1))


# --- the outbox -------------------------------------------------------------------------------------
def test_outbox_rows_live_and_die_with_their_transaction(quiet_hub, tenant, receiver):
    hub = quiet_hub.hub
    tenant_id, api = tenant
    with hub.db.session() as s:  # nobody subscribed yet: nothing is written
        enqueue(s, tenant_id, "event.created", {"id": "evt_0"})
    assert deliveries(hub, tenant_id) == []
    first = register(api, receiver.url, ["event.created"])
    second = register(api, receiver.url, ["*"])
    register(api, receiver.url, ["connection.deleted"])
    with pytest.raises(RuntimeError):
        with hub.db.session() as s:
            enqueue(s, tenant_id, "event.created", {"id": "evt_1"})
            raise RuntimeError("the state change failed")
    assert deliveries(hub, tenant_id) == []  # no message without its change
    with hub.db.session() as s:
        enqueue(s, tenant_id, "event.created", {"id": "evt_2"})
    rows = deliveries(hub, tenant_id)
    assert sorted(r.endpoint_id for r in rows) == sorted([first["id"], second["id"]])
    assert len({r.message_id for r in rows}) == 1  # one webhook-id for the event, on every endpoint
    with pytest.raises(ValueError):
        with hub.db.session() as s:
            enqueue(s, tenant_id, "event.exploded", {})


def test_concurrent_workers_deliver_each_message_once(quiet_hub, tenant, receiver):
    """Several workers (threads here, processes in production) on one database: each message
    is claimed by exactly one of them."""
    hub = quiet_hub.hub
    tenant_id, api = tenant
    register(api, receiver.url, ["*"])
    with hub.db.session() as s:
        for n in range(24):
            enqueue(s, tenant_id, "event.updated", {"id": f"evt_{n}"})
    workers = [DeliveryWorker(hub.db, hub.vault, clock=hub.clock, batch_size=3,
                              allow_private_urls=True) for _ in range(4)]
    stop = time.monotonic() + 30

    def run(worker):
        while time.monotonic() < stop and len(receiver.hooks()) < 24:
            worker.deliver_due()

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [c["headers"]["Webhook-Id"] for c in receiver.hooks()]
    assert len(ids) == 24 and len(set(ids)) == 24
    assert {r.status for r in deliveries(hub, tenant_id)} == {"delivered"}


def test_deleting_a_connection_is_announced(quiet_hub, tenant, sandbox, receiver):
    hub = quiet_hub.hub
    tenant_id, api = tenant
    endpoint = register(api, receiver.url, ["connection.created", "connection.deleted"])
    who = person(api, sandbox)
    connection_id = connected(api, who)
    assert api.delete(f"/v1/connections/{connection_id}").status_code == 204
    drive(hub, lambda: len(receiver.hooks()) == 2)
    messages = {m["type"]: m["data"] for m in (verified(endpoint["secret"], c) for c in receiver.hooks())}
    assert messages["connection.created"]["connection_id"] == connection_id
    assert messages["connection.created"]["capabilities"] == ["calendar", "google_meet"]
    assert messages["connection.deleted"] == {"connection_id": connection_id, "user_id": who["user_id"],
                                              "provider": "google", "account_email": who["email"]}
    with hub.db.session() as s:
        assert s.get(Connection, connection_id) is None
