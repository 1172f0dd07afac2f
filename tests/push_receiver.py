"""A webhook endpoint for tests of provider push: a real HTTP server on a free loopback port
that keeps what it is sent and answers Graph's validation handshake as told, and waits that poll
with a deadline instead of sleeping — on the receiver itself (`wait_for`) or on the sandbox's
notification log (`GET /_control/notifications`)."""
from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable

import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

# The sandbox's sender retries a failing receiver for up to 7.5 s, one message at a time.
DEADLINE_SECONDS = 20.0


class Receiver:
    """Answers 200 to notifications. A Graph validation request (`?validationToken=`) is
    answered as `mode` says: echo (200 text/plain, the token: what Graph requires), wrong (200,
    another text), json (the token as JSON), error (500)."""

    def __init__(self, path: str = "/webhooks/google") -> None:
        self.lock = threading.Lock()
        self.mode = "echo"
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.got: list[dict[str, Any]] = []  # every request: path, args, headers, body
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.url = self.base + path

    @Request.application
    def app(self, request: Request) -> Response:
        with self.lock:
            self.received.append((dict(request.headers), request.get_data()))
            self.got.append({"path": request.path, "args": dict(request.args), "headers": dict(request.headers),
                             "body": request.get_data()})
        token = request.args.get("validationToken")
        if token is None:
            return Response(status=200)
        if self.mode == "error":
            return Response("no", status=500)
        if self.mode == "json":
            return Response(json.dumps(token), content_type="application/json")
        return Response(token if self.mode == "echo" else "not the token", content_type="text/plain")

    def messages(self, header: str, value: str) -> list[tuple[dict[str, str], bytes]]:
        """What arrived with `header: value` (header names as werkzeug spells them)."""
        with self.lock:
            return [(h, b) for h, b in self.received if h.get(header) == value]

    def json_posts(self, path: str) -> list[Any]:
        """The JSON bodies posted to `path`, oldest first, validation requests left out."""
        with self.lock:
            return [json.loads(g["body"]) for g in self.got if g["path"] == path and "validationToken" not in g["args"]]

    def validations(self) -> list[dict[str, Any]]:
        with self.lock:
            return [g for g in self.got if "validationToken" in g["args"]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for(check: Callable[[], Any], what: str = "the condition", deadline: float = DEADLINE_SECONDS) -> Any:
    """Poll until `check` returns something truthy (and return it), failing with `what` after
    `deadline` s."""
    end = time.monotonic() + deadline
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < end, f"not within {deadline:g} s: {what}"
        time.sleep(0.02)  # the poll's interval, bounded by the deadline


def notifications(sandbox_url: str, provider: str, header: str, value: str) -> list[dict]:
    """The sandbox's log of what it pushed with `header: value`, oldest first."""
    answer = requests.get(f"{sandbox_url}/_control/notifications", params={"provider": provider}, timeout=5)
    answer.raise_for_status()
    return [n for n in answer.json() if n["headers"].get(header) == value]


def wait_delivered(sandbox_url: str, provider: str, header: str, value: str, count: int) -> list[dict]:
    """Poll until `count` notifications with `header: value` are logged and all delivered."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        notes = notifications(sandbox_url, provider, header, value)
        if len(notes) >= count and all(n["status"] == "delivered" for n in notes):
            return notes
        assert time.monotonic() < deadline, f"after {DEADLINE_SECONDS}s only {notes}"
        time.sleep(0.02)  # the poll's interval, bounded by the deadline
