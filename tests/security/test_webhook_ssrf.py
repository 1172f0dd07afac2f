"""Outbound webhooks cannot be pointed at the hub's own network (SSRF): private addresses in
every spelling are refused at registration, and delivery re-resolves the host, refuses private
answers and connects to the address it checked (no DNS rebinding in between)."""
from __future__ import annotations

import ipaddress
import socket
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from hub.services.directory import create_api_key
from hub.storage.models import WebhookDelivery
from webhooks.outbound import url_guard
from webhooks.outbound.delivery import DeliveryWorker
from webhooks.outbound.endpoints import create_endpoint
from webhooks.outbound.pinned_adapter import PublicAddressAdapter
from tests.conftest import own_database
from tests.security.conftest import make_app
from webhooks.outbound.outbox import enqueue

PRIVATE_URLS = [
    "http://127.0.0.1/x", "http://127.0.0.1:8001/_control/reset", "http://localhost/x", "http://localhost./x",
    "http://a.localhost/x", "http://127.1/x", "http://2130706433/x", "http://0x7f000001/x", "http://0x7f.0.0.1/x",
    "http://017700000001/x", "http://0177.0.0.1/x", "http://0/x", "http://0.0.0.0/x", "http://[::1]/x",
    "http://[::]/x", "http://[::ffff:127.0.0.1]/x", "http://[::ffff:7f00:1]/x", "http://[64:ff9b::a9fe:a9fe]/x",
    "http://[2002:a9fe:a9fe::]/x", "http://169.254.169.254/latest/meta-data/", "http://[fe80::1%25eth0]/x",
    "http://[fd00::1]/x", "http://10.0.0.1/x", "http://172.16.5.4/x", "http://192.168.1.1/x", "http://100.64.0.1/x",
    "http://224.0.0.1/x", "http://255.255.255.255/x", "http://metadata.google.internal/computeMetadata/v1/",
    "http://intranet/x", "https://printer.local/x",
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_private_urls_are_refused_at_registration(client, auth, url):
    r = client.post("/v1/webhook-endpoints", json={"url": url, "events": ["*"]}, headers=auth)
    assert r.status_code == 422, (url, r.json)
    assert r.json["code"] == "url_not_allowed"
    assert [e["field"] for e in r.json["errors"]] == ["url"]


@pytest.mark.parametrize("url", ["https://93.184.216.34/hooks", "https://hooks.backend.example/in",
                                 "https://[2606:4700::1111]/hooks"])
def test_public_urls_are_accepted(client, auth, url):
    r = client.post("/v1/webhook-endpoints", json={"url": url, "events": ["*"]}, headers=auth)
    assert r.status_code == 201, r.json


def test_a_name_that_resolves_to_a_private_address_is_refused(client, auth, monkeypatch):
    monkeypatch.setattr(url_guard, "resolve", lambda host, port: [ipaddress.ip_address("10.1.2.3")])
    r = client.post("/v1/webhook-endpoints", json={"url": "https://evil.example/x", "events": ["*"]}, headers=auth)
    assert r.status_code == 422 and r.json["code"] == "url_not_allowed"


def test_the_allow_private_setting_lets_local_receivers_register(database_url):
    from tests.security.conftest import make_app
    app = make_app(database_url, webhook_allow_private_urls=True)
    try:
        key = create_api_key(app.extensions["hub"].db, f"sec-{uuid.uuid4().hex[:8]}")[1]
        r = app.test_client().post("/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/x", "events": ["*"]},
                                   headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 201
    finally:
        app.extensions["hub"].close()


# --- delivery ------------------------------------------------------------------------------------
class Receiver:
    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _app(self, environ, start_response):
        request = Request(environ)
        self.calls.append({"path": request.path, "host": request.headers.get("Host")})
        return Response(status=204)(environ, start_response)


@pytest.fixture(scope="module")
def ssrf_database(tmp_path_factory):
    """A database of its own: the shared live hub (which allows loopback receivers) sweeps every
    due delivery of the database it runs on, and would deliver these rows — to the sandbox's
    `/_control/reset` among them — before the guarded worker under test gets to refuse them."""
    with own_database(tmp_path_factory, "ssrf") as url:
        yield url


@pytest.fixture
def app(ssrf_database):
    app = make_app(ssrf_database)
    yield app
    app.extensions["hub"].close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()


def queue_delivery(app, url: str) -> str:
    """An endpoint row as if registered while its name was public, and one message for it."""
    hub = app.extensions["hub"]
    tenant_id, _ = create_api_key(hub.db, f"ssrf-{uuid.uuid4().hex[:8]}")
    create_endpoint(hub.db, hub.vault, tenant_id, url, ["*"], datetime.now(UTC), allow_private=True)
    with hub.db.session() as s:
        enqueue(s, tenant_id, "connection.deleted", {"connection_id": "con_x"})
    return tenant_id


def deliver(app, tenant_id: str, *, allow_private: bool) -> WebhookDelivery:
    hub = app.extensions["hub"]
    worker = DeliveryWorker(hub.db, hub.vault, clock=lambda: datetime.now(UTC),
                            allow_private_urls=allow_private)
    later = datetime.now(UTC) + timedelta(seconds=10)
    for _ in range(50):  # rows of other tests' hubs may be claimed first; ours is due
        worker.deliver_due(later)
        with hub.db.session() as s:
            row = s.query(WebhookDelivery).filter_by(tenant_id=tenant_id).one()
            s.expunge(row)
        if row.attempts:
            return row
    raise AssertionError("the delivery was never attempted")


def test_delivery_to_the_sandbox_control_api_is_refused(app, sandbox_url):
    email = f"keep-{uuid.uuid4().hex[:6]}@example.com"
    http = requests.Session()
    http.trust_env = False
    assert http.post(f"{sandbox_url}/_control/accounts", json={"provider": "google", "email": email}).status_code == 201
    tenant_id = queue_delivery(app, f"{sandbox_url}/_control/reset")
    row = deliver(app, tenant_id, allow_private=False)
    assert row.status == "pending" and row.last_status_code is None
    assert row.last_error == "address not allowed (loopback)"
    accounts = http.get(f"{sandbox_url}/_control/accounts", params={"provider": "google"}).json()
    assert email in [a["email"] for a in accounts]  # the sandbox was not reset


def test_dns_rebinding_after_registration_is_refused_at_delivery(app, receiver, monkeypatch):
    answers = iter([[ipaddress.ip_address("93.184.216.34")]])  # public when registered …
    monkeypatch.setattr(url_guard, "resolve", lambda host, port: next(answers, [ipaddress.ip_address("127.0.0.1")]))
    assert url_guard.registration_refusal(f"http://rebind.example:{receiver.port}/hooks") is None
    tenant_id = queue_delivery(app, f"http://rebind.example:{receiver.port}/hooks")
    row = deliver(app, tenant_id, allow_private=False)  # … loopback when delivered
    assert row.last_error == "address not allowed (loopback)"
    assert receiver.calls == []


def test_delivery_connects_to_the_address_it_checked(app, receiver, monkeypatch):
    """One resolution, checked, then used: a second lookup by the HTTP stack would be a window
    for rebinding, so any other getaddrinfo of the name fails the test."""
    checked = []
    monkeypatch.setattr(url_guard, "resolve", lambda host, port: checked.append(host) or [ipaddress.ip_address("127.0.0.1")])
    monkeypatch.setattr(url_guard, "address_refusal", lambda ip: None)  # treat loopback as public here
    real = socket.getaddrinfo

    def no_second_lookup(host, *a, **kw):
        assert host != "pinned.example", "the HTTP client resolved the name again"
        return real(host, *a, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", no_second_lookup)
    tenant_id = queue_delivery(app, f"http://pinned.example:{receiver.port}/hooks")
    row = deliver(app, tenant_id, allow_private=False)
    assert row.status == "delivered", row.last_error
    assert checked == ["pinned.example"]
    assert receiver.calls == [{"path": "/hooks", "host": f"pinned.example:{receiver.port}"}]


def test_with_allow_private_the_worker_delivers_to_loopback(app, receiver):
    tenant_id = queue_delivery(app, f"http://127.0.0.1:{receiver.port}/hooks")
    assert deliver(app, tenant_id, allow_private=True).status == "delivered"
    assert [c["path"] for c in receiver.calls] == ["/hooks"]


@pytest.mark.parametrize("address, refused", [("8.8.8.8", None), ("2001:4860:4860::8888", None),
                                              ("127.0.0.2", "loopback"), ("::ffff:10.0.0.1", "private"),
                                              ("64:ff9b::7f00:1", "loopback"), ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"),
                                              ("198.51.100.7", "private"), ("239.1.1.1", "multicast")])
def test_address_classification(address, refused):
    assert url_guard.address_refusal(ipaddress.ip_address(address)) == refused


def test_a_name_with_one_private_answer_among_public_ones_is_refused(monkeypatch):
    monkeypatch.setattr(url_guard, "resolve", lambda host, port: [ipaddress.ip_address("8.8.8.8"),
                                                                  ipaddress.ip_address("10.0.0.1")])
    with pytest.raises(url_guard.AddressNotAllowed):
        url_guard.public_address("mixed.example", 443)



# --- the adapter's pinning, without a network ------------------------------------------------------
class Sent(Exception):
    """Raised where the socket would open: the test has what it needs by then."""


@pytest.fixture
def sent(monkeypatch):
    """What the guarded adapter hands to requests' own adapter (which would open the socket)."""
    from requests.adapters import HTTPAdapter
    captured = {}

    def fake_send(self, request, *args, **kwargs):
        captured["request"] = request
        captured["pool"] = self.build_connection_pool_key_attributes(request, True, None)
        raise Sent

    monkeypatch.setattr(HTTPAdapter, "send", fake_send)
    return captured


@pytest.mark.parametrize("url, address, connect_url, host_header, port", [
    ("https://hooks.example/in?a=1", "93.184.216.34", "https://93.184.216.34/in?a=1", "hooks.example", 443),
    ("http://hooks.example/in", "93.184.216.34", "http://93.184.216.34/in", "hooks.example", 80),
    ("https://hooks.example:8443/in", "2606:4700::1111", "https://[2606:4700::1111]:8443/in", "hooks.example:8443", 8443),
])
def test_the_adapter_connects_to_the_checked_address_and_keeps_the_name(monkeypatch, sent, url, address,
                                                                         connect_url, host_header, port):
    asked = []
    monkeypatch.setattr(url_guard, "resolve", lambda host, p: asked.append((host, p)) or [ipaddress.ip_address(address)])
    session = requests.Session()
    session.mount("http://", PublicAddressAdapter())
    session.mount("https://", PublicAddressAdapter())
    with pytest.raises(Sent):
        session.post(url, data=b"{}")
    request = sent["request"]
    assert asked == [("hooks.example", port)]
    assert request.url == connect_url
    assert request.headers["Host"] == host_header
    host_params, pool_kwargs = sent["pool"]
    assert host_params["host"] == address
    if url.startswith("https"):
        # TLS still checks the certificate (and sends SNI) for the registered name, not the IP.
        assert pool_kwargs["server_hostname"] == "hooks.example"
        assert pool_kwargs["assert_hostname"] == "hooks.example"
    else:
        assert "server_hostname" not in pool_kwargs


def test_resolve_reads_the_system_resolver():
    assert ipaddress.ip_address("127.0.0.1") in url_guard.resolve("localhost", 80)
    assert url_guard.resolve("2606:4700::1111", 443) == [ipaddress.ip_address("2606:4700::1111")]


def test_local_names_are_refused_at_delivery_without_a_lookup(monkeypatch):
    monkeypatch.setattr(url_guard, "resolve", lambda host, port: pytest.fail("looked up"))
    for host in ("localhost", "printer.local", "metadata.google.internal", "x.localhost"):
        with pytest.raises(url_guard.AddressNotAllowed, match="local_name"):
            url_guard.public_address(host, 80)


def test_an_unresolvable_name_is_refused_at_delivery():
    with pytest.raises(url_guard.AddressNotAllowed, match="unresolvable"):
        url_guard.public_address("does-not-exist.invalid", 443)
