"""What a candidate does with an offer: see the slots they may pick, book one, decline with a
reason, reschedule, cancel — and change their mind until the request expires.

Booking order (DESIGN.md flow 4): claim the slot under the request's row lock (one winner) →
re-read every interviewer's calendar live, leaving this request's own holds out → create the
interview through the events path → record the booking, release the slot's holds and queue the
webhook in one transaction. The claim is a short lease, so the slow provider calls run outside
any transaction and a crashed booking frees its slot again."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy import select

from hub.errors import HubError
from hub.services.scheduling import holds as hold_ops
from hub.services.scheduling.attendance import candidate_rules
from hub.services.scheduling.checks import busy_conflicts
from hub.services.scheduling.errors import fail, invalid
from hub.services.scheduling.grid import (
    Interval,
    grid_slots,
    local,
    odd_hour,
    placement_error,
)
from hub.services.scheduling.offers import SchedulingService
from hub.services.events import EventUpdate, NewEvent
from providers.base import Attendee
from hub.services.scheduling.records import (
    candidates_of,
    holds_of,
    is_claimed,
    load_candidate,
    load_request,
    require_open,
    slots_of,
    token_hash,
    windows_of,
)
from hub.services.scheduling.texts import render, uses
from hub.storage.models import (
    Event,
    SchedulingCandidate,
    SchedulingRequest,
    SchedulingSlot,
)
from webhooks.outbound.outbox import enqueue

LEASE = timedelta(minutes=2)  # longer than a live re-check plus an event creation
ANSWERED = ("booked", "declined", "cancelled")


@dataclass(frozen=True)
class Claim:
    slot_id: str
    interval: Interval
    previous: str  # the slot's status before the claim ("new" for a window slot made by it)


class CandidateActions:
    def __init__(self, offers: SchedulingService) -> None:
        self.offers = offers
        self.hub = offers.hub

    # --- tokens -------------------------------------------------------------------------------
    def resolve_token(self, token: str) -> tuple[str, str, str]:
        """(tenant id, request id, candidate id) for a booking link; `request_ended` once the
        request is cancelled or expired, `booking_link_unknown` for anything else."""
        with self.hub.db.session() as session:
            cand = session.execute(select(SchedulingCandidate).where(
                SchedulingCandidate.token_hash == token_hash(token))).scalar_one_or_none()
            if cand is None:
                raise fail("booking_link_unknown", "This booking link is not valid.")
            req = session.get_one(SchedulingRequest, cand.request_id)
            require_open(req, self.hub.clock())
            return req.tenant_id, req.id, cand.id

    def overview(self, tenant_id: str, request_id: str, candidate_id: str) -> dict[str, Any]:
        """What the candidate's booking page shows above the slots: the offer and their answer."""
        with self.hub.db.session() as session:
            req = load_request(session, tenant_id, request_id)
            cand = load_candidate(session, req, candidate_id)
            s = req.settings
            slot = session.get(SchedulingSlot, cand.slot_id) if cand.slot_id else None
            values = {"candidate_name": cand.name or cand.email, "candidate_email": cand.email,
                      "organizer_name": s.get("organizer_name") or s["organizer"]}
            return {"title": render(s["title"], values), "duration_minutes": s["duration_minutes"],
                    "organizer_name": values["organizer_name"], "organizer_timezone": s.get("organizer_timezone") or "UTC",
                    "request_status": req.status, "candidate": self.offers.views.candidate(cand, slot),
                    # every booking and move raises it: the calendar invitation's SEQUENCE
                    "bookings": cand.bookings}

    # --- slots --------------------------------------------------------------------------------
    def slots(self, tenant_id: str, request_id: str, candidate_id: str, zone: str | None) -> dict[str, Any]:
        now = self.hub.clock()
        with self.hub.db.session() as session:
            req = load_request(session, tenant_id, request_id)
            cand = load_candidate(session, req, candidate_id)
            require_open(req, now)
            zone = zone or cand.timezone or "UTC"
            settings = req.settings
            taken = [Interval(s.start, s.end) for s in slots_of(session, req.id)
                     if is_claimed(s, now) and s.candidate_id != cand.id]
            earliest = now + timedelta(minutes=settings["minimum_notice_minutes"])
            offered: list[tuple[str | None, Interval]]
            if req.windows:
                offered = [(None, s) for s in grid_slots(windows_of(req), timedelta(minutes=settings["duration_minutes"]),
                                                        timedelta(minutes=settings["interval_minutes"]))
                           if s.start >= earliest and not any(s.overlaps(t) for t in taken)]
            else:
                offered = [(s.id, Interval(s.start, s.end)) for s in slots_of(session, req.id)
                           if s.status in ("open", "held", "booking") and not is_claimed(s, now)
                           and s.start >= earliest]
            own = {h.provider_event_id for h in holds_of(session, req.id) if h.provider_event_id}
        if req.windows and offered:
            # Windows carry no holds: leave out the times an interviewer has filled since.
            busy = busy_conflicts(self.hub, tenant_id, settings["interviewers"], [s for _, s in offered], settings,
                                  exclude=own)
            offered = [(i, s) for i, s in offered if s not in busy]
        hours = settings["candidate_hours"]
        return {"timezone": zone, "slots": [
            {**({"id": slot_id} if slot_id else {}), "start": s.start, "end": s.end,
             "candidate_local": local(s, zone), "odd_hour": odd_hour(s, zone, hours)} for slot_id, s in offered]}

    # --- book / reschedule --------------------------------------------------------------------
    def book(self, tenant_id: str, request_id: str, candidate_id: str, *, slot_id: str | None = None,
             start: datetime | None = None) -> dict[str, Any]:
        claim = self._claim(tenant_id, request_id, candidate_id, slot_id, start, rescheduling=False)
        with self.hub.db.session() as session:
            req = load_request(session, tenant_id, request_id)
            cand = load_candidate(session, req, candidate_id)
            settings, handle = req.settings, f"{tenant_id}:interview:{cand.id}:{cand.bookings}"
            url = self.offers.views.candidate_url(cand)
            spec = self._spec(settings, cand, claim.interval, url)
        try:
            self._recheck(tenant_id, request_id, settings, claim, exclude_event=None)
            event = self.offers.events.create(tenant_id, spec, handle)
        except BaseException:
            self._release(claim)
            raise
        return self._settle(tenant_id, request_id, candidate_id, claim, event["id"], "booked",
                            lambda: self.offers.events.cancel(tenant_id, event["id"]))

    def reschedule(self, tenant_id: str, request_id: str, candidate_id: str, *, slot_id: str | None = None,
                   start: datetime | None = None, reason: str | None = None) -> dict[str, Any]:
        claim = self._claim(tenant_id, request_id, candidate_id, slot_id, start, rescheduling=True)
        with self.hub.db.session() as session:
            req = load_request(session, tenant_id, request_id)
            cand = load_candidate(session, req, candidate_id)
            event_id, settings = cand.event_id, req.settings
            event = session.get(Event, event_id) if event_id else None
        if event is None or event_id is None:  # declined or cancelled since the claim
            self._release(claim)
            raise fail("not_booked", "There is no booked interview to move any more.")
        provider_event, old = event.provider_event_id, (event.start, event.end)
        try:
            self._recheck(tenant_id, request_id, settings, claim, exclude_event=provider_event)
            self._move(tenant_id, event_id, claim.interval.start, claim.interval.end)
        except BaseException:
            self._release(claim)
            raise
        return self._settle(tenant_id, request_id, candidate_id, claim, event_id, "rescheduled",
                            lambda: self._move(tenant_id, event_id, *old), reason=reason)

    def _claim(self, tenant_id: str, request_id: str, candidate_id: str, slot_id: str | None,
               start: datetime | None, *, rescheduling: bool) -> Claim:
        now = self.hub.clock()
        with self.offers.serial(), self.hub.db.session() as session:
            req = load_request(session, tenant_id, request_id, lock=True)
            cand = load_candidate(session, req, candidate_id)
            require_open(req, now)
            if rescheduling and cand.status != "booked":
                raise fail("not_booked", "Only a booked interview can be rescheduled; book a slot instead.")
            if not rescheduling and cand.status == "booked":
                raise fail("already_booked", "This candidate has booked already; reschedule instead.")
            settings = req.settings
            duration = timedelta(minutes=settings["duration_minutes"])
            earliest = now + timedelta(minutes=settings["minimum_notice_minutes"])
            slots = slots_of(session, req.id)
            if req.windows:
                if start is None:
                    raise invalid("start", "required: this request offers windows")
                wanted = Interval(start, start + duration)
                self._check_time(wanted, now, earliest)
                problem = placement_error(start, windows_of(req), duration,
                                          timedelta(minutes=settings["interval_minutes"]))
                if problem:
                    raise fail(problem, "That time is not one of the offered slots: "
                                          + ("it lies outside the windows." if problem == "slot_outside_windows"
                                             else f"slots start every {settings['interval_minutes']} minutes "
                                                  "from the start of a window."),
                                          errors=[{"field": "start", "message": problem.replace("_", " ")}])
                if any(is_claimed(s, now) and s.candidate_id != cand.id and wanted.overlaps(Interval(s.start, s.end))
                       for s in slots):
                    raise _taken()
                new = SchedulingSlot(request_id=req.id, start=wanted.start, end=wanted.end, status="booking",
                                     candidate_id=cand.id, claimed_until=now + LEASE, from_window=True)
                session.add(new)
                row = new
                previous = "new"
            else:
                if slot_id is None:
                    raise invalid("slot_id", "required: this request offers explicit slots")
                found = next((s for s in slots if s.id == slot_id and s.status != "removed"), None)
                if found is None:
                    raise fail("slot_not_found", f"No slot {slot_id!r} is offered in this request.",
                                          errors=[{"field": "slot_id", "message": "not offered"}])
                row = found
                if is_claimed(row, now):
                    raise _taken()
                if row.status == "unavailable":
                    raise _unavailable([])
                self._check_time(Interval(row.start, row.end), now, earliest)
                previous = "open" if row.status == "booking" else row.status
                row.status, row.candidate_id, row.claimed_until = "booking", cand.id, now + LEASE
            cand.bookings += 1
            session.flush()
            return Claim(row.id, Interval(row.start, row.end), previous)

    @staticmethod
    def _check_time(slot: Interval, now: datetime, earliest: datetime) -> None:
        if slot.start < now:
            raise fail("slot_in_past", "That slot has already started.",
                                  errors=[{"field": "start", "message": "in the past"}])
        if slot.start < earliest:
            raise fail("slot_too_soon", "That slot is inside the minimum notice.",
                                  errors=[{"field": "start", "message": "inside the minimum notice"}])

    def _recheck(self, tenant_id: str, request_id: str, settings: dict[str, Any], claim: Claim,
                 exclude_event: str | None) -> None:
        with self.hub.db.session() as session:
            own = {h.provider_event_id for h in holds_of(session, request_id) if h.provider_event_id}
        if exclude_event:
            own.add(exclude_event)
        busy = busy_conflicts(self.hub, tenant_id, settings["interviewers"], [claim.interval], settings, exclude=own)
        if busy:
            users = busy[claim.interval]
            with self.hub.db.session() as session:
                row = session.get(SchedulingSlot, claim.slot_id)
                if row is not None and row.status == "booking" and not row.from_window:
                    # Nobody can have this time any more: say so, and stop holding it.
                    row.status, row.candidate_id, row.claimed_until = "unavailable", None, None
                    hold_ops.mark_releasing(session, holds_of(session, request_id, row.id), self.hub.clock())
                elif row is not None and row.from_window:
                    session.delete(row)
            hold_ops.release_pending(self.hub, request_id=request_id)
            raise _unavailable(users)

    def _release(self, claim: Claim) -> None:
        with self.hub.db.session() as session:
            row = session.get(SchedulingSlot, claim.slot_id)
            if row is None or row.status != "booking":
                return  # the re-check already marked it unavailable
            if claim.previous == "new":
                session.delete(row)
            else:
                row.status, row.candidate_id, row.claimed_until = claim.previous, None, None

    def _settle(self, tenant_id: str, request_id: str, candidate_id: str, claim: Claim, event_id: str,
                kind: str, undo: Callable[[], object], reason: str | None = None) -> dict[str, Any]:
        now = self.hub.clock()
        with self.offers.serial(), self.hub.db.session() as session:
            req = load_request(session, tenant_id, request_id, lock=True)
            cand = load_candidate(session, req, candidate_id)
            row = session.get_one(SchedulingSlot, claim.slot_id)
            # While the calendars were being written the request may have been cancelled, or a
            # lease outlived by a very slow provider may have let someone else in: undo ours.
            lost = None
            if req.status == "cancelled":
                lost = fail("request_ended", "This scheduling request was cancelled meanwhile.",
                                       request_status="cancelled")
            elif row.status != "booking" or row.candidate_id != cand.id:
                lost = _taken()
            if lost is None:
                if cand.slot_id and cand.slot_id != row.id:
                    self._free_slot(session, session.get(SchedulingSlot, cand.slot_id))
                row.status, row.candidate_id, row.claimed_until = "booked", cand.id, None
                hold_ops.mark_releasing(session, holds_of(session, req.id, row.id), now)  # the interview replaces them
                cand.status, cand.slot_id, cand.event_id = "booked", row.id, event_id
                cand.decline_reason = None
                cand.odd_hour = odd_hour(claim.interval, cand.timezone or "UTC", req.settings["candidate_hours"])
                self._announce(session, req, cand, row, kind, reason=reason)
                self._maybe_complete(session, req, now)
                out = self.offers.views.candidate(cand, row)
        if lost is not None:
            self._release(claim)
            undo()
            raise lost
        hold_ops.release_pending(self.hub, request_id=request_id)
        return out

    # --- decline / cancel ---------------------------------------------------------------------
    def decline(self, tenant_id: str, request_id: str, candidate_id: str, reason: str) -> dict[str, Any]:
        return self._withdraw(tenant_id, request_id, candidate_id, reason, "declined")

    def cancel(self, tenant_id: str, request_id: str, candidate_id: str, reason: str) -> dict[str, Any]:
        return self._withdraw(tenant_id, request_id, candidate_id, reason, "cancelled")

    def _withdraw(self, tenant_id: str, request_id: str, candidate_id: str, reason: str, status: str
                  ) -> dict[str, Any]:
        if not reason or not reason.strip():
            raise fail("reason_required", "Say why (1–1,000 characters).",
                                  errors=[{"field": "reason", "message": "required"}])
        now = self.hub.clock()
        with self.hub.db.session() as session:
            req = load_request(session, tenant_id, request_id)
            cand = load_candidate(session, req, candidate_id)
            require_open(req, now)
            if status == "cancelled" and cand.status != "booked":
                raise fail("not_booked", "There is no booked interview to cancel; decline instead.")
            event_id = cand.event_id if cand.status == "booked" else None
        if event_id:  # the interview goes first: if the calendar refuses, nothing changes here
            self.offers.events.cancel(tenant_id, event_id)
        with self.offers.serial(), self.hub.db.session() as session:
            req = load_request(session, tenant_id, request_id, lock=True)
            cand = load_candidate(session, req, candidate_id)
            slot = session.get(SchedulingSlot, cand.slot_id) if cand.slot_id else None
            if event_id and slot is not None:
                self._free_slot(session, slot)
            cand.status, cand.decline_reason = status, reason.strip()
            cand.slot_id = cand.event_id = None
            cand.odd_hour = None
            self._announce(session, req, cand, slot, status, reason=reason.strip(), event_id=event_id)
            self._maybe_complete(session, req, now)
            out = self.offers.views.candidate(cand, None)
        hold_ops.release_pending(self.hub, request_id=request_id)
        return out

    # --- bookkeeping --------------------------------------------------------------------------
    @staticmethod
    def _free_slot(session: Session, slot: SchedulingSlot | None) -> None:
        """A slot given up is offered again (its holds were released when it was booked)."""
        if slot is None:
            return
        if slot.from_window:
            session.delete(slot)
        else:
            slot.status, slot.candidate_id, slot.claimed_until = "open", None, None

    def _announce(self, session: Session, req: SchedulingRequest, cand: SchedulingCandidate, slot: SchedulingSlot | None,
                  kind: str, *, reason: str | None = None, event_id: str | None = None) -> None:
        data: dict[str, Any] = {"request_id": req.id, "candidate": self.offers.views.candidate(cand, slot)}
        if slot is not None:
            data["slot"] = {"id": slot.id, "start": slot.start, "end": slot.end}
            data["odd_hour"] = odd_hour(Interval(slot.start, slot.end), cand.timezone or "UTC",
                                        req.settings["candidate_hours"])
        if event_id or cand.event_id:
            data["event_id"] = event_id or cand.event_id
        if reason:
            data["reason"] = reason
        enqueue(session, req.tenant_id, f"scheduling_request.{kind}", data, now=self.hub.clock())

    def _maybe_complete(self, session: Session, req: SchedulingRequest, now: datetime) -> None:
        if req.status != "pending":
            return
        candidates = candidates_of(session, req.id)
        if all(c.status in ANSWERED for c in candidates):
            req.status = "completed"
            hold_ops.mark_releasing(session, holds_of(session, req.id), now)
            for slot in slots_of(session, req.id):
                if slot.status == "held":
                    slot.status = "open"
            enqueue(session, req.tenant_id, "scheduling_request.completed",
                    {"request_id": req.id, "status": "completed",
                     "candidates": [self.offers.views.candidate(c, None) for c in candidates]}, now=now)

    def _spec(self, settings: dict[str, Any], cand: SchedulingCandidate, slot: Interval, url: str) -> NewEvent:
        reschedule_url, cancel_url = f"{url}?action=reschedule", f"{url}?action=cancel"
        values = {"candidate_name": cand.name or cand.email, "candidate_email": cand.email,
                  "organizer_name": settings.get("organizer_name") or settings["organizer"],
                  "join_url": "(the meeting link in this invitation)",
                  "reschedule_url": reschedule_url, "cancel_url": cancel_url}
        description = render(settings.get("description"), values)
        if not (uses(settings.get("description"), "reschedule_url") and uses(settings.get("description"), "cancel_url")):
            links = f"Need another time? Reschedule: {reschedule_url}\nCan't make it? Cancel: {cancel_url}"
            description = "\n\n".join(filter(None, [description, links]))
        interviewers = tuple(Attendee(email) for email in settings.get("interviewer_emails", []))
        # The event lives on the organizer's calendar: it is shown in the organizer's zone.
        return NewEvent(organizer=settings["organizer"], title=render(settings["title"], values),
                        description=description, start=slot.start, end=slot.end,
                        timezone=settings.get("organizer_timezone"),
                        attendees=(*interviewers, Attendee(cand.email, cand.name)),
                        conferencing=settings["conferencing"],
                        # The one watched is whoever booked, whatever other attendees there are.
                        attendance=candidate_rules(settings, cand.email))

    def _move(self, tenant_id: str, event_id: str, start: datetime, end: datetime) -> dict[str, Any]:
        return self.offers.events.update(tenant_id, event_id,
                                         EventUpdate(given=frozenset({"start", "end"}), start=start, end=end))


def _taken() -> HubError:
    return fail("slot_taken", "Another candidate has just taken that slot; pick another.")


def _unavailable(users: list[str]) -> HubError:
    return fail("slot_unavailable", "That time is no longer free on an interviewer's calendar; pick another.",
                users=users)
