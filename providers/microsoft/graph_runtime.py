"""msgraph-sdk run from synchronous hub code.

- The SDK is async. One event loop on one daemon thread per adapter runs every call, with one
  httpx client (sending over aiohttp, see `_transport`) and one Graph client built on it
  (~ms per call); ``asyncio.run`` per call would build a loop, a connection pool and TLS
  sessions each time.
- The access token differs per call (one adapter serves every connection), so the token
  provider reads it from a context variable the call sets; kiota passes it through unchanged.
- The client is built with msgraph's own middleware and options (its URL-replace handler turns
  ``/users/me-token-to-replace`` into ``/me``, its telemetry handler adds client-request-id),
  less the retry handler (kiota would retry 429/503 four times, ~12 s, behind the hub's back)
  and the two inspection handlers (see `_build_client`); and without a cookie jar (`_NoCookies`).
- Nothing starts on import or construction; ``warm()`` pays the SDK's first-deserialisation
  cost (~1,200 model modules, ~1 s) before a user does.
"""
from __future__ import annotations

import asyncio
import contextvars
import functools
import gc
import json
import logging
import threading
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Awaitable, Callable, TypeVar

import httpx

from providers.base import ErrorKind, ProviderError
from providers.retry_after import retry_after_seconds

from .errors import PROVIDER, classify_graph_error
from .mailbox_gate import MailboxGate, mailbox_key

T = TypeVar("T")
_TOKEN: contextvars.ContextVar[str] = contextvars.ContextVar("graph_access_token")


def _token_provider():
    from kiota_abstractions.authentication import AccessTokenProvider, AllowedHostsValidator

    class CallToken(AccessTokenProvider):
        async def get_authorization_token(self, uri: str, additional_authentication_context: dict | None = None) -> str:
            return _TOKEN.get()

        def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
            return AllowedHostsValidator([])  # the base URL is configured, not user input

    return CallToken()


