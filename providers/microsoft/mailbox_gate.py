"""Outlook's per-mailbox limits, kept on our side of the wire.

Outlook allows an app 4 concurrent requests per mailbox (MailboxConcurrency) and answers 429
ApplicationThrottled beyond that (https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits).
The hub reads one person's free/busy from many threads at once, so the adapter queues requests
per mailbox instead of letting Graph refuse them. After a 429 the mailbox is closed until its
Retry-After has passed: calls in that window fail at once with the remaining wait instead of
reaching Graph (retrying is the caller's decision; sleeping here would hold a hub thread).

A call the hub abandons at its deadline leaves its place here at once (its task is cancelled),
but Graph may keep working on it and keep counting it against the mailbox for a while. A 429
that follows is then caused by the hub's own unanswered requests, not by calling too much: it
is reported as `provider_unavailable` (Graph is not answering), and the mailbox is closed for
its Retry-After with that cause, instead of a misleading `rate_limited`.

Runs on the adapter's event-loop thread only, so plain dicts are safe. The key is a digest of
the access token: Microsoft asks clients to treat tokens as opaque, and the hub's single-flight
refresh gives every thread of one connection (= one mailbox) the same token.
"""
from __future__ import annotations

import asyncio
import hashlib
import math
import time
from contextlib import asynccontextmanager
from typing import AsyncIterator, Callable

from providers.base import ErrorKind, ProviderError

MAILBOX_CONCURRENCY = 4
# How long an abandoned request may still count at Graph. Generous: Graph gives no signal.
ABANDONED_MEMORY = 60.0


def mailbox_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:32]


class MailboxGate:
    def __init__(self, provider: str, limit: int = MAILBOX_CONCURRENCY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.provider = provider
        self.limit = limit
        self.clock = clock
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._users: dict[str, int] = {}
        self._closed_until: dict[str, float] = {}
        self._closed_because: dict[str, ProviderError] = {}
        self._abandoned_at: dict[str, float] = {}
        self.in_flight: dict[str, int] = {}
        self.peak_in_flight = 0  # observable by tests and benchmarks

    def _check_open(self, key: str) -> None:
        wait = self._closed_until.get(key, 0.0) - self.clock()
        if wait > 0:
            left = float(math.ceil(wait))
            because = self._closed_because.get(key)
            if because is not None and because.kind is ErrorKind.PROVIDER_DOWN:
                raise ProviderError(ErrorKind.PROVIDER_DOWN,
                                    "Microsoft Graph has not finished earlier requests for this mailbox that never "
                                    f"answered ({math.ceil(wait)} s before trying again)",
                                    provider=self.provider, cause="provider_unavailable",
                                    provider_code="ApplicationThrottled", http_status=429, retry_after=left)
            raise ProviderError(ErrorKind.RATE_LIMITED,
                                f"Microsoft asked to wait before calling this mailbox again ({math.ceil(wait)} s left)",
                                provider=self.provider, cause="rate_limited", provider_code="ApplicationThrottled",
                                http_status=429, retry_after=left)
        self._closed_until.pop(key, None)
        self._closed_because.pop(key, None)

    @asynccontextmanager
    async def slot(self, key: str) -> AsyncIterator[None]:
        self._check_open(key)
        semaphore = self._slots.setdefault(key, asyncio.Semaphore(self.limit))
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with semaphore:
                self._check_open(key)  # a 429 may have arrived while we queued
                self.in_flight[key] = self.in_flight.get(key, 0) + 1
                self.peak_in_flight = max(self.peak_in_flight, self.in_flight[key])
                try:
                    yield
                finally:
                    self.in_flight[key] -= 1
        finally:
            self._users[key] -= 1
            if not self._users[key]:  # tokens rotate hourly: forget idle mailboxes
                del self._users[key]
                self._slots.pop(key, None)
                self.in_flight.pop(key, None)

    def abandoned(self, key: str) -> None:
        """The hub stopped waiting for a request it had sent to this mailbox (deadline, read
        timeout): Graph may go on counting it."""
        self._abandoned_at[key] = self.clock()

    def throttled(self, key: str, err: ProviderError) -> ProviderError:
        """Graph said 429: close the mailbox for Retry-After seconds (1 s when it gave none), and
        return the error to report — `provider_unavailable` when the hub's own recently abandoned
        requests are what fills the mailbox's places at Graph."""
        now = self.clock()
        for stale in [k for k, t in self._closed_until.items() if t <= now]:
            del self._closed_until[stale]
            self._closed_because.pop(stale, None)
        for stale in [k for k, t in self._abandoned_at.items() if now - t > ABANDONED_MEMORY]:
            del self._abandoned_at[stale]
        if key in self._abandoned_at:
            err = ProviderError(ErrorKind.PROVIDER_DOWN,
                                "Microsoft Graph is still busy with earlier requests for this mailbox that never "
                                "answered, and refuses more (429)", provider=self.provider,
                                cause="provider_unavailable", provider_code=err.provider_code or "ApplicationThrottled",
                                http_status=429, retry_after=err.retry_after)
        until = now + (err.retry_after if err.retry_after and err.retry_after > 0 else 1.0)
        if until >= self._closed_until.get(key, 0.0):
            self._closed_until[key] = until
            self._closed_because[key] = err
        return err
