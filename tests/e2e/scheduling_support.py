"""People with connected calendars, for scheduling-request tests."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tests.e2e.support import connect

# Far enough ahead to be in the future whenever the suite runs, on a Tuesday.
DAY = datetime(2027, 1, 12, tzinfo=UTC)


def at(hour: int, minute: int = 0) -> datetime:
    return DAY + timedelta(hours=hour, minutes=minute)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def slot(hour: int, minute: int = 0, minutes: int = 30) -> dict:
    return {"start": iso(at(hour, minute)), "end": iso(at(hour, minute) + timedelta(minutes=minutes))}


def interviewer(api, sandbox, provider: str = "google", name: str = "ivy") -> dict:
    tag = uuid.uuid4().hex[:8]
    email = f"{name}.{tag}@acme.example"
    sandbox.account(provider, email, **({} if provider == "caldav" else {"name": name.title(), "timezone": "UTC"}))
    user_id = f"{name}-{tag}"
    r = api.put(f"/v1/users/{user_id}", json={"email": email, "name": name.title(), "timezone": "UTC"})
    assert r.status_code == 201, r.text
    extra = {"password": "app-password"} if provider == "caldav" else {}  # the sandbox's default
    result = connect(api, user_id, provider, email, **extra)
    assert result.status == "connected", result
    return {"user_id": user_id, "email": email, "provider": provider}


def holds_at_provider(sandbox, person: dict) -> list[dict]:
    title = "subject" if person["provider"] == "microsoft" else "summary"
    return [e for e in sandbox.events(person["provider"], person["email"])
            if (e.get(title) or "").startswith("Held: ") and e.get("status") != "cancelled"]
