"""The sandbox's CalDAV server: a real Radicale behind /caldav, arranged by the control API and
kept by the demo's snapshot (a restarted `hub demo` keeps its CalDAV users and calendars)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import requests

from hub.config import Settings
from providers.caldav.calendar import calendar_for
from providers.caldav.connect import credential_form
from providers.emulator_kit.snapshot import restore, snapshot
from providers.sandbox import create_sandbox_app, serve

T0 = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)


def test_accounts_passwords_and_events_survive_a_snapshot(http):
    first = create_sandbox_app()
    running = serve(first)
    try:
        base = running.base_url
        assert http.post(f"{base}/_control/accounts", json={"provider": "caldav", "email": "dave@demo.example",
                                                            "password": "kept-pw"}).status_code == 201
        assert http.post(f"{base}/_control/events", json={"provider": "caldav", "email": "dave@demo.example",
                                                          "start": T0.isoformat(),
                                                          "end": (T0 + timedelta(hours=1)).isoformat()}).status_code == 201
        blob = snapshot(first)
    finally:
        running.shutdown()
    second = create_sandbox_app()
    assert restore(second, blob)
    running = serve(second)
    try:
        config = Settings(sandbox_url=running.base_url).provider("caldav")
        token = credential_form(config).verify({"server_url": f"{running.base_url}/caldav/",
                                                "username": "dave@demo.example", "password": "kept-pw"}).access_token
        blocks = calendar_for(config).free_busy(token, ["dave@demo.example"], T0, T0 + timedelta(hours=8))
        assert [(b.start, b.end) for b in blocks["dave@demo.example"]] == [(T0, T0 + timedelta(hours=1))]
        refused = requests.Session()
        refused.trust_env = False
        assert refused.request("PROPFIND", f"{running.base_url}/caldav/", auth=("dave@demo.example", "app-password"),
                               timeout=10).status_code == 401, "the password set before the restart still holds"
    finally:
        running.shutdown()
