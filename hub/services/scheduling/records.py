"""Loading scheduling rows (always tenant-scoped) and turning them into API-shaped dicts."""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.services.scheduling.errors import fail
from hub.services.scheduling.grid import Interval
from hub.storage.models import (
    SchedulingCandidate,
    SchedulingHold,
    SchedulingRequest,
    SchedulingSlot,
)
from oauth.vault import Binding, TokenVault

ENDED = ("cancelled", "expired")
LIVE_HOLDS = ("placing", "active", "releasing")


def token_hash(token: str) -> str:
    # The token carries 256 random bits: one SHA-256 is enough to make the stored value useless.
    return hashlib.sha256(token.encode()).hexdigest()


def token_binding(candidate_id: str) -> Binding:
    return Binding("scheduling_candidates", "token", candidate_id)


def load_request(session: Session, tenant_id: str, request_id: str, *, lock: bool = False) -> SchedulingRequest:
    query = select(SchedulingRequest).where(SchedulingRequest.id == request_id,
                                            SchedulingRequest.tenant_id == tenant_id)
    if lock:
        query = query.with_for_update()
    req = session.execute(query).scalar_one_or_none()
    if req is None:
        raise fail("scheduling_request_not_found", f"No scheduling request {request_id!r} exists for "
                              "this API key.")
    return req


def load_candidate(session: Session, req: SchedulingRequest, candidate_id: str) -> SchedulingCandidate:
    cand = session.get(SchedulingCandidate, candidate_id)
    if cand is None or cand.request_id != req.id:
        raise fail("candidate_not_found", f"No candidate {candidate_id!r} in request {req.id!r}.")
    return cand


def require_open(req: SchedulingRequest, now: datetime) -> None:
    if req.status in ENDED or now >= req.expires_at:
        status = req.status if req.status in ENDED else "expired"
        raise fail("request_ended", f"This scheduling request has {status}; nothing can be booked "
                              "or changed any more.", request_status=status)


def slots_of(session: Session, request_id: str) -> list[SchedulingSlot]:
    return list(session.execute(select(SchedulingSlot).where(SchedulingSlot.request_id == request_id)
                                .order_by(SchedulingSlot.start, SchedulingSlot.id)).scalars())


def candidates_of(session: Session, request_id: str) -> list[SchedulingCandidate]:
    return list(session.execute(select(SchedulingCandidate).where(SchedulingCandidate.request_id == request_id)
                                .order_by(SchedulingCandidate.position)).scalars())


def holds_of(session: Session, request_id: str, slot_id: str | None = None) -> list[SchedulingHold]:
    query = select(SchedulingHold).where(SchedulingHold.request_id == request_id)
    if slot_id is not None:
        query = query.where(SchedulingHold.slot_id == slot_id)
    return list(session.execute(query.order_by(SchedulingHold.created_at, SchedulingHold.id)).scalars())


def windows_of(req: SchedulingRequest) -> list[Interval]:
    return [Interval(datetime.fromisoformat(s), datetime.fromisoformat(e)) for s, e in (req.windows or [])]


def is_claimed(slot: SchedulingSlot, now: datetime) -> bool:
    """Booked, or a live booking lease: somebody has this time."""
    return slot.status == "booked" or (slot.status == "booking" and slot.claimed_until is not None
                                       and slot.claimed_until > now)


class Views:
    """API-shaped dicts; the booking link is rebuilt from the vault copy of the token."""

    def __init__(self, vault: TokenVault, booking_url: Callable[[str], str]) -> None:
        self.vault = vault
        self.booking_url = booking_url

    def candidate_url(self, cand: SchedulingCandidate) -> str:
        return self.booking_url(self.vault.decrypt(cand.token_enc, token_binding(cand.id)))

    def candidate(self, cand: SchedulingCandidate, slot: SchedulingSlot | None) -> dict[str, Any]:
        out: dict[str, Any] = {"id": cand.id, "email": cand.email, "name": cand.name, "timezone": cand.timezone,
                               "status": cand.status, "booking_url": self.candidate_url(cand)}
        if slot is not None and cand.status == "booked":
            out["slot"] = {"id": slot.id, "start": slot.start, "end": slot.end}
        if cand.event_id and cand.status == "booked":
            out["event_id"] = cand.event_id
        if cand.decline_reason and cand.status in ("declined", "cancelled"):
            out["decline_reason"] = cand.decline_reason
        if cand.odd_hour is not None and cand.status == "booked":
            out["odd_hour"] = cand.odd_hour
        return out

    def request(self, session: Session, req: SchedulingRequest) -> dict[str, Any]:
        s = req.settings
        slots = slots_of(session, req.id)
        by_id = {sl.id: sl for sl in slots}
        holds = [h for h in holds_of(session, req.id) if h.status in ("active", "releasing")]
        return {
            "id": req.id, "status": req.status, "organizer": s["organizer"], "interviewers": s["interviewers"],
            "template_id": s.get("template_id"), "title": s["title"], "description": s.get("description"),
            "duration_minutes": s["duration_minutes"], "interval_minutes": s["interval_minutes"],
            "buffer_before_minutes": s["buffer_before_minutes"], "buffer_after_minutes": s["buffer_after_minutes"],
            "minimum_notice_minutes": s["minimum_notice_minutes"], "conferencing": s["conferencing"],
            "candidate_hours": s["candidate_hours"], "hold": s["hold"], "attendance": s.get("attendance"),
            "return_url": s.get("return_url"),
            "expires_at": req.expires_at, "created_at": req.created_at, "ended_at": req.ended_at,
            "slots": [{"id": sl.id, "start": sl.start, "end": sl.end, "status": _slot_status(sl),
                       **({"candidate_id": sl.candidate_id} if sl.candidate_id and sl.status == "booked" else {})}
                      for sl in slots if sl.status != "removed" and not (sl.from_window and sl.status != "booked")],
            "windows": [{"start": w.start, "end": w.end} for w in windows_of(req)],
            "candidates": [self.candidate(c, by_id.get(c.slot_id or "")) for c in candidates_of(session, req.id)],
            # What is on the calendars now: removal still being retried counts until the provider confirms.
            "holds": [{"user_id": h.user_id, "slot_id": h.slot_id, "provider": h.provider,
                       "event_id": h.provider_event_id, "status": h.status} for h in holds],
        }


def _slot_status(slot: SchedulingSlot) -> str:
    return "open" if slot.status == "booking" else slot.status
