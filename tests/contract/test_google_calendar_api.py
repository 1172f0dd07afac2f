"""`providers/google/calendar_api.py` under concurrency, over real HTTP against the sandbox's
Google: one built service shared by every thread, a pooled connection per call in flight — and
no answer crossing over to another person's call."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from providers.base import ErrorKind, ProviderError
from tests.contract.support import calendar_under_test

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
WIDTH = 24


def test_concurrent_calls_share_one_service_and_each_gets_its_own_answer(sandbox_url):
    ada = calendar_under_test("google", sandbox_url)
    bob = calendar_under_test("google", sandbox_url)
    adapter = ada.adapter  # one adapter (one CalendarApi) serves both people, as in the hub
    ada.sandbox.busy("google", ada.email, (T0 + timedelta(hours=1)).isoformat(), (T0 + timedelta(hours=2)).isoformat())
    bob.sandbox.busy("google", bob.email, (T0 + timedelta(hours=4)).isoformat(), (T0 + timedelta(hours=5)).isoformat())
    expected = {ada.email: [(T0 + timedelta(hours=1), T0 + timedelta(hours=2))],
                bob.email: [(T0 + timedelta(hours=4), T0 + timedelta(hours=5))]}

    def read(i: int) -> tuple[str, object]:
        person = (ada, bob)[i % 2]
        blocks = adapter.free_busy(person.token, [person.email], T0, T0 + timedelta(hours=8))[person.email]
        return person.email, blocks

    with ThreadPoolExecutor(WIDTH) as pool:
        answers = list(pool.map(read, range(WIDTH * 4)))

    for email, blocks in answers:
        assert not isinstance(blocks, ProviderError), blocks
        assert [(b.start, b.end) for b in blocks] == expected[email]
    api = adapter._api
    service = api.service
    assert api.service is service  # built once
    # One connection per call that was ever in flight at once, never more.
    assert 1 <= len(api._idle) <= WIDTH


def test_a_reused_connection_carries_each_calls_own_token_and_keeps_none_when_idle(sandbox_url):
    """Each pooled connection keeps its credentials between calls (building them per call cost
    more than the rest of the call's own work): every call must still send its own token."""
    ada = calendar_under_test("google", sandbox_url)
    bob = calendar_under_test("google", sandbox_url)
    adapter = ada.adapter
    api = adapter._api
    end = T0 + timedelta(hours=8)
    adapter.free_busy(ada.token, [ada.email], T0, end)
    assert len(api._idle) == 1  # one call at a time: the same pooled connection every call
    pooled = api._idle[0]
    assert pooled.credentials.token is None  # an idle connection holds no one's token
    sent_with: list[str] = []
    send = pooled.http.request

    def recording(uri, method="GET", body=None, headers=None, **kw):
        sent_with.append(headers["authorization"])
        return send(uri, method, body=body, headers=headers, **kw)
    pooled.http.request = recording
    assert not isinstance(adapter.free_busy(bob.token, [bob.email], T0, end)[bob.email], ProviderError)
    assert not isinstance(adapter.free_busy(ada.token, [ada.email], T0, end)[ada.email], ProviderError)
    # A token the provider refuses, right after good ones: refused, not sent as the last one.
    with pytest.raises(ProviderError) as refused:
        adapter.free_busy("not-a-token", [ada.email], T0, end)
    assert refused.value.kind is ErrorKind.AUTH_EXPIRED
    assert sent_with == [f"Bearer {bob.token}", f"Bearer {ada.token}", "Bearer not-a-token"]
    assert api._idle == [pooled] and pooled.credentials.token is None
