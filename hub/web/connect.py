"""Browser side of connecting: open a connect link, come back from the provider's consent — or,
for providers that sign in with a credential form, fill in the form the link shows."""
from __future__ import annotations

import hashlib
import secrets

from flask import Blueprint, redirect, render_template, request

from hub.api.context import services
from hub.logs import get_logger
from oauth.connect import ConnectOutcome, FormStep, LinkProblem
from providers import registry

bp = Blueprint("connect", __name__)
log = get_logger(__name__)
# One cookie per open flow (two tabs may connect two providers at once), sent only to the callback.
BINDING_COOKIE = "hub_oauth_"
CALLBACK_PATH = "/oauth/callback/"
BINDING_MAX_AGE = 2 * 3600  # outlives the link's 15 minutes plus a slow consent screen


@bp.get("/connect/<token>")
def open_link(token: str):
    if request.method == "HEAD":
        # Mail scanners and link previews probe with HEAD: that must not spend the link.
        return "", 200, {"Referrer-Policy": "no-referrer"}
    binding = secrets.token_urlsafe(32)
    try:
        step = services().connect.open_link(token, browser_secret=binding)
    except LinkProblem as problem:
        return _link_problem(problem)
    if isinstance(step, FormStep):
        return _form(step)
    resp = redirect(step, code=302)
    # SameSite=Lax: the provider's redirect back is a top-level GET, which carries it.
    resp.set_cookie(BINDING_COOKIE + hashlib.sha256(binding.encode()).hexdigest()[:12], binding,
                    max_age=BINDING_MAX_AGE, path=CALLBACK_PATH, httponly=True, samesite="Lax",
                    secure=request.is_secure or services().connect.public_url.startswith("https://"))
    return resp


@bp.post("/connect/<token>")
def submit_form(token: str):
    try:
        step = services().connect.submit_form(token, request.form.get("state"), request.form.to_dict())
    except LinkProblem as problem:
        return _link_problem(problem)
    if isinstance(step, FormStep):
        log.info("connect_form_refused", provider=step.form.provider,
                 cause=step.error.cause if step.error else None)
        return _form(step, status=422)
    log.info("connect_finished", provider=step.provider, status=step.status, outcome=step.code,
             connection_id=step.connection_id)
    return _result(step)


def _link_problem(problem: LinkProblem):
    status = 410 if problem.code in ("link_used", "link_expired") else 404 if problem.code == "link_invalid" else 400
    return _result(ConnectOutcome("error", problem.code, problem.message, return_url=problem.return_url),
                   status=status)


def _form(step: FormStep, status: int = 200):
    response = render_template("connect_form.html", step=step, fix=step.form.fix_for(step.error))
    # The form holds a CSRF state and asks for a password: never cached, never framed.
    return response, status, {"Cache-Control": "no-store", "X-Frame-Options": "DENY",
                              "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
                              "Referrer-Policy": "no-referrer"}


@bp.get("/oauth/callback/<provider>")
def callback(provider: str):
    if provider not in registry.PROVIDERS:
        return _result(ConnectOutcome("error", "provider_unknown", "Unknown provider."), status=404)
    try:
        outcome = services().connect.complete(provider, request.args.get("state"), request.args.get("code"),
                                              request.args.get("error"), browser_secrets=[
                                                  v for k, v in request.cookies.items() if k.startswith(BINDING_COOKIE)])
    except LinkProblem as problem:
        return _result(ConnectOutcome("error", problem.code, problem.message, return_url=problem.return_url),
                       status=400)
    log.info("connect_finished", provider=provider, status=outcome.status, outcome=outcome.code,
             connection_id=outcome.connection_id)
    return _result(outcome)


def _result(outcome: ConnectOutcome, status: int = 200):
    target = outcome.redirect_url()
    if target:
        return redirect(target, code=302)
    return render_template("connect_result.html", outcome=outcome), (status if outcome.status == "error" else 200)
