"""The settings page in a real browser, as the person whose calendar the hub reads would use it:
enter through a link, connect Google on the sandbox's consent page, read what broke and fix it,
edit working hours, disconnect — at desktop and phone width. Screenshots of each state are
written to artifacts/screenshots/ (see tests/browser/conftest.py)."""
from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest

from providers.registry import PROVIDERS
from tests.e2e.support import Api, connect
from tests.e2e.sync_support import wait_for

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
expect = sync_api.expect

pytestmark = pytest.mark.browser

DAY = "2026-03-02"
WINDOW = {"start": f"{DAY}T08:00:00+01:00", "end": f"{DAY}T18:00:00+01:00"}
SETTINGS_URL = re.compile(r"/settings(\?.*)?(#.*)?$")


# --- helpers ----------------------------------------------------------------------------------
@pytest.fixture
def person(api, sandbox):
    tag = uuid.uuid4().hex[:8]
    email = f"ada.{tag}@example.com"
    sandbox.account("google", email, name="Ada Lovelace", timezone="Europe/Stockholm")
    user_id = f"ada-{tag}"
    r = api.put(f"/v1/users/{user_id}", json={"email": email, "name": "Ada Lovelace", "timezone": "Europe/Stockholm"})
    assert r.status_code == 201, r.text
    return {"user_id": user_id, "email": email}


def settings_link(api: Api, user_id: str, **body) -> str:
    r = api.post(f"/v1/users/{user_id}/settings-links", json={"return_url": "https://ats.example/me", **body})
    assert r.status_code == 201, r.text
    return r.json()["url"]


def enter(page, api: Api, person: dict):
    response = page.goto(settings_link(api, person["user_id"]))
    assert response.status == 200
    expect(page).to_have_url(SETTINGS_URL)
    expect(page.get_by_role("heading", level=1)).to_have_text("Your calendars and video meetings")


def google_card(page):
    return page.locator("article[data-provider=google]")


def consent(page, email: str, decision: str = "allow") -> None:
    """On the sandbox's consent page: pick the account, then Allow or Deny. A provider that
    connects with a credential form (CalDAV) gets its form filled in: the server URL is already
    there next to a sandbox; the user name and the sandbox's default app password are typed."""
    expect(page.get_by_role("button", name=re.compile("^(Allow|Connect)$"))).to_be_visible()
    if page.get_by_label("App-specific password").count():
        page.get_by_label("User name").fill(email)
        page.get_by_label("App-specific password").fill("app-password")
        page.get_by_role("button", name="Connect").click()
        page.wait_for_url(SETTINGS_URL)
        return
    choice = page.locator(f'[name="account"][value="{email}"]')
    if choice.count() and choice.first.get_attribute("type") in ("radio", "checkbox"):
        choice.first.check()  # an account list to click
    else:
        page.locator('input[name="account"]').fill(email)  # or an account field
    page.get_by_role("button", name="Allow" if decision == "allow" else "Deny").click()
    page.wait_for_url(SETTINGS_URL)


def break_connection(api: Api, sandbox, person: dict) -> None:
    """Google refuses the grant; the next read (free/busy) finds out and marks it needs_reauth."""
    sandbox.fault("google", "invalid_grant", email=person["email"])
    sandbox.fault("google", "expire_access_tokens", email=person["email"])
    fb = api.post("/v1/freebusy", json={"users": [person["user_id"]], **WINDOW}).json()
    assert fb["users"][person["user_id"]]["error"]["cause"] == "token_revoked"


# --- scenarios --------------------------------------------------------------------------------
def test_enter_connect_google_and_see_it_connected(page, api, person, sandbox, shot):
    enter(page, api, person)
    card = google_card(page)
    expect(card.locator(".status")).to_have_text(re.compile("Not connected"))
    expect(page.locator("#no-calendar")).to_contain_text("No calendar is connected")
    shot(page, "entered")

    # Keyboard only: focus Connect and press Enter.
    card.get_by_role("button", name="Connect Google Calendar").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/google/"))
    shot(page, "consent-page")
    consent(page, person["email"])

    expect(page.locator("#notice")).to_contain_text("Google Calendar is connected.")
    expect(page.locator("#notice")).to_contain_text(f"Connected as {person['email']}")
    expect(card.locator(".account")).to_have_text(person["email"])
    expect(card.locator(".status")).to_contain_text("Connected")
    expect(card).to_contain_text("Calendar, Google Meet")
    expect(card.get_by_role("button", name=re.compile("^Disconnect"))).to_be_visible()
    expect(page.locator("#no-calendar")).to_have_count(0)
    shot(page, "connected")
    conns = api.get(f"/v1/users/{person['user_id']}/connections").json()["connections"]
    assert [(c["provider"], c["account_email"], c["status"]) for c in conns] == [("google", person["email"], "active")]


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_every_connectable_provider_connects_from_its_card(page, api, sandbox, provider, shot):
    """Cards come from the registries: a provider added there is connectable here unchanged."""
    tag = uuid.uuid4().hex[:8]
    email = f"kim.{tag}@contoso.example"
    sandbox.account(provider, email, name="Kim Lee")
    user = {"user_id": f"kim-{tag}", "email": email}
    assert api.put(f"/v1/users/{user['user_id']}", json={"email": email, "name": "Kim Lee"}).status_code == 201
    enter(page, api, user)
    card = page.locator(f"article[data-provider={provider}]")
    title = PROVIDERS[provider].title
    card.get_by_role("button", name=f"Connect {title}").click()
    consent(page, email)
    expect(page.get_by_role("status")).to_contain_text(f"{title} is connected.")
    expect(card.locator(".account")).to_have_text(email)
    expect(card.locator(".status")).to_have_text(re.compile(r"Connected$"))
    shot(page, "connected")


