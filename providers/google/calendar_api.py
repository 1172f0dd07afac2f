"""Calls to Calendar API v3 through google-api-python-client, shared by the calendar adapter
(`calendar.py`) and the sync adapter (`sync.py`): services built from the bundled discovery
document, a bearer token per call, and Google's errors turned into `ProviderError`.

One service is built per `CalendarApi` and shared by every thread: what is not thread-safe is
httplib2's connection (a service used with its own shared `Http` fails with EBADF), so each
call borrows an authorized `Http` from a pool and executes on it — google-api-python-client's
documented way to use one service from several threads (`request.execute(http=...)`). The hub
refreshes tokens itself, so the credentials carry only an access token and never refresh behind
our back.
"""
from __future__ import annotations

import json
import socket
import threading
from datetime import datetime, timezone
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable

import googleapiclient
import httplib2
from google.oauth2.credentials import Credentials
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build_from_document
from googleapiclient.errors import BatchError, HttpError
from googleapiclient.http import BatchHttpRequest

from providers.base import ErrorKind, ProviderError
from providers.google.errors import PROVIDER, classify_api_error

_DISCOVERY = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents" / "calendar.v3.json"


class _BuiltOnce:
    """`service.events()` builds a new Resource — every method with its docstring — on each call
    (a third of an event create's CPU), so each resource is built once and reused. Building a
    request on a Resource only reads it, so threads share them; two threads racing to build the
    same one both build it and one copy is kept."""

    def __init__(self, service: Any) -> None:
        self._service = service
        self._built: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Callable[[], Any]:
        resource = self._built.get(name)
        if resource is None:
            resource = self._built.setdefault(name, getattr(self._service, name)())
        return lambda: resource


class _HubToken(Credentials):
    """One person's access token on one part of a batch. BatchHttpRequest re-sends a part
    answered 401 once after refreshing the credentials it finds on that part's `http`;
    google-auth's own refresh would raise (no refresh token here) and lose the whole batch. The
    hub refreshes itself (single-flight, persisted, needs_reauth decided by its token manager),
    so this refresh declines quietly: the re-sent part answers 401 again and is reported as
    today's single call would report it."""

    def refresh(self, request: Any) -> None:
        del request


# Google Calendar takes at most 1000 calls in one batch request
# (https://developers.google.com/calendar/batch); the hub sends far fewer (freebusy.BATCH_SIZE).
BATCH_LIMIT = 1000