class _NoCookies(httpx.Cookies):
    """One client carries every mailbox's requests: a cookie one person's answer sets must not
    travel with the next person's request. Graph authenticates by bearer token and needs none;
    not reading them also spares a URL parse and two wrapper objects per response."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _GraphHttp(httpx.AsyncClient):
    @property  # type: ignore[override]
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: Any) -> None:  # httpx's constructor sets it; there are none to keep
        return None


_NO_COOKIES = _NoCookies()


def _build_client(api_base: str, timeout: float):
    from kiota_abstractions.authentication import BaseBearerTokenAuthenticationProvider
    from kiota_http.kiota_client_factory import KiotaClientFactory
    from kiota_http.middleware import BodyInspectionHandler, HeadersInspectionHandler, RetryHandler
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph.graph_request_adapter import options
    from msgraph_core import GraphClientFactory
    from msgraph_core.middleware import GraphTelemetryHandler
    from msgraph_core.middleware.options import GraphTelemetryHandlerOption

    # msgraph's own pipeline, built from msgraph's own options, less three handlers with nothing
    # to do here — each is one more coroutine layer and tracing span on every request:
    # - retries: the hub decides (Retry-After, the mailbox gate); kiota would retry 429/503
    #   four times (~12 s) behind its back;
    # - headers inspection: by default it copies every request's and response's headers into
    #   one collection shared by all calls — work nobody reads (errors carry their own
    #   headers), and the last access token kept there;
    # - body inspection: off unless a request asks for it, and none does.
    unused = (RetryHandler, HeadersInspectionHandler, BodyInspectionHandler)
    # (what GraphClientFactory.create_with_default_middleware assembles, filtered)
    middleware = [m for m in KiotaClientFactory.get_default_middleware(options) if not isinstance(m, unused)]
    middleware.append(GraphTelemetryHandler(options=options[GraphTelemetryHandlerOption.get_key()]))
    http = _GraphHttp(timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), transport=_transport(),
                      trust_env=False)
    http = GraphClientFactory.create_with_custom_middleware(middleware, client=http)
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(_token_provider()), client=http)
    adapter.base_url = api_base.rstrip("/")
    return GraphServiceClient(request_adapter=adapter), http


def _transport() -> httpx.AsyncBaseTransport:
    """httpx's interface (what kiota and msgraph drive) over aiohttp's connections: httpcore's
    pure-Python HTTP/1.1 (h11 on anyio) and its pool cost a third of a Graph call's CPU, all of
    it on the one event-loop thread every call shares, and with 50 calls in flight over kept-open
    connections three quarters (that thread's profiled CPU per 100-participant fan-out: 312 ->
    209 ms with a connection per call, 616 -> 146 ms kept open; bench/profile_availability.py).

    The cost: aiohttp speaks HTTP/1.1 only. msgraph's default client asks for HTTP/2, which
    Graph offers, and multiplexes a fan-out's calls over one connection; here each call in
    flight at once has its own (aiohttp's default pool: 100), kept open between fan-outs, so a
    warm pool pays no handshakes. The aiohttp session is made by the first request, on the loop
    it binds to (the client may be built off the loop: tests)."""
    import aiohttp
    from httpx_aiohttp import AiohttpTransport

    ssl_context = httpx.create_ssl_context(trust_env=False)  # httpx's certificates (certifi), as before

    def session() -> aiohttp.ClientSession:
        # DummyCookieJar: the session would keep every answer's cookies and send them with the
        # next mailbox's request (see _NoCookies); trust_env=False: no proxy from the environment.
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl_context),
                                     cookie_jar=aiohttp.DummyCookieJar(), trust_env=False)

    return AiohttpTransport(client=session)


_SHARED: dict[tuple[str, float], "GraphRuntime"] = {}
_SHARED_LOCK = threading.Lock()
_HEAP_SETTLED = False


def _settle_heap() -> None:
    """Keep the garbage collector off what the warm-up loaded. msgraph's model modules make up
    most of a worker's ~240,000 tracked objects, all alive until the process ends, and every
    full collection walks them again: measured at ~30 ms per 100-participant fan-out on average,
    as one pause of ~300 ms about every ten (wall time, loaded 2-core machine; ~2 ms frozen,
    bench/profile_availability.py and gc.callbacks). Frozen objects are never collected (a cycle among
    them that becomes garbage later stays), so the garbage made so far is collected first; and
    only at the process's first warm-up, when the models load (later runtimes — tests build
    many — would freeze whatever hub happens to be alive)."""
    global _HEAP_SETTLED
    with _SHARED_LOCK:
        if _HEAP_SETTLED:
            return
        _HEAP_SETTLED = True
    gc.collect()
    gc.freeze()


class GraphRuntime:
    @classmethod
    def shared(cls, api_base: str, timeout: float = 20.0) -> "GraphRuntime":
        """The process's one runtime for a Graph endpoint, used by the calendar, sync and
        attendance adapters alike: Graph's 4-per-mailbox limit counts every request to a
        mailbox, so they must queue at one gate (one event loop, one connection pool)."""
        with _SHARED_LOCK:
            runtime = _SHARED.get((api_base, timeout))
            if runtime is None:
                runtime = _SHARED[(api_base, timeout)] = cls(api_base, timeout)
            return runtime

    def __init__(self, api_base: str, timeout: float = 20.0) -> None:
        self.api_base = api_base
        self.timeout = timeout
        self.gate = MailboxGate(PROVIDER)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client = None
        self._http: httpx.AsyncClient | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def _start(self):
        with self._lock:
            if self._client is None:
                # httpx logs every request line at INFO, unstructured; the hub logs its own.
                logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").level))
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="msgraph-loop", daemon=True).start()
                self._loop = loop

                async def build():
                    return _build_client(self.api_base, self.timeout)

                self._client, self._http = asyncio.run_coroutine_threadsafe(build(), loop).result()
            return self._client

    def close(self) -> None:
        with self._lock:
            loop, http, self._loop, self._client, self._http = self._loop, self._http, None, None, None
        if loop is not None:
            if http is not None:
                asyncio.run_coroutine_threadsafe(http.aclose(), loop).result(5)
            loop.call_soon_threadsafe(loop.stop)

    def warm(self) -> None:
        """Import and exercise the models the adapter reads and writes, off the request path."""
        client = self._start()
        from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
        from kiota_serialization_json.json_serialization_writer_factory import JsonSerializationWriterFactory
        from msgraph.generated.models.calendar import Calendar
        from msgraph.generated.models.event import Event
        from msgraph.generated.models.mailbox_settings import MailboxSettings
        from msgraph.generated.users.item.calendar.get_schedule.get_schedule_post_request_body import (
            GetSchedulePostRequestBody,
        )
        from msgraph.generated.users.item.calendar.get_schedule.get_schedule_post_response import GetSchedulePostResponse

        from msgraph.generated.models.o_data_errors.o_data_error import ODataError

        location = {"displayName": "x", "locationType": "default", "uniqueIdType": "unknown", "address": {},
                    "coordinates": {}}
        samples = {
            Event: {"id": "x", "subject": "s", "start": {"dateTime": "2026-01-01T00:00:00", "timeZone": "UTC"},
                    "attendees": [{"type": "required", "emailAddress": {"address": "a@example.com"}}],
                    "onlineMeeting": {"joinUrl": "https://teams.microsoft.com/"}, "body": {"contentType": "html"},
                    "organizer": {"emailAddress": {"address": "a@example.com"}}, "responseStatus": {"response": "none"},
                    "location": location, "locations": [location]},
            ODataError: {"error": {"code": "x", "message": "y", "innerError": {"date": "2026-01-01T00:00:00"}}},
            GetSchedulePostResponse: {"value": [{"scheduleId": "a@example.com", "availabilityView": "0",
                                                 "scheduleItems": [{"status": "busy", "start": {}, "end": {}}],
                                                 "workingHours": {"timeZone": {"name": "UTC"}}, "error": {}}]},
            Calendar: {"allowedOnlineMeetingProviders": ["teamsForBusiness"], "owner": {"address": "a@example.com"}},
            MailboxSettings: {"userPurpose": "user", "workingHours": {"timeZone": {"name": "UTC"}},
                              "automaticRepliesSetting": {}, "language": {}},
        }
        for model, payload in samples.items():
            node = JsonParseNodeFactory().get_root_parse_node("application/json", json.dumps(payload).encode())
            parsed: Any = node.get_object_value(model)  # type: ignore[arg-type]  # generated model classes
            writer = JsonSerializationWriterFactory().get_serialization_writer("application/json")
            writer.write_object_value(None, parsed)
        # Request builders and their request-information path, without sending anything.
        client.me.calendar.get_schedule.to_post_request_information(GetSchedulePostRequestBody())
        client.me.events.by_event_id("x").to_patch_request_information(Event())
        client.me.mailbox_settings.to_get_request_information()
        client.me.calendar.to_get_request_information()
        client.me.events.to_post_request_information(Event())
        _settle_heap()

    # -- calls ------------------------------------------------------------------------------------
    def call(self, token: str, make: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``make(client)`` on the loop with ``token``, inside the mailbox's concurrency slot;
        every failure leaves as a ProviderError."""
        client = self._start()
        key = mailbox_key(token)

        async def run() -> T:
            _TOKEN.set(token)  # the task's own context: other calls never see it
            async with self.gate.slot(key):
                try:
                    return await make(client)
                except ProviderError:
                    raise
                except asyncio.CancelledError:
                    # The caller's deadline passed: the place here is freed as this unwinds,
                    # but Graph may still be counting the request.
                    self.gate.abandoned(key)
                    raise
                except Exception as exc:  # noqa: BLE001 - translated, never swallowed
                    if isinstance(exc, httpx.TimeoutException):
                        self.gate.abandoned(key)
                    err = translate(exc)
                    if err.kind is ErrorKind.RATE_LIMITED and err.http_status == 429:
                        err = self.gate.throttled(key, err)
                    raise err from None

        future = asyncio.run_coroutine_threadsafe(run(), self._loop)  # type: ignore[arg-type]
        try:
            # One budget for queueing behind the mailbox gate and the request itself: the hub
            # gives a provider call this long before reporting it as not answering.
            return future.result(timeout=self.timeout)
        except FutureTimeout:
            future.cancel()
            raise ProviderError(ErrorKind.PROVIDER_DOWN, "Microsoft Graph did not answer in time",
                                provider=PROVIDER, cause="provider_unavailable") from None

    def get_json(self, token: str, request: Callable[[Any], Any]) -> dict[str, Any]:
        """Send the request that `request(client)` builds (a RequestInformation from a request
        builder, see `json_post` for a body) through the SDK — auth, middleware, Graph's error
        mapping — but read the answer as plain JSON. msgraph's models run every Entity subtype's
        import statement for each object they deserialise (~25 ms an event, which made a
        500-event read take 15-27 s), and even a small getSchedule answer costs more to build as
        models than everything else in the call."""
        from msgraph.generated.models.o_data_errors.o_data_error import ODataError

        async def fetch(client: Any) -> bytes | None:
            return await client.request_adapter.send_primitive_async(request(client), "bytes", {"XXX": ODataError})

        raw = self.call(token, fetch)
        try:
            page = json.loads(raw or b"null")
        except ValueError:
            page = None
        if not isinstance(page, dict):
            raise ProviderError(ErrorKind.UNKNOWN, "Microsoft Graph answered with no JSON object", provider=PROVIDER)
        return page


