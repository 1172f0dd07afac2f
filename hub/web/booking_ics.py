"""The booking page's "Add to calendar" file: one VEVENT per candidate with a stable UID, its
SEQUENCE raised by every booking and move (so a calendar app replaces the old time), and
METHOD:CANCEL once the candidate cancelled or declined after booking."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any



def invite(overview: dict[str, Any], event: dict[str, Any] | None, *, page_url: str, now: datetime) -> bytes:
    # Imported on use: icalendar is ~80 modules that every worker would load at start for a
    # file only booking pages hand out.
    from icalendar import Calendar, Event, vCalAddress, vText

    cand = overview["candidate"]
    booked = cand["status"] == "booked"
    cal = Calendar()
    cal.add("prodid", "-//Calendar Hub//Booking page//EN")
    cal.add("version", "2.0")
    cal.add("method", "REQUEST" if booked else "CANCEL")
    vevent = Event()
    vevent.add("uid", f"{cand['id']}@calendar-hub")  # one interview per candidate, however often moved
    vevent.add("sequence", max(overview["bookings"] - 1, 0) + (0 if booked else 1))
    vevent.add("dtstamp", now.astimezone(UTC))
    vevent.add("summary", overview["title"])
    join_url = ((event or {}).get("conferencing") or {}).get("join_url")
    if booked:
        vevent.add("dtstart", aware_time(cand["slot"]["start"]))
        vevent.add("dtend", aware_time(cand["slot"]["end"]))
        vevent.add("status", "CONFIRMED")
    elif event:
        vevent.add("dtstart", aware_time(event["start"]))
        vevent.add("dtend", aware_time(event["end"]))
    if not booked:
        vevent.add("status", "CANCELLED")
    lines = [f"Join: {join_url}"] if join_url and booked else []
    if booked:
        lines += [f"Reschedule: {page_url}?action=reschedule", f"Cancel: {page_url}?action=cancel"]
    if lines:
        vevent.add("description", "\n".join(lines))
    if join_url and booked:
        vevent.add("url", join_url)
        vevent.add("location", join_url)
    organizer = vCalAddress("mailto:" + str(overview.get("organizer_email") or "noreply@calendar-hub.invalid"))
    organizer.params["cn"] = vText(overview["organizer_name"])
    vevent.add("organizer", organizer)
    attendee = vCalAddress("mailto:" + cand["email"])
    attendee.params["cn"] = vText(cand.get("name") or cand["email"])
    vevent.add("attendee", attendee)
    cal.add_component(vevent)
    return cal.to_ical()


def aware_time(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
