"""What diagnostics needs to know about Zoom (the shape is described in providers/probes.py).

One probe: ``GET /v2/users/me`` says whose token it is and the user's `type`, which decides
whether they may host meetings at all (a user without a meetings product cannot) — asked before
an interview is booked rather than learned from a 3161 when it is.
https://developers.zoom.us/docs/api/users/#tag/users/GET/users/{userId}
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from providers.base import CalendarProvider, ConferencingProvider, ErrorKind, ProviderConfig, ProviderError
from providers.probes import (CONFERENCING, IDENTITY, WARN, Explained, Finding, Probe, Subject,
                              body_mapping, error_detail)
from providers.zoom.errors import (API_CODES, OAUTH_CODES, PROVIDER, classify_api_error,
                                   classify_token_error)


# Zoom's documentation has said both 90 days and 15 years for an unused refresh token [?]
# (PROVIDERS.md): without a reliable figure the hub does not claim "expired after inactivity".
INACTIVITY_LIMIT: timedelta | None = None

SUPERSEDED_NOTE = ("Zoom keeps only the newest authorization of a Zoom user: this connection stopped "
                   "because the same Zoom login was authorized again — often by a second person sharing "
                   "it (credentials_shared). Diagnose the user to see whether another hub user holds it.")


def consent_lifetime(config: ProviderConfig) -> timedelta | None:
    del config
    return None


def probes(config: ProviderConfig, calendar: CalendarProvider | None,
           conferencing: ConferencingProvider | None) -> list[Probe]:
    del config, calendar
    if conferencing is None:
        return []
    return [Probe("zoom.users_me", (IDENTITY, CONFERENCING), lambda token, subject: _me(conferencing, token, subject))]


def _me(zoom: ConferencingProvider, token: str, subject: Subject) -> list[Finding]:
    me = getattr(zoom, "me", None)
    try:
        if me is None:  # a stand-in adapter: only the port's answer is available
            can_host = zoom.can_host(token)
            user = None
        else:
            user = me(token)
            can_host = user.can_host
    except ProviderError as err:
        return [Finding.from_error(IDENTITY, err, "Reading the Zoom user (GET /users/me)")]
    found: list[Finding] = []
    if user is not None and user.id != subject.account_id:
        found.append(Finding(IDENTITY, WARN, "The token belongs to a different Zoom user than the one connected.",
                             f"users/me id {user.id!r}, stored {subject.account_id!r}"))
    else:
        who = (user.email if user else None) or subject.account_email or subject.account_id
        found.append(Finding.passed(IDENTITY, f"Signed in to Zoom as {who}.",
                                    f"users/me: id {subject.account_id}" + (f", type {user.type}" if user else "")))
    if can_host:
        found.append(Finding.passed(CONFERENCING, "This Zoom user may host meetings.",
                                    f"users/me type {user.type if user else '?'} (1 Basic, 2 Licensed)"))
    else:
        found.append(Finding.failed(CONFERENCING, "zoom_cannot_host", "This Zoom user cannot host meetings.",
                                    f"users/me type {user.type if user else '?'}: no meetings product "
                                    "(creating a meeting would answer 3161)"))
    return found


def explain(http_status: int | None, body: Any) -> Explained:
    data, text = body_mapping(body)
    if data is None and text and "Invalid Token!" in text:
        data = {"reason": "Invalid Token!", "error": "invalid_grant"}
    if data is None:
        return Explained(None, {"provider": PROVIDER, "http_status": http_status, "format": "text" if text else "none"})
    code = _int(data.get("code"))
    token_shaped = isinstance(data.get("error"), str) or "reason" in data
    if token_shaped or (code in OAUTH_CODES and code not in API_CODES):
        # Token endpoint: {"reason": "Invalid Token!", "error": "invalid_grant"} (sometimes a code)
        err = classify_token_error(http_status, data)
        recognised = {"provider": PROVIDER, "shape": "oauth_token_error", "http_status": http_status,
                      "error": data.get("error"), "reason": data.get("reason"), "code": code}
        note = SUPERSEDED_NOTE if err.cause == "zoom_token_revoked" else error_detail(err, "Zoom OAuth")
        return Explained(None if err.kind is ErrorKind.UNKNOWN else err, recognised, note)
    if code is not None or "message" in data:  # API v2: {"code": N, "message": "…"}
        status = http_status or 0
        err = classify_api_error(status, data)
        recognised = {"provider": PROVIDER, "shape": "api_error", "http_status": http_status, "code": code,
                      "message": data.get("message")}
        return Explained(None if err.kind is ErrorKind.UNKNOWN else err, recognised, error_detail(err, "Zoom API"))
    return Explained(None, {"provider": PROVIDER, "http_status": http_status, "format": "json",
                            "fields": sorted(str(k) for k in data)})


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None
