"""Settings for processes started next to a hub rather than by it (a Celery worker, beat,
`hub jobs`)."""
from __future__ import annotations

import os
from pathlib import Path

from hub.config import Settings


def settings_here() -> Settings:
    """HUB_* settings; with no encryption keys set but a `hub demo` instance in this directory,
    the demo's (its database and keys in ./instance, HUB_BROKER_URL from the environment), so a
    worker started next to `hub demo` serves it."""
    settings = Settings.from_env()
    if settings.encryption_keys or not (Path("instance") / "demo-encryption.key").exists():
        return settings
    from hub.demo import demo_settings
    return demo_settings(os.environ.get("HUB_DEMO_HOST", "127.0.0.1"), int(os.environ.get("HUB_DEMO_PORT", "8000")))
