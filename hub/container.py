"""The objects one running hub shares: built once by `create_app`, handed to services."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from hub.config import Settings
from hub.jobs import runner_for
from hub.jobs.dispatch import DISPATCHER
from hub.jobs.runtime import Runner
from hub.limited import LimitedAdapter, limits_for
from hub.limits import Limits
from hub.metrics import Metrics
from hub.storage.db import Database
from hub.storage.models import Connection, Tenant, User
from oauth.connect import ConnectService
from oauth.credential_form import ConnectMethod
from oauth.flows import Grant
from oauth.tokens import TokenManager
from oauth.vault import TokenVault
from providers import registry
from providers.base import (AttendanceReader, CalendarProvider, ConferencingProvider, FormConnect, ProviderError)
from webhooks.outbound import connection_events
from webhooks.outbound.delivery import DeliveryWorker


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
    connect: ConnectService = field(init=False)
    webhooks: DeliveryWorker = field(init=False)
    jobs: Runner = field(init=False)
    limits: Limits = field(init=False)
    _instances: dict[tuple[str, str], Any] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _closing: list[Callable[[], None]] = field(default_factory=list, init=False)
    # Called with the provider's name whenever a connection is made or remade (create_app's
    # warm-up listens: a provider's first connection starts its warm-up).
    connection_listeners: list[Callable[[str], None]] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        # Retry-After and per-account concurrency, shared by all processes through Redis when a
        # broker is configured (hub/limited.py wraps every adapter built below).
        self.limits = limits_for(self.settings.broker_url)
        self.executor = ThreadPoolExecutor(max_workers=self.settings.provider_concurrency,
                                           thread_name_prefix="provider")
        # Both hooks run inside the transaction that changes the connection, so the webhook
        # they queue commits with the change or not at all (durable outbox).
        self.tokens = TokenManager(self.db, self.vault, self.flow,
                                   margin_seconds=self.settings.refresh_margin_seconds,
                                   clock=lambda: self.clock(),
                                   on_status_change=self._connection_status_changed)
        # Built here rather than in wiring.py: the stale-connection hook above mints reconnect
        # links with it, and the web layer must use the same instance.
        self.connect = ConnectService(self.db, self.vault, self.tokens, self.flow, self.settings.public_url,
                                      probe=self._probe_capabilities, clock=lambda: self.clock(),
                                      ttl_seconds=self.settings.connect_link_ttl_seconds,
                                      on_connected=self._connected, extra_scopes=self._feature_scopes)
        self.webhooks = DeliveryWorker(self.db, self.vault, clock=lambda: self.clock(),
                                       allow_private_urls=self.settings.webhook_allow_private_urls)
        # Built, not started: create_app starts the in-process runner when Settings.webhook_worker
        # says so. Every session of this hub hands its committed work to it (hub/jobs/dispatch.py).
        self.jobs = runner_for(self)
        self.db.session_info[DISPATCHER] = self.jobs

    def _probe_capabilities(self, conn: Connection, grant: Grant) -> list[str]:
        from hub.services.connections import probe_capabilities  # that module imports this one
        return probe_capabilities(self, conn, grant)

    def _connection_status_changed(self, session, conn: Connection, old_status: str,
                                   err: ProviderError | None) -> None:
        """A connection went stale: tell the backend, with the cause and a fresh link that
        lets the person reconnect. The link is minted only when someone listens, and lives
        long enough to survive the webhook's retries and an unread inbox."""
        if conn.status != "needs_reauth" or not connection_events.wanted(
                session, conn.tenant_id, "connection.needs_reauth"):
            return
        user = session.get(User, conn.user_id)
        link = self.connect.create_link(conn.tenant_id, user, conn.provider, None, None, session=session,
                                        ttl=timedelta(hours=self.settings.webhook_link_ttl_hours))
        connection_events.needs_reauth(session, conn, err, link.url, now=self.clock())

    def _feature_scopes(self, tenant_id: str, provider: str) -> tuple[str, ...]:
        """Scopes of the tenant's optional features: attendance reads meeting participants, which
        needs more than calendars (Meet's meetings.space.readonly, Teams' OnlineMeetingArtifact.Read.All);
        asked only where the tenant turned attendance on, so nobody else sees a bigger consent screen."""
        spec = registry.get(provider)
        if not spec.attendance_scopes:
            return ()
        with self.db.session() as session:
            tenant = session.get(Tenant, tenant_id)
            return spec.attendance_scopes if tenant is not None and tenant.attendance_enabled else ()

    def _connected(self, session, conn: Connection, old_status: str | None) -> None:
        connection_events.connected(session, conn, old_status, now=self.clock())
        from hub.services.sync import channels  # that package imports this module
        channels.on_connected(self, session, conn, old_status)  # push channel + first sync, as jobs
        for listener in self.connection_listeners:
            listener(conn.provider)

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

    def flow(self, provider: str) -> ConnectMethod:
        """How the provider is connected: its OAuth flow, or its credential form."""
        connect = registry.get(provider).connect
        if isinstance(connect, FormConnect):
            return self._cached("flow", provider, lambda: connect.form(self.settings.provider(provider)))
        return self._cached("flow", provider, lambda: connect.flow(self.settings.provider(provider)))

    def calendar(self, provider: str) -> CalendarProvider:
        make = registry.get(provider).calendar
        if make is None:
            raise KeyError(f"{provider} is not a calendar provider")
        return self._cached("calendar", provider, lambda: self._limited(provider, make(self.settings.provider(provider))))

    def conferencing(self, provider: str) -> ConferencingProvider:
        make = registry.get(provider).conferencing
        if make is None:
            raise KeyError(f"{provider} is not a conferencing provider")
        return self._cached("conferencing", provider,
                            lambda: self._limited(provider, make(self.settings.provider(provider))))

    def _limited(self, provider: str, adapter: Any) -> Any:
        return LimitedAdapter(adapter, provider, self.limits, self.settings.provider_timeout_seconds)

    def attendance(self, provider: str) -> AttendanceReader:
        make = registry.get(provider).attendance
        if make is None:
            raise KeyError(f"{provider} cannot report meeting attendance")
        return self._cached("attendance", provider, lambda: make(self.settings.provider(provider)))

    def on_close(self, stop: Callable[[], None]) -> None:
        """Something to stop when the hub closes (background threads started by create_app)."""
        self._closing.append(stop)

    def close(self) -> None:
        for stop in self._closing:
            stop()
        self.jobs.stop()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.db.dispose()
