"""Each sandbox account's Outlook calendar: events kept in the shared sandbox state, Teams
meetings attached on request, and free/busy as ``getSchedule`` reports it
(https://learn.microsoft.com/graph/api/calendar-getschedule)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Callable

from providers.emulator_kit.accounts import Account
from providers.emulator_kit.state import SandboxState

from . import emulator_errors as errors
from . import emulator_events as events

PROVIDER = "microsoft"
# availabilityView digits (scheduleInformation docs): working elsewhere reports 0, not 4, "for
# backward compatibility".
VIEW_DIGIT = {"free": "0", "workingElsewhere": "0", "tentative": "1", "busy": "2", "oof": "3", "unknown": "2"}
BUSY_STATUSES = ("tentative", "busy", "oof", "workingElsewhere", "unknown")
MAX_WINDOW = timedelta(days=62)

# account -> "ok" | "unavailable" (no Teams: no link, isOnlineMeeting false) | "missing" (Teams
# asked for and allowed, but the link did not come back: onlineMeeting null) [seen].
TeamsOutcome = Callable[[Account], str]
# (mailbox, event, "created"|"updated"|"deleted"): called under the state lock after every change,
# so change tracking (delta) and change notifications see every change exactly once.
ChangeListener = Callable[[str, dict[str, Any], str], None]


class CalendarStore:
    def __init__(self, state: SandboxState, clock: Callable[[], float], teams_outcome: TeamsOutcome,
                 changed: ChangeListener | None = None) -> None:
        self.state = state
        self.clock = clock
        self.teams_outcome = teams_outcome
        self.changed: ChangeListener = changed or (lambda _email, _event, _change: None)

    def _events(self, email: str) -> dict[str, dict[str, Any]]:
        return self.state.collection(PROVIDER, email, "events")

    # -- events ------------------------------------------------------------------------------
    def create(self, account: Account, body: dict[str, Any]) -> dict[str, Any]:
        transaction = body.get("transactionId")
        with self.state.lock:
            held = self._events(account.email)
            if transaction is not None:
                # [?] Graph documents transactionId as deduplicating retries but not what the retry
                # gets back; the sandbox answers with the event the first attempt created.
                for existing in held.values():
                    if existing.get("_transaction_id") == transaction:
                        return existing
            event = events.new_event(account.email, account.name, self.clock())
            events.apply_fields(event, body)
            if "_start_at" not in event or "_end_at" not in event:
                raise errors.invalid_request("An event must have a start and an end.")
            event["_transaction_id"] = transaction
            self._online_meeting(account, event, body)
            held[event["id"]] = event
            self.changed(account.email, event, "created")
            return event

    def get(self, email: str, event_id: str) -> dict[str, Any]:
        with self.state.lock:
            event = self._events(email).get(event_id)
            if event is None:
                raise errors.item_not_found() if event_id.startswith("AAMk") else errors.invalid_id()
            return event

    def patch(self, account: Account, event_id: str, body: dict[str, Any]) -> dict[str, Any]:
        if "transactionId" in body:
            raise errors.invalid_request("transactionId cannot be changed after the event is created.")  # [doc]
        with self.state.lock:
            event = self.get(account.email, event_id)
            draft = {k: v for k, v in event.items()}
            events.apply_fields(draft, body)
            if not event.get("onlineMeeting"):
                self._online_meeting(account, draft, body)
            event.clear()
            event.update(draft)
            events.touch(event, self.clock())
            self.changed(account.email, event, "updated")
            return event

    def delete(self, email: str, event_id: str) -> None:
        with self.state.lock:
            event = self.get(email, event_id)
            del self._events(email)[event_id]
            self.changed(email, event, "deleted")

    def add_busy_block(self, account: Account, start: datetime, end: datetime, status: str,
                       subject: str | None) -> dict[str, Any]:
        if status not in events.SHOW_AS:
            raise ValueError(f"status must be one of {', '.join(events.SHOW_AS)}")
        with self.state.lock:
            event = events.new_event(account.email, account.name, self.clock())
            event.update(subject=subject or "Busy", showAs=status)
            event["_start_at"], event["_end_at"] = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
            event["_transaction_id"] = None
            self._events(account.email)[event["id"]] = event
            self.changed(account.email, event, "created")
            return event

    def find(self, event_id: str) -> tuple[str, dict[str, Any]] | None:
        """(mailbox, event) of an event id in any sandbox mailbox (the control API's changes
        name an event by id only)."""
        with self.state.lock:
            for account in self.state.accounts(PROVIDER):
                event = self._events(account.email).get(event_id)
                if event is not None:
                    return account.email, event
        return None

    def person_change(self, email: str, event: dict[str, Any], fields: dict[str, Any]) -> None:
        """Apply a change the mailbox's owner (or an attendee's answer) made outside the API:
        stored fields already in the stored form, then the usual bookkeeping."""
        with self.state.lock:
            event.update(fields)
            events.touch(event, self.clock())
            self.changed(email, event, "updated")

    def overlapping(self, email: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        with self.state.lock:
            found = [e for e in self._events(email).values() if e["_start_at"] < end and e["_end_at"] > start]
        return sorted(found, key=lambda e: (e["_start_at"], e["_end_at"]))

    def all(self, email: str) -> list[dict[str, Any]]:
        with self.state.lock:
            return sorted(self._events(email).values(), key=lambda e: (e["_start_at"], e["_end_at"]))

    def _online_meeting(self, account: Account, event: dict[str, Any], body: dict[str, Any]) -> None:
        wants = body.get("isOnlineMeeting") is True or (
            body.get("onlineMeetingProvider") == "teamsForBusiness" and body.get("isOnlineMeeting") is not False)
        if not wants:
            return
        outcome = self.teams_outcome(account)
        if outcome == "unavailable":
            event.update(isOnlineMeeting=False, onlineMeetingProvider="unknown", onlineMeeting=None)
            return
        event.update(isOnlineMeeting=True, onlineMeetingProvider="teamsForBusiness")
        if outcome == "missing":
            event["onlineMeeting"] = None
            return
        meeting = events.teams_meeting(account.email)
        event["onlineMeeting"] = meeting
        content_type = event["body"]["contentType"]
        event["body"]["content"] = event["body"]["content"] + events.teams_body(meeting, content_type)

    # -- free/busy ----------------------------------------------------------------------------
    def schedule(self, schedule_id: str, account: Account | None, start: datetime, end: datetime, interval: int,
                 zone_name: str, tz: tzinfo, detailed: bool) -> dict[str, Any]:
        if account is None:
            # [seen] microsoftgraph/microsoft-graph-docs#11225: inside HTTP 200, no other keys.
            return {"scheduleId": schedule_id, "error": {
                "message": f"Unable to resolve e-mail address {schedule_id} to an Active Directory object.",
                "responseCode": "5009"}}
        items = [e for e in self.overlapping(account.email, start, end) if e["showAs"] in BUSY_STATUSES]
        step = timedelta(minutes=interval)
        slots = max(1, math.ceil((end - start) / step))
        # Each slot [start + i·step, start + (i+1)·step) shows the highest digit of the items
        # overlapping it. Walked item by item over the slots each covers: slot by slot, every
        # slot compared every item (a 5-day window is 240 slots), the most CPU the sandbox
        # spent on a free/busy call.
        view = ["0"] * slots
        for e in items:
            digit = VIEW_DIGIT[e["showAs"]]
            first = max(0, (e["_start_at"] - start) // step)
            for i in range(first, min(slots, math.ceil((e["_end_at"] - start) / step))):
                view[i] = max(view[i], digit)
        schedule_items = []
        for e in items:
            # Only scheduleItem's declared properties (isPrivate, status, subject, location, start,
            # end): Exchange's isMeeting/isRecurring… are not part of Graph's type.
            item: dict[str, Any] = {"isPrivate": e.get("sensitivity") == "private", "status": e["showAs"]}
            if detailed:  # a colleague's calendar shows free/busy only unless shared in more detail
                item.update(subject=e.get("subject", ""), location=(e.get("location") or {}).get("displayName", ""))
            item.update(start=events.format_dtz(e["_start_at"], zone_name, tz),
                        end=events.format_dtz(e["_end_at"], zone_name, tz))
            schedule_items.append(item)
        return {
            "scheduleId": schedule_id,
            "availabilityView": "".join(view),
            "scheduleItems": schedule_items,
            "workingHours": {
                "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                "startTime": "08:00:00.0000000", "endTime": "17:00:00.0000000",
                "timeZone": {"name": events.mailbox_zone_name(account)},
            },
        }
