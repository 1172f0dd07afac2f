"""Creating, editing, listing, cancelling and expiring scheduling requests, and the templates
they start from."""
from __future__ import annotations

import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy import func, select

from hub import jobs
from hub.container import Hub
from hub.services.directory import find_user
from hub.services.events import EventService, NewEvent
from hub.services.scheduling.attendance import candidate_rules, thresholds
from hub.errors import HubError
from hub.services.scheduling import holds as hold_ops
from hub.services.scheduling.checks import busy_conflicts, calendars, require_users
from hub.services.scheduling.errors import fail, invalid
from hub.services.scheduling.grid import DEFAULT_CANDIDATE_HOURS, Interval, grid_slots
from hub.services.scheduling.records import (
    ENDED,
    LIVE_HOLDS,
    Views,
    candidates_of,
    holds_of,
    load_request,
    slots_of,
    token_binding,
    token_hash,
)
from hub.services.scheduling.texts import unknown_placeholders
from hub.services.sync.notices import calendar_written
from hub.storage.models import (
    InterviewTemplate,
    SchedulingCandidate,
    SchedulingHold,
    SchedulingRequest,
    SchedulingSlot,
    new_id,
)
from providers.base import Attendee, ProviderError
from webhooks.outbound.outbox import enqueue

# Fields a request takes from its template when the body leaves them out.
INHERITED = ("title", "description", "duration_minutes", "conferencing", "interval_minutes",
             "buffer_before_minutes", "buffer_after_minutes", "minimum_notice_minutes", "candidate_hours", "hold",
             "attendance")
DEFAULTS: dict[str, Any] = {"conferencing": "default", "buffer_before_minutes": 0, "buffer_after_minutes": 0,
                            "minimum_notice_minutes": 0, "candidate_hours": DEFAULT_CANDIDATE_HOURS, "hold": True,
                            "description": None, "attendance": None}


def check_texts(settings: dict[str, Any]) -> None:
    errors = [{"field": f, "message": f"unknown placeholder {name!r}"}
              for f in ("title", "description") for name in unknown_placeholders(settings.get(f))]
    if errors:
        raise fail("unknown_placeholder", "Only {candidate_name}, {candidate_email}, {organizer_name}, "
                              "{join_url}, {reschedule_url} and {cancel_url} may be used.", errors=errors)


