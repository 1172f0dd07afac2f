"""The Graph runtime's HTTP client, over real HTTP to a small local server: msgraph's middleware
still shapes every request (/me, user agent), nothing is retried behind
the hub's back, and nothing one mailbox's answer sets travels with another mailbox's request."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask, jsonify, request

from providers.base import ErrorKind, ProviderError
from providers.microsoft.graph_runtime import GraphRuntime, json_post
from providers.sandbox import serve


@pytest.fixture
def graph() -> Iterator[tuple[GraphRuntime, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []
    app = Flask("graph-stub")

    @app.post("/v1.0/me/calendar/getSchedule")
    def schedule():
        seen.append(dict(request.headers))
        if request.headers.get("Authorization") == "Bearer down":
            return jsonify({"error": {"code": "ServiceUnavailable", "message": "try later"}}), 503
        answer = jsonify({"value": []})
        # A session cookie for this mailbox, as a load balancer in front of an API might set.
        answer.set_cookie("affinity", request.headers.get("Authorization", "")[-5:])
        return answer

    running = serve(app)
    # By name: a client may refuse cookies from a bare IP address, which would hide one kept.
    runtime = GraphRuntime(running.base_url.replace("127.0.0.1", "localhost") + "/v1.0", timeout=5.0)
    try:
        yield runtime, seen
    finally:
        runtime.close()
        running.shutdown()


def _schedule(runtime: GraphRuntime, token: str) -> dict:
    return runtime.get_json(token, lambda c: json_post(c.me.calendar.get_schedule, {"Schedules": ["a@example.com"]}))


def test_msgraph_middleware_shapes_the_request(graph):
    runtime, seen = graph
    assert _schedule(runtime, "token-alice") == {"value": []}
    headers = {k.lower(): v for k, v in seen[0].items()}
    assert headers["authorization"] == "Bearer token-alice"
    assert "kiota" in headers["user-agent"].lower()  # kiota's user-agent handler
    # Reaching /me/... at all is msgraph's URL-replace handler at work (the builders say
    # /users/me-token-to-replace); its telemetry headers go to Microsoft's own hosts only.


def test_a_cookie_set_for_one_mailbox_is_not_sent_with_another(graph):
    runtime, seen = graph
    _schedule(runtime, "token-alice")
    _schedule(runtime, "token-bobby")
    assert "Cookie" not in seen[1] and "cookie" not in {k.lower() for k in seen[1]}


def test_a_503_is_reported_once_without_retries(graph):
    runtime, seen = graph
    with pytest.raises(ProviderError) as caught:
        _schedule(runtime, "down")
    assert caught.value.kind is ErrorKind.PROVIDER_DOWN
    assert len(seen) == 1  # kiota's retry handler would have sent it up to four more times


def test_the_first_warm_up_freezes_the_heap_and_later_ones_leave_it(monkeypatch):
    import gc

    from providers.microsoft import graph_runtime

    def collected(thing: object) -> bool:  # frozen objects are outside every generation
        return any(o is thing for o in gc.get_objects())

    monkeypatch.setattr(graph_runtime, "_HEAP_SETTLED", False)
    loaded = [["a model's", "state"]]
    assert collected(loaded)
    graph_runtime._settle_heap()
    assert not collected(loaded)
    later = [["a request's", "state"]]
    graph_runtime._settle_heap()  # a later runtime's warm-up (tests build many)
    assert collected(later)


def test_a_graph_nobody_answers_at_is_provider_down():
    import socket

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    runtime = GraphRuntime(f"http://127.0.0.1:{port}/v1.0", timeout=5.0)
    try:
        with pytest.raises(ProviderError) as caught:
            _schedule(runtime, "token-alice")
    finally:
        runtime.close()
    # aiohttp's connection errors arrive as httpx's, which the runtime reports as the provider down.
    assert (caught.value.kind, caught.value.cause) == (ErrorKind.PROVIDER_DOWN, "provider_unavailable")
