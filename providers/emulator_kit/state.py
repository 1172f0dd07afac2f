"""The sandbox's in-memory world: accounts per provider and, per account, named collections
(Google keeps "events" there, Zoom will keep "meetings").

One re-entrant lock guards everything. Emulators take ``state.lock`` around any
read-modify-write (check an id is free, then insert) because the sandbox is served by a
threaded server and the hub calls providers concurrently.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

from .accounts import Account, default_name, normalise_email, stable_subject


class SandboxState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._accounts: dict[tuple[str, str], Account] = {}
        self._collections: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._provider_data: dict[str, dict[str, Any]] = {}
        # Bumped by reset(): opaque tokens minted before a reset (sync tokens, page tokens) can
        # embed it and be recognised as stale.
        self.generation = 0

    # -- accounts ---------------------------------------------------------------------------
    def account(self, provider: str, email: str) -> Account | None:
        with self.lock:
            return self._accounts.get((provider, normalise_email(email)))

    def accounts(self, provider: str | None = None) -> list[Account]:
        with self.lock:
            return [a for (p, _), a in sorted(self._accounts.items()) if provider in (None, p)]

    def upsert_account(self, provider: str, email: str, **attributes: Any) -> tuple[Account, bool]:
        """Create the account or update the given attributes; returns (account, created)."""
        email = normalise_email(email)
        attributes = {k: v for k, v in attributes.items() if v is not None}
        with self.lock:
            existing = self._accounts.get((provider, email))
            if existing is not None:
                updated = dataclasses.replace(existing, **attributes)
                self._accounts[(provider, email)] = updated
                return updated, False
            attributes.setdefault("name", default_name(email))
            account = Account(
                provider=provider, email=email, subject=stable_subject(provider, email), **attributes
            )
            self._accounts[(provider, email)] = account
            return account, True

    def ensure_account(self, provider: str, email: str) -> Account:
        """The account, created with defaults when unknown (sandbox accounts appear on demand)."""
        with self.lock:
            return self.account(provider, email) or self.upsert_account(provider, email)[0]

    # -- per-account and per-provider data ---------------------------------------------------
    def collection(self, provider: str, email: str, name: str) -> dict[str, Any]:
        """The mutable dict ``name`` of one account; hold ``lock`` while changing it."""
        key = (provider, normalise_email(email), name)
        with self.lock:
            return self._collections.setdefault(key, {})

    def provider_data(self, provider: str) -> dict[str, Any]:
        """A mutable dict for provider-wide things (push channels, counters); hold ``lock``."""
        with self.lock:
            return self._provider_data.setdefault(provider, {})

    def export_state(self) -> dict[str, Any]:
        """Plain data (dataclasses, dicts) a demo can save and ``import_state`` put back."""
        with self.lock:
            return {"accounts": dict(self._accounts), "collections": dict(self._collections),
                    "provider_data": dict(self._provider_data), "generation": self.generation}

    def import_state(self, data: dict[str, Any]) -> None:
        with self.lock:
            self._accounts = dict(data["accounts"])
            self._collections = dict(data["collections"])
            self._provider_data = dict(data["provider_data"])
            self.generation = data["generation"]

    def reset(self) -> None:
        with self.lock:
            self._accounts.clear()
            self._collections.clear()
            self._provider_data.clear()
            self.generation += 1