class SchedulingService:
    def __init__(self, hub: Hub, events: EventService, booking_url: Callable[[str], str]) -> None:
        self.hub = hub
        # Interviews are made, moved and cancelled exactly as /v1/events does it (conferencing,
        # Zoom undo, provider idempotency handles).
        self.events = events
        self.views = Views(hub.vault, booking_url)

    def serial(self) -> AbstractContextManager[object]:
        """The one-winner rule: on PostgreSQL the request row lock (SELECT … FOR UPDATE) decides;
        on SQLite claims take turns on the database's lock, shared with the expiry jobs (which
        build their own service instance)."""
        return self.hub.db.serial()

    # --- templates ----------------------------------------------------------------------------
    def put_template(self, tenant_id: str, template_id: str, settings: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        check_texts(settings)
        with self.hub.db.session() as session:
            row = self._find_template(session, tenant_id, template_id)
            created = row is None
            if row is None:
                row = InterviewTemplate(tenant_id=tenant_id, template_id=template_id, settings=settings)
                session.add(row)
            else:
                row.settings = settings
            session.flush()
            return template_out(row), created

    def get_template(self, tenant_id: str, template_id: str) -> dict[str, Any]:
        with self.hub.db.session() as session:
            return template_out(self._template(session, tenant_id, template_id))

    def list_templates(self, tenant_id: str) -> list[dict[str, Any]]:
        with self.hub.db.session() as session:
            rows = session.execute(select(InterviewTemplate).where(InterviewTemplate.tenant_id == tenant_id)
                                   .order_by(InterviewTemplate.template_id)).scalars()
            return [template_out(r) for r in rows]

    def delete_template(self, tenant_id: str, template_id: str) -> None:
        with self.hub.db.session() as session:
            session.delete(self._template(session, tenant_id, template_id))

    @staticmethod
    def _template(session: Session, tenant_id: str, template_id: str) -> InterviewTemplate:
        row = SchedulingService._find_template(session, tenant_id, template_id)
        if row is None:
            raise fail("template_not_found", f"No interview template {template_id!r} exists for this "
                                  "API key.")
        return row

    @staticmethod
    def _find_template(session: Session, tenant_id: str, template_id: str) -> InterviewTemplate | None:
        query = select(InterviewTemplate).where(InterviewTemplate.tenant_id == tenant_id,
                                                InterviewTemplate.template_id == template_id)
        found: InterviewTemplate | None = session.execute(query).scalar_one_or_none()
        return found

    # --- create -------------------------------------------------------------------------------
    def create(self, tenant_id: str, body: dict[str, Any]) -> dict[str, Any]:
        now = self.hub.clock()
        settings = self._resolve(tenant_id, body)
        users = list(dict.fromkeys([settings["organizer"], *settings["interviewers"]]))
        settings["interviewers"] = users
        with self.hub.db.session() as session:
            found = require_users(session, tenant_id, users)
            organizer_pk = found[settings["organizer"]].id
            settings["organizer_name"] = found[settings["organizer"]].name or settings["organizer"]
            settings["interviewer_emails"] = [found[u].email for u in users if u != settings["organizer"]]
            settings["organizer_timezone"] = found[settings["organizer"]].timezone
        cals = calendars(self.hub, tenant_id, users)
        if settings["attendance"] is not None:
            self._check_attendance(tenant_id, settings, body["candidates"][0]["email"], now)
        duration = timedelta(minutes=settings["duration_minutes"])
        slots = [Interval(s["start"], s["end"]) for s in body.get("slots") or []]
        windows = [Interval(w["start"], w["end"]) for w in body.get("windows") or []]
        self._check_slots(slots, duration, now, len(body["candidates"]), field="slots")
        if windows:
            self._check_windows(windows, settings, now)
        busy = busy_conflicts(self.hub, tenant_id, users, slots, settings)
        if busy:
            raise slot_busy(busy)
        last_end = max(i.end for i in (slots or windows))
        expires_at = body.get("expires_at") or (
            now + timedelta(days=settings["expires_after_days"]) if settings.get("expires_after_days") else last_end)
        if expires_at <= now:
            raise invalid("expires_at", "must be in the future")
        with self.hub.db.session() as session:
            req = SchedulingRequest(tenant_id=tenant_id, organizer_id=organizer_pk, settings=settings,
                                    windows=[[w.start.isoformat(), w.end.isoformat()] for w in windows] or None,
                                    status="pending", expires_at=expires_at, created_at=now)
            session.add(req)
            session.flush()
            rows = [SchedulingSlot(request_id=req.id, start=s.start, end=s.end, status="open") for s in slots]
            session.add_all(rows)
            for position, c in enumerate(body["candidates"]):
                token = secrets.token_urlsafe(32)
                cand = SchedulingCandidate(id=new_id("cnd"), request_id=req.id, position=position,
                                           email=c["email"], name=c.get("name"), timezone=c.get("timezone"),
                                           token_hash=token_hash(token), token_enc="")
                cand.token_enc = self.hub.vault.encrypt(token, token_binding(cand.id))
                session.add(cand)
            session.flush()
            request_id = req.id
            schedule_expiry(session, req)
            plans = self._hold_rows(session, req, rows, cals) if settings["hold"] else []
        try:
            self._place(plans)
        except HubError:
            self._discard(request_id)
            raise
        return self.get(tenant_id, request_id)

    def _resolve(self, tenant_id: str, body: dict[str, Any]) -> dict[str, Any]:
        template: dict[str, Any] = {}
        if body.get("template_id"):
            with self.hub.db.session() as session:
                template = dict(self._template(session, tenant_id, body["template_id"]).settings)
        settings = {**DEFAULTS, **{k: v for k, v in template.items() if v is not None}}
        settings.update({k: body[k] for k in INHERITED if body.get(k) is not None})
        settings["attendance"] = thresholds(settings["attendance"])
        if settings.get("duration_minutes") is None and body.get("slots"):
            first = body["slots"][0]
            settings["duration_minutes"] = int((first["end"] - first["start"]).total_seconds() // 60)
        missing = [f for f in ("title", "duration_minutes") if not settings.get(f)]
        if missing:
            raise fail("validation_failed", f"Give {' and '.join(missing)} in the body or a template.",
                                  errors=[{"field": f, "message": "required (no template gives it)"} for f in missing])
        settings["interval_minutes"] = settings.get("interval_minutes") or settings["duration_minutes"]
        settings.update(organizer=body["organizer"], interviewers=list(body.get("interviewers") or []),
                        template_id=body.get("template_id"), return_url=body.get("return_url"),
                        expires_after_days=template.get("expires_after_days"))
        check_texts(settings)
        return settings

    def _check_attendance(self, tenant_id: str, settings: dict[str, Any], candidate_email: str,
                          now: datetime) -> None:
        """Refuse attendance now that the interview could not have it (conferencing without a
        participant list, a connection without the scope), with the answer POST /v1/events gives,
        rather than when a candidate books."""
        duration = timedelta(minutes=settings["duration_minutes"])
        self.events.check_attendance(tenant_id, NewEvent(
            organizer=settings["organizer"], title=settings["title"], start=now, end=now + duration,
            attendees=(*[Attendee(e) for e in settings["interviewer_emails"]], Attendee(candidate_email)),
            conferencing=settings["conferencing"], attendance=candidate_rules(settings, candidate_email)))

    def _check_slots(self, slots: list[Interval], duration: timedelta, now: datetime, candidates: int,
                     field: str) -> None:
        errors = []
        for i, s in enumerate(slots):
            if s.end - s.start != duration:
                length = int(duration.total_seconds() // 60)
                errors.append({"field": f"{field}[{i}]", "message": f"must be {length} minutes long"})
            if s.start < now:
                errors.append({"field": f"{field}[{i}]", "message": "is in the past"})
        if any(e["message"] == "is in the past" for e in errors):
            raise fail("slot_in_past", "Slots must start in the future.", errors=errors)
        if errors:
            raise fail("slot_length_mismatch", "Every slot must be duration_minutes long.", errors=errors)
        if slots and len(set(slots)) < candidates:
            raise fail("not_enough_slots", f"{candidates} candidates need at least {candidates} slots; "
                                  f"{len(set(slots))} were given.", candidates=candidates, slots=len(set(slots)))

    def _check_windows(self, windows: list[Interval], settings: dict[str, Any], now: datetime) -> None:
        future = [w for w in windows if w.end > now]
        if not future:
            raise fail("slot_in_past", "Every window has ended.",
                                  errors=[{"field": "windows", "message": "all in the past"}])
        if not grid_slots(windows, timedelta(minutes=settings["duration_minutes"]),
                          timedelta(minutes=settings["interval_minutes"])):
            raise fail("not_enough_slots", "No duration_minutes slot fits inside the windows.",
                                  errors=[{"field": "windows", "message": "too short for duration_minutes"}])

    # --- holds --------------------------------------------------------------------------------
    def _hold_rows(self, session: Session, req: SchedulingRequest, slots: list[SchedulingSlot],
                   cals: dict[str, tuple[str, str]]) -> list[hold_ops.HoldPlan]:
        """Hold rows written before the provider calls (see holds.py)."""
        plans = []
        for slot in slots:
            for uid in req.settings["interviewers"]:
                conn, provider = cals[uid]
                hold = SchedulingHold(id=new_id("hld"), request_id=req.id, slot_id=slot.id, user_id=uid,
                                      connection_id=conn, provider=provider, status="placing",
                                      created_at=self.hub.clock())
                session.add(hold)
                plans.append(hold_ops.HoldPlan(hold.id, conn, provider, hold_ops.hold_draft(hold, req, slot)))
            slot.status = "held"
        return plans

    def _place(self, plans: list[hold_ops.HoldPlan]) -> None:
        results = hold_ops.place(self.hub, plans)
        failed: dict[str, dict[str, Any]] = {}
        with self.hub.db.session() as session:
            for connection_id in {p.connection_id for p in plans}:
                calendar_written(session, connection_id, self.hub.clock())  # cached reads see the holds
            for hold_id, result in results.items():
                hold = session.get_one(SchedulingHold, hold_id)
                hold_ops.record_placed(hold, result)
                if isinstance(result, ProviderError):
                    failed[hold.user_id] = result.as_dict()
        if failed:
            raise fail("hold_failed", "A hold could not be put on an interviewer's calendar; nothing "
                                  "was offered.", users=sorted(failed), provider_errors=failed)

    def _discard(self, request_id: str) -> None:
        """Undo a request whose holds could not all be placed: remove the placed ones, then the rows."""
        with self.hub.db.session() as session:
            hold_ops.mark_releasing(session, holds_of(session, request_id), self.hub.clock())
            session.get_one(SchedulingRequest, request_id).status = "cancelled"
        hold_ops.release_pending(self.hub, request_id=request_id)
        with self.hub.db.session() as session:
            if not [h for h in holds_of(session, request_id) if h.status in LIVE_HOLDS]:
                session.delete(session.get_one(SchedulingRequest, request_id))

    # --- read ---------------------------------------------------------------------------------
    def get(self, tenant_id: str, request_id: str) -> dict[str, Any]:
        with self.hub.db.session() as session:
            return self.views.request(session, load_request(session, tenant_id, request_id))

    def search(self, tenant_id: str, *, status: str | None = None, candidate_email: str | None = None,
             organizer: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        with self.hub.db.session() as session:
            query = select(SchedulingRequest).where(SchedulingRequest.tenant_id == tenant_id)
            if status:
                query = query.where(SchedulingRequest.status == status)
            if candidate_email:
                query = query.where(SchedulingRequest.id.in_(
                    select(SchedulingCandidate.request_id).where(
                        func.lower(SchedulingCandidate.email) == candidate_email.lower())))
            if organizer:
                user = find_user(session, tenant_id, organizer)
                if user is None:
                    return []
                query = query.where(SchedulingRequest.organizer_id == user.id)
            rows = session.execute(query.order_by(SchedulingRequest.created_at.desc(), SchedulingRequest.id.desc())
                                   .limit(limit)).scalars()
            return [self.views.request(session, req) for req in rows]

    # --- edit ---------------------------------------------------------------------------------
    def edit(self, tenant_id: str, request_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        now = self.hub.clock()
        with self.hub.db.session() as session:
            req = load_request(session, tenant_id, request_id)
            if req.status != "pending" or now >= req.expires_at:
                raise fail("request_not_pending", f"Only a pending offer can be edited; this one is "
                                      f"{req.status}.", request_status=req.status)
            settings = dict(req.settings)
            current = [s for s in slots_of(session, req.id) if s.status != "removed" and not s.from_window]
            candidates = len(candidates_of(session, req.id))
            has_windows = bool(req.windows)
        plans: list[hold_ops.HoldPlan] = []
        if "slots" in changes:
            if has_windows:
                raise invalid("slots", "this request offers windows; edit windows instead")
            wanted = [Interval(s["start"], s["end"]) for s in changes["slots"]]
            keep = {Interval(s.start, s.end) for s in current}
            added = [w for w in dict.fromkeys(wanted) if w not in keep]
            removed = [s for s in current if Interval(s.start, s.end) not in set(wanted)]
            booked = [s for s in removed if s.status in ("booked", "booking")]
            if booked:
                raise fail("slot_booked", "A booked slot cannot be removed; cancel that booking first.",
                                      errors=[{"field": "slots", "message": f"{s.start.isoformat()} is booked"}
                                              for s in booked])
            self._check_slots(added, timedelta(minutes=settings["duration_minutes"]), now, 0, field="slots")
            if len(set(wanted)) < candidates:
                raise fail("not_enough_slots", f"{candidates} candidates need at least {candidates} "
                                      "slots.", candidates=candidates, slots=len(set(wanted)))
            with self.hub.db.session() as session:
                own = {h.provider_event_id for h in holds_of(session, request_id) if h.provider_event_id}
            busy = busy_conflicts(self.hub, tenant_id, settings["interviewers"], added, settings, exclude=own)
            if busy:
                raise slot_busy(busy)
            cals = calendars(self.hub, tenant_id, settings["interviewers"]) if settings["hold"] and added else {}
            with self.hub.db.session() as session:
                req = load_request(session, tenant_id, request_id, lock=True)
                for slot in removed:
                    row = session.get_one(SchedulingSlot, slot.id)
                    row.status = "removed"
                    hold_ops.mark_releasing(session, holds_of(session, req.id, row.id), now)
                rows = [SchedulingSlot(request_id=req.id, start=a.start, end=a.end, status="open") for a in added]
                session.add_all(rows)
                session.flush()
                if settings["hold"] and rows:
                    plans = self._hold_rows(session, req, rows, cals)
                if "expires_at" not in changes and wanted:
                    req.expires_at = max(w.end for w in wanted)
                    schedule_expiry(session, req)
        if "windows" in changes:
            if not has_windows:
                raise invalid("windows", "this request offers explicit slots; edit slots instead")
            windows = [Interval(w["start"], w["end"]) for w in changes["windows"]]
            self._check_windows(windows, settings, now)
            with self.hub.db.session() as session:
                req = load_request(session, tenant_id, request_id, lock=True)
                req.windows = [[w.start.isoformat(), w.end.isoformat()] for w in windows]
                if "expires_at" not in changes:
                    req.expires_at = max(w.end for w in windows)
                    schedule_expiry(session, req)
        if changes.get("expires_at") is not None:
            if changes["expires_at"] <= now:
                raise invalid("expires_at", "must be in the future")
            with self.hub.db.session() as session:
                req = load_request(session, tenant_id, request_id, lock=True)
                req.expires_at = changes["expires_at"]
                schedule_expiry(session, req)
        hold_ops.release_pending(self.hub, request_id=request_id)
        self._place(plans)
        return self.get(tenant_id, request_id)

    # --- cancel and expire --------------------------------------------------------------------
    def cancel(self, tenant_id: str, request_id: str) -> dict[str, Any]:
        """Holds removed, booked interviews cancelled, links answer `request_ended` from now on."""
        now = self.hub.clock()
        with self.hub.db.session() as session:
            req = load_request(session, tenant_id, request_id, lock=True)
            if req.status in ENDED:
                return self.views.request(session, req)
            events = self._end(session, req, "cancelled", now)
        failed = []
        for event_id in events:
            try:
                self.events.cancel(tenant_id, event_id)
            except Exception:  # noqa: BLE001 - reported in the answer; the request is cancelled regardless
                failed.append(event_id)
        hold_ops.release_pending(self.hub, request_id=request_id)
        out = self.get(tenant_id, request_id)
        if failed:
            out["interviews_not_cancelled"] = failed
        return out

    def _end(self, session: Session, req: SchedulingRequest, status: str, now: datetime) -> list[str]:
        """Mark the request ended in one transaction with its webhook and its holds' release;
        returns the interviews to cancel (only a cancel cancels them; expiry keeps bookings)."""
        req.status = status
        req.ended_at = now
        hold_ops.mark_releasing(session, holds_of(session, req.id), now)
        events = []
        for cand in candidates_of(session, req.id):
            if status == "cancelled" and cand.status == "booked" and cand.event_id:
                events.append(cand.event_id)
                cand.status = "cancelled"
        enqueue(session, req.tenant_id, f"scheduling_request.{status}",
                {"request_id": req.id, "status": status,
                 "candidates": [self.views.candidate(c, None) for c in candidates_of(session, req.id)]}, now=now)
        return events

    def expire_due(self, now: datetime | None = None) -> list[str]:
        """Expire every request whose `expires_at` has passed (the safety-net sweep); returns
        their ids."""
        now = now or self.hub.clock()
        with self.hub.db.session() as session:
            due = list(session.execute(select(SchedulingRequest.id).where(
                SchedulingRequest.status.in_(("pending", "completed")), SchedulingRequest.expires_at <= now)).scalars())
        return [request_id for request_id in due if self.expire(request_id, now)]

    def expire(self, request_id: str, now: datetime | None = None) -> bool:
        """Expire one request if its `expires_at` has passed (the job scheduled at `expires_at`
        calls this; a job left over from before an edit of `expires_at` finds it not due and
        does nothing). Ended under the row lock, so two runners expire it once."""
        now = now or self.hub.clock()
        with self.serial(), self.hub.db.session() as session:
            req = session.get(SchedulingRequest, request_id, with_for_update=True)
            if req is None or req.status in ENDED or req.expires_at > now:
                return False
            self._end(session, req, "expired", now)
        hold_ops.release_pending(self.hub, request_id=request_id, now=now)
        return True

    def release_pending_holds(self, now: datetime | None = None) -> int:
        """Retry every hold removal that is due; returns how many still wait (the retry job)."""
        return hold_ops.release_pending(self.hub, now=now)


def schedule_expiry(session: Session, req: SchedulingRequest) -> None:
    """The expiry job at `expires_at`, in the transaction that sets it; one per request and time."""
    jobs.schedule(session, "scheduling.expire", {"request_id": req.id}, at=req.expires_at,
                  key=f"scheduling.expire:{req.id}:{req.expires_at.isoformat()}")


def slot_busy(busy: dict[Interval, list[str]]) -> HubError:
    items: list[dict[str, Any]] = [{"start": s.start, "end": s.end, "users": users} for s, users in sorted(busy.items(),
                                                                                     key=lambda kv: kv[0].start)]
    return fail("slot_busy", f"{len(items)} slot(s) clash with an interviewer's calendar.", busy=items,
                           errors=[{"field": "slots", "message": f"{i['start'].isoformat()} busy for "
                                                                 f"{', '.join(i['users'])}"} for i in items])


def template_out(row: InterviewTemplate) -> dict[str, Any]:
    return {"template_id": row.template_id, **row.settings, "created_at": row.created_at,
            "updated_at": row.updated_at}

