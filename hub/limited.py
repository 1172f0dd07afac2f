"""Provider adapters behind the shared limits (hub/limits.py).

Every call that carries an account's access token goes through here first:
- inside the window of a Retry-After the provider gave for that account (in any process),
  the call fails at once with the time left, without reaching the provider — Google and Zoom
  included, whose adapters have no gate of their own;
- with a shared store, an account with a concurrency cap (Graph: 4 per mailbox) gets one of
  its places across all processes first, waiting up to the provider timeout for one.
A Retry-After the provider answers (raised, or inside a free/busy result) closes the account.
"""
from __future__ import annotations

import functools
import hashlib
import math
import time
from typing import Any

from hub.limits import Limits
from providers import registry
from providers.base import ErrorKind, ProviderError

# The adapter methods that take an access token first (providers/base.py's ports).
TOKEN_METHODS = frozenset({"free_busy", "busy_events", "create_event", "update_event", "cancel_event",
                           "conferencing_allowed", "verify_mailbox", "can_host", "create_meeting",
                           "update_meeting", "delete_meeting",
                           "open_channel", "renew_channel", "close_channel", "sync"})


@functools.lru_cache(maxsize=1024)
def account_key(provider: str, token: str) -> str:
    # The single-flight refresh gives every process the same token for one connection; only a
    # digest is kept (in the shared limits, never the token). Remembered per token, as the
    # token manager remembers the opened token: the same few accounts are called again and
    # again within a token's hour, and the digest was a third of this gate's cost per call.
    return f"{provider}:{hashlib.sha256(token.encode()).hexdigest()[:32]}"


class LimitedAdapter:
    def __init__(self, adapter: Any, provider: str, limits: Limits, timeout: float) -> None:
        self._adapter = adapter
        self._provider = provider
        self._limits = limits
        self._timeout = timeout
        spec = registry.PROVIDERS.get(provider)
        # Concurrent requests per account the provider allows (its spec), shared across processes.
        self._concurrency = spec.concurrency_per_account if spec is not None and limits.shared else None
        self._name = spec.title if spec is not None else provider

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._adapter, name)
        if name == "free_busy_batch":  # only where the adapter has it: FreeBusyBatch stays optional
            return functools.partial(self._batch, attr)
        if name not in TOKEN_METHODS:
            return attr
        return functools.partial(self._call, attr)

    def _batch(self, method: Any, reads: list[tuple[str, str]], *args: Any, **kwargs: Any) -> list[Any]:
        """`free_busy_batch`: each read passes its own account's gate as its own call would — a
        closed account fails at once and is left out of the batch — and an answer's
        Retry-After closes that account alone."""
        keys = [account_key(self._provider, token) for token, _ in reads]
        out: list[Any] = [None] * len(reads)
        sent: list[int] = []
        places: list[tuple[str, str]] = []
        try:
            for i, key in enumerate(keys):
                try:
                    self._check_open(key)
                    if self._concurrency:
                        places.append((key, self._take_place(key)))
                except ProviderError as err:
                    out[i] = err
                    continue
                sent.append(i)
            answers = method([reads[i] for i in sent], *args, **kwargs) if sent else []
        finally:
            for key, place in places:
                self._limits.release(key, place)
        for i, answer in zip(sent, answers):
            out[i] = answer
            if isinstance(answer, ProviderError):
                self._note(keys[i], answer)
        return out

    def _call(self, method: Any, token: str, *args: Any, **kwargs: Any) -> Any:
        key = account_key(self._provider, token)
        self._check_open(key)
        place = self._take_place(key) if self._concurrency else None
        try:
            result = method(token, *args, **kwargs)
        except ProviderError as err:
            self._note(key, err)
            raise
        finally:
            if place is not None:
                self._limits.release(key, place)
        if isinstance(result, dict):  # free/busy answers per person, errors included
            for value in result.values():
                if isinstance(value, ProviderError):
                    self._note(key, value)
        return result

    def _check_open(self, key: str) -> None:
        left, cause = self._limits.closed(key)
        if left <= 0:
            return
        wait = float(math.ceil(left))
        name = self._name
        if cause == "provider_unavailable":
            raise ProviderError(ErrorKind.PROVIDER_DOWN, f"{name} has not finished earlier requests for this account "
                                f"that never answered ({wait:g} s before trying again)", provider=self._provider,
                                cause="provider_unavailable", retry_after=wait)
        raise ProviderError(ErrorKind.RATE_LIMITED, f"{name} asked to wait before calling this account again "
                            f"({wait:g} s left)", provider=self._provider, cause="rate_limited", retry_after=wait)

    def _take_place(self, key: str) -> str:
        assert self._concurrency is not None
        deadline = time.monotonic() + self._timeout
        pause = 0.005
        while True:
            place = self._limits.acquire(key, self._concurrency, self._timeout + 5)
            if place is not None:
                return place
            if time.monotonic() >= deadline:
                name = self._name
                raise ProviderError(ErrorKind.PROVIDER_DOWN, f"{name} did not answer in time: every place for this "
                                    "account stayed taken by earlier requests", provider=self._provider,
                                    cause="provider_unavailable")
            time.sleep(pause)  # places free within milliseconds; Redis has no cheap wake-up here
            pause = min(pause * 2, 0.05)

    def _note(self, key: str, err: ProviderError) -> None:
        if err.retry_after and err.retry_after > 0 and (err.kind is ErrorKind.RATE_LIMITED or err.http_status == 429):
            self._limits.close(key, err.retry_after, err.cause or "rate_limited")


def limits_for(broker_url: str) -> Limits:
    if broker_url:
        from hub.limits import RedisLimits
        return RedisLimits.from_url(broker_url)
    from hub.limits import LocalLimits
    return LocalLimits()
