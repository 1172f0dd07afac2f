"""Which providers push, and their CalendarSync adapters (built once per hub, behind the shared
Retry-After limits like every other adapter)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, TypeVar

from hub.services.sync.records import ForeignCredentials
from hub.storage.models import Connection
from oauth.tokens import access_binding, refresh_binding
from oauth.vault import VaultError
from providers import registry
from providers.base import CalendarSync

if TYPE_CHECKING:  # pragma: no cover
    from hub.container import Hub


T = TypeVar("T")


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


def call(hub: Hub, connection_id: str, action: Callable[[str], T]) -> T:
    """`action(access_token)` through the token manager (refresh once on a refused token), for
    background jobs: credentials this hub cannot read are not its to judge (ForeignCredentials)."""
    with hub.db.session() as session:
        conn = session.get(Connection, connection_id)
        if conn is not None:
            try:
                if conn.access_token_enc:
                    hub.vault.decrypt(conn.access_token_enc, access_binding(conn.id))
                elif conn.refresh_token_enc:
                    hub.vault.decrypt(conn.refresh_token_enc, refresh_binding(conn.id))
            except VaultError:
                raise ForeignCredentials(f"connection {connection_id}: stored credentials unreadable here") from None
    return hub.tokens.call(connection_id, action)
