"""Provider limits hold across processes when Redis is configured: two hubs (two processes in
production; here two apps on one database and one Redis) see each other's Retry-After windows
and share Graph's 4 places per mailbox. Checked at the sandbox: what reaches the provider."""
from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from hub.services.directory import create_api_key
from oauth.vault import TokenVault
from tests.e2e.support import Api, connect, start_hub
from tests.jobs.conftest import REDIS, reachable_redis, redis_db

WINDOW = {"start": "2026-03-02T08:00:00+01:00", "end": "2026-03-02T18:00:00+01:00"}


@pytest.fixture(scope="module")
def two_hubs(database_url, sandbox_url):
    broker = f"{REDIS}/{redis_db()}"
    if not reachable_redis(broker):
        pytest.skip("Redis is not reachable on 127.0.0.1:6379 (.ci/run starts it)")
    keys = TokenVault.generate_key_spec("limits")
    started = [start_hub(database_url, sandbox_url, broker_url=broker, encryption_keys=keys) for _ in range(2)]
    yield [live for _, live in started]
    for server, live in started:
        server.shutdown()
        live.hub.close()


@pytest.fixture
def apis(two_hubs):
    _, key = create_api_key(two_hubs[0].hub.db, f"limits-{uuid.uuid4().hex[:8]}")
    return [Api(live.url, key) for live in two_hubs]


def person(api: Api, sandbox, provider: str) -> dict:
    tag = uuid.uuid4().hex[:8]
    email = f"lin.{tag}@example.com"
    sandbox.account(provider, email, name="Lin")
    assert api.put(f"/v1/users/lin-{tag}", json={"email": email, "timezone": "UTC"}).status_code == 201
    result = connect(api, f"lin-{tag}", provider, email)
    assert result.status == "connected", result
    return {"user_id": f"lin-{tag}", "email": email}


def free_busy(api: Api, who: dict) -> dict:
    r = api.post("/v1/freebusy", json={"users": [who["user_id"]], **WINDOW})
    assert r.status_code == 200, r.text
    return r.json()["users"][who["user_id"]]


def test_a_retry_after_seen_by_one_process_holds_in_the_other(apis, sandbox):
    a, b = apis
    who = person(a, sandbox, "google")
    assert free_busy(a, who)["status"] == "ok" and free_busy(b, who)["status"] == "ok"
    sandbox.fault("google", "rate_limit", email=who["email"], times=1, params={"retry_after": 2})
    first = free_busy(a, who)
    assert (first["status"], first["error"]["kind"]) == ("error", "rate_limited")
    def reads() -> int:  # this person's: the sandbox also serves other tests' hubs meanwhile
        return sum(1 for e in sandbox.requests_log("google", "/google/calendar") if who["email"] in json.dumps(e["body"]))

    sent = reads()
    assert sent >= 3  # both processes' reads and the refused one: the filter sees them
    second = free_busy(b, who)  # the other process: Google is not called inside the window
    assert (second["status"], second["error"]["kind"], second["error"]["cause"]) == ("error", "rate_limited",
                                                                                     "rate_limited")
    assert reads() == sent
    deadline = time.monotonic() + 10
    while free_busy(b, who)["status"] != "ok":
        assert time.monotonic() < deadline, "the window never ended"
        time.sleep(0.2)


def test_graph_four_per_mailbox_is_shared_by_all_processes(apis, sandbox):
    a, b = apis
    who = person(a, sandbox, "microsoft")
    assert free_busy(a, who)["status"] == "ok" and free_busy(b, who)["status"] == "ok"
    sandbox.fault("microsoft", "latency", email=who["email"], params={"ms": 200})
    with ThreadPoolExecutor(12) as pool:
        entries = list(pool.map(lambda i: free_busy(apis[i % 2], who), range(12)))
    # The sandbox's Graph answers 429 to a fifth concurrent request for one mailbox; each hub
    # alone would allow four, eight in all.
    assert [e["status"] for e in entries] == ["ok"] * 12, [e["error"] for e in entries if e["error"]]
