"""Issue 14 through HTTP as a candidate's browser does it (no scripts): the booking page over
the scheduling service, checked at the provider's calendar."""
from __future__ import annotations

import re
from html import unescape

import pytest
import requests
from icalendar import Calendar

from tests.e2e.scheduling_support import at, interviewer, slot


@pytest.fixture
def panel(api, sandbox):
    return [interviewer(api, sandbox, "google", "olga")]


def offer(api, panel, slots, candidates=None, **extra):
    body = {"organizer": panel[0]["user_id"], "interviewers": [], "title": "Interview: {candidate_name}",
            "duration_minutes": 30, "conferencing": "none",
            "candidates": candidates or [{"email": "ada@cand.example", "name": "Ada", "timezone": "Europe/Berlin"}],
            "slots": slots, **extra}
    r = api.post("/v1/scheduling-requests", json=body)
    assert r.status_code == 201, r.text
    return r.json()


class Browser:
    """A candidate's browser: a cookie jar, forms posted with the page's CSRF token."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        self.http.trust_env = False
        self.last = ""

    def get(self, suffix: str = "", **params) -> requests.Response:
        r = self.http.get(self.url + suffix, params=params, timeout=30)
        self.last = r.text
        return r

    def post(self, action: str, **fields) -> requests.Response:
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', self.last).group(1)
        r = self.http.post(f"{self.url}/{action}", data={"csrf_token": csrf, **fields}, timeout=30)
        self.last = r.text
        return r


def text(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def slot_values(html: str) -> list[str]:
    return re.findall(r'data-slot="([^"]+)"', html)


def interviews(sandbox, person):
    return [e for e in sandbox.events("google", person["email"])
            if (e.get("summary") or "").startswith("Interview") and e.get("status") != "cancelled"]


def test_book_reschedule_cancel_and_the_invite(api, sandbox, panel):
    req = offer(api, panel, [slot(13), slot(14), slot(15)])
    page = Browser(req["candidates"][0]["booking_url"])
    r = page.get()
    assert r.status_code == 200
    assert r.headers["Referrer-Policy"] == "no-referrer" and "default-src 'none'" in r.headers["Content-Security-Policy"]
    shown = text(r.text)
    assert "Interview: Ada" in shown and "30 minutes" in shown and "Olga" in shown or panel[0]["user_id"] in shown
    assert "Tuesday 12 January 2027" in shown and "14:00–14:30" in shown  # 13:00 UTC in Berlin
    assert slot_values(r.text) == [s["id"] for s in req["slots"]]
    page.get(slot=req["slots"][0]["id"])
    assert "Confirm your time" in text(page.last)
    done = page.post("book", slot=req["slots"][0]["id"], timezone="Europe/Berlin")
    assert done.status_code == 200 and "Your interview is booked" in text(done.text)
    assert "Tuesday 12 January 2027, 14:00 (Europe/Berlin)" in text(done.text)
    assert "13:00 (UTC)" in text(done.text)  # the organizer's zone
    on_calendar = interviews(sandbox, panel[0])
    assert len(on_calendar) == 1 and on_calendar[0]["start"]["dateTime"].startswith("2027-01-12T13:00")

    ics = Calendar.from_ical(page.get("/invite.ics").content)
    assert str(ics["method"]) == "REQUEST"
    first = ics.walk("VEVENT")[0]
    assert first["dtstart"].dt == at(13) and "action=reschedule" in str(first["description"])

    page.get(action="reschedule")
    assert slot_values(page.last) == [s["id"] for s in req["slots"][1:]]
    page.get(action="reschedule", slot=req["slots"][2]["id"])
    moved = page.post("book", slot=req["slots"][2]["id"])
    assert "16:00 (Europe/Berlin)" in text(moved.text)
    assert [e["start"]["dateTime"][:16] for e in interviews(sandbox, panel[0])] == ["2027-01-12T15:00"]
    again = Calendar.from_ical(page.get("/invite.ics").content).walk("VEVENT")[0]
    assert again["uid"] == first["uid"] and int(again["sequence"]) > int(first["sequence"])

    page.get(action="cancel")
    refused = page.post("cancel", reason="")
    assert refused.status_code == 422 and "tell us why" in text(refused.text)
    gone = page.post("cancel", reason="Found another job")
    assert "You cancelled your interview" in text(gone.text)
    assert interviews(sandbox, panel[0]) == []
    cancel = Calendar.from_ical(page.get("/invite.ics").content)
    assert str(cancel["method"]) == "CANCEL" and cancel.walk("VEVENT")[0]["uid"] == first["uid"]
    assert int(cancel.walk("VEVENT")[0]["sequence"]) > int(again["sequence"])


def test_decline_with_reason_then_go_to_accept(api, sandbox, panel):
    req = offer(api, panel, [slot(13), slot(14)])
    page = Browser(req["candidates"][0]["booking_url"])
    page.get(action="decline")
    assert page.post("decline", reason="  ").status_code == 422
    r = page.post("decline", reason="Not interested any more")
    assert "You declined this interview" in text(r.text) and slot_values(r.text) == []
    state = api.get(f"/v1/scheduling-requests/{req['id']}").json()
    assert state["candidates"][0]["decline_reason"] == "Not interested any more"
    page.get(action="accept")
    assert slot_values(page.last) == [s["id"] for s in req["slots"]]
    page.get(action="accept", slot=req["slots"][1]["id"])
    booked = page.post("book", slot=req["slots"][1]["id"])
    assert "Your interview is booked" in text(booked.text) and len(interviews(sandbox, panel[0])) == 1


def test_taken_slot_shows_the_fresh_list(api, sandbox, panel):
    two = [{"email": "a@cand.example", "timezone": "UTC"}, {"email": "b@cand.example", "timezone": "UTC"}]
    req = offer(api, panel, [slot(13), slot(14)], candidates=two)
    a, b = (Browser(c["booking_url"]) for c in req["candidates"])
    a.get(slot=req["slots"][0]["id"])
    b.get(slot=req["slots"][0]["id"])
    a.post("book", slot=req["slots"][0]["id"])
    lost = b.post("book", slot=req["slots"][0]["id"])
    assert lost.status_code == 409 and "someone else has just taken that time" in text(lost.text)
    assert slot_values(lost.text) == [req["slots"][1]["id"]]


def test_zone_change_and_odd_hours(api, sandbox, panel):
    req = offer(api, panel, [slot(13)])
    page = Browser(req["candidates"][0]["booking_url"])
    r = page.get(timezone="Asia/Tokyo")
    assert "22:00–22:30" in text(r.text) and "outside usual working hours" in text(r.text)
    assert '<option value="Asia/Tokyo" selected>' in r.text
    assert "14:00–14:30" in text(page.get(timezone="Nowhere/Land").text)  # ignored: the candidate's zone


def test_ended_wrong_link_and_csrf(api, sandbox, panel, live_hub):
    req = offer(api, panel, [slot(13)])
    url = req["candidates"][0]["booking_url"]
    page = Browser(url)
    page.get()
    forged = requests.post(url + "/decline", data={"reason": "x", "csrf_token": "nope"}, timeout=30)
    assert forged.status_code == 400
    assert api.get(f"/v1/scheduling-requests/{req['id']}").json()["candidates"][0]["status"] == "invited"
    wrong = requests.get(url[:-3] + "xyz", timeout=30)
    assert wrong.status_code == 404 and "This link does not work" in text(wrong.text)
    assert "Interview" not in text(wrong.text)
    stale = Browser(url)
    stale.http = page.http
    stale.get(action="decline")  # a form left open while the organizer cancels
    api.delete(f"/v1/scheduling-requests/{req['id']}")
    ended = page.get()
    assert ended.status_code == 410 and "was cancelled" in text(ended.text) and slot_values(ended.text) == []
    assert stale.post("decline", reason="late").status_code == 410


def test_expired_request_says_so(api, sandbox, panel, live_hub):
    req = offer(api, panel, [slot(13)])
    page = Browser(req["candidates"][0]["booking_url"])
    assert page.get().status_code == 200
    live_hub.app.extensions["hub_services"].scheduling.expire_due(at(14))
    ended = page.get()
    assert ended.status_code == 410 and "has expired" in text(ended.text) and slot_values(ended.text) == []
    assert page.get("/invite.ics").status_code == 410


def test_join_link_on_the_page_and_in_the_invite(api, sandbox, panel):
    req = offer(api, panel, [slot(13)], conferencing="google_meet")
    page = Browser(req["candidates"][0]["booking_url"])
    page.get(slot=req["slots"][0]["id"])
    done = page.post("book", slot=req["slots"][0]["id"])
    join = re.search(r'data-join href="([^"]+)"', done.text).group(1)
    assert join.startswith("https://") and interviews(sandbox, panel[0])[0]["hangoutLink"] == join
    event = Calendar.from_ical(page.get("/invite.ics").content).walk("VEVENT")[0]
    assert str(event["url"]) == join and join in str(event["description"])
