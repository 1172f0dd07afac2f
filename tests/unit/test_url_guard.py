"""The SSRF guard's rules one by one (webhooks/outbound/url_guard.py): which addresses are refused
and why, every spelling of an address, local names, and what the delivery adapter sends where.
tests/security/test_webhook_ssrf.py drives the same rules through the API and the worker."""
from __future__ import annotations

import ipaddress
import socket

import pytest
import requests
from requests.adapters import HTTPAdapter

from webhooks.outbound import url_guard
from webhooks.outbound.pinned_adapter import PublicAddressAdapter
from webhooks.outbound.url_guard import (AddressNotAllowed, address_refusal, host_refusal, literal_ip, public_address,
                                         registration_refusal, resolve)

ip = ipaddress.ip_address


@pytest.mark.parametrize("address, why", [
    ("127.0.0.1", "loopback"), ("169.254.169.254", "link_local"), ("224.0.0.1", "multicast"),
    ("0.0.0.0", "unspecified"), ("240.0.0.1", "reserved"), ("10.1.2.3", "private"), ("192.168.1.1", "private"),
    ("100.64.0.1", "not_global"), ("8.8.8.8", None),
    ("::1", "loopback"), ("fe80::1", "link_local"), ("ff02::1", "multicast"), ("::", "unspecified"),
    ("fc00::1", "private"), ("2606:4700::1111", None),
    # IPv4 inside IPv6: mapped, 6to4, NAT64 and Teredo (client 127.0.0.1, stored inverted).
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:8.8.8.8", None), ("2002:7f00:1::", "loopback"),
    ("2002:a00:1::", "private"), ("64:ff9b::a00:1", "private"), ("64:ff9b::808:808", None),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"),
])
def test_address_refusal_names_the_first_reason(address, why):
    assert address_refusal(ip(address)) == why


@pytest.mark.parametrize("host, address", [
    ("127.0.0.1", "127.0.0.1"), ("127.1", "127.0.0.1"), ("2130706433", "127.0.0.1"), ("0x7f.0.0.1", "127.0.0.1"),
    ("0X7F.1", "127.0.0.1"), ("017700000001", "127.0.0.1"), ("1.2.3.4.", "1.2.3.4"), ("[::1]", "::1"),
    ("fe80::1%eth0", "fe80::1"), ("[fe80::1%25eth0]", "fe80::1"),
])
def test_literal_ip_reads_every_spelling_a_resolver_accepts(host, address):
    assert literal_ip(host) == ip(address)


@pytest.mark.parametrize("host", ["example.com", "999999999999", "1.2.3.4.5", "0x7g", "a1"])
def test_literal_ip_is_none_for_names_and_impossible_numbers(host):
    assert literal_ip(host) is None


@pytest.fixture
def lookups(monkeypatch):
    """resolve() answered from a table; the calls it got are kept."""
    table: dict[str, list[str] | Exception] = {}
    calls: list[tuple[str, int]] = []

    def fake(host: str, port: int):
        calls.append((host, port))
        answer = table.get(host, [])
        if isinstance(answer, Exception):
            raise answer
        return [ip(a) for a in answer]

    monkeypatch.setattr(url_guard, "resolve", fake)
    return table, calls


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "metadata", "metadata.google.internal", "a.localhost",
                                  "printer.local", "db.internal", "box.localdomain", "nas.home.arpa", "intranet"])
def test_local_names_are_refused_without_asking_dns(lookups, host):
    assert host_refusal(host, 443) == "local_name"
    assert lookups[1] == []


def test_names_are_refused_when_any_answer_is_private(lookups):
    table, calls = lookups
    table["hooks.example.com"] = ["8.8.8.8", "10.0.0.7"]
    table["ok.example.com"] = ["8.8.8.8", "2606:4700::1111"]
    assert host_refusal("Hooks.Example.com.", 8443) == "private"
    assert calls == [("hooks.example.com", 8443)]
    assert host_refusal("ok.example.com", 443) is None
    assert host_refusal("hooks.example.com", 443, resolve_names=False) is None  # no lookup at all
    assert len(calls) == 2


@pytest.mark.parametrize("error", [OSError("no such name"), UnicodeError("label too long")])
def test_a_failed_lookup_passes_registration_and_is_refused_at_delivery(lookups, error):
    lookups[0]["gone.example.com"] = error
    assert host_refusal("gone.example.com", 443) is None  # delivery looks again
    with pytest.raises(AddressNotAllowed, match="^unresolvable$"):
        public_address("gone.example.com", 443)


@pytest.mark.parametrize("url, port", [("https://hooks.example.com/x", 443), ("http://hooks.example.com/x", 80),
                                       ("https://hooks.example.com:8443/x", 8443)])
def test_registration_resolves_the_urls_host_on_its_port(lookups, url, port):
    lookups[0]["hooks.example.com"] = ["8.8.8.8"]
    assert registration_refusal(url) is None
    assert lookups[1] == [("hooks.example.com", port)]


def test_registration_refuses_literal_addresses_and_a_missing_host(lookups):
    assert registration_refusal("http://127.1:8001/_control/reset") == "loopback"
    assert registration_refusal("http://[::ffff:169.254.169.254]/") == "link_local"
    assert registration_refusal("http:///path") == "local_name"


def test_resolve_keeps_every_address_without_zone_ids(monkeypatch):
    seen = {}

    def getaddrinfo(host, port, type=0):
        seen.update(host=host, port=port, type=type)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", port)),
                (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("fe80::1%eth0", port, 0, 2))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    assert resolve("hooks.example.com", 443) == [ip("8.8.8.8"), ip("fe80::1")]
    assert seen == {"host": "hooks.example.com", "port": 443, "type": socket.SOCK_STREAM}


