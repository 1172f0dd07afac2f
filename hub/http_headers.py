"""Security headers on every response the hub sends.

- `X-Content-Type-Options: nosniff` everywhere: a JSON body is never sniffed into HTML.
- HTML pages get a Content-Security-Policy (the templates use no script and no inline style)
  with `frame-ancestors 'none'` (and the older `X-Frame-Options`), so no other site can frame
  the settings page and click its buttons for the user.
- `Cache-Control: no-store` unless a view chose otherwise: API answers carry connect links,
  settings links and webhook secrets, and pages carry the user's calendar state — no shared or
  browser cache may keep them. The static stylesheet and the API description are the exceptions.
"""
from __future__ import annotations

from typing import Any

from flask import Flask, Response, request

CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")
CACHEABLE_PATHS = ("/static/", "/openapi.json", "/docs", "/healthz")
_request: Any = request


def register(app: Flask) -> None:
    @app.after_request
    def _security_headers(resp: Response) -> Response:
        resp.headers["X-Content-Type-Options"] = "nosniff"
        # the substring test first: parsing the type (`mimetype`) on every JSON answer cost more
        if "html" in (resp.headers.get("Content-Type") or "").lower() and resp.mimetype == "text/html":
            resp.headers.setdefault("Content-Security-Policy", CSP)
            resp.headers.setdefault("X-Frame-Options", "DENY")
        # `getlist`, not `in`: werkzeug's `in` builds and catches a BadRequestKeyError when the
        # header is absent, which it is on nearly every answer.
        # The request behind the proxy: `request.path` on the proxy misses on its class first
        # (an AttributeError built and dropped, on every answer).
        if not resp.headers.getlist("Cache-Control") and not _request._get_current_object().path.startswith(CACHEABLE_PATHS):
            resp.headers["Cache-Control"] = "no-store"
        # `remove`, not `pop(.., None)`: the same removal, without the BadRequestKeyError `pop`
        # builds and catches inside werkzeug when there is no Server header (every hub answer).
        resp.headers.remove("Server")
        return resp
