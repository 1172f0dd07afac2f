"""What diagnostics needs to know about Google (the shape is described in providers/probes.py).

Two probes, run at the same time with a freshly refreshed access token:
- tokeninfo: whose token it is (`sub`) and which scopes it really carries — a grant can hold
  fewer scopes than the hub asked for (unticked on the consent screen, or an install from
  before a scope was needed), and only tokeninfo says so before a write fails;
- the primary calendar (calendars.get): readable at all, and
  `conferenceProperties.allowedConferenceSolutionTypes` says whether Meet is allowed.
https://developers.google.com/identity/protocols/oauth2  (tokeninfo, refresh-token expiry)
https://developers.google.com/calendar/api/v3/reference/calendars#resource
"""
from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Mapping

import requests

from providers.base import CalendarProvider, ConferencingProvider, ErrorKind, ProviderConfig, ProviderError
from providers.google import endpoints as google_endpoints
from providers.google.errors import (PROVIDER, classify_api_error, classify_token_error,
                                     first_reason)
from providers.probes import (CALENDAR, CONFERENCING, IDENTITY, SCOPES, WARN, Explained, Finding,
                              Probe, Subject, body_mapping, error_detail)


MEET = "hangoutsMeet"
# "A refresh token that has not been used for six months" is dead.
# https://developers.google.com/identity/protocols/oauth2#expiration
INACTIVITY_LIMIT: timedelta | None = timedelta(days=183)
# "A Google Cloud Platform project with an OAuth consent screen configured for an external user
# type and a publishing status of 'Testing' is issued a refresh token expiring in 7 days".
TESTING_APP_LIFETIME = timedelta(days=7)

INVALID_GRANT_NOTE = ("Google answers this same body when access was removed by the person or an "
                      "administrator, when the connection went unused for six months, when the hub's "
                      "app is in Testing status (seven days after consent), after a password change "
                      "(Gmail scopes only) or when too many connections exist for one account. "
                      "Diagnose the user (GET /v1/diagnostics/users/{id}) to learn which.")


def consent_lifetime(config: ProviderConfig) -> timedelta | None:
    return TESTING_APP_LIFETIME if config.get("app_status").strip().lower() == "testing" else None


def probes(config: ProviderConfig, calendar: CalendarProvider | None,
           conferencing: ConferencingProvider | None) -> list[Probe]:
    del conferencing  # Google's conferencing is Meet, read from the calendar
    endpoints = google_endpoints(config)
    # tokeninfo lives next to the token endpoint at Google (oauth2.googleapis.com) and in the
    # sandbox (<sandbox>/google), so it is derived rather than configured separately.
    tokeninfo_url = re.sub(r"/token$", "/tokeninfo", endpoints.token_url)
    timeout = config.timeout
    out = [Probe("google.tokeninfo", (IDENTITY, SCOPES),
                 lambda token, subject: _tokeninfo(tokeninfo_url, timeout, token, subject))]
    if calendar is not None:
        out.append(Probe("google.primary_calendar", (CALENDAR, CONFERENCING),
                         lambda token, subject: _primary_calendar(calendar, token)))
    return out


def _tokeninfo(url: str, timeout: float, token: str, subject: Subject) -> list[Finding]:
    try:
        with requests.Session() as http:
            http.trust_env = False  # no proxy may see the token
            # POST body, not the query: URLs end up in proxy and server logs.
            resp = http.post(url, data={"access_token": token}, timeout=timeout)
    except requests.RequestException as exc:
        err = ProviderError(ErrorKind.PROVIDER_DOWN, f"Google unreachable: {type(exc).__name__}",
                            provider=PROVIDER, cause="provider_unavailable")
        return [Finding.from_error(IDENTITY, err, "Reading the token's owner and scopes (tokeninfo)")]
    try:
        info = resp.json() if resp.content else {}
    except ValueError:
        info = {}
    if resp.status_code != 200:
        err = _tokeninfo_error(resp.status_code, info if isinstance(info, dict) else {})
        return [Finding.from_error(IDENTITY, err, "Reading the token's owner and scopes (tokeninfo)")]
    granted = sorted(str(info.get("scope") or "").split())
    who = info.get("email") or subject.account_email or subject.account_id
    if str(info.get("sub") or "") != subject.account_id:
        identity = Finding(IDENTITY, WARN, "The token belongs to a different Google account than the one "
                           "connected.", f"tokeninfo sub {info.get('sub')!r}, stored account "
                           f"{subject.account_id!r}; reconnecting stores the right one.")
    else:
        identity = Finding.passed(IDENTITY, f"Signed in to Google as {who}.",
                                  f"tokeninfo: sub {subject.account_id}, access token expires in "
                                  f"{info.get('expires_in', '?')} s")
    return [identity, Finding.passed(SCOPES, "Permissions read from Google.",
                                     "tokeninfo scope: " + " ".join(granted), granted_scopes=granted)]


