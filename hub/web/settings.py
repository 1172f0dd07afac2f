"""The settings page: where a person connects calendars and conferencing, picks a default video
meeting and edits time zone and working hours.

Entered through a settings link (`GET /settings/enter/<token>`), then a server-side session:
the cookie holds a random token, every form carries a CSRF token derived from it, and every
query is scoped to the session's own tenant and user — ids from a form are looked up *within*
that user's data, so another person's id simply does not exist here (404).

All failures render a page a person can read (never problem+json, never a stack trace).
"""
from __future__ import annotations

from functools import lru_cache
from zoneinfo import available_timezones

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from hub.api.context import hub, services
from hub.api.routing import validation_errors
from hub.api.schemas import UserIn
from hub.errors import HubError
from hub.logs import get_logger
from hub.problems import Problem, problem_of
from hub.services import connections as connection_service
from hub.services import users as user_service
from hub.services.directory import user_connections
from hub.services.explanations import explain
from hub.services.settings_access import LinkRefused, SessionView, SettingsAccess
from hub.storage.models import Connection, User
from hub.web import settings_view as view
from hub.web.settings_forms import (
    DAYS,
    FormErrors,
    add_api_error,
    form_values,
    read_hours_form,
)
from providers import registry

bp = Blueprint("settings", __name__)
log = get_logger(__name__)

COOKIE = "hub_settings"
COOKIE_PATH = "/settings"

# No scripts, nothing from elsewhere. No form-action: Chrome applies it to the redirects after
# a submit, and Connect must redirect to the provider's consent page.
_CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
        "frame-ancestors 'none'")

_LINK_PAGES = {
    "link_invalid": (404, "This link does not work",
                     "The link is incomplete or was changed. Copy the whole link, or ask the application "
                     "that sent it for a new one."),
    "link_used": (410, "This link was already used",
                  "For your security a settings link works once. Ask the application that sent it for a "
                  "new link."),
    "link_expired": (410, "This link has expired",
                     "Settings links work for 15 minutes. Ask the application that sent it for a new link."),
}


class SessionMissing(Exception):
    """No live settings session for this browser."""


class CsrfFailed(Exception):
    """A form without this session's CSRF token."""


def access() -> SettingsAccess:
    return SettingsAccess.for_hub(hub(), current_app.secret_key)


# --- entering ---------------------------------------------------------------------------------
@bp.get("/settings/enter/<token>")
def enter(token: str):
    if request.method == "HEAD":
        # Mail scanners and link previews probe with HEAD: that must not spend the link.
        return Response(status=200, headers={"Referrer-Policy": "no-referrer"})
    gate = access()
    try:
        opened = gate.open_link(token)
    except LinkRefused as refused:
        current = gate.session_for(request.cookies.get(COOKIE))
        if refused.code == "link_used" and current is not None and current.link_id == refused.link_id:
            # The same browser opening its own link again (a reload, a second click): let it in.
            return _no_referrer(redirect(url_for("settings.page"), code=303))
        status, title, text = _LINK_PAGES[refused.code]
        log.info("settings_link_refused", code=refused.code)
        return _no_referrer(_message(title, text, status, code=refused.code, return_url=refused.return_url))
    old = gate.session_for(request.cookies.get(COOKIE))
    if old is not None:
        gate.end_session(old.session_id)  # one browser, one person at a time
    resp = _no_referrer(redirect(url_for("settings.page"), code=303))
    resp.set_cookie(COOKIE, opened.token, path=COOKIE_PATH, httponly=True, samesite="Lax",
                    secure=_https())
    return resp


def _https() -> bool:
    # Behind a TLS-terminating proxy the request itself may look like http; public_url knows.
    return request.is_secure or hub().settings.public_url.startswith("https://")


def _no_referrer(resp: WerkzeugResponse) -> WerkzeugResponse:
    # The entry URL is a credential until it is spent: never leak it in a Referer header.
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


# --- the page ---------------------------------------------------------------------------------
def current() -> SessionView:
    token = request.cookies.get(COOKIE)
    found = access().session_for(token)
    if found is None:
        raise SessionMissing()
    g.settings_token = token
    return found


