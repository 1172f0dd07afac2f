"""Builds the services from a `Hub`: the one place that knows which service needs what."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from hub.api.schemas import AttendeeIn, EventIn, EventPatch  # the events service speaks API schemas
from hub.container import Hub
from hub.services.directory import require_user
from hub.services.events import EventService
from hub.services.idempotency import IdempotencyStore
from hub.services.scheduling.candidates import CandidateActions
from hub.services.scheduling.offers import SchedulingService
from hub.services.scheduling.ports import InterviewSpec
from hub.services.working_hours import parse_working_hours
from oauth.connect import ConnectService


@dataclass
class Services:
    connect: ConnectService
    events: EventService
    idempotency: IdempotencyStore
    scheduling: SchedulingService
    candidates: CandidateActions

    @staticmethod
    def build(hub: Hub) -> "Services":
        connect = hub.connect  # built by the Hub: its webhook hooks mint links with it

        def reconnect_link(tenant_id: str, user_id: str, provider: str) -> str:
            with hub.db.session() as session:
                user = require_user(session, tenant_id, user_id)
            return connect.create_link(tenant_id, user, provider, None, None).url

        events = EventService(hub, reconnect_link)
        scheduling = SchedulingService(hub, EventServiceInterviews(events),
                                       lambda token: f"{hub.settings.public_url.rstrip('/')}/book/{token}")
        return Services(
            connect=connect,
            events=events,
            idempotency=IdempotencyStore(hub.db, timedelta(hours=hub.settings.idempotency_ttl_hours)),
            scheduling=scheduling,
            candidates=CandidateActions(scheduling),
        )

    parse_working_hours = staticmethod(parse_working_hours)


class EventServiceInterviews:
    """Scheduling's `Interviews` port on the events service: an interview is made exactly as
    `POST /v1/events` makes an event (conferencing, Zoom undo, provider idempotency handle)."""

    def __init__(self, events: EventService) -> None:
        self.events = events

    def create(self, tenant_id: str, spec: InterviewSpec, handle: str) -> dict:
        body = EventIn(organizer=spec.organizer, title=spec.title, description=spec.description,
                       start=spec.start, end=spec.end, timezone=spec.timezone, conferencing=spec.conferencing,
                       attendees=[AttendeeIn(email=email, name=name) for email, name in spec.attendees])
        return self.events.create(tenant_id, body, handle)

    def move(self, tenant_id: str, event_id: str, start, end) -> dict:
        return self.events.update(tenant_id, event_id, EventPatch(start=start, end=end))

    def cancel(self, tenant_id: str, event_id: str) -> None:
        self.events.cancel(tenant_id, event_id)
