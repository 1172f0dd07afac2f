"""Configuration of a sandbox: the OAuth clients each emulated provider knows, token lifetimes
and the clock.

The defaults make the sandbox usable with no setup at all: every provider gets a client
``sandbox-<provider>-client`` / ``sandbox-<provider>-secret`` that accepts any loopback
redirect URI, because the hub's port is chosen at random in tests.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Mapping
from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class OAuthClient:
    """An OAuth client registered at an emulated provider (the hub's "app registration")."""

    client_id: str
    client_secret: str
    # Exact redirect URIs registered for the client, as a provider console would hold them.
    redirect_uris: tuple[str, ...] = ()
    # Real providers need every redirect URI registered; the hub's port is dynamic in tests, so
    # by default any http(s) URL on a loopback host is accepted as well.
    allow_loopback_redirects: bool = True
    # Real providers accept a code flow without PKCE; the hub's own sandbox clients require it
    # so a regression in the hub's flows is caught (see default_client).
    require_pkce: bool = False

    def allows_redirect(self, uri: str | None) -> bool:
        if not uri:
            return False
        if uri in self.redirect_uris:
            return True
        if not self.allow_loopback_redirects:
            return False
        try:
            parts = urlsplit(uri)
            parts.port  # noqa: B018 - raises ValueError for a malformed port
        except ValueError:
            return False
        return (
            parts.scheme in ("http", "https")
            and parts.hostname in LOOPBACK_HOSTS
            and not parts.fragment
        )

    def to_dict(self) -> dict:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uris": list(self.redirect_uris),
            "allow_loopback_redirects": self.allow_loopback_redirects,
            "require_pkce": self.require_pkce,
        }


def default_client(provider: str) -> OAuthClient:
    """The hub's app registration: PKCE required, so the hub's flows stay checked."""
    return OAuthClient(f"sandbox-{provider}-client", f"sandbox-{provider}-secret", require_pkce=True)


def default_app_client(provider: str) -> OAuthClient:
    """Another app registered at the provider (a third-party library, a user's own tests):
    PKCE optional, as at the real providers."""
    return OAuthClient(f"sandbox-{provider}-app", f"sandbox-{provider}-app-secret")


@dataclass
class SandboxConfig:
    """Everything a sandbox app is built from; ``create_sandbox_app`` is the composition root."""

    # provider name -> the one OAuth client that provider knows; missing ones get default_client.
    clients: Mapping[str, OAuthClient] = field(default_factory=dict)
    # provider name -> further apps the provider knows; missing ones get default_app_client.
    other_clients: Mapping[str, tuple[OAuthClient, ...]] = field(default_factory=dict)
    access_token_lifetime: int = 3599
    # Providers keep authorization codes for minutes, not hours; 10 minutes is Google's order.
    authorization_code_lifetime: int = 600
    # False makes every client lenient about PKCE, the hub's too (each client's own
    # ``require_pkce`` decides otherwise).
    require_pkce: bool = True
    # Injectable so tests can age codes and tokens without sleeping.
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    # The request log is a ring buffer: a long demo must not grow memory without bound.
    request_log_limit: int = 10_000

    def client_for(self, provider: str) -> OAuthClient:
        return self.clients.get(provider) or default_client(provider)

    def other_clients_for(self, provider: str) -> tuple[OAuthClient, ...]:
        found = self.other_clients.get(provider)
        return tuple(found) if found is not None else (default_app_client(provider),)
