"""Microsoft's error tables and the per-mailbox gate: wire bodies → kind and cause, and the
MailboxConcurrency / Retry-After rules, without a network."""
import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from providers.base import ErrorKind, ProviderError
from providers.microsoft.errors import (classify_graph_error, classify_schedule_error, classify_token_error,
                                        mailbox_purpose_error)
from providers.microsoft.mailbox_gate import MailboxGate


def aadsts(code, error="invalid_grant", suberror=None):
    body = {"error": error, "error_codes": [code], "timestamp": "2026-03-02 09:00:00Z",
            "error_description": f"AADSTS{code}: Something.\r\nTrace ID: t\r\nCorrelation ID: c\r\nTimestamp: x"}
    if suberror:
        body["suberror"] = suberror
    return body


@pytest.mark.parametrize("code,kind,cause", [
    (700082, ErrorKind.AUTH_REVOKED, "token_expired_inactivity"),
    (70008, ErrorKind.AUTH_REVOKED, "token_revoked"),
    (50173, ErrorKind.AUTH_REVOKED, "password_reset_revoked"),
    (65001, ErrorKind.AUTH_REVOKED, "consent_required"),
    (50076, ErrorKind.AUTH_REVOKED, "mfa_required"),
    (50078, ErrorKind.AUTH_REVOKED, "mfa_required"),
    (50079, ErrorKind.AUTH_REVOKED, "mfa_required"),
    (53003, ErrorKind.AUTH_REVOKED, "conditional_access_blocked"),
    (50057, ErrorKind.AUTH_REVOKED, "account_disabled"),
    (7000215, ErrorKind.INVALID_REQUEST, "client_misconfigured"),
    (7000222, ErrorKind.INVALID_REQUEST, "client_misconfigured"),
    (54005, ErrorKind.INVALID_REQUEST, None),
])
def test_aadsts_codes(code, kind, cause):
    err = classify_token_error(400, aadsts(code))
    assert (err.kind, err.cause, err.provider_code) == (kind, cause, f"AADSTS{code}")
    assert err.message == "AADSTS%d: Something." % code  # trace and correlation lines dropped


def test_code_read_from_the_description_when_error_codes_is_missing():
    err = classify_token_error(400, {"error": "invalid_grant", "error_description": "AADSTS50173: The grant..."})
    assert err.cause == "password_reset_revoked"


@pytest.mark.parametrize("suberror,cause", [("consent_required", "consent_required"),
                                            ("basic_action", "mfa_required"),
                                            ("user_password_expired", "password_reset_revoked")])
def test_unknown_codes_fall_back_to_suberror(suberror, cause):
    assert classify_token_error(400, aadsts(999999, suberror=suberror)).cause == cause


def test_status_overrides_for_throttling_and_outages():
    assert classify_token_error(429, aadsts(999999), retry_after=7).kind is ErrorKind.RATE_LIMITED
    assert classify_token_error(503, {"error": "temporarily_unavailable"}).kind is ErrorKind.PROVIDER_DOWN
    assert classify_token_error(400, {"error": "invalid_client"}).cause == "client_misconfigured"


@pytest.mark.parametrize("status,code,kind,cause", [
    (401, "InvalidAuthenticationToken", ErrorKind.AUTH_EXPIRED, None),
    (404, "MailboxNotEnabledForRESTAPI", ErrorKind.MAILBOX_UNAVAILABLE, "mailbox_unlicensed"),
    (404, "ErrorInvalidUser", ErrorKind.NOT_FOUND, None),
    (403, "ErrorAccessDenied", ErrorKind.ACCESS_DENIED, None),
    (404, "ErrorItemNotFound", ErrorKind.NOT_FOUND, None),
    (429, "ApplicationThrottled", ErrorKind.RATE_LIMITED, "rate_limited"),
    (400, "ErrorTimeIntervalTooBig", ErrorKind.INVALID_REQUEST, None),
    (503, "serviceNotAvailable", ErrorKind.PROVIDER_DOWN, "provider_unavailable"),
    (502, None, ErrorKind.PROVIDER_DOWN, "provider_unavailable"),
    (418, "Teapot", ErrorKind.UNKNOWN, None),
])
def test_graph_codes(status, code, kind, cause):
    err = classify_graph_error(status, code, "m", retry_after=2)
    assert (err.kind, err.cause, err.http_status, err.retry_after) == (kind, cause, status, 2)


def test_schedule_errors_and_mailbox_purposes():
    assert classify_schedule_error("x@y.z", "5009", "Unable to resolve").kind is ErrorKind.NOT_FOUND
    assert classify_schedule_error("x@y.z", "Weird", None).kind is ErrorKind.UNKNOWN
    for purpose in ("shared", "room", "equipment"):
        assert mailbox_purpose_error(purpose).cause == "shared_mailbox"
    for purpose in ("user", "linked", "others", ""):
        assert mailbox_purpose_error(purpose) is None


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def run_isolated(coro):
    """asyncio.run on a thread of its own: a session-scoped Playwright browser keeps an event
    loop running on the main thread for the whole test session."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_gate_keeps_four_in_flight_per_mailbox_and_forgets_idle_ones():
    gate = MailboxGate("microsoft")

    async def one(key, seen):
        async with gate.slot(key):
            seen.append(gate.in_flight[key])
            await asyncio.sleep(0.01)

    async def main():
        seen_a, seen_b = [], []
        await asyncio.gather(*[one("a", seen_a) for _ in range(10)], *[one("b", seen_b) for _ in range(3)])
        return seen_a, seen_b

    seen_a, seen_b = run_isolated(main())
    assert max(seen_a) == 4 and max(seen_b) == 3 and gate.peak_in_flight == 4
    assert gate.in_flight == {} and gate._slots == {}  # noqa: SLF001 - idle mailboxes are dropped


def throttled(retry_after: float) -> ProviderError:
    return classify_graph_error(429, "ApplicationThrottled", "over the MailboxConcurrency limit", retry_after)


def test_gate_closes_a_mailbox_for_retry_after():
    clock = FakeClock()
    gate = MailboxGate("microsoft", clock=clock)
    assert gate.throttled("a", throttled(3)).cause == "rate_limited"

    async def enter(key):
        async with gate.slot(key):
            return True

    with pytest.raises(ProviderError) as info:
        run_isolated(enter("a"))
    assert (info.value.kind, info.value.retry_after) == (ErrorKind.RATE_LIMITED, 3)
    assert run_isolated(enter("b"))  # other mailboxes are not affected
    clock.now += 3.01
    assert run_isolated(enter("a"))


def test_a_429_after_the_hub_abandoned_requests_is_named_unavailable_not_rate_limited():
    """Graph still counts the requests the hub gave up on: the 429 they cause means Graph is not
    answering, and the mailbox stays closed for its Retry-After under that cause."""
    clock = FakeClock()
    gate = MailboxGate("microsoft", clock=clock)
    gate.abandoned("a")
    err = gate.throttled("a", throttled(2))
    assert (err.kind, err.cause, err.retry_after) == (ErrorKind.PROVIDER_DOWN, "provider_unavailable", 2)

    async def enter(key):
        async with gate.slot(key):
            return True

    with pytest.raises(ProviderError) as info:
        run_isolated(enter("a"))
    assert (info.value.kind, info.value.cause, info.value.retry_after) == (ErrorKind.PROVIDER_DOWN,
                                                                           "provider_unavailable", 2)
    assert gate.throttled("b", throttled(2)).cause == "rate_limited"  # nothing abandoned there
    clock.now += 61  # long after: a 429 now is Graph's own throttling again
    assert gate.throttled("a", throttled(2)).cause == "rate_limited"
