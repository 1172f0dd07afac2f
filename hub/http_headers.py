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

from flask import Flask, Response

from hub.api.context import current_request

CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")
CACHEABLE_PATHS = ("/static/", "/openapi.json", "/docs", "/healthz")


def register(app: Flask) -> None:
    @app.after_request
    def _security_headers(resp: Response) -> Response:
        headers = resp.headers
        # What the answer already carries, in one pass over its few headers (the first value of
        # each, as `get` gives): each werkzeug lookup (`get`, `getlist`, `remove`, `set` on a
        # present name) is a Python-level pass over them of its own. Only `in` on Headers is
        # avoided as before: it builds and catches a BadRequestKeyError for an absent name.
        present: dict[str, str] = {}
        for name, value in headers:
            present.setdefault(name.lower(), value)
        if "x-content-type-options" in present:
            headers["X-Content-Type-Options"] = "nosniff"  # replaces it
        else:
            headers.add("X-Content-Type-Options", "nosniff")  # appended, as `set` would
        # the substring test first: parsing the type (`mimetype`) on every JSON answer cost more
        if "html" in present.get("content-type", "").lower() and resp.mimetype == "text/html":
            headers.setdefault("Content-Security-Policy", CSP)
            headers.setdefault("X-Frame-Options", "DENY")
        # The request behind the proxy: `request.path` on the proxy misses on its class first
        # (an AttributeError built and dropped, on every answer).
        if "cache-control" not in present and not current_request().path.startswith(CACHEABLE_PATHS):
            headers.add("Cache-Control", "no-store")
        if "server" in present:  # a view's or a library's; the hub's answers never name a server
            headers.remove("Server")
        return resp
