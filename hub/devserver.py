"""The werkzeug server behind `hub serve`, `hub demo` and the tests' live hubs, made safe to
leave running: no `Server` header naming versions, and an access log without secrets.

Werkzeug logs every request line as sent, and the hub's URLs carry credentials in the path or
query: `/connect/<token>`, `/settings/enter/<token>`, `/oauth/callback/…?state=…&code=…`. The
log line keeps the method, the route with any token replaced, and the status.
"""
from __future__ import annotations

import gc
import logging
import re
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

SERVER_NAME = "calendar-hub"
ACCESS_LOG = logging.getLogger("hub.access")
# Path segments that are credentials: everything after these prefixes up to the next "/".
_TOKEN_PATHS = re.compile(r"^(/connect/|/settings/enter/|/book/)[^/?#]+")


def redacted_target(target: str) -> str:
    """A request target fit for a log: token path segments masked, the query dropped (OAuth
    codes and states, links' parameters)."""
    path, _, query = target.partition("?")
    path = _TOKEN_PATHS.sub(r"\1[redacted]", path)
    return path + ("?[redacted]" if query else "")


class HubRequestHandler(WSGIRequestHandler):
    def version_string(self) -> str:
        return SERVER_NAME

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        try:
            target = redacted_target(self.path)
        except AttributeError:  # a request line too broken to parse
            target = "-"
        ACCESS_LOG.info('%s "%s %s %s" %s %s', self.address_string(), getattr(self, "command", "-"), target,
                        getattr(self, "request_version", "-"), getattr(code, "value", code), size)


def make_hub_server(host: str, port: int, app: Any) -> BaseWSGIServer:
    return make_server(host, port, app, threaded=True, request_handler=HubRequestHandler)


def pause_gc() -> None:
    """Called first thing by `hub demo` and `hub serve`: no garbage collection while the hub
    starts. Importing and building it allocates a few hundred thousand objects that live as long
    as the process, and each allocation burst set off collections that walked all of them again
    (~0.1 s of CPU, a sixth of a start) to free next to nothing."""
    gc.disable()


def resume_gc() -> None:
    """Called once the hub is built, before it serves: what exists now lives for the process, so
    it is moved out of the collector's sight (`gc.freeze`: later collections, on request
    threads, do not walk it either), and collection resumes for what requests allocate."""
    gc.freeze()
    gc.enable()
