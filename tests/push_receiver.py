"""A webhook endpoint for tests of provider push: a real HTTP server on a free loopback port
that keeps what it is sent, and a wait on the sandbox's notification log
(`GET /_control/notifications`) that polls with a deadline instead of sleeping."""
from __future__ import annotations

import threading
import time

import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

# The sandbox's sender retries a failing receiver for up to 7.5 s, one message at a time.
DEADLINE_SECONDS = 20.0


class Receiver:
    def __init__(self, path: str = "/webhooks/google") -> None:
        self.lock = threading.Lock()
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}{path}"

    @Request.application
    def app(self, request: Request) -> Response:
        with self.lock:
            self.received.append((dict(request.headers), request.get_data()))
        return Response(status=200)

    def messages(self, header: str, value: str) -> list[tuple[dict[str, str], bytes]]:
        """What arrived with `header: value` (header names as werkzeug spells them)."""
        with self.lock:
            return [(h, b) for h, b in self.received if h.get(header) == value]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


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
