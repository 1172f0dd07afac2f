"""Outbound webhook signing against Standard Webhooks, checked two ways: a verifier written here
from the spec (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/
standard-webhooks.md, "Signature scheme" and "Verifying signatures"), and the project's
reference library (`standardwebhooks` on PyPI). Plus the retry schedule and the body encoding."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time
from datetime import datetime, timedelta, timezone

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from webhooks.outbound.delivery import _retry_after
from webhooks.outbound.outbox import EVENT_TYPES, encode_body
from webhooks.outbound.schedule import MAX_ATTEMPTS, RETRY_DELAYS, next_delay
from webhooks.outbound.signing import SECRET_PREFIX, new_secret, sign, signed_headers


def spec_verify(secret: str, headers: dict[str, str], body: bytes, *, now: float, tolerance: int = 300) -> bool:
    """Standard Webhooks verification, as the spec words it, with nothing from the hub."""
    headers = {k.lower(): v for k, v in headers.items()}
    msg_id, timestamp, signatures = (headers.get("webhook-id"), headers.get("webhook-timestamp"),
                                     headers.get("webhook-signature"))
    if not (msg_id and timestamp and signatures) or not timestamp.isdigit():
        return False
    if abs(now - int(timestamp)) > tolerance:  # replay window
        return False
    assert secret.startswith("whsec_")
    key = base64.b64decode(secret[len("whsec_"):])
    expected = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    for entry in signatures.split(" "):  # space-delimited list, for zero-downtime rotation
        version, _, value = entry.partition(",")
        if version == "v1" and hmac.compare_digest(base64.b64decode(value), expected):
            return True
    return False


def test_secret_is_whsec_and_base64_of_enough_random_bytes():
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith(SECRET_PREFIX)
        raw = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
        assert 24 <= len(raw) <= 64  # the spec's bounds


def test_signature_verifies_with_the_spec_and_the_reference_library():
    secret = new_secret()
    body = encode_body({"type": "connection.needs_reauth", "created_at": datetime.now(timezone.utc),
                        "data": {"user_id": "ada", "message": "Täst – unicode ✓"}})
    now = int(time.time())
    headers = signed_headers(secret, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", now, body)
    assert headers["webhook-signature"].startswith("v1,")
    assert spec_verify(secret, headers, body.encode(), now=now)
    assert Webhook(secret).verify(body.encode(), headers) == json.loads(body)


def test_known_vector_matches_an_independent_hmac():
    # Any implementation of the scheme must produce this: HMAC-SHA256 over "id.ts.body" keyed
    # with the decoded secret (not the secret string), base64 with padding.
    key = bytes(range(32))
    secret = "whsec_" + base64.b64encode(key).decode()
    body = '{"type":"event.created","created_at":"2026-03-02T09:00:00Z","data":{"id":"evt_1"}}'
    expected = base64.b64encode(hmac.new(key, b"msg_1.1674087231." + body.encode(), hashlib.sha256).digest())
    assert sign(secret, "msg_1", 1674087231, body) == "v1," + expected.decode()


@pytest.mark.parametrize("tamper", ["body", "id", "timestamp", "secret"])
def test_anything_changed_fails_verification(tamper):
    secret, other = new_secret(), new_secret()
    body = '{"type":"event.created","created_at":"2026-03-02T09:00:00Z","data":{}}'
    now = int(time.time())
    headers = signed_headers(secret, "msg_abc", now, body)
    if tamper == "body":
        body = body.replace("{}", '{"x":1}')
    elif tamper == "id":
        headers["webhook-id"] = "msg_abd"
    elif tamper == "timestamp":
        headers["webhook-timestamp"] = str(now - 1)
    else:
        secret = other
    assert not spec_verify(secret, headers, body.encode(), now=now)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.encode(), headers)


def test_ids_with_a_dot_are_refused():
    # "{id}.{ts}.{body}" would become ambiguous.
    with pytest.raises(ValueError):
        sign(new_secret(), "msg.1", 1, "{}")


def test_body_is_compact_json_with_utc_times():
    when = datetime(2026, 3, 2, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    body = encode_body({"type": "event.created", "created_at": when, "data": {"start": when}})
    assert body == '{"type":"event.created","created_at":"2026-03-02T08:00:00Z","data":{"start":"2026-03-02T08:00:00Z"}}'


def test_event_types_are_the_contract():
    assert set(EVENT_TYPES) == {"connection.created", "connection.needs_reauth", "connection.restored",
                                "connection.deleted", "event.created", "event.updated", "event.cancelled",
                                "attendance.candidate_joined", "attendance.candidate_late", "attendance.no_show",
                                "attendance.interviewer_no_show",
                                *(f"scheduling_request.{kind}" for kind in (
                                    "booked", "declined", "rescheduled", "cancelled", "completed", "expired"))}


def test_retry_schedule_spans_about_three_days_with_jitter():
    total = sum(RETRY_DELAYS, timedelta())
    assert timedelta(days=2.5) < total < timedelta(days=3.5)
    assert RETRY_DELAYS[0] == timedelta(seconds=5)
    assert list(RETRY_DELAYS) == sorted(RETRY_DELAYS)  # never retries faster later on
    assert MAX_ATTEMPTS == len(RETRY_DELAYS) + 1
    rng = random.Random(7)
    for attempt, base in enumerate(RETRY_DELAYS, start=1):
        delays = {next_delay(attempt, rng=rng) for _ in range(20)}
        assert all(base * 0.9 <= d <= base * 1.1 for d in delays)
        assert len(delays) > 1  # jittered
    assert next_delay(len(RETRY_DELAYS) + 1) is None  # given up


def test_retry_after_is_honoured_within_reason():
    assert next_delay(1, retry_after=120, rng=random.Random(1)) == timedelta(seconds=120)
    assert next_delay(1, retry_after=10 * 86400) == timedelta(hours=24)  # capped
    assert next_delay(4, retry_after=1) >= RETRY_DELAYS[3] * 0.9  # never sooner than the schedule
    assert _retry_after("30", 0) == 30
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT", datetime(2015, 10, 21, 7, 27, tzinfo=timezone.utc).timestamp()) == 60
    assert _retry_after("soon", 0) is None and _retry_after(None, 0) is None
