"""Zoom's times, shared by the attendance reader and the webhook receiver (webhooks/zoom_events.py).
A module of its own: the receiver is registered at every hub start, and the reader's module
imports requests and zoomus, which a start does not need."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any


def parse_time(value: Any) -> datetime | None:
    """A Zoom time (`2026-03-02T13:00:00Z`, sometimes without a zone: UTC), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
