"""Google's batch endpoint (`POST /google/batch/calendar/v3`) in the sandbox, through the real
SDK (google-api-python-client's BatchHttpRequest, via `GoogleCalendar.free_busy_batch`) and on
the wire: one request, a part per call with its own token, answers in order with their own
status, one refused part never failing the others."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import requests

from providers.base import BusyBlock, ErrorKind, FreeBusyBatch, ProviderError
from providers.google.calendar_api import BATCH_LIMIT
from providers.google.emulator_batch import BATCH_LIMIT as EMULATOR_BATCH_LIMIT
from tests.contract.support import CalendarUnderTest, calendar_under_test

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
T1 = T0 + timedelta(hours=8)


def _people(sandbox_url: str, count: int) -> list[CalendarUnderTest]:
    people = [calendar_under_test("google", sandbox_url) for _ in range(count)]
    for i, person in enumerate(people):
        person.sandbox.busy("google", person.email, (T0 + timedelta(hours=i)).isoformat(),
                            (T0 + timedelta(hours=i, minutes=30)).isoformat())
    return people


def _batch_log(person: CalendarUnderTest, since: int) -> list[dict]:
    return [e for e in person.sandbox.requests_log("google") if e["id"] > since]


def _last_id(person: CalendarUnderTest) -> int:
    return max((e["id"] for e in person.sandbox.requests_log("google")), default=0)


def test_one_batch_request_answers_each_person_as_a_single_call_would(sandbox_url):
    people = _people(sandbox_url, 3)
    adapter = people[0].adapter
    assert isinstance(adapter, FreeBusyBatch) and adapter.batch_limit == BATCH_LIMIT == EMULATOR_BATCH_LIMIT
    mark = _last_id(people[0])

    answers = adapter.free_busy_batch([(p.token, p.email) for p in people], T0, T1)

    assert answers == [[BusyBlock(T0 + timedelta(hours=i), T0 + timedelta(hours=i, minutes=30))]
                       for i in range(3)]
    assert answers == [adapter.free_busy(p.token, [p.email], T0, T1)[p.email] for p in people]
    log = _batch_log(people[0], mark)[:4]
    outer, parts = log[0], log[1:]
    assert (outer["method"], outer["path"]) == ("POST", "/google/batch/calendar/v3")
    assert outer["headers"]["Content-Type"].startswith("multipart/mixed; boundary=")
    assert "Authorization" not in outer["headers"]  # each part carries its own
    assert [(e["method"], e["path"], e["batch"]) for e in parts] == [("POST", "/google/calendar/v3/freeBusy", True)] * 3
    assert [e["headers"]["Authorization"] for e in parts] == [f"Bearer {p.token}" for p in people]
    assert [e["body"]["items"] for e in parts] == [[{"id": p.email}] for p in people]


def test_a_refused_token_fails_its_own_part_only(sandbox_url):
    good, revoked, other = _people(sandbox_url, 3)
    good.sandbox.fault("google", "invalid_grant", revoked.email)  # its access tokens die at once
    mark = _last_id(good)

    answers = good.adapter.free_busy_batch([(p.token, p.email) for p in (good, revoked, other)], T0, T1)

    assert answers[0] == [BusyBlock(T0, T0 + timedelta(minutes=30))]
    assert answers[2] == [BusyBlock(T0 + timedelta(hours=2), T0 + timedelta(hours=2, minutes=30))]
    err = answers[1]
    assert isinstance(err, ProviderError) and err.kind is ErrorKind.AUTH_EXPIRED and err.provider_code == "authError"
    # The SDK re-sends a part answered 401 once after asking its credentials to refresh; the
    # adapter's decline (the hub refreshes) leaves the token as it was.
    batches = [e for e in _batch_log(good, mark) if e["path"] == "/google/batch/calendar/v3"]
    assert len(batches) == 2
    assert f"Bearer {revoked.token}" in batches[1]["body"] and good.token not in batches[1]["body"]


def test_faults_hit_the_parts_of_their_account(sandbox_url):
    ok, limited, broken = _people(sandbox_url, 3)
    ok.sandbox.fault("google", "rate_limit", limited.email, times=1, params={"retry_after": 7})
    ok.sandbox.fault("google", "freebusy_calendar_error", broken.email, times=1)

    answers = ok.adapter.free_busy_batch([(p.token, p.email) for p in (ok, limited, broken)], T0, T1)

    assert answers[0] == [BusyBlock(T0, T0 + timedelta(minutes=30))]
    assert isinstance(answers[1], ProviderError) and answers[1].kind is ErrorKind.RATE_LIMITED
    assert answers[1].retry_after == 7
    assert isinstance(answers[2], ProviderError) and answers[2].provider_code == "internalError"
    # `times` counted one request each: the next batch is clean.
    again = ok.adapter.free_busy_batch([(p.token, p.email) for p in (limited, broken)], T0, T1)
    assert not any(isinstance(a, ProviderError) for a in again)


def _part(content_id: str, token: str | None, email: str) -> str:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    body = ('{"timeMin": "2026-03-02T09:00:00Z", "timeMax": "2026-03-02T17:00:00Z", '
            f'"items": [{{"id": "{email}"}}]}}')
    return ("Content-Type: application/http\r\n"
            f"Content-ID: <{content_id}>\r\n\r\n"
            "POST /google/calendar/v3/freeBusy HTTP/1.1\r\n"
            f"Content-Type: application/json\r\n{auth}\r\n{body}\r\n")


def _post_batch(sandbox_url: str, parts: list[str]) -> requests.Response:
    boundary = f"b_{uuid.uuid4().hex}"
    body = "".join(f"--{boundary}\r\n{p}" for p in parts) + f"--{boundary}--\r\n"
    return requests.post(f"{sandbox_url}/google/batch/calendar/v3", data=body.encode(),
                         headers={"Content-Type": f"multipart/mixed; boundary={boundary}"}, timeout=10)


def _answers(response: requests.Response) -> list[tuple[str, int, str]]:
    """(Content-ID, status, body) of each part of a multipart/mixed answer."""
    import email.parser
    whole = email.parser.BytesParser().parsebytes(
        f"Content-Type: {response.headers['Content-Type']}\r\n\r\n".encode() + response.content)
    out = []
    for part in whole.get_payload():
        status_line, _, rest = part.get_payload().partition("\r\n")
        out.append((part["Content-ID"], int(status_line.split()[1]), rest.split("\r\n\r\n", 1)[1]))
    return out


def test_wire_content_ids_status_lines_and_unauthenticated_parts(sandbox_url):
    person = _people(sandbox_url, 1)[0]
    response = _post_batch(sandbox_url, [_part("item1:a", person.token, person.email),
                                         _part("item2:b", None, person.email)])
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("multipart/mixed; boundary=")
    (id1, status1, body1), (id2, status2, body2) = _answers(response)
    assert (id1, status1) == ("<response-item1:a>", 200) and '"calendar#freeBusy"' in body1
    assert (id2, status2) == ("<response-item2:b>", 401) and '"required"' in body2


def test_batch_limit_and_malformed_bodies_are_refused_whole(sandbox_url):
    person = _people(sandbox_url, 1)[0]
    too_many = _post_batch(sandbox_url, [_part(f"i{i}", person.token, person.email)
                                         for i in range(EMULATOR_BATCH_LIMIT + 1)])
    assert too_many.status_code == 400 and too_many.json()["error"]["errors"][0]["reason"] == "badRequest"
    assert _post_batch(sandbox_url, [_part(f"i{i}", person.token, person.email)
                                     for i in range(EMULATOR_BATCH_LIMIT)]).status_code == 200
    not_multipart = requests.post(f"{sandbox_url}/google/batch/calendar/v3", json={}, timeout=10)
    assert not_multipart.status_code == 400
