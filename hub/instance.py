"""The `hub demo` instance folder (`./instance`): its database, keys, API key, sandbox state
and the address it runs on. `hub demo` writes it; every other command (`hub doctor`,
`hub keys create`, `hub db upgrade`, `hub keys rotate-encryption`) reads it, so next to a
running demo they act on the demo's database and sandbox rather than `./hub.sqlite3` and a
guessed port.
"""
from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.config import Settings

DEMO_TENANT = "demo"
# Settings that mean "this is a configured hub, not the demo": with any of them set, commands
# use HUB_* as they are.
EXPLICIT_SETTINGS = ("HUB_DATABASE_URL", "HUB_ENCRYPTION_KEYS")


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


@dataclass(frozen=True)
class DemoInstance:
    root: Path = Path("instance")

    @property
    def address_file(self) -> Path:
        return self.root / "demo.json"

    @property
    def sandbox_file(self) -> Path:
        return self.root / "sandbox-state.pickle"

    def exists(self) -> bool:
        return self.address_file.exists()

    def _secret(self, name: str, make: Callable[[], str]) -> str:
        path = self.root / name
        if not path.exists():
            self.root.mkdir(exist_ok=True)
            _write_private(path, make())
        return path.read_text().strip()

    def api_key(self, override: str | None = None) -> str:
        """The demo tenant's key: HUB_DEMO_API_KEY when given, else the one made on the first
        start — the same key after every restart."""
        if override:
            return override
        from hub.services.directory import KEY_PREFIX
        return self._secret("demo-api-key", lambda: KEY_PREFIX + secrets.token_urlsafe(32))

    def record_address(self, host: str, port: int) -> None:
        self.root.mkdir(exist_ok=True)
        _write_private(self.address_file, json.dumps({"host": host, "port": port}))

    def address(self) -> tuple[str, int]:
        data = json.loads(self.address_file.read_text())
        return str(data["host"]), int(data["port"])

    def settings(self, host: str | None = None, port: int | None = None,
                 environ: Mapping[str, str] | None = None) -> Settings:
        """The demo's settings: its SQLite file and keys here, the hub on PORT and the sandbox on
        PORT+1 (as recorded by the last `hub demo` when not given)."""
        if host is None or port is None:
            host, port = self.address()
        from oauth.vault import TokenVault
        env = dict(os.environ if environ is None else environ)
        overrides: dict[str, Any] = {
            "database_url": env.get("HUB_DATABASE_URL") or f"sqlite:///{(self.root / 'demo.sqlite3').resolve()}",
            "encryption_keys": env.get("HUB_ENCRYPTION_KEYS")
            or self._secret("demo-encryption.key", lambda: TokenVault.generate_key_spec("demo")),
            "secret_key": env.get("HUB_SECRET_KEY") or self._secret("demo-secret.key", lambda: secrets.token_hex(32)),
            # The sandbox's Zoom signs its meeting and participant webhooks with this (attendance).
            "zoom_webhook_secret": env.get("HUB_ZOOM_WEBHOOK_SECRET")
            or self._secret("demo-zoom-webhook.key", lambda: secrets.token_urlsafe(24)),
            "public_url": f"http://{host}:{port}",
            "sandbox_url": f"http://{host}:{port + 1}",
            "auto_migrate": True,
            "log_json": False,
            # The demo's webhook receivers run on this machine; an explicit setting wins.
            "webhook_allow_private_urls": Settings.from_env(env).webhook_allow_private_urls
            if "HUB_WEBHOOK_ALLOW_PRIVATE_URLS" in env else True,
        }
        return Settings.from_env(env, **overrides)


def command_settings(note: Callable[[str], None], instance: DemoInstance | None = None,
                     environ: Mapping[str, str] | None = None) -> Settings:
    """Settings for a CLI command: HUB_* when the hub is configured, else the demo's when a
    `hub demo` instance is here (saying so through `note`), else the defaults."""
    env = os.environ if environ is None else environ
    instance = instance or DemoInstance()
    if any(env.get(name) for name in EXPLICIT_SETTINGS) or not instance.exists():
        return Settings.from_env(env)
    settings = instance.settings(environ=env)
    note(f"using the hub demo in {instance.root}/ (hub {settings.public_url}, sandbox {settings.sandbox_url})")
    return settings