def test_public_address_is_the_first_answer_when_all_are_public(lookups):
    table, calls = lookups
    table["hooks.example.com"] = ["8.8.4.4", "8.8.8.8"]
    assert public_address("Hooks.Example.COM.", 443) == ip("8.8.4.4")
    assert public_address("8.8.8.8", 443) == ip("8.8.8.8")  # a literal address is not looked up
    assert calls == [("hooks.example.com", 443)]


@pytest.mark.parametrize("host, answers, why", [
    ("localhost", ["8.8.8.8"], "local_name"), ("x.internal", ["8.8.8.8"], "local_name"),
    ("rebind.example.com", ["8.8.8.8", "127.0.0.1"], "loopback"), ("empty.example.com", [], "unresolvable"),
    ("169.254.169.254", [], "link_local"),
])
def test_public_address_refuses_with_the_reason(lookups, host, answers, why):
    lookups[0][host] = answers
    with pytest.raises(AddressNotAllowed) as refused:
        public_address(host, 443)
    assert str(refused.value) == why


@pytest.fixture
def sent(monkeypatch):
    """What PublicAddressAdapter hands to requests' own adapter."""
    captured: list[requests.PreparedRequest] = []

    def send(self, request, *args, **kwargs):
        captured.append(request)
        response = requests.Response()
        response.status_code = 204
        return response

    monkeypatch.setattr(HTTPAdapter, "send", send)
    return captured


@pytest.mark.parametrize("url, connect_to, host_header", [
    ("https://hooks.example.com/in?x=1", "https://8.8.4.4/in?x=1", "hooks.example.com"),
    ("http://user:pw@hooks.example.com:8080/in", "http://8.8.4.4:8080/in", "hooks.example.com:8080"),
])
def test_the_adapter_connects_to_the_checked_address_under_the_registered_name(lookups, sent, url, connect_to,
                                                                             host_header):
    lookups[0]["hooks.example.com"] = ["8.8.4.4"]
    request = requests.Request("POST", url, data=b"{}").prepare()
    assert PublicAddressAdapter().send(request).status_code == 204
    [out] = sent
    assert out.url == connect_to and out.headers["Host"] == host_header
    assert out.pinned_hostname == "hooks.example.com"
    port = 8080 if ":8080" in url else 443
    assert lookups[1] == [("hooks.example.com", port)]


def test_the_host_header_drops_userinfo_even_with_an_at_sign_in_the_password(lookups, sent):
    lookups[0]["hooks.example.com"] = ["8.8.4.4"]
    request = requests.Request("POST", "https://hooks.example.com/in").prepare()
    request.url = "https://user:p@ss@hooks.example.com/in"  # as a tenant could register it
    PublicAddressAdapter().send(request)
    assert sent[0].headers["Host"] == "hooks.example.com"


def test_the_adapter_passes_the_callers_send_options_on(lookups, monkeypatch):
    lookups[0]["hooks.example.com"] = ["8.8.4.4"]
    got = {}

    def send(self, request, *args, **kwargs):
        got.update(args=args, kwargs=kwargs)
        return requests.Response()

    monkeypatch.setattr(HTTPAdapter, "send", send)
    request = requests.Request("POST", "https://hooks.example.com/in").prepare()
    PublicAddressAdapter().send(request, False, timeout=5, verify=True)
    assert got == {"args": (False,), "kwargs": {"timeout": 5, "verify": True}}


def test_certificate_options_still_reach_the_pool():
    adapter = PublicAddressAdapter()
    request = requests.Request("POST", "https://8.8.4.4/in").prepare()
    request.pinned_hostname = "hooks.example.com"
    _, checked = adapter.build_connection_pool_key_attributes(request, True, ("client.pem", "client.key"))
    assert checked["cert_reqs"] == "CERT_REQUIRED"
    assert (checked["cert_file"], checked["key_file"]) == ("client.pem", "client.key")
    _, unchecked = adapter.build_connection_pool_key_attributes(request, False)
    assert unchecked["cert_reqs"] == "CERT_NONE"


def test_the_adapter_brackets_ipv6_and_refuses_before_sending(lookups, sent):
    lookups[0]["v6.example.com"] = ["2606:4700::1111"]
    PublicAddressAdapter().send(requests.Request("POST", "http://v6.example.com/in").prepare())
    assert sent[0].url == "http://[2606:4700::1111]/in"
    assert lookups[1] == [("v6.example.com", 80)]
    lookups[0]["evil.example.com"] = ["10.0.0.1"]
    with pytest.raises(AddressNotAllowed):
        PublicAddressAdapter().send(requests.Request("POST", "https://evil.example.com/").prepare())
    assert len(sent) == 1


def test_tls_is_checked_against_the_registered_name_not_the_ip():
    adapter = PublicAddressAdapter()
    pinned = requests.Request("POST", "https://8.8.4.4/in").prepare()
    pinned.pinned_hostname = "hooks.example.com"
    _, pool = adapter.build_connection_pool_key_attributes(pinned, True)
    assert (pool["server_hostname"], pool["assert_hostname"]) == ("hooks.example.com", "hooks.example.com")
    plain = requests.Request("POST", "http://8.8.4.4/in").prepare()
    plain.pinned_hostname = "hooks.example.com"
    _, pool = adapter.build_connection_pool_key_attributes(plain, True)
    assert "server_hostname" not in pool and "assert_hostname" not in pool
    unpinned = requests.Request("POST", "https://hooks.example.com/in").prepare()
    _, pool = adapter.build_connection_pool_key_attributes(unpinned, True)
    assert "server_hostname" not in pool and "assert_hostname" not in pool
