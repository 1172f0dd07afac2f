"""`serve`: any WSGI app (the sandbox, a test's receiver) on a daemon thread. Apart from
providers/sandbox.py, which re-exports it, because `hub demo` binds the sandbox's port at once
but builds the emulators later: listening must not import them."""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, NamedTuple

from werkzeug.serving import BaseWSGIServer, make_server

if TYPE_CHECKING:
    from wsgiref.types import WSGIApplication


class RunningServer(NamedTuple):
    """A sandbox (or any WSGI app) served on a daemon thread; unpacks as
    ``(server, thread, base_url)``."""

    server: BaseWSGIServer
    thread: threading.Thread
    base_url: str

    def shutdown(self, timeout: float = 5.0) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout)


def serve(app: WSGIApplication, host: str = "127.0.0.1", port: int = 0, ssl_context: Any = None) -> RunningServer:
    """Serve ``app`` on a daemon thread. ``ssl_context`` (an ``ssl.SSLContext`` or a
    ``(cert, key)`` pair) serves https, which msal needs for a Microsoft authority."""
    server = make_server(host, port, app, threaded=True, ssl_context=ssl_context)
    thread = threading.Thread(target=server.serve_forever, name=f"sandbox:{server.server_port}", daemon=True)
    thread.start()
    display_host = f"[{host}]" if ":" in host else host
    scheme = "https" if ssl_context is not None else "http"
    return RunningServer(server, thread, f"{scheme}://{display_host}:{server.server_port}")
