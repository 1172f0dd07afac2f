"""Flask views for the OAuth endpoints, generic over providers.

An emulator mounts them at its provider's real paths, e.g. Google::

    bp.add_url_rule("/o/oauth2/v2/auth", view_func=authorization_endpoint(self), methods=["GET", "POST"])
    bp.add_url_rule("/token", view_func=token_endpoint(self), methods=["POST"])

Microsoft would mount the same views under ``/<tenant>/oauth2/v2.0/authorize`` and ``/token``
(the views accept and ignore extra URL variables such as ``tenant``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from flask import Response, jsonify, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from .consent_page import render_consent_page, render_error_page
from .oauth_dialect import OAuthError, OAuthErrorKind

if TYPE_CHECKING:
    from .emulator import ProviderEmulator

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def add_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def _html(text: str, status: int = 200) -> Response:
    return Response(text, status=status, mimetype="text/html")


def _chosen_scopes(form) -> list[str] | None:
    values = form.getlist("scope")
    if not values and not form.get("scope_form"):
        return None  # a script that does not say which scopes grants all of them
    return [s for value in values for s in value.split()]


def authorization_endpoint(emulator: "ProviderEmulator") -> Callable[..., BaseResponse]:
    oauth, dialect = emulator.oauth, emulator.oauth.dialect

    def view(**_url_vars: Any) -> BaseResponse:
        try:
            auth_request = oauth.check_authorization_request(request.args)
        except OAuthError as err:
            code, message = dialect.authorization_error(err)
            return _html(
                render_error_page(provider_title=dialect.title, status=400, code=code, message=message), 400
            )

        def consent_page(error: str | None = None, status: int = 200) -> Response:
            return _html(
                render_consent_page(
                    provider_title=dialect.title,
                    client_id=auth_request.client_id,
                    action_url=request.script_root + (request.full_path if request.query_string else request.path),
                    scopes=auth_request.scopes,
                    scope_descriptions=dialect.scope_descriptions,
                    accounts=emulator.ctx.state.accounts(emulator.name),
                    login_hint=auth_request.login_hint,
                    error=error,
                ),
                status,
            )

        if request.method == "GET":
            return consent_page()
        decision = request.form.get("decision")
        if decision == "deny":
            return redirect(add_query(auth_request.redirect_uri, dialect.denial_response(auth_request)), 302)
        if decision != "allow":
            return consent_page("Choose Allow or Deny.", 400)
        email = request.form.get("account", "").strip()
        if not _EMAIL.match(email):
            return consent_page("Enter the email address of an account.", 400)
        account = emulator.ctx.state.ensure_account(emulator.name, email)
        selected = dialect.select_scopes(auth_request, _chosen_scopes(request.form))
        code, scopes = oauth.issue_code(auth_request, account.email, selected)
        params = dialect.authorization_response(auth_request, code, scopes)
        return redirect(add_query(auth_request.redirect_uri, params), 302)

    return view


def _basic_credentials() -> tuple[str, str] | None:
    auth = request.authorization
    if auth is None or auth.type != "basic":
        return None
    # RFC 6749 2.3.1: id and secret are form-urlencoded before going into the Basic header.
    return unquote_plus(auth.username or ""), unquote_plus(auth.password or "")


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def oauth_error_response(emulator: "ProviderEmulator", error: OAuthError) -> Response:
    status, body, headers = emulator.oauth.dialect.error_response(error)
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers)
    return _no_store(response)


def token_endpoint(emulator: "ProviderEmulator") -> Callable[..., Response]:
    oauth, dialect = emulator.oauth, emulator.oauth.dialect

    def view(**_url_vars: Any) -> Response:
        try:
            client = oauth.authenticate_client(request.form, _basic_credentials())
            grant_type = request.form.get("grant_type", "")
            if grant_type == "authorization_code" and grant_type in dialect.grant_types:
                issued = oauth.exchange_code(client, request.form)
            elif grant_type == "refresh_token" and grant_type in dialect.grant_types:
                issued = oauth.refresh(client, request.form)
            elif grant_type in dialect.grant_types:
                issued = emulator.extra_grant(grant_type, client, request.form)
            else:
                raise OAuthError(OAuthErrorKind.UNSUPPORTED_GRANT_TYPE, f"Invalid grant_type: {grant_type}")
        except OAuthError as err:
            return oauth_error_response(emulator, err)
        return _no_store(jsonify(dialect.token_response(issued, grant_type)))

    return view


def revocation_endpoint(emulator: "ProviderEmulator") -> Callable[..., Response]:
    oauth, dialect = emulator.oauth, emulator.oauth.dialect

    def view(**_url_vars: Any) -> Response:
        try:
            if dialect.revoke_requires_client_auth:
                oauth.authenticate_client(request.form, _basic_credentials())
            token = request.args.get("token") or request.form.get("token", "")
            if not oauth.revoke(token):
                raise OAuthError(OAuthErrorKind.REVOKE_TOKEN_INVALID, "Token expired or revoked")
        except OAuthError as err:
            return oauth_error_response(emulator, err)
        status, body = dialect.revoke_response()
        response = jsonify(body)
        response.status_code = status
        return response

    return view


def jwks_endpoint(emulator: "ProviderEmulator") -> Callable[..., Response]:
    def view(**_url_vars: Any) -> Response:
        return jsonify(emulator.ctx.signing_key.jwks())

    return view
