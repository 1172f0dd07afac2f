"""The calendar contract: one suite every calendar adapter passes, through its sandbox emulator
with the real SDK. Every calendar provider in the registry runs it; one without contract traits
fails (tests/contract/support.py)."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from providers.base import Attendee, ErrorKind, EventChanges, EventDraft, ProviderError
from tests.contract.support import CALENDAR_PROVIDERS, CalendarUnderTest, calendar_under_test

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(params=CALENDAR_PROVIDERS)
def cal(request, sandbox_url) -> CalendarUnderTest:
    return calendar_under_test(request.param, sandbox_url)


def test_free_busy_reads_what_the_calendar_holds(cal):
    cal.sandbox.busy(cal.provider, cal.email, (T0 + timedelta(hours=1)).isoformat(), (T0 + timedelta(hours=2)).isoformat())
    cal.sandbox.busy(cal.provider, cal.email, (T0 + timedelta(hours=5)).isoformat(), (T0 + timedelta(hours=6)).isoformat())
    result = cal.adapter.free_busy(cal.token, [cal.email], T0, T0 + timedelta(hours=8))
    blocks = result[cal.email]
    assert not isinstance(blocks, ProviderError), blocks
    assert [(b.start, b.end) for b in blocks] == [(T0 + timedelta(hours=1), T0 + timedelta(hours=2)),
                                                  (T0 + timedelta(hours=5), T0 + timedelta(hours=6))]
    assert all(b.start.tzinfo is not None for b in blocks)


def test_unknown_calendar_is_an_error_in_place(cal):
    ghost = f"ghost-{uuid.uuid4().hex[:6]}@nowhere.example"
    result = cal.adapter.free_busy(cal.token, [cal.email, ghost], T0, T0 + timedelta(hours=8))
    assert isinstance(result[ghost], ProviderError)
    assert not isinstance(result[cal.email], ProviderError)


def test_create_with_native_conferencing_is_idempotent(cal):
    handle = f"tenant:{uuid.uuid4().hex}"
    draft = EventDraft(title="Contract interview", start=T0, end=T0 + timedelta(minutes=45),
                       attendees=(Attendee("cand@example.com", "Cand"),), description="d",
                       timezone="Europe/Stockholm", native_conferencing=cal.native, idempotency_handle=handle)
    first = cal.adapter.create_event(cal.token, draft)
    second = cal.adapter.create_event(cal.token, draft)
    assert first.event_id == second.event_id
    if cal.native:
        assert first.conference is not None and first.conference.join_url.startswith("https://")
    else:
        assert first.conference is None
    held = [e for e in cal.sandbox.events(cal.provider, cal.email) if cal.event_title(e) == "Contract interview"]
    assert len(held) == 1


def test_update_moves_and_cancel_removes(cal):
    created = cal.adapter.create_event(cal.token, EventDraft(title="Move me", start=T0, end=T0 + timedelta(minutes=30),
                                                             idempotency_handle=uuid.uuid4().hex))
    cal.adapter.update_event(cal.token, created.event_id, EventChanges(start=T0 + timedelta(hours=3),
                                                                      end=T0 + timedelta(hours=3, minutes=30),
                                                                      title="Moved"))
    fb = cal.adapter.free_busy(cal.token, [cal.email], T0, T0 + timedelta(hours=8))[cal.email]
    assert [(b.start, b.end) for b in fb] == [(T0 + timedelta(hours=3), T0 + timedelta(hours=3, minutes=30))]
    cal.adapter.cancel_event(cal.token, created.event_id)
    cal.adapter.cancel_event(cal.token, created.event_id)  # gone already: still fine
    assert cal.adapter.free_busy(cal.token, [cal.email], T0, T0 + timedelta(hours=8))[cal.email] == []


def test_bad_token_is_auth_expired(cal):
    with pytest.raises(ProviderError) as info:
        cal.adapter.free_busy("not-a-token", [cal.email], T0, T0 + timedelta(hours=1))
    assert info.value.kind is ErrorKind.AUTH_EXPIRED


def test_conferencing_availability_is_reported(cal):
    if not cal.native:  # a calendar without meetings of its own never claims them
        assert cal.adapter.conferencing_allowed(cal.token) is False
        return
    assert cal.adapter.conferencing_allowed(cal.token) is True
    cal.sandbox.fault(cal.provider, cal.conferencing_off_scenario, email=cal.email)
    assert cal.adapter.conferencing_allowed(cal.token) is False


def test_rate_limit_carries_retry_after(cal):
    cal.sandbox.fault(cal.provider, "rate_limit", email=cal.email, times=1, params={"retry_after": 2, "status": 429})
    with pytest.raises(ProviderError) as info:
        cal.adapter.free_busy(cal.token, [cal.email], T0, T0 + timedelta(hours=1))
    assert info.value.kind is ErrorKind.RATE_LIMITED and info.value.retry_after == 2


def test_server_error_is_provider_down(cal):
    cal.sandbox.fault(cal.provider, "server_error", email=cal.email, times=1)
    with pytest.raises(ProviderError) as info:
        cal.adapter.free_busy(cal.token, [cal.email], T0, T0 + timedelta(hours=1))
    assert info.value.kind is ErrorKind.PROVIDER_DOWN
    # and it passes again afterwards: a fault with times=1 fires once
    assert not isinstance(cal.adapter.free_busy(cal.token, [cal.email], T0, T0 + timedelta(hours=1))[cal.email],
                          ProviderError)


def test_mailbox_check_passes_for_a_person(cal):
    assert cal.adapter.verify_mailbox(cal.token) is None


HOLD_MARK = {"google": lambda e: (e.get("status"), e.get("transparency")) == ("tentative", "opaque"),
             "microsoft": lambda e: e.get("showAs") == "tentative",
             "caldav": lambda e: (e.get("status"), e.get("transp")) == ("TENTATIVE", "OPAQUE")}


def test_a_hold_is_tentative_attendee_free_silent_and_still_busy(cal):
    draft = EventDraft(title="Held: Interview", start=T0, end=T0 + timedelta(minutes=30), show_as="tentative",
                       send_updates=False, idempotency_handle=uuid.uuid4().hex)
    created = cal.adapter.create_event(cal.token, draft)
    stored = [e for e in cal.sandbox.events(cal.provider, cal.email) if e["id"] == created.event_id]
    assert len(stored) == 1 and HOLD_MARK[cal.provider](stored[0]), stored
    assert not stored[0].get("attendees")
    if cal.provider == "google":  # Graph notifies nobody when there are no attendees
        inserts = [r for r in cal.sandbox.requests_log("google") if r["method"] == "POST" and r["path"].endswith("/events")]
        assert inserts and all(r["query"].get("sendUpdates") in ("none", ["none"]) for r in inserts[-1:])
    fb = cal.adapter.free_busy(cal.token, [cal.email], T0 - timedelta(hours=1), T0 + timedelta(hours=1))[cal.email]
    assert [(b.start, b.end) for b in fb] == [(T0, T0 + timedelta(minutes=30))]


def test_busy_events_name_each_blocking_event(cal):
    own = cal.adapter.create_event(cal.token, EventDraft(title="Held", start=T0, end=T0 + timedelta(minutes=30),
                                                         show_as="tentative", send_updates=False))
    cal.sandbox.busy(cal.provider, cal.email, T0.isoformat(), (T0 + timedelta(minutes=30)).isoformat())
    cal.sandbox.busy(cal.provider, cal.email, (T0 + timedelta(hours=2)).isoformat(),
                     (T0 + timedelta(hours=3)).isoformat(), status="free")
    blocks = cal.adapter.busy_events(cal.token, T0 - timedelta(hours=1), T0 + timedelta(hours=4))
    assert sorted((b.start, b.end, b.status, b.event_id == own.event_id) for b in blocks) == [
        (T0, T0 + timedelta(minutes=30), "busy", False),
        (T0, T0 + timedelta(minutes=30), "tentative", True)]
