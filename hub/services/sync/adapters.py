"""Which providers push, and their CalendarSync adapters (built once per hub, behind the shared
Retry-After limits like every other adapter)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from providers import registry
from providers.base import CalendarSync

if TYPE_CHECKING:  # pragma: no cover
    from hub.container import Hub


def pushes(provider: str) -> bool:
    spec = registry.PROVIDERS.get(provider)
    return spec is not None and spec.sync is not None


def adapter(hub: Hub, provider: str) -> CalendarSync:
    make = registry.get(provider).sync
    if make is None:
        raise KeyError(f"{provider} has no push channels")
    # hub.use("sync", provider, fake) puts a hand-written fake in place (tests).
    found: CalendarSync = hub._cached("sync", provider,
                                      lambda: hub._limited(provider, make(hub.settings.provider(provider))))
    return found