def _tokeninfo_error(status: int, body: Mapping[str, Any]) -> ProviderError:
    if status == 429:
        return ProviderError(ErrorKind.RATE_LIMITED, "tokeninfo rate limited", provider=PROVIDER,
                             cause="rate_limited", http_status=status)
    if status >= 500:
        return ProviderError(ErrorKind.PROVIDER_DOWN, "tokeninfo unavailable", provider=PROVIDER,
                             cause="provider_unavailable", http_status=status)
    # 400 invalid_token: Google does not accept the access token it just issued.
    return ProviderError(ErrorKind.AUTH_EXPIRED, str(body.get("error_description") or "invalid token"),
                         provider=PROVIDER, provider_code=str(body.get("error") or "") or None,
                         http_status=status)


def _primary_calendar(calendar: CalendarProvider, token: str) -> list[Finding]:
    read = getattr(calendar, "primary_calendar", None)
    try:
        if read is None:  # a stand-in adapter without the Google extra: the port's answer
            allowed = [MEET] if calendar.conferencing_allowed(token) else []
            resource: dict[str, Any] = {"conferenceProperties": {"allowedConferenceSolutionTypes": allowed}}
        else:
            resource = read(token)
    except ProviderError as err:
        return [Finding.from_error(CALENDAR, err, "Reading the primary calendar (calendars.get)")]
    zone = resource.get("timeZone")
    found = [Finding.passed(CALENDAR, "The primary calendar can be read.",
                            "calendars.get primary: 200" + (f", time zone {zone}" if zone else ""))]
    allowed = list((resource.get("conferenceProperties") or {}).get("allowedConferenceSolutionTypes") or [])
    if MEET in allowed:
        found.append(Finding.passed(CONFERENCING, "Google Meet links can be added to events.",
                                    "allowedConferenceSolutionTypes: " + ", ".join(allowed)))
    else:
        found.append(Finding.failed(CONFERENCING, "meet_unavailable", "Google Meet is not allowed.",
                                    "calendars.get primary: conferenceProperties.allowedConferenceSolutionTypes "
                                    f"is {allowed or 'empty'} (no {MEET})"))
    return found


def explain(http_status: int | None, body: Any) -> Explained:
    data, text = body_mapping(body)
    if data is None and text and "invalid_grant" in text:
        data = {"error": "invalid_grant", "error_description": text}
    if data is None:
        return Explained(None, {"provider": PROVIDER, "http_status": http_status, "format": "text" if text else "none"})
    error = data.get("error")
    if isinstance(error, Mapping):  # Calendar API: {"error":{"code","message","errors":[{reason}]}}
        status = http_status or _int(error.get("code")) or 0
        reason = first_reason(data)
        err = classify_api_error(status, data)
        if reason == "invalid" and "conference" in str(error.get("message") or "").lower():
            # "Invalid conference type value.": Meet is not allowed for this calendar. [seen]
            err.kind, err.cause = ErrorKind.ACCESS_DENIED, "meet_unavailable"
        recognised = {"provider": PROVIDER, "shape": "calendar_api_error", "http_status": status,
                      "reason": reason, "message": error.get("message")}
        return Explained(None if err.kind is ErrorKind.UNKNOWN else err, recognised,
                         error_detail(err, "Google Calendar API"))
    if isinstance(error, str):  # OAuth token endpoint: {"error","error_description","error_subtype"?}
        err = classify_token_error(http_status, data)
        recognised = {"provider": PROVIDER, "shape": "oauth_token_error", "http_status": http_status,
                      "error": error, "error_subtype": data.get("error_subtype"),
                      "error_description": data.get("error_description")}
        note = INVALID_GRANT_NOTE if err.cause == "token_revoked" else error_detail(err, "Google token endpoint")
        return Explained(None if err.kind is ErrorKind.UNKNOWN else err, recognised, note)
    return Explained(None, {"provider": PROVIDER, "http_status": http_status, "format": "json",
                            "fields": sorted(str(k) for k in data)})


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
