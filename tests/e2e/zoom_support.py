"""Helpers for the Zoom end-to-end tests: people with a calendar and a Zoom login, refresh
counting from the sandbox's request log, and a worker that books events from its own process
(own engine, own hub) for the cross-process single-flight test."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from tests.e2e.support import Api, Sandbox, connect

DAY = "2026-03-02"


@dataclass
class Person:
    user_id: str
    calendar_email: str
    zoom_email: str
    calendar_connection: str | None = None
    zoom_connection: str | None = None


def person(api: Api, sandbox: Sandbox, calendar: str = "google", *, zoom_email: str | None = None,
           connect_zoom: bool = True, zoom_can_host: bool = True, tag: str | None = None) -> Person:
    """A hub user whose calendar (and, unless told otherwise, Zoom) is connected through the
    real consent pages of the sandbox."""
    tag = tag or uuid.uuid4().hex[:8]
    cal_email = f"ada.{tag}@acme.example"
    zoom_email = zoom_email or f"ada.zoom.{tag}@acme.example"
    sandbox.account(calendar, cal_email, name="Ada Lovelace", timezone="Europe/Stockholm")
    if not _exists(sandbox, zoom_email):
        sandbox.account("zoom", zoom_email, name="Ada Lovelace", zoom_can_host=zoom_can_host)
    user_id = f"ada-{tag}"
    r = api.put(f"/v1/users/{user_id}", json={"email": cal_email, "name": "Ada", "timezone": "Europe/Stockholm"})
    assert r.status_code == 201, r.text
    who = Person(user_id, cal_email, zoom_email)
    result = connect(api, user_id, calendar, cal_email)
    assert result.status == "connected", result
    who.calendar_connection = result.params["connection_id"]
    if connect_zoom:
        who.zoom_connection = connect_zoom_login(api, user_id, zoom_email)
    return who


def connect_zoom_login(api: Api, user_id: str, zoom_email: str) -> str:
    result = connect(api, user_id, "zoom", zoom_email)
    assert result.status == "connected", result
    return result.params["connection_id"]


def _exists(sandbox: Sandbox, email: str) -> bool:
    r = sandbox.http.get(f"{sandbox.base}/_control/accounts", params={"provider": "zoom"}, timeout=10)
    return any(a["email"] == email for a in r.json())


def meetings(sandbox: Sandbox, email: str) -> list[dict[str, Any]]:
    r = sandbox.http.get(f"{sandbox.base}/_control/meetings", params={"email": email}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def event_body(who: Person, title: str = "Interview: Grace", start: str = f"{DAY}T14:00:00+01:00",
               end: str = f"{DAY}T15:00:00+01:00", **extra: Any) -> dict[str, Any]:
    return {"organizer": who.user_id, "title": title, "start": start, "end": end, "timezone": "Europe/Stockholm",
            "conferencing": "zoom", "attendees": [{"email": "grace@candidates.example", "name": "Grace"}], **extra}


def log_mark(sandbox: Sandbox) -> int:
    entries = sandbox.requests_log("zoom")
    return entries[-1]["id"] if entries else 0


def refreshes_since(sandbox: Sandbox, mark: int) -> int:
    """Refresh-token grants Zoom received after `mark`: the ground truth for single flight."""
    return sum(1 for e in sandbox.requests_log("zoom", "/zoom/oauth/token")
               if e["id"] > mark and isinstance(e["body"], dict) and e["body"].get("grant_type") == "refresh_token")


def book_in_own_process(settings: dict[str, Any], api_key: str, body: dict[str, Any], barrier, results) -> None:
    """Runs in a spawned process: its own hub, engine and connection pool, like a second
    gunicorn worker. Waits at the barrier so every worker hits the stale token together."""
    import logging

    from hub.app import create_app

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = create_app(settings)
    client = app.test_client()
    try:
        barrier.wait(timeout=60)
        response = client.post("/v1/events", json=body, headers={"Authorization": f"Bearer {api_key}"})
        results.put((response.status_code, response.get_json()))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which asserts on it
        results.put((0, {"error": repr(exc)}))
    finally:
        app.extensions["hub"].close()
