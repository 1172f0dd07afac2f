"""Microsoft's connect flow on msal (``ConfidentialClientApplication``), behind the `OAuthFlow` port.

How msal is bent to the hub's rules, and why:
- One application object per flow (one flow per process), built on first use: building it
  fetches the tenant's discovery document, which must never happen at import or start-up.
- The authority stays ``https://login.microsoftonline.com/<tenant>`` because msal refuses
  anything but https; against the sandbox an ``http_client`` rewrites that host to
  ``<sandbox>/microsoft`` (and the browser's consent URL gets the same rewrite).
- State, the PKCE verifier and the nonce are the hub's, kept server-side by ConnectService:
  msal's own auth-code-flow dict is rebuilt from them at both ends (msal sends the nonce as its
  SHA-256 and checks the id_token echoes it).
- msal keeps tokens in its own cache and throttles by caching error answers (a 400 for 60 s,
  a 5xx/429 for its Retry-After): the hub stores tokens itself and decides retries itself, so
  both caches are switched off — otherwise a retry or reconnect right after a failure would be
  answered from msal's memory without reaching Microsoft.
- msal returns token errors as dicts; they are classified by providers/microsoft/errors.py.
- Microsoft has no per-token revocation endpoint for v2.0 (only Graph's
  ``revokeSignInSessions``, which signs the user out of every app): `revoke` is a no-op and
  the hub simply forgets the tokens.
"""
from __future__ import annotations

import base64
import hashlib
import threading
import warnings
from collections.abc import MutableMapping
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from oauth.flows import Grant, Identity, OAuthEndpoints
from providers.base import ErrorKind, ProviderError
from providers.microsoft.errors import PROVIDER, classify_token_error

LOGIN = "https://login.microsoftonline.com"
GRAPH_SCOPES = ("User.Read", "Calendars.ReadWrite", "MailboxSettings.Read")
# msal adds openid, profile and offline_access itself and refuses to be given them.
RESERVED = frozenset({"offline_access", "openid", "profile"})
SCOPES = ("offline_access", "openid", "profile", "email", *GRAPH_SCOPES)
# Optional scopes a tenant's features add to the consent (attendance reports), known by name so
# the granted list comes back in one spelling whatever case Microsoft answers in.
OPTIONAL_SCOPES = ("OnlineMeetingArtifact.Read.All",)
# Without these the hub can neither read and write the calendar nor tell a shared mailbox.
REQUIRED_SCOPES = ("Calendars.ReadWrite", "MailboxSettings.Read")
STATE_CHECKED = "checked-by-connect-service"


def login_base(endpoints: OAuthEndpoints) -> str:
    """Where login.microsoftonline.com is served: itself, or ``<sandbox>/microsoft``."""
    return endpoints.authorize_url.split("/oauth2/v2.0/authorize")[0].rsplit("/", 1)[0]


class LoginSession(requests.Session):
    """msal's HTTP client: rewrites the login host when a sandbox stands in for it, applies a
    timeout (msal passes none to a custom client) and remembers the last answer per thread so
    a refused token call can be classified with its HTTP status and Retry-After."""

    def __init__(self, target: str, timeout: float) -> None:
        super().__init__()
        self.trust_env = False  # no proxy from the environment may see tokens
        self.target = target.rstrip("/")
        self.timeout = timeout
        self.last = threading.local()

    def rewrite(self, url: str) -> str:
        if self.target != LOGIN and url.startswith(LOGIN + "/"):
            return self.target + url[len(LOGIN):]
        return url

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout)
        response = super().request(method, self.rewrite(url), *args, **kwargs)
        self.last.status = response.status_code
        self.last.retry_after = response.headers.get("Retry-After")
        return response


