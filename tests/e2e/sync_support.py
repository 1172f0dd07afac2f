"""Helpers for the push + sync tests over real HTTP: a connected person, their push channel as
the hub records it, a backend's webhook receiver, and polls with deadlines (no sleeps)."""
from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from hub.storage.models import Job, SyncChannel, SyncState
from tests.e2e.support import Api, Sandbox, connect
from tests.push_receiver import wait_for as poll

DEADLINE = 30.0


def wait_for(check: Callable[[], Any], what: str, deadline: float = DEADLINE) -> Any:
    """Poll `check` until it returns something truthy; fail with `what` after `deadline` s
    (end-to-end waits cross a hub's background jobs: a longer default than the sandbox's)."""
    return poll(check, what, deadline)


class Backend:
    """A scheduling backend's webhook endpoint on a loopback port: keeps every delivery."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.bodies: list[dict[str, Any]] = []
        self.server = make_server("127.0.0.1", 0, self._app, threaded=True)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"

    @Request.application
    def _app(self, request: Request) -> Response:
        with self.lock:
            self.bodies.append({"received_at": time.monotonic(), **json.loads(request.get_data() or b"{}")})
        return Response(status=204)

    def of(self, kind: str, event_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [b for b in self.bodies if b.get("type") == kind and b.get("data", {}).get("id") == event_id]

    def close(self) -> None:
        self.server.shutdown()


@dataclass
class Person:
    user_id: str
    email: str
    provider: str
    connection_id: str


def connected_person(api: Api, sandbox: Sandbox, provider: str) -> Person:
    user_id = f"sync-{uuid.uuid4().hex[:8]}"
    email = f"{user_id}@sync.example"
    sandbox.account(provider, email)
    r = api.put(f"/v1/users/{user_id}", json={"email": email, "timezone": "UTC"})
    assert r.status_code == 201, r.text
    result = connect(api, user_id, provider, email)
    assert result.status == "connected", result.params
    return Person(user_id, email, provider, result.params["connection_id"])


def synced(api: Api, person: Person) -> dict[str, Any]:
    """Wait for the channel to be open and the first sync done; the status route's answer."""
    def ready() -> dict[str, Any] | None:
        r = api.get(f"/v1/connections/{person.connection_id}/sync")
        assert r.status_code == 200, r.text
        body = r.json()
        ok = body["channel"] and body["channel"]["status"] == "active" and body["last_synced_at"]
        return body if ok else None
    return wait_for(ready, f"{person.provider} channel open and first sync")


def channel(hub: Any, connection_id: str) -> SyncChannel:
    with hub.db.session() as s:
        return s.execute(select(SyncChannel).where(SyncChannel.connection_id == connection_id,
                                                   SyncChannel.status == "active")).scalar_one()


def state(hub: Any, connection_id: str) -> SyncState:
    with hub.db.session() as s:
        found = s.get(SyncState, connection_id)
        assert found is not None
        return found


def sync_jobs(hub: Any, connection_id: str) -> int:
    with hub.db.session() as s:
        return len([k for k in s.execute(select(Job.key).where(Job.name == "sync.run")).scalars()
                    if k and connection_id in k])


def event_body(person: Person, hours_ahead: int = 50, title: str = "Interview: Ada") -> dict[str, Any]:
    start = (datetime.now(timezone.utc) + timedelta(hours=hours_ahead)).replace(minute=0, second=0, microsecond=0)
    return {"organizer": person.user_id, "title": title, "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(), "conferencing": "none",
            "attendees": [{"email": "ada@candidates.example", "name": "Ada"}]}


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
