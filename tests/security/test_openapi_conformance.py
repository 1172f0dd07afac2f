"""The OpenAPI document says what the validators enforce: schemathesis generates requests from
/openapi.json — valid ones and invalid ones — and runs all its checks against a live hub: no
500, every status, header and body as documented, valid data accepted, invalid data refused.

Driven through schemathesis's Python API (its pytest plugin does not load under pytest 9), one
hypothesis run per operation and generation mode, with few examples so the whole file takes
well under a minute."""
from __future__ import annotations

import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from hub.services.directory import create_api_key

MAX_EXAMPLES = 6
# Refusals JSON Schema cannot state, each documented in words: rules across fields (end after
# start, a window of at most 62 days), state set by an earlier call (a tenant's return-origin
# allow-list), an address that resolves somewhere private, and email-validator's refusal of
# special-use domains (.test, .local). A schema-valid request may be refused (422) for these
# reasons and no others. (Working hours: equal start and end, overlapping intervals, duplicate
# override dates. Attendance: the late threshold within the grace period.)
DOCUMENTED_CODES = {"window_too_long", "return_url_not_allowed", "url_not_allowed"}
# Scheduling requests: rules that need the clock, the calendars or the stored offer (API.md).
DOCUMENTED_CODES |= {"unknown_users", "slot_in_past", "slot_too_soon", "not_enough_slots", "slot_length_mismatch",
                     "slot_busy", "slot_off_grid", "slot_outside_windows", "slot_booked", "reason_required"}
DOCUMENTED_MESSAGES = ("end must be after start", "special-use or reserved name", "start and end are equal",
                       "overlaps", "duplicate date", "late_after_minutes must not exceed grace_minutes",
                       "must be in the future", "this request offers", "1–128 characters of A-Za-z0-9._:@-")


@schemathesis.check
def valid_data_accepted(ctx, response, case):
    """schemathesis's positive_data_acceptance, except a 422 for a documented reason."""
    if response.status_code == 422:
        body = response.json() or {}
        messages = [e.get("message") or "" for e in body.get("errors", [])]
        if body.get("code") in DOCUMENTED_CODES or (
                messages and all(any(m in msg for m in DOCUMENTED_MESSAGES) for msg in messages)):
            return None
    return positive_data_acceptance(ctx, response, case)


@pytest.fixture(scope="module")
def operations(live_hub):
    # The live hub's own WSGI app: the same hub (database, sandbox, workers) the socket serves.
    # schemathesis's requests transport breaks on this machine's urllib3-future, the WSGI one
    # does not, and it skips a TCP round trip per example.
    schema = schemathesis.openapi.from_wsgi("/openapi.json", live_hub.app)
    ops = [result.ok() for result in schema.get_all_operations()]
    assert len(ops) >= 15
    return ops


@pytest.fixture(scope="module")
def auth_headers(live_hub):
    _, key = create_api_key(live_hub.hub.db, f"schemathesis-{uuid.uuid4().hex[:8]}")
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_the_api_does_what_its_document_says(operations, auth_headers, mode):
    failures: list[str] = []
    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            case.call_and_validate(headers=auth_headers, excluded_checks=[positive_data_acceptance],
                                   additional_checks=[valid_data_accepted])

        try:
            run()
        except BaseException as exc:  # FailureGroup is a BaseExceptionGroup; report every operation
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures.append(f"{operation.label}: {str(exc).strip()[:1500]}")
    assert not failures, "\n\n".join(failures)
