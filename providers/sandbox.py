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

from flask import Flask, jsonify

from providers.emulator_kit.config import OAuthClient, SandboxConfig
from providers.emulator_kit.context import SandboxContext
from providers.emulator_kit.control import create_control_blueprint
from providers import registry
from providers.emulator_kit.emulator import ProviderEmulator
from providers.serving import RunningServer, serve

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
