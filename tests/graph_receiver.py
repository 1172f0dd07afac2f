"""A real webhook receiver for tests of provider push: a werkzeug server on a free port that
answers Graph's validation handshake as told and keeps every request, plus `wait_for`, the
poll-with-a-deadline tests use instead of sleeping."""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


class Receiver:
    """A webhook endpoint on a free port: answers Graph's validation request as told
    (`mode`: echo | wrong | error | json) and 202 to everything else, and keeps what it got."""

    def __init__(self) -> None:
        self.mode = "echo"
        self.got: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.server.server_port}"

    @Request.application
    def _app(self, request: Request) -> Response:
        with self.lock:
            self.got.append({"path": request.path, "args": dict(request.args), "body": request.get_data(),
                             "headers": dict(request.headers)})
        token = request.args.get("validationToken")
        if token is None:
            return Response(status=202)
        if self.mode == "error":
            return Response("no", status=500)
        if self.mode == "json":
            return Response(json.dumps(token), content_type="application/json")
        return Response(token if self.mode == "echo" else "not the token", content_type="text/plain")

    def notifications(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(g["body"]) for g in self.got if g["path"] == path and "validationToken" not in g["args"]]

    def validations(self) -> list[dict[str, Any]]:
        with self.lock:
            return [g for g in self.got if "validationToken" in g["args"]]

    def close(self) -> None:
        self.server.shutdown()


def wait_for(check: Callable[[], Any], deadline: float = 10.0) -> Any:
    """Poll until `check` returns something truthy (its value), failing after `deadline` s."""
    end = time.monotonic() + deadline
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > end:
            raise AssertionError("nothing arrived before the deadline")
        time.sleep(0.02)
