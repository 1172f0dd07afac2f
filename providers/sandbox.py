"""The sandbox: in-memory emulators of the calendar and conferencing providers, served over
real HTTP so the hub runs, demos and tests with no credentials and no internet, plus the
control API that arranges accounts, calendars and failures (``/_control``, see
``providers/emulator_kit/control.py``).

    app = create_sandbox_app()
    running = serve(app, "127.0.0.1", 0)      # port 0: any free port
    ... running.base_url ...                  # e.g. http://127.0.0.1:54321
    running.shutdown()

Every provider whose spec has an ``emulator`` is mounted at ``/<name>`` (see
``providers/emulator_kit/__init__.py`` for how an emulator is written).
"""

from __future__ import annotations

import argparse
import threading
from typing import Any, NamedTuple

from flask import Flask, jsonify
from werkzeug.serving import BaseWSGIServer, make_server

from providers.emulator_kit.config import OAuthClient, SandboxConfig
from providers.emulator_kit.context import SandboxContext
from providers.emulator_kit.control import create_control_blueprint
from providers import registry
from providers.emulator_kit.emulator import ProviderEmulator

__all__ = ["OAuthClient", "RunningServer", "SandboxConfig", "create_sandbox_app", "emulated", "serve"]


def emulated() -> dict[str, type[ProviderEmulator]]:
    """provider name (also its URL prefix) -> its emulator class, from the registry. Imported
    only when asked, so importing this module stays free of side effects."""
    return {spec.name: spec.emulator() for spec in registry.SPECS if spec.emulator is not None}


def create_sandbox_app(config: SandboxConfig | None = None) -> Flask:
    ctx = SandboxContext.create(config or SandboxConfig())
    emulators = {name: cls(ctx) for name, cls in emulated().items()}
    app = Flask(__name__, static_folder=None)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep provider field order as the real services send it
    for name, emulator in emulators.items():
        app.register_blueprint(emulator.blueprint(), url_prefix=f"/{name}")
    app.register_blueprint(create_control_blueprint(ctx, emulators), url_prefix="/_control")
    app.extensions["sandbox"] = ctx
    app.extensions["sandbox_emulators"] = emulators

    @app.get("/")
    def index():
        return jsonify({"sandbox": True, "providers": {n: f"/{n}" for n in emulators}, "control": "/_control"})

    return app


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


def serve(app: Flask, host: str = "127.0.0.1", port: int = 0, ssl_context: Any = None) -> RunningServer:
    """Serve ``app`` on a daemon thread. ``ssl_context`` (an ``ssl.SSLContext`` or a
    ``(cert, key)`` pair) serves https, which msal needs for a Microsoft authority."""
    server = make_server(host, port, app, threaded=True, ssl_context=ssl_context)
    thread = threading.Thread(target=server.serve_forever, name=f"sandbox:{server.server_port}", daemon=True)
    thread.start()
    display_host = f"[{host}]" if ":" in host else host
    scheme = "https" if ssl_context is not None else "http"
    return RunningServer(server, thread, f"{scheme}://{display_host}:{server.server_port}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the provider sandbox.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args(argv)
    running = serve(create_sandbox_app(), args.host, args.port)
    print(f"sandbox listening on {running.base_url}", flush=True)
    try:
        running.thread.join()
    except KeyboardInterrupt:
        running.shutdown()


if __name__ == "__main__":
    main()
