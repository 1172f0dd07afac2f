"""RFC 3339 parsing and formatting shared by the emulators (providers disagree on the details of
output formatting, so the formatting options stay explicit)."""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def parse_rfc3339(value: object) -> datetime:
    """Parse an RFC 3339 timestamp that carries an offset; raise ValueError otherwise."""
    if not isinstance(value, str) or "T" not in value.upper():
        raise ValueError(f"not an RFC 3339 date-time: {value!r}")
    parsed = datetime.fromisoformat(value.strip().replace("z", "Z"))
    if parsed.tzinfo is None:
        raise ValueError(f"RFC 3339 date-time without offset: {value!r}")
    return parsed


def parse_local(value: str, zone: tzinfo) -> datetime:
    """Parse a date-time that may lack an offset, reading it in ``zone`` when it does."""
    parsed = datetime.fromisoformat(value.strip().replace("z", "Z"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def format_rfc3339(moment: datetime, *, millis: bool = False, zone: tzinfo | None = None) -> str:
    """Format with ``Z`` for UTC and a numeric offset otherwise."""
    if zone is not None:
        moment = moment.astimezone(zone)
    if moment.utcoffset() == timezone.utc.utcoffset(None):
        moment = moment.astimezone(timezone.utc)
        text = moment.strftime("%Y-%m-%dT%H:%M:%S")
        if millis:
            text += f".{moment.microsecond // 1000:03d}"
        return text + "Z"
    return moment.isoformat(timespec="milliseconds" if millis else "seconds")


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def zone_or_none(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
