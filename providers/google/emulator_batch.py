"""Google's batch endpoint for Calendar API v3: ``POST /google/batch/calendar/v3`` (the discovery
document's ``batchPath``), as Google's "Sending Batch Requests" guide for Calendar describes it:

- the body is ``multipart/mixed``; each part is ``Content-Type: application/http`` holding one
  HTTP request (request line, headers, body) to the same API, optionally with a ``Content-ID``;
- each part is one API call of its own: its own ``Authorization`` header (a part without one
  is unauthenticated, 401 ``required``), its own errors, its own faults — a batch of n calls is
  n requests for the quota, and for the sandbox's ``times`` counting;
- the answer is ``multipart/mixed`` too, one ``application/http`` part per call in order, each
  with its status line, headers and body; a part that had ``Content-ID: <x>`` answers with
  ``Content-ID: <response-x>``;
- Calendar takes at most ``BATCH_LIMIT`` calls in one batch; more are refused as a whole.

Each part runs the same view the plain route runs (``emulator_api``), so a call answers alike in
and out of a batch. The request log shows the batch itself and, after it, each part as its own
entry marked ``"batch": true``. Latency: a ``latency`` fault armed for every account delays the
batch once (as any request); faults armed for one account delay the batch by the longest of
its parts' accounts, once — Google answers a batch when its slowest call is done.
"""

from __future__ import annotations

import email.parser
import secrets
from email.message import Message
from typing import TYPE_CHECKING

from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from providers.emulator_kit.request_log import describe_request

from . import emulator_errors as errors
from .emulator_api import API_ROOT

if TYPE_CHECKING:
    from .emulator import GoogleEmulator

BATCH_PATH = "/batch/calendar/v3"
# "You're limited to 1000 calls in a single batch request" (Calendar's batch guide,
# https://developers.google.com/calendar/batch). The refusal's wording is not documented: [assumed].
BATCH_LIMIT = 1000


def register_batch(bp: Blueprint, emulator: "GoogleEmulator") -> None:
    @bp.route(BATCH_PATH, methods=["POST"])
    def batch() -> Response:
        parts = _parts()
        if parts is None:
            return errors.bad_request("Invalid multipart request with 0 mime parts.").response()
        if len(parts) > BATCH_LIMIT:
            return errors.bad_request(f"A batch request cannot contain more than {BATCH_LIMIT} requests.").response()
        inners = [_inner(part) for part in parts]
        _wait_for_slowest(emulator, inners)
        # The plain API routes live under the same mount as this one.
        api_prefix = request.path.removesuffix(BATCH_PATH) + API_ROOT + "/"
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        boundary = f"batch_{secrets.token_urlsafe(12)}"
        chunks = []
        for part, inner in zip(parts, inners):
            answer = _answer(app, emulator, inner, api_prefix)
            content_id = (part["Content-ID"] or "").strip()
            head = "Content-Type: application/http\r\n"
            if content_id:
                head += f"Content-ID: <response-{content_id.removeprefix('<').removesuffix('>')}>\r\n"
            body = answer.get_data()
            status = f"HTTP/1.1 {answer.status_code} {HTTP_STATUS_CODES.get(answer.status_code, '')}"
            headers = "".join(f"{k}: {v}\r\n" for k, v in answer.headers.items() if k.lower() != "content-length")
            chunks.append(f"--{boundary}\r\n{head}\r\n{status}\r\n{headers}Content-Length: {len(body)}\r\n\r\n"
                          .encode() + body + b"\r\n")
        chunks.append(f"--{boundary}--\r\n".encode())
        return Response(b"".join(chunks), status=200, content_type=f"multipart/mixed; boundary={boundary}")


def _parts() -> list[Message] | None:
    """The batch's application/http parts, or None when the body is not a multipart/mixed one."""
    if request.mimetype != "multipart/mixed" or not request.mimetype_params.get("boundary"):
        return None
    whole = email.parser.BytesParser().parsebytes(
        f"Content-Type: {request.content_type}\r\n\r\n".encode() + request.get_data())
    parts = whole.get_payload() if whole.is_multipart() else None
    return list(parts) if parts else None  # type: ignore[arg-type]


_Inner = tuple[str, str, dict[str, str], bytes]


def _inner(part: Message) -> _Inner | None:
    """method, path, headers and body of the HTTP request a part holds; None if it holds none."""
    payload = part.get_payload(decode=False)
    if not isinstance(payload, str) or not payload.strip():
        return None
    request_line, _, rest = payload.lstrip("\r\n").partition("\n")
    words = request_line.split()
    if len(words) < 2:
        return None
    message = email.parser.Parser().parsestr(rest)
    body = message.get_payload(decode=False)
    data = body.encode() if isinstance(body, str) else b""
    headers = {k: v for k, v in message.items() if k.lower() not in ("content-length", "host")}
    return words[0].upper(), words[1], headers, data


def _answer(app: Flask, emulator: "GoogleEmulator", inner: _Inner | None, api_prefix: str) -> Response:
    """One part, through the same view as a plain call, in a request of its own (its own `g`,
    so a fault's hit counts per call, and pushes caused by it leave when it ends)."""
    if inner is None:
        return errors.bad_request("Failed to parse batch request.").response()
    method, target, headers, data = inner
    if not target.startswith(api_prefix):  # "All the inner requests must go to the same Google API."
        return errors.not_found().response()
    with app.app_context(), app.test_request_context(
            target, method=method, headers=headers, data=data, base_url=request.host_url):
        emulator.ctx.requests.record({**describe_request(emulator.name, request, emulator.ctx.now()),
                                      "batch": True})
        try:
            return app.make_response(app.dispatch_request())
        except HTTPException as exc:  # a method the path does not take
            return errors.GoogleApiError(exc.code or 400, "badRequest", exc.description or "").response()


def _wait_for_slowest(emulator: "GoogleEmulator", inners: list[_Inner | None]) -> None:
    slowest = 0.0
    for inner in inners:
        auth = next((v for k, v in (inner[2] if inner else {}).items() if k.lower() == "authorization"), "")
        who = emulator.oauth.email_for_credential(auth[7:].strip()) if auth[:7].lower() == "bearer " else None
        fault = emulator.take_fault("latency", who) if who else None
        if fault is not None and fault.email is not None:  # one for every account has been waited
            slowest = max(slowest, float(fault.params.get("ms", 100)) / 1000.0)
    if slowest:
        emulator.ctx.config.sleep(slowest)
