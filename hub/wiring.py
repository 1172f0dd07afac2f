"""Builds the services from a `Hub`: the one place that knows which service needs what."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from hub.container import Hub
from hub.services.attendance import AttendanceService
from hub.services.directory import require_user
from hub.services.events import EventService
from hub.services.idempotency import IdempotencyStore
from hub.services.scheduling.candidates import CandidateActions
from hub.services.scheduling.offers import SchedulingService
from hub.services.working_hours import parse_working_hours
from oauth.connect import ConnectService


@dataclass
class Services:
    connect: ConnectService
    events: EventService
    idempotency: IdempotencyStore
    scheduling: SchedulingService
    candidates: CandidateActions
    attendance: AttendanceService

    @staticmethod
    def build(hub: Hub) -> "Services":
        connect = hub.connect  # built by the Hub: its webhook hooks mint links with it

        def reconnect_link(tenant_id: str, user_id: str, provider: str) -> str:
            with hub.db.session() as session:
                user = require_user(session, tenant_id, user_id)
            return connect.create_link(tenant_id, user, provider, None, None).url

        attendance = AttendanceService(hub.db, hub.attendance, hub.tokens.call, lambda: hub.clock())
        events = EventService(hub, reconnect_link, attendance)
        scheduling = SchedulingService(hub, events,
                                       lambda token: f"{hub.settings.public_url.rstrip('/')}/book/{token}")
        return Services(
            connect=connect,
            events=events,
            attendance=attendance,
            idempotency=IdempotencyStore(hub.db, timedelta(hours=hub.settings.idempotency_ttl_hours)),
            scheduling=scheduling,
            candidates=CandidateActions(scheduling),
        )

    parse_working_hours = staticmethod(parse_working_hours)

