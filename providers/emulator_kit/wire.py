"""Reading a request the way every provider API does: the bearer token and a JSON object body.

Each emulator keeps its own error bodies, so `json_object` takes the error to raise."""
from __future__ import annotations

from typing import Any, Callable

from flask import request


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header[:7].lower() == "bearer " else None


def json_object(bad_body: Callable[[], Exception]) -> dict[str, Any]:
    """The body as a JSON object; empty means {}; anything else raises `bad_body()`."""
    if not request.get_data(cache=True):
        return {}
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict):
        raise bad_body()
    return body