class CalendarApi:
    def __init__(self, api_base: str, timeout: float = 20.0) -> None:
        self.api_base = api_base if api_base.endswith("/") else api_base + "/"
        self.timeout = timeout
        self._service: _BuiltOnce | None = None
        self._batch_uri = ""
        self._lock = threading.Lock()
        # httplib2 connections are not thread-safe, so a call borrows one and gives it back: a
        # fresh Http would open a new TCP connection. The pool grows to the most calls ever in
        # flight at once — not to the number of threads that ever called — and holds sockets
        # and their credentials only (the service, ~0.8 MB parsed from the discovery document,
        # exists once).
        self._idle: list[AuthorizedHttp] = []

    @property
    def service(self) -> _BuiltOnce:
        service = self._service
        if service is None:
            with self._lock:
                if self._service is None:
                    document = json.loads(_DISCOVERY.read_text())
                    # The discovery document's batchPath under the same root as the API: the
                    # service's own `new_batch_http_request` keeps Google's rootUrl, which
                    # `api_endpoint` (the sandbox) does not move.
                    root = self.api_base.removesuffix(document["servicePath"])
                    self._batch_uri = root + document["batchPath"]
                    # The request-building default transport is never used: every call executes
                    # on a borrowed `Http`.
                    self._service = _BuiltOnce(build_from_document(
                        document, http=httplib2.Http(timeout=self.timeout),
                        client_options={"api_endpoint": self.api_base}))
                service = self._service
        return service

    def _borrow(self) -> AuthorizedHttp:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        # refresh_status_codes=(): the hub refreshes (single-flight, persisted) — google-auth
        # must not try on its own with credentials that hold no refresh token.
        return AuthorizedHttp(Credentials(None), http=httplib2.Http(timeout=self.timeout), refresh_status_codes=())

    def _give_back(self, http: AuthorizedHttp) -> None:
        http.credentials.token = None  # an idle connection holds no one's token
        with self._lock:
            self._idle.append(http)

    def call(self, token: str, request_of: Callable[[Any], Any]) -> Any:
        """Build a request on the service (`lambda s: s.events().list(...)`) and execute it with
        `token`; ProviderError for anything Google refuses or a network failure."""
        service = self.service
        http = self._borrow()
        # The token travels per request, set on the borrowed credentials (one call at a time
        # uses them): building Credentials and AuthorizedHttp per call cost ~0.09 M
        # instructions, more than the rest of this method. Safe to reuse because user OAuth
        # credentials keep no other per-account state: no expiry or refresh token here, and
        # google-auth never looks up a regional access boundary for them
        # (`_is_regional_access_boundary_lookup_required` is False).
        http.credentials.token = token
        try:
            result = request_of(service).execute(http=http, num_retries=0)
        except HttpError as exc:
            self._give_back(http)
            raise from_http_error(exc) from None
        except (httplib2.HttpLib2Error, socket.timeout, OSError) as exc:
            # A broken keep-alive connection must not poison a later call: it is dropped.
            raise _unreachable(exc) from None
        self._give_back(http)
        return result

    def batch(self, calls: Sequence[tuple[str, Callable[[Any], Any]]]) -> list[Any]:
        """Many calls, each with its own person's token, in one round trip to Google's batch
        endpoint (`batchPath` of the discovery document): each answer is what `call` would have
        returned, or the ProviderError it would have raised — one refused part never fails the
        others. At most BATCH_LIMIT calls."""
        if len(calls) > BATCH_LIMIT:
            raise ValueError(f"at most {BATCH_LIMIT} calls in one Google batch")
        service = self.service
        pooled = self._borrow()
        transport = pooled.http
        answers: list[Any] = [None] * len(calls)

        def answered(request_id: str, response: Any, exception: Exception | None) -> None:
            if exception is None:
                answers[int(request_id)] = response
            elif isinstance(exception, HttpError):
                answers[int(request_id)] = from_http_error(exception)
            else:  # an answer that does not parse: that part's failure only
                answers[int(request_id)] = ProviderError(
                    ErrorKind.UNKNOWN, f"unreadable Google answer ({type(exception).__name__})", provider=PROVIDER)

        batch = BatchHttpRequest(batch_uri=self._batch_uri)
        for i, (token, request_of) in enumerate(calls):
            request = request_of(service)
            # The part's own Authorization header (BatchHttpRequest._serialize_request takes it
            # from the credentials of the request's `http`); the outer request carries none.
            request.http = AuthorizedHttp(_HubToken(token), http=transport, refresh_status_codes=())
            batch.add(request, callback=answered, request_id=str(i))
        try:
            batch.execute(http=transport)
        except BatchError as exc:  # an answer that is not multipart/mixed
            self._give_back(pooled)
            return [ProviderError(ErrorKind.PROVIDER_DOWN, f"unreadable Google batch answer: {exc.reason}",
                                  provider=PROVIDER, cause="provider_unavailable") for _ in calls]
        except HttpError as exc:
            # The batch itself refused (malformed, too large): every part shares the refusal.
            self._give_back(pooled)
            return [from_http_error(exc) for _ in calls]
        except (httplib2.HttpLib2Error, socket.timeout, OSError) as exc:
            return [_unreachable(exc) for _ in calls]  # the connection is dropped, as in `call`
        self._give_back(pooled)
        return answers


def _unreachable(exc: BaseException) -> ProviderError:
    """A network failure on the way to Google (connect, reset, timeout)."""
    return ProviderError(ErrorKind.PROVIDER_DOWN, f"Google unreachable: {type(exc).__name__}",
                         provider=PROVIDER, cause="provider_unavailable")


def from_http_error(exc: HttpError) -> ProviderError:
    try:
        body = json.loads(exc.content.decode() if isinstance(exc.content, bytes) else exc.content)
    except (ValueError, AttributeError):
        body = {}
    headers = {str(k): str(v) for k, v in dict(exc.resp).items()}
    return classify_api_error(int(exc.resp.status), body if isinstance(body, dict) else {}, headers)


def rfc3339(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)