def test_shared_mailbox_is_refused_in_plain_words(page, api, sandbox, shot):
    if "microsoft" not in PROVIDERS:
        pytest.skip("Microsoft 365 is not connectable on this hub")
    tag = uuid.uuid4().hex[:8]
    mailbox = f"recruiting.{tag}@contoso.example"
    sandbox.account("microsoft", mailbox, name="Recruiting team", kind="shared")
    user = {"user_id": f"rec-{tag}", "email": mailbox}
    assert api.put(f"/v1/users/{user['user_id']}", json={"email": mailbox}).status_code == 201
    enter(page, api, user)
    page.locator("article[data-provider=microsoft]").get_by_role("button", name="Connect Microsoft 365").click()
    consent(page, mailbox)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Microsoft 365 was not connected.")
    expect(alert).to_contain_text("This is a shared mailbox — connect your own account.")
    expect(alert).to_contain_text("Connect the account you sign in with yourself")
    shot(page, "shared-mailbox")


def test_denied_consent_says_why_in_plain_words(page, api, person, shot):
    enter(page, api, person)
    google_card(page).get_by_role("button", name="Connect Google Calendar").click()
    consent(page, person["email"], decision="deny")
    notice = page.get_by_role("alert")
    expect(notice).to_contain_text("Google Calendar was not connected.")
    expect(notice).to_contain_text("Access was not allowed on Google Calendar's consent screen")
    expect(notice).to_contain_text("Choose Connect again and then Allow.")
    expect(google_card(page).locator(".status")).to_have_text(re.compile("Not connected"))
    shot(page, "denied")


def test_working_hours_error_sits_next_to_the_field_and_keeps_the_input(page, api, person, shot):
    enter(page, api, person)
    page.get_by_label("Time zone", exact=True).fill("Europe/Lisbon")
    page.get_by_label("Monday", exact=True).fill("09:00-12:00, 13:00-25:00")
    page.get_by_label("Tuesday", exact=True).fill("10:00-16:00")
    page.get_by_label("Saturday", exact=True).fill("10:00-12:00")
    page.get_by_role("button", name="Save time zone and hours").click()

    monday = page.locator(".field.day", has=page.get_by_label("Monday", exact=True))
    expect(monday.locator(".field-error")).to_have_text(
        re.compile(r"Interval 2: end '25:00' is not a time"))
    expect(page.get_by_label("Monday", exact=True)).to_have_attribute("aria-invalid", "true")
    # Nothing typed is lost, in the bad field or the others.
    expect(page.get_by_label("Monday", exact=True)).to_have_value("09:00-12:00, 13:00-25:00")
    expect(page.get_by_label("Tuesday", exact=True)).to_have_value("10:00-16:00")
    expect(page.get_by_label("Saturday", exact=True)).to_have_value("10:00-12:00")
    expect(page.get_by_label("Time zone", exact=True)).to_have_value("Europe/Lisbon")
    expect(page.locator("#error-summary")).to_contain_text("Nothing was saved: 1 thing needs fixing.")
    # Only the bad field is marked.
    expect(page.locator(".field-error")).to_have_count(1)
    page.locator("#error-summary a").click()  # the summary links to the field
    expect(page.get_by_label("Monday", exact=True)).to_be_focused()
    shot(page, "hours-error")
    assert api.get(f"/v1/users/{person['user_id']}").json()["working_hours"] is None  # nothing saved

    page.get_by_label("Monday", exact=True).fill("09:00-12:00, 13:00-17:00")
    page.get_by_role("button", name="Save time zone and hours").click()
    expect(page.get_by_role("status")).to_contain_text("Your time zone and working hours were saved.")
    expect(page.get_by_label("Monday", exact=True)).to_have_value("09:00-12:00, 13:00-17:00")
    expect(page.get_by_label("Wednesday", exact=True)).to_have_value("09:00-17:00")  # the default, kept
    expect(page.get_by_label("Sunday", exact=True)).to_have_value("")
    shot(page, "hours-saved")
    user = api.get(f"/v1/users/{person['user_id']}").json()
    assert user["timezone"] == "Europe/Lisbon"
    nine_to_five = [["09:00", "17:00"]]
    assert user["working_hours"]["weekly"] == {"mon": [["09:00", "12:00"], ["13:00", "17:00"]],
                                               "tue": [["10:00", "16:00"]], "wed": nine_to_five,
                                               "thu": nine_to_five, "fri": nine_to_five, "sat": [["10:00", "12:00"]]}


