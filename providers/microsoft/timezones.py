"""Time-zone names as Outlook and Graph use them: IANA names and Windows names both appear in
``dateTimeTimeZone`` and ``mailboxSettings.timeZone`` (a mailbox set up in Outlook on Windows
reports e.g. "Singapore Standard Time").

Windows names are mapped with CLDR's windowsZones table as ``tzlocal`` ships and maintains it
(``tzlocal.windows_tz``), not a hand-written list. A name neither table knows is reported to the
caller, never read as UTC.
"""
from __future__ import annotations

from datetime import tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tzlocal.windows_tz import tz_win, win_tz

# Names Graph uses for UTC that are not Windows zone ids.
_UTC_ALIASES = {"Coordinated Universal Time": "UTC", "tzone://Microsoft/Utc": "UTC"}


def iana_name(name: str | None) -> str | None:
    """The IANA name for a Windows or IANA zone name; None when neither is known."""
    if not name:
        return None
    candidate = _UTC_ALIASES.get(name) or win_tz.get(name) or name
    try:
        ZoneInfo(candidate)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return candidate


def windows_name(iana: str) -> str | None:
    """The Windows zone id for an IANA name (what a Windows-configured mailbox reports)."""
    if iana in ("UTC", "Etc/UTC"):
        return "UTC"
    return tz_win.get(iana)


def zone_named(name: str | None) -> tzinfo | None:
    found = iana_name(name)
    return ZoneInfo(found) if found else None
