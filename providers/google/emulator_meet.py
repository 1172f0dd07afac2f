"""Google Meet conference data as the Calendar API returns it for
``conferenceData.createRequest`` with ``conferenceDataVersion=1``
(https://developers.google.com/workspace/calendar/api/guides/create-events#conferencing)."""

from __future__ import annotations

import secrets
import string
from typing import Any

MEET_SOLUTION = {
    "key": {"type": "hangoutsMeet"},
    "name": "Google Meet",
    "iconUri": "https://fonts.gstatic.com/s/i/productlogos/meet_2020q4/v6/web-512dp/"
    "logo_meet_2020q4_color_2x_web_512dp.png",
}

# Consumer-era types Google still names but refuses on Workspace calendars.
SOLUTION_TYPES = ("hangoutsMeet", "eventHangout", "eventNamedHangout", "addOn")


def _letters(n: int) -> str:
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(n))


def _digits(n: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(n))


def new_meeting_code() -> str:
    return f"{_letters(3)}-{_letters(4)}-{_letters(3)}"


def _create_request(request: dict[str, Any], status: str) -> dict[str, Any]:
    return {
        "requestId": request["requestId"],
        "conferenceSolutionKey": {"type": request["conferenceSolutionKey"]["type"]},
        "status": {"statusCode": status},
    }


def pending_conference(request: dict[str, Any]) -> dict[str, Any]:
    """Accepted but not created yet: no entry points, no hangoutLink until a later get."""
    return {"createRequest": _create_request(request, "pending"), "conferenceSolution": dict(MEET_SOLUTION)}


def created_conference(request: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """(conferenceData, hangoutLink) of a newly created Meet."""
    code = new_meeting_code()
    link = f"https://meet.google.com/{code}"
    pin = _digits(9)
    more_pin = _digits(13)
    area, exchange, line = _digits(3), _digits(3), _digits(4)
    data = {
        "createRequest": _create_request(request, "success"),
        "entryPoints": [
            {"entryPointType": "video", "uri": link, "label": f"meet.google.com/{code}"},
            {
                "entryPointType": "phone",
                "uri": f"tel:+1-{area}-{exchange}-{line}",
                "label": f"+1 {area}-{exchange}-{line}",
                "pin": pin,
                "regionCode": "US",
            },
            {
                "entryPointType": "more",
                "uri": f"https://tel.meet/{code}?pin={more_pin}",
                "pin": more_pin,
            },
        ],
        "conferenceSolution": dict(MEET_SOLUTION),
        "conferenceId": code,
    }
    return data, link
