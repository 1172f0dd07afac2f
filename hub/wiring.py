"""Builds the services from a `Hub`: the one place that knows which service needs what."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from hub.container import Hub
from hub.services.attendance import AttendanceService
from hub.services.directory import require_user
from hub.services.events import EventService
from hub.services.idempotency import IdempotencyStore
from hub.services.working_hours import parse_working_hours
from oauth.connect import ConnectService

if TYPE_CHECKING:
    from hub.services.scheduling.candidates import CandidateActions
    from hub.services.scheduling.offers import SchedulingService


@dataclass
class Services:
    connect: ConnectService
    events: EventService
    idempotency: IdempotencyStore
    attendance: AttendanceService
    hub: Hub
    _scheduling: tuple[SchedulingService, CandidateActions] | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @staticmethod
    def build(hub: Hub) -> "Services":
        connect = hub.connect  # built by the Hub: its webhook hooks mint links with it

        def reconnect_link(tenant_id: str, user_id: str, provider: str) -> str:
            with hub.db.session() as session:
                user = require_user(session, tenant_id, user_id)
            return connect.create_link(tenant_id, user, provider, None, None).url

        attendance = AttendanceService(hub.db, hub.attendance, hub.tokens.call, lambda: hub.clock())
        return Services(
            connect=connect,
            events=EventService(hub, reconnect_link, attendance),
            attendance=attendance,
            idempotency=IdempotencyStore(hub.db, timedelta(hours=hub.settings.idempotency_ttl_hours)),
            hub=hub,
        )

    @property
    def scheduling(self) -> SchedulingService:
        return self._scheduling_services()[0]

    @property
    def candidates(self) -> CandidateActions:
        return self._scheduling_services()[1]

    def _scheduling_services(self) -> tuple[SchedulingService, CandidateActions]:
        """Built on first use, not with the others: its nine modules are only imported by the
        scheduling routes, the booking page and their jobs (not by a start, nor by most requests).
        Under the lock because there must be one: SQLite's claims take turns on its lock."""
        with self._lock:
            if self._scheduling is None:
                from hub.services.scheduling.candidates import CandidateActions
                from hub.services.scheduling.offers import SchedulingService
                hub = self.hub
                offers = SchedulingService(hub, self.events,
                                           lambda token: f"{hub.settings.public_url.rstrip('/')}/book/{token}")
                self._scheduling = (offers, CandidateActions(offers))
            return self._scheduling

    parse_working_hours = staticmethod(parse_working_hours)
