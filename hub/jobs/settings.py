"""Settings for processes started next to a hub rather than by it (a Celery worker, beat,
`hub jobs`)."""
from __future__ import annotations

import sys

from hub.config import Settings


def settings_here() -> Settings:
    """HUB_* settings; with none but a `hub demo` instance in this directory, the demo's (its
    database and keys in ./instance; HUB_BROKER_URL still from the environment), so a worker
    started next to `hub demo` serves it."""
    from hub.instance import command_settings
    return command_settings(lambda text: print(text, file=sys.stderr))
