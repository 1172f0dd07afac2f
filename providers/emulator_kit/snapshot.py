"""Save and restore a sandbox app's world — accounts, calendars, meetings, grants, tokens and
the id_token signing key — so `hub demo` can restart without breaking every connection.

Faults and the request log are not kept: they describe one session of poking at the sandbox.
The snapshot is a pickle, so only load files this machine wrote (the demo keeps it 0600 in
its own `instance/` folder).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import threading
from pathlib import Path
from typing import Any

from flask import Flask

from .context import SandboxContext
from .emulator import ProviderEmulator

FORMAT = 1


def _parts(app: Flask) -> tuple[SandboxContext, dict[str, ProviderEmulator]]:
    return app.extensions["sandbox"], app.extensions["sandbox_emulators"]


def snapshot(app: Flask) -> bytes:
    """One consistent picture: the state lock and every authorization server's lock are held
    until the bytes are made, so no request changes a dict while it is being pickled."""
    ctx, emulators = _parts(app)
    with contextlib.ExitStack() as held:
        held.enter_context(ctx.state.lock)
        for emulator in emulators.values():
            held.enter_context(emulator.oauth.lock)
        data: dict[str, Any] = {
            "format": FORMAT,
            "state": ctx.state.export_state(),
            "oauth": {name: emulator.oauth.export_state() for name, emulator in emulators.items()},
            "signing_key": (ctx.signing_key.kid, ctx.signing_key.private_pem()),
            # What an emulator keeps outside SandboxState (CalDAV: Radicale's files and users).
            "emulators": {name: emulator.export_state() for name, emulator in emulators.items()},
        }
        return pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)


def restore(app: Flask, blob: bytes) -> bool:
    """Put a snapshot back; False (and nothing changed) when it is from another format."""
    data = pickle.loads(blob)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return False
    ctx, emulators = _parts(app)
    ctx.state.import_state(data["state"])
    for name, oauth_state in data["oauth"].items():
        if name in emulators:
            emulators[name].oauth.import_state(oauth_state)
    ctx.signing_key.restore(*data["signing_key"])
    for name, extra in (data.get("emulators") or {}).items():
        if name in emulators and extra is not None:
            emulators[name].import_state(extra)
    return True


class SnapshotFile:
    """A sandbox persisted to one file: restored on `load()`, written after every request that
    may have changed something (anything but GET/HEAD/OPTIONS) and on `save()`."""

    def __init__(self, app: Flask, path: Path) -> None:
        self.app = app
        self.path = path
        self._lock = threading.Lock()

    def load(self) -> bool:
        try:
            blob = self.path.read_bytes()
        except FileNotFoundError:
            return False
        try:
            return restore(self.app, blob)
        except (pickle.UnpicklingError, EOFError, AttributeError, KeyError, ValueError, TypeError):
            return False  # a damaged or outdated file: start empty rather than not at all

    def save(self) -> None:
        blob = snapshot(self.app)
        with self._lock:
            tmp = self.path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(blob)
            os.replace(tmp, self.path)  # atomic: a crash mid-write leaves the previous snapshot

    def save_after_changes(self) -> None:
        from flask import request

        @self.app.after_request
        def _save(response):
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                # Best effort: a snapshot taken while another request changes the OAuth server's
                # or Radicale's state can fail; the provider's answer must not turn into a 500
                # for that, and the next change (or the shutdown) saves again.
                try:
                    self.save()
                except Exception as exc:  # noqa: BLE001
                    self.app.logger.warning("sandbox snapshot not saved (%s); the next change saves again",
                                            type(exc).__name__)
            return response