def _csrf_checked() -> SessionView:
    me = current()
    if not SettingsAccess.csrf_valid(g.settings_token, request.form.get("csrf_token")):
        raise CsrfFailed()
    return me


def _load(me: SessionView) -> tuple[User, list[Connection]]:
    with hub().db.session() as session:
        user = session.get(User, me.user_pk)
        if user is None or user.tenant_id != me.tenant_id:
            raise SessionMissing()
        return user, user_connections(session, user)


def _own_connection(me: SessionView, connection_id: str | None) -> Connection:
    """A connection of the signed-in person, or 404: an id of anyone else is not found here."""
    with hub().db.session() as session:
        conn = session.get(Connection, connection_id or "")
        if conn is None or conn.tenant_id != me.tenant_id or conn.user_id != me.user_pk:
            raise Problem(404, "connection_not_found", "Connection not found",
                          "That connection is not one of yours, or it was already removed.")
        return conn


@bp.get("/settings")
def page():
    me = current()
    return _render_page(me)


def _render_page(me: SessionView, *, hours_form: dict[str, str] | None = None,
                 hours_errors: FormErrors | None = None, conferencing_value: str | None = None,
                 conferencing_errors: FormErrors | None = None, status: int = 200):
    user, connections = _load(me)
    zone = (user.working_hours or {}).get("timezone") or user.timezone or "UTC"
    current_conf = conferencing_value or user.default_conferencing or "default"
    options = view.conferencing_options(connections, current_conf)
    has_calendar = any("calendar" in (c.capabilities or []) for c in connections)
    model = view.PageModel(
        user=user, cards=view.provider_cards(connections), conferencing=options,
        conferencing_current=current_conf,
        conferencing_warning=view.conferencing_warning(options, current_conf),
        notice=None if (hours_errors or conferencing_errors) else view.return_notice(request.args, connections),
        hours=hours_form or view_hours(user), hours_errors=hours_errors or FormErrors(),
        conferencing_errors=conferencing_errors or FormErrors(), zone=zone,
        overrides=view.overrides_count(user.working_hours),
        no_calendar=None if has_calendar else explain("organizer_not_connected"),
        return_url=me.return_url, csrf=SettingsAccess.csrf_token(g.settings_token),
        zones=_zones())
    return render_template("settings_page.html", m=model, days=DAYS,
                           local_time=lambda value: view.local_time(value, zone)), status


def view_hours(user: User) -> dict[str, str]:
    return form_values(user.working_hours, user.timezone)


@lru_cache(maxsize=1)
def _zones() -> list[str]:
    # Suggestions for the time-zone field; the parser still has the last word.
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))


# --- forms ------------------------------------------------------------------------------------
@bp.post("/settings/connect")
def connect():
    me = _csrf_checked()
    provider = request.form.get("provider", "")
    if provider not in registry.PROVIDERS:
        raise Problem(404, "provider_unavailable", "Provider not available",
                      "That provider cannot be connected on this hub.")
    hint = None
    if request.form.get("connection_id"):
        # Reconnect: the same account, so its tokens are replaced in place (same connection id).
        conn = _own_connection(me, request.form["connection_id"])
        if conn.provider != provider:
            raise Problem(404, "connection_not_found", "Connection not found",
                          "That connection belongs to another provider.")
        hint = conn.account_email
    user, _ = _load(me)
    back = hub().settings.public_url.rstrip("/") + url_for("settings.page")
    link = services().connect.create_link(me.tenant_id, user, provider, back, hint)
    log.info("settings_connect_started", provider=provider, reconnect=hint is not None)
    return redirect(link.url, code=303)


@bp.post("/settings/disconnect")
def disconnect():
    me = _csrf_checked()
    conn = _own_connection(me, request.form.get("connection_id"))
    connection_service.delete_connection(hub(), me.tenant_id, conn.id)
    log.info("settings_disconnected", provider=conn.provider, connection_id=conn.id)
    return redirect(url_for("settings.page", notice="disconnected", provider=conn.provider) + "#connections",
                    code=303)


