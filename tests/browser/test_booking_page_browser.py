"""The candidate's booking page in a real browser: book, decline with a reason and go to accept,
reschedule, cancel, lose a race for a slot, an ended request, change the time zone, download
the invitation — at desktop and phone width, keyboard and screen-reader checks included.
Screenshots of each state go to artifacts/screenshots/."""
from __future__ import annotations

import pytest
from icalendar import Calendar

from tests.browser.test_settings_page_browser import A11Y_JS, CONTRAST_JS
from tests.e2e.scheduling_support import at, interviewer, slot

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
expect = sync_api.expect

pytestmark = pytest.mark.browser


@pytest.fixture
def organizer(api, sandbox):
    return interviewer(api, sandbox, "google", "olga")


def offer(api, organizer, slots, candidates=None):
    body = {"organizer": organizer["user_id"], "interviewers": [], "title": "Interview: {candidate_name}",
            "duration_minutes": 30, "conferencing": "none",
            "candidates": candidates or [{"email": "ada@cand.example", "name": "Ada", "timezone": "Europe/Berlin"}],
            "slots": slots}
    r = api.post("/v1/scheduling-requests", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def interviews(sandbox, person):
    return [e for e in sandbox.events("google", person["email"])
            if (e.get("summary") or "").startswith("Interview") and e.get("status") != "cancelled"]


def pick(page, label: str) -> None:
    page.get_by_role("link", name=label).click()
    expect(page.get_by_role("heading", name="Confirm your time")).to_be_visible()


def test_book_add_to_calendar_reschedule_cancel(page, api, sandbox, organizer, shot):
    req = offer(api, organizer, [slot(13), slot(14), slot(15)])
    page.goto(req["candidates"][0]["booking_url"])
    expect(page.get_by_role("heading", level=1)).to_have_text("Interview: Ada")
    expect(page.get_by_label("Times are shown in")).to_have_value("Europe/Berlin")
    shot(page, "slots")
    pick(page, "Tuesday 12 January 2027, 14:00–14:30")
    shot(page, "confirm")
    page.get_by_role("button", name="Confirm this time").click()
    expect(page.get_by_role("heading", name="Your interview is booked")).to_be_visible()
    expect(page.locator("[data-booked-local]")).to_contain_text("14:00 (Europe/Berlin)")
    expect(page.locator("[data-booked-organizer]")).to_contain_text("13:00 (UTC)")
    shot(page, "booked")
    assert [e["start"]["dateTime"][:16] for e in interviews(sandbox, organizer)] == ["2027-01-12T13:00"]

    with page.expect_download() as download:
        page.get_by_role("link", name="Add to calendar").click()
    ics = Calendar.from_ical(open(download.value.path(), "rb").read())
    first = ics.walk("VEVENT")[0]
    assert str(ics["method"]) == "REQUEST" and first["dtstart"].dt == at(13)

    page.get_by_role("link", name="Reschedule").click()
    pick(page, "Tuesday 12 January 2027, 16:00–16:30")
    page.get_by_role("button", name="Move my interview here").click()
    expect(page.locator("[data-booked-local]")).to_contain_text("16:00 (Europe/Berlin)")
    assert [e["start"]["dateTime"][:16] for e in interviews(sandbox, organizer)] == ["2027-01-12T15:00"]
    with page.expect_download() as download:
        page.get_by_role("link", name="Add to calendar").click()
    moved = Calendar.from_ical(open(download.value.path(), "rb").read()).walk("VEVENT")[0]
    assert moved["uid"] == first["uid"] and int(moved["sequence"]) > int(first["sequence"])

    page.get_by_role("link", name="Cancel the interview").click()
    page.get_by_role("button", name="Cancel the interview").click()  # empty: the browser asks for a reason
    expect(page.get_by_role("heading", name="Your interview is booked")).to_be_visible()
    page.get_by_label("Why are you cancelling? (required)").fill("Found another job")
    page.get_by_role("button", name="Cancel the interview").click()
    expect(page.get_by_role("heading", name="You cancelled your interview")).to_be_visible()
    shot(page, "cancelled")
    assert interviews(sandbox, organizer) == []
    cancel = Calendar.from_ical(page.request.get(req["candidates"][0]["booking_url"] + "/invite.ics").body())
    assert str(cancel["method"]) == "CANCEL" and cancel.walk("VEVENT")[0]["uid"] == first["uid"]


def test_decline_with_reason_then_go_to_accept(page, api, sandbox, organizer, shot):
    req = offer(api, organizer, [slot(13), slot(14)])
    page.goto(req["candidates"][0]["booking_url"])
    page.get_by_role("link", name="I can't make any of these — decline").click()
    page.get_by_label("Why are you declining? (required)").fill("Not interested any more")
    shot(page, "decline-form")
    page.get_by_role("button", name="Decline").click()
    expect(page.get_by_role("heading", name="You declined this interview")).to_be_visible()
    expect(page.locator("[data-slot]")).to_have_count(0)
    shot(page, "declined")
    assert api.get(f"/v1/scheduling-requests/{req['id']}").json()["candidates"][0]["decline_reason"] \
        == "Not interested any more"
    page.get_by_role("link", name="Go to accept").click()
    expect(page.locator("[data-slot]")).to_have_count(2)
    pick(page, "Tuesday 12 January 2027, 15:00–15:30")
    page.get_by_role("button", name="Confirm this time").click()
    expect(page.get_by_role("heading", name="Your interview is booked")).to_be_visible()
    assert len(interviews(sandbox, organizer)) == 1


def test_taken_slot_and_ended_request(browser, api, sandbox, organizer, shot):
    two = [{"email": "a@cand.example", "timezone": "UTC"}, {"email": "b@cand.example", "timezone": "UTC"}]
    req = offer(api, organizer, [slot(13), slot(14)], candidates=two)
    a, b = browser.new_context(), browser.new_context()
    try:
        pa, pb = a.new_page(), b.new_page()
        for p, cand in ((pa, req["candidates"][0]), (pb, req["candidates"][1])):
            p.goto(cand["booking_url"])
            pick(p, "Tuesday 12 January 2027, 13:00–13:30")
        pa.get_by_role("button", name="Confirm this time").click()
        expect(pa.get_by_role("heading", name="Your interview is booked")).to_be_visible()
        pb.get_by_role("button", name="Confirm this time").click()
        expect(pb.get_by_role("status").first).to_contain_text("someone else has just taken that time")
        expect(pb.locator("[data-slot]")).to_have_count(1)
        shot(pb, "taken")
        api.delete(f"/v1/scheduling-requests/{req['id']}")
        pb.reload()
        expect(pb.get_by_role("heading", level=1)).to_have_text("This interview request was cancelled")
        expect(pb.locator("[data-slot]")).to_have_count(0)
        shot(pb, "ended")
        response = pb.goto(req["candidates"][1]["booking_url"] + "x")
        assert response.status == 404
        expect(pb.get_by_role("heading", level=1)).to_have_text("This link does not work")
    finally:
        a.close()
        b.close()


def test_zone_change_odd_hours_phone_and_accessibility(browser, api, sandbox, organizer, shot):
    req = offer(api, organizer, [slot(13), slot(14)])
    phone = browser.new_context(viewport={"width": 375, "height": 812}, device_scale_factor=2, is_mobile=True)
    try:
        page = phone.new_page()
        page.goto(req["candidates"][0]["booking_url"])
        page.get_by_label("Times are shown in").select_option("Asia/Tokyo")
        page.get_by_role("button", name="Change time zone").click()
        expect(page.get_by_role("link", name="Tuesday 12 January 2027, 22:00–22:30, outside usual working hours")
               ).to_be_visible()
        shot(page, "tokyo-phone")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
        facts = page.evaluate(A11Y_JS)
        assert facts == {"unlabelled": [], "unnamedButtons": 0, "h1": 1, "ids": []}, facts
        assert page.evaluate(CONTRAST_JS) == []
        pick(page, "Tuesday 12 January 2027, 22:00–22:30, outside usual working hours")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        shot(page, "confirm-phone")
        # Every request the page made stayed on the hub: nothing from elsewhere.
        assert page.evaluate("performance.getEntriesByType('resource').every(e => e.name.startsWith(location.origin))")
    finally:
        phone.close()


def test_without_a_zone_the_browsers_zone_is_used(browser, api, sandbox, organizer, shot):
    req = offer(api, organizer, [slot(13)], candidates=[{"email": "nozone@cand.example", "name": "Noa"}])
    ctx = browser.new_context(timezone_id="America/Chicago")
    try:
        page = ctx.new_page()
        page.goto(req["candidates"][0]["booking_url"])
        expect(page.get_by_label("Times are shown in")).to_have_value("America/Chicago")
        expect(page.get_by_role("link", name="Tuesday 12 January 2027, 07:00–07:30, outside usual working hours")
               ).to_be_visible()
        shot(page, "browser-zone")
    finally:
        ctx.close()
