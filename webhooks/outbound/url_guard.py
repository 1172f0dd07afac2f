"""Outbound webhook URLs must reach the public internet, never the hub's own network.

A tenant chooses the URL the hub POSTs to, so without this a tenant could make the hub call
`http://169.254.169.254/` (cloud metadata), `http://127.0.0.1:8001/_control/reset` or anything
else only the hub can reach (SSRF). Two checks, both here:

- at registration, `registration_refusal(url)` refuses literal private addresses in every
  spelling (`127.1`, `2130706433`, `0x7f.0.0.1`, `[::ffff:127.0.0.1]`), local names, and names
  that resolve to a private address right now;
- at delivery, `public_address(host, port)` resolves the host and refuses unless *every*
  address is public; `webhooks/outbound/pinned_adapter.py`'s requests adapter then connects to
  the address it checked (the URL is rewritten to that IP; TLS still verifies the certificate
  for the original name), so a DNS answer that changes between the check and the connect
  (rebinding) cannot redirect the request. That adapter is a module of its own because it
  imports requests (urllib3 and friends, ~0.1 s): registration checks and a starting hub need
  none of it, only a delivery attempt does.

`HUB_WEBHOOK_ALLOW_PRIVATE_URLS=true` turns both off for local development (`hub demo`).
"""
from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Names that are local by definition (RFC 6761, cloud metadata), whatever DNS says today.
LOCAL_NAMES = ("localhost", "metadata.google.internal", "metadata")
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")
# inet_aton's legacy IPv4 spellings: 1 to 4 parts, each decimal, octal (0…) or hex (0x…).
_LEGACY_IPV4 = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?$", re.IGNORECASE)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressNotAllowed(Exception):
    """The URL's host is, or resolves to, an address the hub must not call."""


def address_refusal(ip: IPAddress) -> str | None:
    """Why this address is off limits (`loopback`, `private`, …), or None when it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
                                                       if ip in _NAT64 else None)
        if ip.teredo:
            embedded = ip.teredo[1]
        if embedded is not None:
            return address_refusal(embedded)
    for name in ("loopback", "link_local", "multicast", "unspecified", "reserved", "private"):
        if getattr(ip, f"is_{name}"):
            return name
    if not ip.is_global:  # 100.64/10 carrier-grade NAT, documentation ranges, …
        return "not_global"
    return None


def literal_ip(host: str) -> IPAddress | None:
    """The address a host names literally, in any spelling a resolver accepts, or None."""
    # IPv6 brackets, zone ids. no mutate: one "%" at most, and callers pass lowercased names (an
    # uppercase strip set changes nothing).
    host = host.strip("[]").split("%", 1)[0]  # pragma: no mutate
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _LEGACY_IPV4.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))  # pragma: no mutate (lowercased)
        except OSError:
            return None
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # An address has at most one "%" (before its zone id): how the split is bounded changes nothing.
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]  # pragma: no mutate


def host_refusal(host: str, port: int, *, resolve_names: bool = True) -> str | None:
    """Why `host` must not be called, or None. With `resolve_names`, a name whose lookup fails
    is let through (the delivery check looks again); at delivery it is refused."""
    name = host.lower().rstrip(".")  # pragma: no mutate (lowercased: an uppercase strip set is the same)
    ip = literal_ip(name)
    if ip is not None:
        return address_refusal(ip)
    if name in LOCAL_NAMES or name.endswith(LOCAL_SUFFIXES) or "." not in name:
        return "local_name"
    if not resolve_names:
        return None
    try:
        addresses = resolve(name, port)
    except (OSError, UnicodeError):
        return None
    return next((why for why in map(address_refusal, addresses) if why), None)


def registration_refusal(url: str) -> str | None:
    """Checked when an endpoint is registered: the URL's host, resolved once."""
    parts = urlsplit(url)
    # no mutate on the empty host: it and any made-up dotless name are both a local_name.
    host = parts.hostname or ""  # pragma: no mutate
    return host_refusal(host, parts.port or (443 if parts.scheme == "https" else 80))


def public_address(host: str, port: int) -> IPAddress:
    """The address to connect to for `host`: every address it resolves to must be public (a
    name with one private answer among public ones is refused — the resolver may pick it)."""
    name = host.lower().rstrip(".")  # pragma: no mutate (lowercased: an uppercase strip set is the same)
    if name in LOCAL_NAMES or name.endswith(LOCAL_SUFFIXES):
        raise AddressNotAllowed("local_name")
    ip = literal_ip(name)
    try:
        addresses = [ip] if ip is not None else resolve(name, port)
    except (OSError, UnicodeError):
        raise AddressNotAllowed("unresolvable") from None
    if not addresses:
        raise AddressNotAllowed("unresolvable")
    for address in addresses:
        why = address_refusal(address)
        if why:
            raise AddressNotAllowed(why)
    return addresses[0]
