"""The candidate's booking page (`/book/<token>`): pick a time in their own zone, confirm, add it
to their calendar, decline with a reason, come back to reschedule or cancel.

A thin page over the scheduling service: every action calls the same CandidateActions function
the API's candidate endpoints call, so the rules (one winner, live re-check, notice, expiry) are
the service's. Server-rendered, no scripts, nothing from elsewhere. The token in the URL is the
candidate's credential: it is never logged (the request log records paths without it, see
`_safe_path`), never sent on as a Referer, and guessing is rate limited per token and per address.

Forms carry a CSRF token: an HMAC of a random per-browser cookie (SameSite=Strict, path /book)
and the link, so a form posted from another site, or without the cookie, is refused.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, available_timezones

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from hub.api.context import services
from hub.errors import HubError, ProviderFailed
from hub.logs import get_logger
from hub.web.booking_ics import aware_time
from hub.web.booking_ics import invite

bp = Blueprint("booking", __name__)
log = get_logger(__name__)

CSRF_COOKIE = "hub_book"
COOKIE_PATH = "/book"
# One script of our own (the browser's zone guess); nothing from elsewhere.
_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'")
_HEADERS = {"Referrer-Policy": "no-referrer", "Content-Security-Policy": _CSP, "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}

ENDED_TEXT = {
    "cancelled": ("This interview request was cancelled",
                  "The organizer cancelled this request, so there is nothing to book any more. "
                  "If you expected to hear from them, please contact them directly."),
    "expired": ("This interview request has expired",
                "The time to pick a slot has run out. If you still want to meet, please contact the organizer."),
}
NOT_FOUND = ("This link does not work",
             "The link is incomplete or was changed. Copy the whole link from your invitation, "
             "or ask the person who sent it for a new one.")
PLAIN = {
    "slot_taken": "Sorry, someone else has just taken that time. Here are the times still open.",
    "slot_unavailable": "Sorry, that time is no longer free for the interviewers. Here are the times still open.",
    "slot_in_past": "That time has already passed. Please pick another.",
    "slot_too_soon": "That time is now too soon to book. Please pick another.",
    "slot_not_found": "That time is not offered any more. Please pick another.",
    "already_booked": "You have booked already: here is your interview.",
    "not_booked": "There is no booked interview to change; pick a time instead.",
    "reason_required": "Please tell us why (a few words are enough).",
}


@lru_cache(maxsize=1)
def zones() -> list[str]:
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/"))) + ["UTC"]


# --- plumbing ---------------------------------------------------------------------------------
@bp.after_request
def _headers(resp: WerkzeugResponse) -> WerkzeugResponse:
    for name, value in _HEADERS.items():
        resp.headers[name] = value
    cookie = getattr(g, "booking_new_cookie", None)
    if cookie:
        resp.set_cookie(CSRF_COOKIE, cookie, path=COOKIE_PATH, httponly=True, samesite="Strict",
                        secure=request.is_secure or services().scheduling.hub.settings.public_url.startswith("https://"))
    return resp


def _browser_secret() -> str:
    secret = request.cookies.get(CSRF_COOKIE) or getattr(g, "booking_new_cookie", None)
    if not secret:
        secret = g.booking_new_cookie = secrets.token_urlsafe(24)
    return secret


def csrf_token(token: str) -> str:
    secret = current_app.secret_key
    key = secret if isinstance(secret, bytes) else str(secret).encode()
    return hmac.new(key, f"book:{_browser_secret()}:{token}".encode(), hashlib.sha256).hexdigest()


def _csrf_ok(token: str) -> bool:
    submitted = request.form.get("csrf_token") or ""
    return bool(request.cookies.get(CSRF_COOKIE)) and hmac.compare_digest(csrf_token(token).encode(), submitted.encode())


def _message(title: str, text: str, status: int, code: str | None = None):
    return render_template("booking_message.html", title=title, text=text, code=code), status


def _ended(error: HubError):
    status = error.extra.get("request_status", "expired")
    title, text = ENDED_TEXT.get(status, ENDED_TEXT["expired"])
    return _message(title, text, 410, code="request_ended")


def _resolve(token: str) -> tuple[str, str, str]:
    return services().candidates.resolve_token(token)


def _zone(overview: dict[str, Any]) -> tuple[str, str | None]:
    """The zone to show times in: ?timezone= (the select, or the browser's guess), else the
    candidate's, else UTC. A bad value is ignored with a note, never an error page."""
    wanted = request.args.get("timezone") or request.form.get("timezone")
    if wanted:
        if wanted in available_timezones():
            return wanted, None
        return overview["candidate"].get("timezone") or "UTC", "That time zone is not known; showing another."
    return overview["candidate"].get("timezone") or "UTC", None


def _zone_guess_wanted(overview: dict[str, Any]) -> bool:
    """No zone from the request nor the select: the page asks the browser for its own."""
    return not (request.args.get("timezone") or overview["candidate"].get("timezone"))


def _when(moment: datetime, zone: str) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%A %-d %B %Y, %H:%M} ({zone})"


