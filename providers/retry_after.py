"""`Retry-After` as seconds, the same for every provider (RFC 9110 §10.2.3: delay-seconds or an
HTTP-date; Zoom's ISO 8601 time too). Providers hand headers over in different shapes — a dict, httplib2's lower-cased
mapping, kiota's lists of values — so all of them are accepted here."""
from __future__ import annotations

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Mapping


def header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    if not headers:
        return None
    wanted = name.lower()
    value = next((v for k, v in headers.items() if str(k).lower() == wanted), None)
    if isinstance(value, (list, tuple, set)):
        value = next(iter(value), None)
    return None if value is None else str(value)


def retry_after_seconds(value: Mapping[str, Any] | str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait, from a headers mapping or the header's value; None when absent or unreadable."""
    raw = header(value, "retry-after") if isinstance(value, Mapping) else value
    if raw is None:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        # Zoom sends an ISO 8601 time for its daily limit [?]; everyone else an HTTP-date.
        when = (datetime.fromisoformat(raw.replace("Z", "+00:00")) if raw[:4].isdigit()
                else parsedate_to_datetime(raw))
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())
