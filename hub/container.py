"""The objects one running hub shares: built once by `create_app`, handed to services."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from hub.config import Settings
from hub.metrics import Metrics
from hub.storage.db import Database
from oauth.flows import OAuthFlow
from oauth.registry import FLOWS
from oauth.tokens import TokenManager
from oauth.vault import TokenVault
from providers import registry
from providers.base import CalendarProvider, ConferencingProvider


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Hub:
    settings: Settings
    db: Database
    vault: TokenVault
    metrics: Metrics
    clock: Callable[[], datetime] = utc_now
    executor: ThreadPoolExecutor = field(init=False)
    tokens: TokenManager = field(init=False)
    _instances: dict[tuple[str, str], Any] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self.executor = ThreadPoolExecutor(max_workers=self.settings.provider_concurrency,
                                           thread_name_prefix="provider")
        self.tokens = TokenManager(self.db, self.vault, self.flow,
                                   margin_seconds=self.settings.refresh_margin_seconds,
                                   clock=lambda: self.clock())

    def _cached(self, kind: str, name: str, make: Callable[[], Any]) -> Any:
        with self._lock:
            key = (kind, name)
            if key not in self._instances:
                self._instances[key] = make()
            return self._instances[key]

    def use(self, kind: str, provider: str, instance: Any) -> None:
        """Put a specific adapter in place (tests use hand-written fakes through this)."""
        with self._lock:
            self._instances[(kind, provider)] = instance

    def flow(self, provider: str) -> OAuthFlow:
        return self._cached("flow", provider, lambda: FLOWS[provider](self.settings))

    def calendar(self, provider: str) -> CalendarProvider:
        spec = registry.get(provider)
        if spec.calendar is None:
            raise KeyError(f"{provider} is not a calendar provider")
        return self._cached("calendar", provider, lambda: spec.calendar(self.settings))

    def conferencing(self, provider: str) -> ConferencingProvider:
        spec = registry.get(provider)
        if spec.conferencing is None:
            raise KeyError(f"{provider} is not a conferencing provider")
        return self._cached("conferencing", provider, lambda: spec.conferencing(self.settings))

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.db.dispose()
