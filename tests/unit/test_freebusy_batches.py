"""How the live free/busy read cuts its readers into batches (hub/services/freebusy._batches):
only a provider with FreeBusyBatch, only readers whose stored token is usable as it is, balanced
groups of at most BATCH_SIZE and the provider's limit, a lone reader read singly."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from hub.services.freebusy import BATCH_SIZE, Reader, _batches
from oauth.tokens import StoredAccess, TokenManager

NOW = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)


class Batching:
    def __init__(self, limit: int) -> None:
        self.batch_limit = limit

    def free_busy_batch(self, reads, start, end):  # pragma: no cover - never called here
        raise AssertionError


class Single:
    def free_busy(self, token, emails, start, end):  # pragma: no cover - never called here
        raise AssertionError


def _hub(**calendars):
    def calendar(provider):
        return calendars[provider]
    return SimpleNamespace(calendar=calendar, tokens=TokenManager(None, None, None, margin_seconds=300,  # type: ignore[arg-type]
                                                                   clock=lambda: NOW))


def _reader(i: int, provider: str, expires_in: timedelta | None = timedelta(hours=1), status: str = "active"):
    access = StoredAccess(f"c{i}", status, "sealed", None if expires_in is None else NOW + expires_in)
    return Reader(f"u{i}", f"c{i}", provider, f"u{i}@x", access=access)


def _ids(groups):
    return [[r.user_id for r in g] for g in groups]


def test_batching_providers_are_cut_into_balanced_groups_and_the_rest_read_singly():
    readers = [_reader(i, "google" if i % 2 == 0 else "microsoft") for i in range(2 * (BATCH_SIZE + 2))]
    batches, singles = _batches(_hub(google=Batching(50), microsoft=Single()), readers)
    google = [r.user_id for r in readers if r.provider == "google"]
    half = (len(google) + 1) // 2
    assert _ids(batches) == [google[:half], google[half:]]  # BATCH_SIZE + 2 → two of equal size
    assert [r.provider for r in singles] == ["microsoft"] * len(singles)


def test_the_providers_own_limit_caps_a_group():
    readers = [_reader(i, "google") for i in range(5)]
    batches, singles = _batches(_hub(google=Batching(2)), readers)
    assert _ids(batches) == [["u0", "u1"], ["u2", "u3"], ["u4"]] and singles == []


def test_a_token_that_needs_a_refresh_first_and_a_lone_reader_are_read_singly():
    readers = [_reader(0, "google"), _reader(1, "google", expires_in=timedelta(minutes=1)),
               _reader(2, "google", status="needs_reauth"), _reader(3, "google", expires_in=None),
               _reader(4, "google"), _reader(5, "other")]
    batches, singles = _batches(_hub(google=Batching(50), other=Batching(50)), readers)
    assert _ids(batches) == [["u0", "u4"]]
    assert [r.user_id for r in singles] == ["u1", "u2", "u3", "u5"]  # u5: alone for its provider