def test_default_video_meeting(page, api, person, shot):
    assert connect(api, person["user_id"], "google", person["email"]).status == "connected"
    enter(page, api, person)
    page.get_by_label("Interviews you organise get", exact=True).select_option("google_meet")
    page.get_by_role("button", name="Save video meeting").click()
    expect(page.get_by_role("status")).to_contain_text("Your default video meeting was saved.")
    expect(page.get_by_label("Interviews you organise get", exact=True)).to_have_value("google_meet")
    assert api.get(f"/v1/users/{person['user_id']}").json()["default_conferencing"] == "google_meet"
    shot(page, "saved")


def test_disconnect(page, api, person, sandbox, shot):
    assert connect(api, person["user_id"], "google", person["email"]).status == "connected"
    enter(page, api, person)
    card = google_card(page)
    expect(card.locator(".account")).to_have_text(person["email"])
    assert [g["alive"] for g in sandbox.grants("google", person["email"])] == [True]
    card.get_by_role("button", name=re.compile("^Disconnect")).click()
    expect(page.get_by_role("status")).to_contain_text("Google Calendar was disconnected.")
    expect(card.locator(".status")).to_have_text(re.compile("Not connected"))
    expect(card.get_by_role("button", name="Connect Google Calendar")).to_be_visible()
    shot(page, "disconnected")
    assert api.get(f"/v1/users/{person['user_id']}/connections").json()["connections"] == []
    # Revoked at Google by a background job (hub/services/disconnect.py); the sandbox is shared
    # with other tests' hubs, so this account's grant is what counts.
    wait_for(lambda: [g["alive"] for g in sandbox.grants("google", person["email"])] == [False],
             "the grant revoked at Google")


def test_stale_connection_shows_the_cause_and_reconnect_fixes_it(page, api, person, sandbox, shot):
    first = connect(api, person["user_id"], "google", person["email"])
    assert first.status == "connected"
    break_connection(api, sandbox, person)

    enter(page, api, person)
    card = google_card(page)
    expect(card.locator(".status")).to_contain_text("Needs reconnecting")
    problem = card.locator(".problem")
    expect(problem).to_have_attribute("data-cause", "token_revoked")
    expect(problem).to_contain_text("What is wrong: Google Calendar no longer lets the hub into this account")
    expect(problem).to_contain_text("How to fix it: Reconnect the account.")
    reconnect = card.get_by_role("button", name=re.compile("^Reconnect"))
    expect(reconnect).to_be_visible()
    shot(page, "needs-reconnect")

    reconnect.click()
    consent(page, person["email"])
    expect(page.get_by_role("status")).to_contain_text("Google Calendar is connected.")
    expect(card.locator(".status")).to_have_text(re.compile(r"Connected$"))
    expect(card.locator(".problem")).to_have_count(0)
    shot(page, "reconnected")
    conns = api.get(f"/v1/users/{person['user_id']}/connections").json()["connections"]
    assert [(c["id"], c["status"]) for c in conns] == [(first.params["connection_id"], "active")]  # in place


