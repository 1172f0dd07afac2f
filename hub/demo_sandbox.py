"""The demo's sandbox, started beside the hub rather than before it.

Its port is bound at once, so its address is right from the first line the demo prints, but
its app (five emulators, a Radicale server, the saved state) is built on a thread after the
hub is serving: the hub's readiness needs none of it, and building it first cost a third of
the demo's start. A request that reaches the sandbox before it is built waits for it.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from flask import Flask

from providers.serving import RunningServer, serve

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class PendingApp:
    """A WSGI app that is still being built: requests wait until `set` (or `fail`) is called."""

    def __init__(self) -> None:
        self._built = threading.Event()
        self._app: WSGIApp | None = None

    def set(self, app: WSGIApp) -> None:
        self._app = app
        self._built.set()

    def fail(self) -> None:
        self._built.set()  # _app stays None: every request is answered 503

    def wait(self, timeout: float | None = None) -> WSGIApp | None:
        self._built.wait(timeout)
        return self._app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        app = self.wait()
        if app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"the sandbox failed to start: see the demo's output\n"]
        return app(environ, start_response)


class DemoSandbox:
    """The sandbox on HOST:PORT with its state kept in STATE_FILE (accounts, calendars, grants:
    a restarted demo's connections keep working instead of all turning token_revoked)."""

    def __init__(self, host: str, port: int, state_file: Path) -> None:
        self.state_file = state_file
        self.pending = PendingApp()
        self.server: RunningServer = serve(self.pending, host, port)  # type: ignore[arg-type]
        self.url = self.server.base_url
        self._state: Any = None  # the SnapshotFile, once built

    def build(self) -> bool:
        """Build the emulators and load the saved state; True when a saved state was restored.
        Called on the demo's background thread; requests waiting for the sandbox go on after it."""
        from providers.emulator_kit.snapshot import SnapshotFile
        from providers.sandbox import create_sandbox_app
        try:
            app: Flask = create_sandbox_app()
            state = SnapshotFile(app, self.state_file)
            restored = state.load()
            state.save_after_changes()
        except BaseException:
            self.pending.fail()
            raise
        self._state = state
        self.pending.set(app)
        return restored

    def shutdown(self) -> None:
        self.server.shutdown()
        if self._state is not None:
            self._state.save()