def _days(slots: list[dict[str, Any]], zone: str) -> list[dict[str, Any]]:
    days: dict[str, dict[str, Any]] = {}
    tz = ZoneInfo(zone)
    for s in slots:
        start, end = aware_time(s["start"]).astimezone(tz), aware_time(s["end"]).astimezone(tz)
        day = days.setdefault(start.date().isoformat(), {"label": f"{start:%A %-d %B %Y}", "slots": []})
        day["slots"].append({"value": s.get("id") or _iso(s["start"]), "label": f"{start:%H:%M}–{end:%H:%M}",
                             "odd_hour": s["odd_hour"]})
    return list(days.values())


def _iso(value: Any) -> str:
    return aware_time(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _slot_args(choice: str) -> dict[str, Any]:
    if choice.endswith("Z") and "T" in choice:
        try:
            return {"start": aware_time(choice)}
        except ValueError:
            return {"slot_id": choice}
    return {"slot_id": choice}


# --- pages ------------------------------------------------------------------------------------
@bp.get("/book/<token>")
def page(token: str):
    try:
        tenant, request_id, candidate_id = _resolve(token)
    except HubError as error:
        return _refused(error)
    actions = services().candidates
    overview = actions.overview(tenant, request_id, candidate_id)
    zone, zone_note = _zone(overview)
    action = request.args.get("action", "")
    context: dict[str, Any] = {"token": token, "o": overview, "zone": zone, "zone_note": zone_note, "zones": zones(),
                               "csrf": csrf_token(token), "action": action, "notice": PLAIN.get(request.args.get("notice", "")),
                               "zone_guess": _zone_guess_wanted(overview)}
    try:
        return _render(tenant, request_id, candidate_id, context)
    except HubError as error:  # ended meanwhile, or a calendar could not be read for the slots
        return _failed(error)


def _failed(error: HubError):
    if error.code == "request_ended":
        return _ended(error)
    log.info("booking_page_failed", code=error.code)
    return _message("Something went wrong", error.detail, 502 if isinstance(error, ProviderFailed) else 409,
                    code=error.code)


def _render(tenant: str, request_id: str, candidate_id: str, context: dict[str, Any], status: int = 200):
    actions = services().candidates
    overview, zone, action = context["o"], context["zone"], context["action"]
    cand = overview["candidate"]
    booked = cand["status"] == "booked"
    context["state"] = cand["status"]
    if booked:
        slot = cand["slot"]
        start = aware_time(slot["start"])
        context["booked_local"] = _when(start, zone)
        context["booked_organizer"] = _when(start, overview["organizer_timezone"])
        event = services().events.get(tenant, cand["event_id"]) if cand.get("event_id") else None
        context["join_url"] = ((event or {}).get("conferencing") or {}).get("join_url")
    show_slots = ((not booked and cand["status"] == "invited" and action != "decline")
                  or action in ("accept", "reschedule"))
    if action == "decline" and not booked:
        show_slots = False
    if show_slots:
        listed = actions.slots(tenant, request_id, candidate_id, zone)
        context["days"] = _days(listed["slots"], zone)
        choice = request.args.get("slot")
        if choice:
            picked = next((s for d in context["days"] for s in d["slots"] if s["value"] == choice), None)
            if picked is None:
                context["notice"] = PLAIN["slot_not_found"]
            else:
                context["picked"] = picked
                context["picked_day"] = next(d["label"] for d in context["days"] if picked in d["slots"])
    context["show_slots"] = show_slots
    return render_template("booking_page.html", **context), status


@bp.post("/book/<token>/book")
def book(token: str):
    return _act(token, "book")


@bp.post("/book/<token>/decline")
def decline(token: str):
    return _act(token, "decline")


@bp.post("/book/<token>/cancel")
def cancel(token: str):
    return _act(token, "cancel")


def _act(token: str, what: str):
    try:
        tenant, request_id, candidate_id = _resolve(token)
    except HubError as error:
        return _refused(error)
    if not _csrf_ok(token):
        return _message("This form has expired", "Please go back, reload the page and try again.", 400, code="csrf_failed")
    actions = services().candidates
    zone = request.form.get("timezone") or ""
    back: dict[str, str] = {"timezone": zone} if zone else {}
    try:
        if what == "book":
            args = _slot_args(request.form.get("slot", ""))
            overview = actions.overview(tenant, request_id, candidate_id)
            if overview["candidate"]["status"] == "booked":
                actions.reschedule(tenant, request_id, candidate_id, reason="Rescheduled on the booking page", **args)
            else:
                actions.book(tenant, request_id, candidate_id, **args)
        elif what == "decline":
            actions.decline(tenant, request_id, candidate_id, request.form.get("reason", ""))
        else:
            actions.cancel(tenant, request_id, candidate_id, request.form.get("reason", ""))
    except HubError as error:
        if error.code not in PLAIN:
            return _failed(error)
        overview = actions.overview(tenant, request_id, candidate_id)
        zone_, _ = _zone(overview)
        action = {"decline": "decline", "cancel": "cancel"}.get(what, "reschedule" if
                                                                 overview["candidate"]["status"] == "booked" else "")
        context = {"token": token, "o": overview, "zone": zone_, "zone_note": None, "zones": zones(),
                   "csrf": csrf_token(token), "action": action, "notice": PLAIN[error.code],
                   "error": error.code == "reason_required"}
        try:
            return _render(tenant, request_id, candidate_id, context,
                           status=422 if error.code == "reason_required" else 409)
        except HubError as again:
            return _failed(again)
    query = ("?" + urlencode(back)) if back else ""
    return redirect(url_for("booking.page", token=token) + query, code=303)


@bp.get("/book/<token>/invite.ics")
def invite_ics(token: str):
    try:
        tenant, request_id, candidate_id = _resolve(token)
    except HubError as error:
        return _refused(error)
    overview = services().candidates.overview(tenant, request_id, candidate_id)
    if not overview["bookings"] or overview["candidate"]["status"] == "invited":
        return _message("Nothing to add to your calendar yet", "Pick a time first.", 404, code="not_booked")
    cand = overview["candidate"]
    event = services().events.get(tenant, cand["event_id"]) if cand.get("event_id") else None
    body = invite(overview, event, page_url=request.url_root.rstrip("/") + url_for("booking.page", token=token),
                  now=datetime.now(UTC))
    return body, 200, {"Content-Type": "text/calendar; charset=utf-8",
                       "Content-Disposition": 'attachment; filename="interview.ics"'}


def _refused(error: HubError):
    if error.code == "request_ended":
        return _ended(error)
    title, text = NOT_FOUND
    return _message(title, text, 404)

