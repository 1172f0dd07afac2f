"""A hand-written CalendarSync for the sync service's tests: a calendar held in a dict, a
cursor that counts changes, channels remembered, failures on demand."""
from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Mapping

from providers import registry
from providers.base import (FULL_SYNC_REQUIRED, ErrorKind, ProviderError, PushChannel, PushNotice, SyncBatch,
                            SyncedEvent)


class FakeSync:
    def __init__(self, name: str = "google", renewable: bool = False) -> None:
        self.name = name
        self.renewable = renewable
        self.max_channel_lifetime = timedelta(days=7)
        self.events: dict[str, SyncedEvent] = {}
        self.log: list[tuple[int, SyncedEvent]] = []  # (sequence, change)
        self.sequence = 0
        self.opened: list[Any] = []
        self.reads: list[tuple[Mapping[str, str], bool]] = []  # read_notices' headers and `lifecycle`
        self.closed: list[PushChannel] = []
        self.renewed: list[PushChannel] = []
        self.syncs: list[str | None] = []
        self.event_reads: list[str] = []  # read_event calls
        self.fail_open: ProviderError | None = None
        self.fail_renew: ProviderError | None = None
        self.cursor_refused = False
        self.lock = threading.Lock()

    # -- what people do in the calendar ------------------------------------------------------
    def put(self, event: SyncedEvent) -> None:
        with self.lock:
            self.sequence += 1
            if event.cancelled:
                self.events.pop(event.event_id, None)
            else:
                self.events[event.event_id] = event
            self.log.append((self.sequence, event))

    # -- CalendarSync -------------------------------------------------------------------------
    def open_channel(self, token: str, request: Any) -> PushChannel:
        if self.fail_open is not None:
            raise self.fail_open
        self.opened.append(request)
        return PushChannel(f"ext-{request.channel_id}", request.expires_at, f"res-{len(self.opened)}")

    def renew_channel(self, token: str, channel: PushChannel, expires_at: datetime) -> PushChannel:
        if self.fail_renew is not None:
            raise self.fail_renew
        self.renewed.append(channel)
        return PushChannel(channel.channel_id, expires_at, channel.resource_id)

    def close_channel(self, token: str, channel: PushChannel) -> None:
        self.closed.append(channel)

    def sync(self, token: str, cursor: str | None, start: datetime, end: datetime) -> SyncBatch:
        self.syncs.append(cursor)
        with self.lock:
            if cursor is None:
                listed = tuple(e for e in self.events.values() if e.start and start <= e.start < end)
                return SyncBatch(listed, str(self.sequence), True)
            if self.cursor_refused:
                self.cursor_refused = False
                raise ProviderError(ErrorKind.CONFLICT, "sync token too old", provider=self.name,
                                    cause=FULL_SYNC_REQUIRED, http_status=410)
            changed = {e.event_id: e for seq, e in self.log if seq > int(cursor)}
            return SyncBatch(tuple(changed.values()), str(self.sequence), False)

    def read_event(self, token: str, event_id: str) -> SyncedEvent:
        self.event_reads.append(event_id)
        with self.lock:
            return self.events.get(event_id) or SyncedEvent(event_id, cancelled=True)

    def validation_echo(self, args: Mapping[str, str]) -> str | None:
        return args.get("validationToken")

    def read_notices(self, headers: Mapping[str, str], body: bytes, lifecycle: bool) -> list[PushNotice]:
        self.reads.append((headers, lifecycle))
        try:
            items = json.loads(body or b"null")
        except ValueError:
            raise ValueError("not JSON") from None
        if not isinstance(items, list):
            raise ValueError("not a list")
        return [PushNotice(**item) for item in items]


def install(monkeypatch, hub, fake: FakeSync) -> None:
    """Make `fake.name`'s spec push through `fake` (before the real adapters exist)."""
    spec = replace(registry.PROVIDERS[fake.name], sync=lambda config: fake)
    monkeypatch.setitem(registry.PROVIDERS, fake.name, spec)
    monkeypatch.setattr(registry, "SPECS", tuple(spec if s.name == fake.name else s for s in registry.SPECS))
    hub.use("sync", fake.name, fake)