class _NoThrottling(MutableMapping):
    """An ``http_cache`` that keeps msal's discovery answers but none of its error throttling."""

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if isinstance(key, str) and key.startswith("POST "):
            return  # a cached token-endpoint error would answer the next attempt without asking
        self._data[key] = value

    def __delitem__(self, key: str) -> None:
        self._data.pop(key, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def _nonce_digest(nonce: str) -> str:
    # What msal puts on the wire and expects back in the id_token (OIDC nonce notes).
    return hashlib.sha256(nonce.encode("ascii")).hexdigest()


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


class MicrosoftFlow:
    provider = PROVIDER
    required_scopes: tuple[str, ...] = REQUIRED_SCOPES
    new_grant_revokes_previous = False  # a new consent leaves the account's other grants alive

    def __init__(self, endpoints: OAuthEndpoints, tenant: str = "common", timeout: float = 20.0) -> None:
        self.client_id = endpoints.client_id
        self.client_secret = endpoints.client_secret
        self.tenant = tenant or "common"
        self.http = LoginSession(login_base(endpoints), timeout)
        self._app = None
        self._lock = threading.Lock()

    # -- msal application ------------------------------------------------------------------------
    def app(self):
        with self._lock:
            if self._app is None:
                import msal  # local: a process that never connects Microsoft never imports it

                class _NoTokenCache(msal.TokenCache):
                    def add(self, event, **kwargs):  # the hub's vault is the only token store
                        return None

                try:
                    self._app = msal.ConfidentialClientApplication(
                        self.client_id, client_credential=self.client_secret,
                        authority=f"{LOGIN}/{self.tenant}", http_client=self.http,
                        instance_discovery=False, http_cache=_NoThrottling(), token_cache=_NoTokenCache())
                except ValueError:
                    # msal's word for a 4xx from tenant discovery: the configured tenant is wrong.
                    raise ProviderError(ErrorKind.INVALID_REQUEST,
                                        f"Microsoft does not know the tenant {self.tenant!r} (HUB_MICROSOFT_TENANT)",
                                        provider=PROVIDER, cause="client_misconfigured") from None
                except requests.RequestException as exc:
                    # Not cached: the next attempt builds again once Microsoft answers.
                    raise ProviderError(ErrorKind.PROVIDER_DOWN,
                                        f"Microsoft sign-in discovery failed ({type(exc).__name__})",
                                        provider=PROVIDER, cause="provider_unavailable") from None
            return self._app

    def _auth_code_flow(self, redirect_uri: str, state: str, code_verifier: str, nonce: str,
                        login_hint: str | None, extra_scopes: tuple[str, ...] = ()) -> dict[str, Any]:
        """msal's flow dict, carrying the hub's verifier and nonce instead of msal's own. msal
        sends the flow's scope list again when the code is redeemed: the same list both times."""
        # The hub's callback is a GET (query response mode) by design; msal would warn about it on
        # every connect. Re-adding an identical filter replaces it, so this does not accumulate.
        warnings.filterwarnings("ignore", message="response_mode='form_post' is recommended", category=UserWarning)
        scopes = list(dict.fromkeys([*GRAPH_SCOPES, "email", *_asked(extra_scopes)]))
        flow = self.app().initiate_auth_code_flow(scopes, redirect_uri=redirect_uri, state=state,
                                                  login_hint=login_hint)
        parts = urlsplit(flow["auth_uri"])
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        query.update(code_challenge=_s256(code_verifier), code_challenge_method="S256", nonce=_nonce_digest(nonce))
        flow.update(auth_uri=urlunsplit(parts._replace(query=urlencode(query))), code_verifier=code_verifier,
                    nonce=nonce)
        return flow

    # -- OAuthFlow -------------------------------------------------------------------------------
    def authorization_url(self, *, redirect_uri: str, state: str, code_verifier: str, nonce: str,
                          login_hint: str | None, extra_scopes: tuple[str, ...] = ()) -> str:
        flow = self._auth_code_flow(redirect_uri, state, code_verifier, nonce, login_hint, extra_scopes)
        return self.http.rewrite(flow["auth_uri"])  # the browser goes where the sandbox is

    def exchange(self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str,
                 extra_scopes: tuple[str, ...] = ()) -> Grant:
        """`extra_scopes`: those the consent asked for on top of the calendar's; the code is
        redeemed for the same list (the v2.0 endpoint issues a token for the scopes named)."""
        # ConnectService matched and consumed the state before calling us; msal still wants one.
        flow = self._auth_code_flow(redirect_uri, STATE_CHECKED, code_verifier, nonce, None, extra_scopes)
        result = self._call(lambda app: app.acquire_token_by_auth_code_flow(
            flow, {"code": code, "state": STATE_CHECKED}))
        return self._grant(result, with_identity=True)

    def refresh(self, refresh_token: str, scopes: tuple[str, ...] = ()) -> Grant:
        """`scopes`: what the connection was granted. A v2.0 refresh names its scopes and gets a
        token for those only, so a fixed list would drop a tenant's extra ones (attendance) at
        the first refresh."""
        wanted = _asked(scopes) or list(GRAPH_SCOPES)
        # msal's call for a refresh token kept outside its own cache (the vault holds ours).
        result = self._call(lambda app: app.acquire_token_by_refresh_token(refresh_token, wanted))
        return self._grant(result, with_identity=False)

    def revoke(self, token: str) -> None:
        """No-op by necessity: the v2.0 endpoint has no token revocation (see module docstring)."""
        del token

    # -- plumbing --------------------------------------------------------------------------------
    def _call(self, action) -> dict[str, Any]:
        app = self.app()
        from msal.exceptions import MsalServiceError  # msal is loaded by app()

        self.http.last.status, self.http.last.retry_after = None, None
        try:
            result = action(app)
        except RuntimeError as exc:  # msal: the id_token's nonce is not ours
            raise ProviderError(ErrorKind.INVALID_REQUEST, f"Microsoft sign-in answer rejected: {exc}"[:200],
                                provider=PROVIDER, cause="client_misconfigured") from None
        except requests.RequestException as exc:
            raise ProviderError(ErrorKind.PROVIDER_DOWN, f"Microsoft sign-in unreachable ({type(exc).__name__})",
                                provider=PROVIDER, cause="provider_unavailable") from None
        except MsalServiceError:  # what msal raises for any 5xx instead of returning the body
            status = self.http.last.status
            raise ProviderError(ErrorKind.PROVIDER_DOWN, f"Microsoft sign-in answered HTTP {status}",
                                provider=PROVIDER, cause="provider_unavailable", http_status=status,
                                retry_after=_seconds(self.http.last.retry_after)) from None
        if "error" in result:
            raise classify_token_error(self.http.last.status, result, _seconds(self.http.last.retry_after))
        return result

    def _grant(self, result: dict[str, Any], with_identity: bool) -> Grant:
        scope = result.get("scope") or ""
        scopes = tuple(_canonical(s) for s in (scope.split() if isinstance(scope, str) else scope))
        return Grant(
            access_token=result["access_token"],
            refresh_token=result.get("refresh_token"),  # a new one every time: TokenManager stores it
            expires_at=datetime.now(timezone.utc) + timedelta(seconds=int(result.get("expires_in") or 3599)),
            scopes=scopes,
            identity=self._identity(result) if with_identity else None,
        )

    def _identity(self, result: dict[str, Any]) -> Identity:
        claims = result.get("id_token_claims") or {}
        if claims.get("aud") not in (None, self.client_id):
            raise ProviderError(ErrorKind.INVALID_REQUEST, "id_token was issued to another application",
                                provider=PROVIDER, cause="client_misconfigured")
        oid, tid = claims.get("oid"), claims.get("tid")
        if not oid:
            raise ProviderError(ErrorKind.INVALID_REQUEST, "Microsoft sent no id_token with an oid",
                                provider=PROVIDER, cause="client_misconfigured")
        # oid is the user's id in their tenant; with tid it is stable across apps and renames.
        email = claims.get("email") or claims.get("preferred_username")
        return Identity(account_id=f"{oid}.{tid}" if tid else str(oid), email=email.lower() if email else None,
                        name=claims.get("name"), extra={"tenant_id": tid})


def _canonical(scope: str) -> str:
    """Graph scopes are case-insensitive and may come back as full URIs."""
    bare = scope.removeprefix("https://graph.microsoft.com/")
    return next((s for s in (*SCOPES, *OPTIONAL_SCOPES) if s.lower() == bare.lower()), bare)


def _asked(scopes: tuple[str, ...] | list[str]) -> list[str]:
    """Scopes to hand msal: without the ones it adds itself and refuses to be given."""
    return list(dict.fromkeys(_canonical(s) for s in scopes if s.lower() not in RESERVED))


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def microsoft_flow(endpoints: OAuthEndpoints, tenant: str = "common", timeout: float = 20.0) -> MicrosoftFlow:
    return MicrosoftFlow(endpoints, tenant, timeout)
