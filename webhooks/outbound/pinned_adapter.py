"""The delivery side of the SSRF guard (webhooks/outbound/url_guard.py): a requests adapter that
checks the host at send time and connects to the checked IP. Kept apart from url_guard so that
only a delivery attempt imports requests, not a starting hub or an endpoint's registration."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from requests.adapters import HTTPAdapter

from webhooks.outbound import url_guard


class PublicAddressAdapter(HTTPAdapter):
    """A requests adapter that checks the host at send time and connects to the checked IP."""

    def send(self, request, *args: Any, **kwargs: Any):  # type: ignore[override]
        parts = urlsplit(request.url)
        host = parts.hostname or ""  # pragma: no mutate (no host and any made-up one both fail to resolve)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        ip = url_guard.public_address(host, port)  # the module's: tests replace its resolver
        netloc = f"[{ip}]" if ip.version == 6 else str(ip)
        if parts.port:
            netloc += f":{parts.port}"
        authority = parts.netloc.rpartition("@")[2]  # host[:port] as registered, without userinfo
        request.headers["Host"] = authority  # pragma: no mutate (requests' headers are case-insensitive)
        request.url = urlunsplit(parts._replace(netloc=netloc))
        request.pinned_hostname = host  # read by build_connection_pool_key_attributes for TLS
        return super().send(request, *args, **kwargs)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):  # type: ignore[override]
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        hostname = getattr(request, "pinned_hostname", None)
        if hostname and host_params.get("scheme") == "https":
            # SNI and certificate checks against the name the tenant registered, not the IP.
            pool_kwargs["server_hostname"] = hostname
            pool_kwargs["assert_hostname"] = hostname
        return host_params, pool_kwargs