def test_used_expired_and_forged_links_show_a_friendly_page(browser, page, api, person, live_hub, shot):
    link = settings_link(api, person["user_id"])
    enter_response = page.goto(link)
    assert enter_response.status == 200

    elsewhere = browser.new_context()  # the same link forwarded to someone else
    try:
        other = elsewhere.new_page()
        used = other.goto(link)
        assert used.status == 410
        expect(other.get_by_role("heading", level=1)).to_have_text("This link was already used")
        expect(other.locator("body")).not_to_contain_text("Traceback")
        expect(other.get_by_role("link", name="Back to your scheduling tool")).to_have_attribute(
            "href", "https://ats.example/me")
        shot(other, "used-link")

        hub = live_hub.hub
        real = hub.clock
        hub.clock = lambda: real() - timedelta(minutes=16)
        try:
            stale = settings_link(api, person["user_id"])
        finally:
            hub.clock = real
        expired = other.goto(stale)
        assert expired.status == 410
        expect(other.get_by_role("heading", level=1)).to_have_text("This link has expired")
        expect(other.locator("body")).to_contain_text("Ask the application that sent it for a new link.")
        shot(other, "expired-link")

        forged = other.goto(link[:-4] + "AAAA")
        assert forged.status == 404
        expect(other.get_by_role("heading", level=1)).to_have_text("This link does not work")
        shot(other, "forged-link")

        no_session = other.goto(live_hub.url + "/settings")
        assert no_session.status == 403
        expect(other.get_by_role("heading", level=1)).to_have_text("Your settings session has ended")
    finally:
        elsewhere.close()


def test_phone_width(browser, api, person, sandbox, shot):
    assert connect(api, person["user_id"], "google", person["email"]).status == "connected"
    break_connection(api, sandbox, person)
    phone = browser.new_context(viewport={"width": 375, "height": 812}, device_scale_factor=2, is_mobile=True,
                                has_touch=True)
    try:
        page = phone.new_page()
        enter(page, api, person)
        expect(google_card(page).get_by_role("button", name=re.compile("^Reconnect"))).to_be_visible()
        # Nothing sticks out sideways: no horizontal scrolling at 375 px.
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        for selector in ("article[data-provider=google]", "#hours form", "#conferencing form"):
            box = page.locator(selector).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 375, selector
        # Buttons are big enough to hit with a thumb.
        button = google_card(page).get_by_role("button", name=re.compile("^Reconnect")).bounding_box()
        assert button["height"] >= 44
        shot(page, "phone-first-screen", full_page=False)  # what a phone shows before scrolling
        shot(page, "phone")
        page.get_by_label("Monday", exact=True).fill("9-5")
        page.get_by_role("button", name="Save time zone and hours").click()
        expect(page.locator(".field.day", has=page.get_by_label("Monday", exact=True)).locator(".field-error")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        shot(page, "phone-hours-error")
    finally:
        phone.close()


CONTRAST_JS = """
() => {
  const parse = c => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(',').map(parseFloat); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const lum = ({r, g, b}) => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const background = el => { for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c.a > 0.99) return c; } return {r: 255, g: 255, b: 255, a: 1}; };
  const low = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode; if (!node.textContent.trim()) continue;
    const el = node.parentElement; const style = getComputedStyle(el); const box = el.getBoundingClientRect();
    if (style.visibility === 'hidden' || box.width === 0 || box.right < 0 || box.bottom < 0) continue;
    const a = lum(parse(style.color)), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight) >= 700;
    if (ratio < ((size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5)) low.push([node.textContent.trim().slice(0, 40), ratio.toFixed(2)]);
  }
  return low;
}
"""

A11Y_JS = """
() => ({
  unlabelled: [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
      .filter(el => !el.labels || el.labels.length === 0).map(el => el.name),
  unnamedButtons: [...document.querySelectorAll('button, a[href]')]
      .filter(el => !(el.getAttribute('aria-label') || el.textContent).trim()).length,
  h1: document.querySelectorAll('h1').length,
  ids: (() => { const seen = {}; const dup = [];
      document.querySelectorAll('[id]').forEach(el => { if (seen[el.id]) dup.push(el.id); seen[el.id] = 1; }); return dup; })(),
})
"""


def test_accessibility_basics(page, api, person, sandbox, shot):
    assert connect(api, person["user_id"], "google", person["email"]).status == "connected"
    enter(page, api, person)
    # The first Tab reaches the skip link, which moves focus to the main content.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    # a failing state too, so the error colours are checked as well
    page.get_by_label("Monday", exact=True).fill("nine to five")
    page.get_by_role("button", name="Save time zone and hours").click()
    expect(page.locator(".field-error")).to_have_count(1)

    for role in ("banner", "main", "contentinfo"):
        expect(page.get_by_role(role)).to_have_count(1)
    expect(page.get_by_role("navigation", name="Account")).to_be_visible()
    facts = page.evaluate(A11Y_JS)
    assert facts == {"unlabelled": [], "unnamedButtons": 0, "h1": 1, "ids": []}, facts
    assert page.evaluate(CONTRAST_JS) == []
    assert page.evaluate("document.documentElement.lang") == "en"

    # Focus is visible: the focused control gets an outline.
    page.get_by_label("Monday", exact=True).focus()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", ""), outline
    shot(page, "focus")