@bp.post("/settings/conferencing")
def conferencing():
    me = _csrf_checked()
    choice = request.form.get("default_conferencing", "")
    user, _ = _load(me)
    errors = FormErrors()
    try:
        body = UserIn(email=user.email, default_conferencing=choice)
    except ValidationError as exc:
        for err in validation_errors(exc):
            add_api_error(errors, err["field"], err["message"])
        return _render_page(me, conferencing_value=choice, conferencing_errors=errors, status=422)
    _save(me, user, body, errors)
    if errors:
        return _render_page(me, conferencing_value=choice, conferencing_errors=errors, status=422)
    return redirect(url_for("settings.page", notice="conferencing_saved") + "#conferencing", code=303)


@bp.post("/settings/hours")
def hours():
    me = _csrf_checked()
    user, _ = _load(me)
    submitted = {"timezone": request.form.get("timezone", "")}
    submitted.update({f"hours_{day}": request.form.get(f"hours_{day}", "") for day, _ in DAYS})
    update, errors = read_hours_form(submitted, user.working_hours, services().parse_working_hours)
    if update is not None:
        try:
            body = UserIn(email=user.email, timezone=update.timezone, working_hours=update.working_hours)
        except ValidationError as exc:
            for err in validation_errors(exc):
                add_api_error(errors, err["field"], err["message"])
        else:
            _save(me, user, body, errors)
    if errors:
        # Everything typed comes back as typed, with each message next to its field.
        return _render_page(me, hours_form=submitted, hours_errors=errors, status=422)
    return redirect(url_for("settings.page", notice="hours_saved") + "#hours", code=303)


def _save(me: SessionView, user: User, body: UserIn, errors: FormErrors) -> None:
    """The same upsert `PUT /v1/users/{id}` runs, so the page cannot store what the API would
    refuse."""
    try:
        user_service.upsert_user(hub().db, me.tenant_id, user.external_id, body,
                                 services().parse_working_hours)
    except HubError as problem:
        for err in problem.errors or [{"field": "", "message": problem.detail}]:
            add_api_error(errors, err.get("field", ""), err.get("message", ""))


@bp.post("/settings/sign-out")
def sign_out():
    me = _csrf_checked()
    access().end_session(me.session_id)
    resp = _message("You are signed out", "To change your settings again, open a new settings link from "
                    "the application that sent you here.", 200, return_url=me.return_url)
    resp.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="Lax", secure=_https())
    return resp


@bp.route("/settings/<path:_rest>", methods=["GET", "POST"])
def unknown(_rest: str):
    return _message("Page not found", "There is nothing at this address. Open your settings link again.", 404)


# --- friendly failures ------------------------------------------------------------------------
def _message(title: str, text: str, status: int, *, code: str | None = None,
             return_url: str | None = None) -> Response:
    resp = current_app.make_response(render_template("settings_message.html", title=title, text=text,
                                                     code=code, return_url=return_url))
    resp.status_code = status
    return resp


@bp.errorhandler(SessionMissing)
def _session_missing(_exc: SessionMissing):
    resp = _message("Your settings session has ended",
                    "Open the settings link from the application that sent you here again. Links work "
                    "once and for 15 minutes; a session lasts a few hours.", 403, code="session_missing")
    resp.delete_cookie(COOKIE, path=COOKIE_PATH)
    return resp


@bp.errorhandler(CsrfFailed)
def _csrf_failed(_exc: CsrfFailed):
    return _message("This form could not be sent",
                    "The page was out of date or came from somewhere else. Go back to your settings, "
                    "reload the page and try again.", 403, code="csrf_failed")


@bp.errorhandler(Problem)
def _problem(problem: Problem):
    return _message(problem.title, problem.detail, problem.status, code=problem.code)


@bp.errorhandler(HubError)
def _domain(err: HubError):
    return _problem(problem_of(err))


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException):
    return _message(exc.name, "The request could not be handled. Go back to your settings and try again.",
                    exc.code or 400)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception):
    # The type only: the message may quote a token or form data.
    log.error("settings_unhandled_error", error=type(exc).__name__, path=request.path)
    return _message("Something went wrong",
                    "The hub failed unexpectedly. Nothing was changed unless the page said so. Try again "
                    "in a moment.", 500, code="internal_error")


@bp.after_request
def _headers(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Content-Security-Policy"] = _CSP
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    return resp