def json_post(builder: Any, body: dict[str, Any], config: Any = None) -> Any:
    """The POST RequestInformation that `builder.to_post_request_information` would make (the
    builder's URL, `config`'s headers and options), its body written as plain JSON instead of
    through a request-body model and kiota's serialization writer."""
    from kiota_abstractions.method import Method
    from kiota_abstractions.request_information import RequestInformation

    # A copy: RequestInformation keeps the dict it is given, and setting its URL clears that dict
    # (which would empty the builder's, shared with the builders it came from).
    info = RequestInformation(Method.POST, builder.url_template, dict(builder.path_parameters))
    info.configure(config)
    if not info.query_parameters:  # a raw URL would drop them: those are expanded per request
        # As the adapter completes the parameters when it sends (set_base_url_for_request_information).
        parameters = {**builder.path_parameters, "baseurl": builder.request_adapter.base_url}
        try:
            info.url = _expanded_url(builder.url_template, tuple(sorted(parameters.items())))
        except TypeError:  # a path parameter that cannot be a cache key: expanded per request
            pass
    info.headers.try_add("Accept", "application/json")
    info.set_stream_content(json.dumps(body).encode(), "application/json")
    return info


@functools.lru_cache(maxsize=64)
def _expanded_url(template: str, path_parameters: tuple[tuple[str, Any], ...]) -> str:
    """A builder's URL as kiota expands it. Kiota expands the template character by character
    (RFC 6570) each of the three times a request reads its URL — a fifth of a getSchedule call's
    CPU — while a POST without query parameters always has the same URL."""
    from kiota_abstractions.method import Method
    from kiota_abstractions.request_information import RequestInformation

    return str(RequestInformation(Method.POST, template, dict(path_parameters)).url)


def translate(exc: Exception) -> ProviderError:
    from kiota_abstractions.api_error import APIError
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError

    if isinstance(exc, (httpx.TimeoutException, httpx.TransportError)):
        return ProviderError(ErrorKind.PROVIDER_DOWN, f"Microsoft Graph unreachable ({type(exc).__name__})",
                             provider=PROVIDER, cause="provider_unavailable")
    if isinstance(exc, APIError):
        headers = {k.lower(): v for k, v in (exc.response_headers or {}).items()}
        retry_after = retry_after_seconds(headers)
        code = message = None
        if isinstance(exc, ODataError) and exc.error is not None:
            code, message = exc.error.code, exc.error.message
        return classify_graph_error(exc.response_status_code, code, message or exc.message, retry_after)
    return ProviderError(ErrorKind.UNKNOWN, f"Microsoft Graph call failed ({type(exc).__name__})", provider=PROVIDER)
