"""Free/busy and availability through the API, checked against what the sandbox holds: busy
time is clipped to the window, the stronger status wins where blocks overlap, and an optional
participant whose calendar fails or cannot be read neither blanks the slots nor counts as free."""
from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from tests.e2e.support import connect


def next_monday() -> date:
    today = date.today()
    return today + timedelta(days=7 - today.weekday())


def someone(api, sandbox, provider: str, *, connected: bool = True) -> dict:
    tag = uuid.uuid4().hex[:8]
    email = f"p{tag}@example.com"
    sandbox.account(provider, email)
    assert api.put(f"/v1/users/p{tag}", json={"email": email, "timezone": "UTC"}).status_code == 201
    if connected:
        assert connect(api, f"p{tag}", provider, email).status == "connected"
    return {"user_id": f"p{tag}", "email": email}


def test_busy_is_clipped_to_the_window_and_the_stronger_status_wins(api, sandbox):
    who = someone(api, sandbox, "microsoft")
    day = "2026-03-02"
    for start, end, status in [("07:00", "09:00", "busy"),  # starts before the window
                               ("10:00", "11:00", "tentative"), ("10:30", "11:30", "busy"),
                               ("12:00", "13:00", "oof"), ("12:30", "12:45", "busy"),
                               ("17:30", "19:00", "tentative")]:  # ends after the window
        sandbox.busy("microsoft", who["email"], f"{day}T{start}:00Z", f"{day}T{end}:00Z", status=status)
    r = api.post("/v1/freebusy", json={"users": [who["user_id"]], "start": f"{day}T08:00:00Z",
                                       "end": f"{day}T18:00:00Z"})
    assert r.status_code == 200, r.text
    busy = [(b["start"][11:16], b["end"][11:16], b["status"]) for b in r.json()["users"][who["user_id"]]["busy"]]
    assert busy == [("08:00", "09:00", "busy"), ("10:00", "11:30", "busy"), ("12:00", "13:00", "oof"),
                    ("17:30", "18:00", "tentative")]


@pytest.mark.parametrize("how", ["failing", "not_connected"])
def test_an_unreadable_optional_participant_neither_blanks_slots_nor_counts_as_free(api, sandbox, how):
    required = someone(api, sandbox, "google")
    optional = someone(api, sandbox, "google", connected=how != "not_connected")
    if how == "failing":
        sandbox.fault("google", "server_error", optional["email"], times=5)
    day = next_monday().isoformat()
    # Live: the calendar the provider fails to read (a fresh busy cache would answer for it).
    r = api.post("/v1/availability", json={
        "participants": [{"user_id": required["user_id"]}, {"user_id": optional["user_id"], "optional": True}],
        "start": f"{day}T09:00:00Z", "end": f"{day}T12:00:00Z", "duration_minutes": 30, "interval_minutes": 30,
        "consistency": "live"})
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["complete"] is True
    assert len(result["slots"]) == 6  # the required participant is free all morning
    assert all(optional["user_id"] not in s["optional_available"] for s in result["slots"])
    assert result["participants"][optional["user_id"]]["status"] == "error"
    assert result["participants"][required["user_id"]]["status"] == "ok"
