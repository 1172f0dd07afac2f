"""Every provider's Retry-After, in one process (LocalLimits): the account is not called again
inside the window, whether the error was raised or came back inside a free/busy answer."""
from __future__ import annotations

import pytest

from hub.limited import LimitedAdapter
from hub.limits import LocalLimits
from providers.base import ErrorKind, ProviderError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Zoomish:
    """A conferencing adapter that answers what it is told to and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.answer: object = True
        self.flavour = "zoom"  # plain attributes pass through

    def can_host(self, token: str) -> bool:
        self.calls += 1
        if isinstance(self.answer, ProviderError):
            raise self.answer
        return bool(self.answer)

    def free_busy(self, token: str, emails: list[str], start, end):
        self.calls += 1
        return {e: self.answer for e in emails}


def limited(clock: Clock, provider: str = "zoom") -> tuple[LimitedAdapter, Zoomish]:
    inner = Zoomish()
    return LimitedAdapter(inner, provider, LocalLimits(clock), timeout=5), inner


def test_a_raised_retry_after_closes_the_account_for_its_window():
    clock = Clock()
    adapter, inner = limited(clock)
    inner.answer = ProviderError(ErrorKind.RATE_LIMITED, "429", provider="zoom", cause="rate_limited",
                                 http_status=429, retry_after=3)
    with pytest.raises(ProviderError):
        adapter.can_host("tok")
    inner.answer = True
    with pytest.raises(ProviderError) as info:
        adapter.can_host("tok")
    assert (info.value.kind, info.value.retry_after, inner.calls) == (ErrorKind.RATE_LIMITED, 3, 1)
    assert adapter.can_host("another account's token") is True  # other accounts are not affected
    clock.now += 3.01
    assert adapter.can_host("tok") is True and adapter.flavour == "zoom"


def test_a_retry_after_inside_a_free_busy_answer_closes_it_too():
    clock = Clock()
    adapter, inner = limited(clock, "google")
    inner.answer = ProviderError(ErrorKind.RATE_LIMITED, "quota", provider="google", cause="rate_limited",
                                 http_status=403, retry_after=3600)
    assert isinstance(adapter.free_busy("tok", ["a@x"], None, None)["a@x"], ProviderError)
    with pytest.raises(ProviderError) as info:
        adapter.free_busy("tok", ["a@x"], None, None)
    assert info.value.retry_after == 3600 and inner.calls == 1


def test_a_window_caused_by_unanswered_requests_keeps_its_cause():
    clock = Clock()
    adapter, inner = limited(clock, "microsoft")
    inner.answer = ProviderError(ErrorKind.PROVIDER_DOWN, "busy with abandoned requests", provider="microsoft",
                                 cause="provider_unavailable", http_status=429, retry_after=2)
    with pytest.raises(ProviderError):
        adapter.can_host("tok")
    with pytest.raises(ProviderError) as info:
        adapter.can_host("tok")
    assert (info.value.kind, info.value.cause) == (ErrorKind.PROVIDER_DOWN, "provider_unavailable")


class Batching:
    """An adapter with FreeBusyBatch: answers each read with its token's answer, records what it got."""

    batch_limit = 50

    def __init__(self) -> None:
        self.sent: list[list[str]] = []
        self.answers: dict[str, object] = {}

    def free_busy_batch(self, reads, start, end):
        self.sent.append([token for token, _ in reads])
        return [self.answers.get(token, []) for token, _ in reads]


def test_each_read_of_a_batch_passes_its_own_accounts_gate():
    from providers.base import FreeBusyBatch
    clock = Clock()
    inner = Batching()
    adapter = LimitedAdapter(inner, "google", LocalLimits(clock), timeout=5)
    assert isinstance(adapter, FreeBusyBatch)
    assert not isinstance(LimitedAdapter(Zoomish(), "zoom", LocalLimits(clock), timeout=5), FreeBusyBatch)
    inner.answers["b"] = ProviderError(ErrorKind.RATE_LIMITED, "429", provider="google", cause="rate_limited",
                                       http_status=429, retry_after=3)
    reads = [("a", "a@x"), ("b", "b@x"), ("c", "c@x")]
    first = adapter.free_busy_batch(reads, None, None)
    assert first[0] == [] and first[2] == [] and first[1] is inner.answers["b"]
    # b's Retry-After closed b alone: the next batch leaves it out and answers it at once.
    second = adapter.free_busy_batch(reads, None, None)
    assert inner.sent == [["a", "b", "c"], ["a", "c"]]
    assert isinstance(second[1], ProviderError) and second[1].kind is ErrorKind.RATE_LIMITED
    assert second[1].retry_after == 3 and (second[0], second[2]) == ([], [])
    assert adapter.free_busy_batch([("b", "b@x")], None, None)[0].kind is ErrorKind.RATE_LIMITED
    assert inner.sent[-1] == ["a", "c"]  # nothing left to send: no call at all
