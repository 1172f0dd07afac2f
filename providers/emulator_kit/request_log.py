"""What each emulator received, so tests and support can see exactly what the hub sent
(``GET /_control/requests``). Bodies are stored parsed: JSON as JSON, forms as dicts."""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from typing import Any

from flask import Request


def _multi_dict(items) -> dict[str, Any]:
    """A MultiDict as a plain dict; repeated keys keep every value as a list."""
    out: dict[str, Any] = {}
    for key, values in items.lists():
        out[key] = values[0] if len(values) == 1 else values
    return out


def describe_request(provider: str, request: Request, at: float) -> dict[str, Any]:
    raw = request.get_data(cache=True)  # cached, so the view can still read form/json
    body: Any
    if not raw:
        body = None
    elif request.mimetype == "application/json" or raw[:1] in (b"{", b"["):
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
    elif request.mimetype == "application/x-www-form-urlencoded":
        body = _multi_dict(request.form)
    else:
        body = raw.decode("utf-8", "replace")
    return {
        "provider": provider,
        "method": request.method,
        "path": request.path,
        "query": _multi_dict(request.args),
        "headers": dict(request.headers.items()),
        "body": body,
        "at": at,
    }


class RequestLog:
    def __init__(self, limit: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=limit)
        self._ids = itertools.count(1)

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append({"id": next(self._ids), **entry})

    def entries(self, provider: str | None = None, path_prefix: str | None = None) -> list[dict]:
        """Oldest first."""
        with self._lock:
            return [
                e
                for e in self._entries
                if provider in (None, e["provider"])
                and (not path_prefix or e["path"].startswith(path_prefix))
            ]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
