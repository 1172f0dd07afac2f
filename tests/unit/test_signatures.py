"""Both webhook signatures byte for byte: what the hub signs for receivers (Standard Webhooks,
webhooks/outbound/signing.py) and how it checks Zoom's (webhooks/zoom_signature.py)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
from standardwebhooks import Webhook

from webhooks.outbound.signing import SECRET_BYTES, SECRET_PREFIX, new_secret, secret_key, sign, signed_headers
from webhooks.zoom_signature import (WINDOW_SECONDS, ReplayGuard, canonical, encrypted_token, refusal,
                                     signature)

KEY = bytes(range(32))
SECRET = "whsec_" + base64.b64encode(KEY).decode()


def test_a_new_secret_is_32_random_bytes_behind_the_prefix():
    first, second = new_secret(), new_secret()
    assert SECRET_PREFIX == "whsec_" and SECRET_BYTES == 32
    assert first.startswith("whsec_") and first != second
    assert len(secret_key(first)) == 32
    assert base64.b64encode(secret_key(first)).decode() == first.removeprefix("whsec_")


def test_the_key_is_the_secrets_decoded_bytes_padding_or_not():
    assert secret_key(SECRET) == KEY
    unpadded = "whsec_" + base64.b64encode(b"sixteen byte key").decode().rstrip("=")
    assert secret_key(unpadded) == b"sixteen byte key"
    assert secret_key(base64.b64encode(KEY).decode()) == KEY  # without the prefix too
    for size in range(24, 65):  # the sizes the spec allows, every padding length
        key = bytes(range(size))
        assert secret_key("whsec_" + base64.b64encode(key).decode().rstrip("=")) == key


def test_the_signature_is_hmac_sha256_of_id_timestamp_body():
    body = '{"type":"event.created"}'
    expected = base64.b64encode(hmac.new(KEY, f"msg_1.1700000000.{body}".encode(), hashlib.sha256).digest()).decode()
    assert sign(SECRET, "msg_1", 1700000000, body) == "v1," + expected
    assert sign(SECRET, "msg_1", 1700000000.9, body) == "v1," + expected  # whole seconds


def test_signed_headers_verify_with_the_reference_library():
    body = '{"type":"event.created","data":{"id":"evt_1"}}'
    now = time.time()  # the reference refuses old timestamps
    headers = signed_headers(SECRET, "msg_2", now, body)
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert (headers["webhook-id"], headers["webhook-timestamp"]) == ("msg_2", str(int(now)))
    assert headers["webhook-signature"] == sign(SECRET, "msg_2", int(now), body)
    assert Webhook(SECRET).verify(body, headers) == {"type": "event.created", "data": {"id": "evt_1"}}


def test_an_id_with_a_dot_is_refused():
    with pytest.raises(ValueError, match=r"^a webhook id must not contain '\.'$"):
        sign(SECRET, "msg.1", 1700000000, "{}")


ZOOM_SECRET = "zoom-webhook-secret"
RAW = b'{"event":"meeting.participant_joined"}'
NOW = 1_700_000_000.0


def zoom_sig(ts: str, raw: bytes = RAW, secret: str = ZOOM_SECRET) -> str:
    return "v0=" + hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + raw, hashlib.sha256).hexdigest()


def test_zoom_signature_and_challenge_token_are_hex_hmacs():
    assert signature(ZOOM_SECRET, "1700000000", RAW) == zoom_sig("1700000000")
    assert encrypted_token(ZOOM_SECRET, "plain-123") == hmac.new(b"zoom-webhook-secret", b"plain-123",
                                                                 hashlib.sha256).hexdigest()


def test_canonical_strips_surrounding_whitespace_only():
    assert canonical(" v0=ab\t\n") == "v0=ab"
    assert canonical("v0=a b") == "v0=a b"


@pytest.mark.parametrize("ts, given, why", [
    (None, "v0=x", "missing_signature"), ("", "v0=x", "missing_signature"), ("1700000000", None, "missing_signature"),
    ("1700000000", "", "missing_signature"),
    ("²", "v0=x", "stale_timestamp"), ("1" * 4300, "v0=x", "stale_timestamp"), ("1700000000.5", "v0=x", "stale_timestamp"),
    ("-1700000000", "v0=x", "stale_timestamp"), ("1" * 13, "v0=x", "stale_timestamp"),
    (str(int(NOW) - WINDOW_SECONDS - 1), None, "missing_signature"),
])
def test_refusal_reasons_for_missing_and_malformed_input(ts, given, why):
    assert refusal(ZOOM_SECRET, ts, given, RAW, NOW) == why


def test_the_timestamp_window_is_inclusive_both_ways():
    for ts in (int(NOW) - WINDOW_SECONDS, int(NOW) + WINDOW_SECONDS):
        assert refusal(ZOOM_SECRET, str(ts), zoom_sig(str(ts)), RAW, NOW) is None
    for ts in (int(NOW) - WINDOW_SECONDS - 1, int(NOW) + WINDOW_SECONDS + 1):
        assert refusal(ZOOM_SECRET, str(ts), zoom_sig(str(ts)), RAW, NOW) == "stale_timestamp"
    assert WINDOW_SECONDS == 300
    late = str(int(NOW) - 60)
    assert refusal(ZOOM_SECRET, late, zoom_sig(late), RAW, NOW, window=30) == "stale_timestamp"
    assert refusal(ZOOM_SECRET, late, zoom_sig(late), RAW, NOW, window=60) is None


def test_a_signature_must_match_secret_timestamp_and_body():
    ts = str(int(NOW))
    assert refusal(ZOOM_SECRET, ts, zoom_sig(ts), RAW, NOW) is None
    assert refusal(ZOOM_SECRET, ts, f"  {zoom_sig(ts)}\t", RAW, NOW) is None  # whitespace is not part of it
    assert refusal(ZOOM_SECRET, ts, zoom_sig(ts, secret="other"), RAW, NOW) == "bad_signature"
    assert refusal(ZOOM_SECRET, ts, zoom_sig(str(int(NOW) - 1)), RAW, NOW) == "bad_signature"
    assert refusal(ZOOM_SECRET, ts, zoom_sig(ts, raw=RAW + b" "), RAW, NOW) == "bad_signature"
    assert refusal(ZOOM_SECRET, ts, zoom_sig(ts).upper(), RAW, NOW) == "bad_signature"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_replay_guard_remembers_a_signature_for_the_window():
    clock = Clock(NOW)
    guard = ReplayGuard(window=300, clock=clock)
    assert guard.first_time("v0=a") is True
    assert guard.first_time("v0=a") is False
    clock.now = NOW + 300  # exactly one window later it still counts as seen
    assert guard.first_time("v0=a") is False
    clock.now = NOW + 300.5  # older than the window: forgotten (a stale timestamp is refused anyway)
    assert guard.first_time("v0=a") is True


def test_the_replay_guard_forgets_the_oldest_at_its_limit():
    clock = Clock(NOW)
    guard = ReplayGuard(window=300, limit=2, clock=clock)
    assert guard.first_time("a") and guard.first_time("b")
    clock.now += 1
    assert guard.first_time("b") is False  # at the limit: "a", the oldest, made room
    assert guard.first_time("a") is True
    assert ReplayGuard().window == WINDOW_SECONDS and ReplayGuard().limit == 100_000


class FixedJitter:
    """An rng whose uniform() records its bounds and answers a chosen point of them."""

    def __init__(self, at: float) -> None:
        self.at, self.bounds = at, []

    def uniform(self, low: float, high: float) -> float:
        self.bounds.append((low, high))
        return low + (high - low) * self.at


def test_the_retry_schedule_step_by_step():
    from datetime import timedelta

    from webhooks.outbound.schedule import JITTER, MAX_ATTEMPTS, MAX_RETRY_AFTER, RETRY_DELAYS, next_delay
    assert (MAX_ATTEMPTS, JITTER, MAX_RETRY_AFTER) == (10, 0.1, timedelta(hours=24))
    assert RETRY_DELAYS[0] == timedelta(seconds=5) and RETRY_DELAYS[-1] == timedelta(hours=24)
    middle = FixedJitter(0.5)
    assert [next_delay(n, rng=middle) for n in range(1, 10)] == list(RETRY_DELAYS)
    assert middle.bounds == [(-0.1, 0.1)] * 9
    assert next_delay(1, rng=FixedJitter(0.0)) == timedelta(seconds=4.5)
    assert next_delay(1, rng=FixedJitter(1.0)) == timedelta(seconds=5.5)
    assert next_delay(0) is None and next_delay(-1) is None and next_delay(10) is None
    assert next_delay(9, rng=middle) == timedelta(hours=24)


def test_a_receivers_retry_after_only_ever_lengthens_the_wait():
    from datetime import timedelta

    from webhooks.outbound.schedule import next_delay
    middle = FixedJitter(0.5)
    assert next_delay(1, retry_after=0, rng=middle) == timedelta(seconds=5)
    assert next_delay(1, retry_after=-30, rng=middle) == timedelta(seconds=5)
    assert next_delay(1, retry_after=3, rng=middle) == timedelta(seconds=5)
    assert next_delay(1, retry_after=60.5, rng=middle) == timedelta(seconds=60.5)
    assert next_delay(1, retry_after=86400, rng=middle) == timedelta(hours=24)
    assert next_delay(1, retry_after=86401, rng=middle) == timedelta(hours=24)
