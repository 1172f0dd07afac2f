"""CalDAV free/busy: the server's free-busy-query REPORT against the fallback (calendar-query
time-range REPORT + recurrence expansion in the hub with recurring-ical-events), on the
sandbox's Radicale over real HTTP (the sandbox in its own process).

The calendar holds N single events and N/4 daily recurring ones in a one-week window. Figures
are medians; the fallback is printed as a ratio to free-busy-query measured in the same run.

Run: python bench/caldav_freebusy.py [--events N] [--rounds N]
"""
from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import icalendar  # noqa: E402
from caldav.collection import Calendar  # noqa: E402

from bench.common import median_ms, sandbox_process  # noqa: E402
from hub.config import Settings  # noqa: E402
from hub.services.freebusy import merge_clip  # noqa: E402
from providers.caldav.calendar import calendar_for  # noqa: E402
from providers.caldav.connect import credential_form  # noqa: E402
from providers.caldav.credential import Credential, make_client  # noqa: E402
from tests.e2e.support import Sandbox  # noqa: E402

T0 = datetime(2026, 3, 2, tzinfo=timezone.utc)


def fill(client, url: str, events: int) -> None:
    cal = Calendar(client=client, url=url)
    for i in range(events + events // 4):
        vcal = icalendar.Calendar()
        vcal.add("prodid", "-//bench//EN")
        vcal.add("version", "2.0")
        event = icalendar.Event()
        event.add("uid", uuid.uuid4().hex)
        event.add("dtstamp", T0)
        start = T0 + timedelta(hours=8 + (i % 9), days=i % 7, minutes=5 * (i % 12))
        event.add("dtstart", start)
        event.add("dtend", start + timedelta(minutes=30))
        event.add("summary", f"e{i}")
        if i >= events:
            event.add("rrule", {"freq": "daily", "count": 30})
        vcal.add_component(event)
        cal.save_event(vcal.to_ical().decode())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with sandbox_process() as sandbox_url:
        email = f"bench.{uuid.uuid4().hex[:6]}@example.com"
        Sandbox(sandbox_url).account("caldav", email)
        config = Settings(sandbox_url=sandbox_url).provider("caldav")
        token = credential_form(config).verify({"server_url": f"{sandbox_url}/caldav/", "username": email,
                                                "password": "app-password"}).access_token
        cred = Credential.decode(token)
        adapter = calendar_for(config)
        with make_client(cred.calendar_url, email, cred.password, adapter.options) as client:
            fill(client, cred.calendar_url, args.events)
            window = (T0, T0 + timedelta(days=7))
            fast, slow = [], []
            for _ in range(args.rounds):
                t = time.perf_counter()
                blocks = adapter.free_busy(token, [email], *window)[email]
                fast.append(time.perf_counter() - t)
                t = time.perf_counter()
                expanded = adapter._busy_from_events(Calendar(client=client, url=cred.calendar_url), *window)
                slow.append(time.perf_counter() - t)
    assert not isinstance(blocks, Exception)
    # Radicale merges overlapping periods; the hub merges both the same way before use.
    same = [(b.start, b.end) for b in merge_clip(blocks, *window)] == [
        (b.start, b.end) for b in merge_clip(expanded, *window)]
    assert same, "both paths must give the same busy time"
    base = median_ms(fast)
    print(f"calendar: {args.events} events + {args.events // 4} daily recurring, one-week window, "
          f"{len(expanded)} busy occurrences ({len(blocks)} merged periods from the server)")
    print(f"free-busy-query (adapter, new client per call)   median {base:7.1f} ms   1.00x")
    print(f"time-range query + client expansion (fallback)  median {median_ms(slow):7.1f} ms   "
          f"{median_ms(slow) / base:.2f}x")


if __name__ == "__main__":
    main()
