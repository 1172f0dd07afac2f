"""Emulator kit: the parts every sandbox provider emulator shares.

The sandbox (``providers/sandbox.py``) serves in-memory emulators of Google, Microsoft and
Zoom over real HTTP, plus a control API (``/_control``) that arranges accounts, calendars and
failures. This package holds what they have in common, so a new emulator only writes its own
wire formats.

Modules
-------
- ``config``: ``SandboxConfig`` (the hub's OAuth client per provider — PKCE required — plus
  further apps, ``sandbox-<provider>-app`` by default, for which PKCE is optional as at the real
  providers; token lifetimes, injectable clock) and ``OAuthClient``.
- ``state``: ``SandboxState``, thread-safe accounts and per-account collections
  (``state.collection(provider, email, "events")``); take ``state.lock`` for read-modify-write.
- ``accounts``: ``Account`` (provider, email, name, kind user|shared|room, timezone,
  teams_enabled, meet_enabled, zoom_can_host, stable ``subject``).
- ``faults``: ``FaultRegistry.take(provider, scenario, email)`` / ``peek``; ``times`` counts
  requests (a request that takes a fault twice uses one hit).
- ``request_log``: what each emulator received (``GET /_control/requests``).
- ``oauth_server`` + ``oauth_dialect`` + ``oauth_views`` + ``consent_page``: one OAuth 2.0
  authorization server (consent page, single-use PKCE-bound codes, access/refresh tokens,
  revocation, RS256 id_tokens) whose wire details a provider overrides in its dialect.
- ``signing``: RS256 key made at app creation, JWKS document.
- ``emulator``: ``ProviderEmulator`` base class; ``control``: the control API blueprint.

Plugging in a provider (Microsoft, Zoom)
-----------------------------------------
1. In ``providers/<name>/emulator.py`` subclass ``ProviderEmulator``::

       class ZoomEmulator(ProviderEmulator):
           name = "zoom"
           scenarios = {**COMMON_SCENARIOS, "zoom_cannot_host": "...", "rate_limit": "..."}

           def create_dialect(self):
               return ZoomOAuthDialect()          # subclass of OAuthDialect

           def add_routes(self, bp):
               bp.add_url_rule("/oauth/authorize", "authorize", authorization_endpoint(self),
                               methods=["GET", "POST"])
               bp.add_url_rule("/oauth/token", "token", token_endpoint(self), methods=["POST"])
               bp.add_url_rule("/v2/users/me/meetings", ...)   # your API

           def control_meetings(self, account): ...   # GET /_control/meetings

   Override ``create_control_event``/``control_events`` if the provider has a calendar
   (Microsoft), ``endpoints`` to publish URLs in ``GET /_control/clients``, ``apply_fault``
   for further scenarios that act at once (call ``super()``), ``extra_grant`` for grant types
   beyond code/refresh (Zoom ``account_credentials``), and ``reset`` if you keep state
   outside ``SandboxState`` (call ``super()``).
2. In the dialect set the wire differences: ``client_auth_methods`` (Zoom:
   ``("client_secret_basic",)``), ``rotate_refresh_tokens`` and ``rotated_refresh_token_dies``
   (Microsoft: rotate, old keeps working; Zoom: rotate, old dies), ``new_grant_revokes_previous``
   (Zoom 4741), ``issues_refresh_token`` (Microsoft: ``offline_access`` scope),
   ``token_response`` (``ext_expires_in``, ``api_url``...), ``id_token_claims`` (Microsoft:
   echo the nonce, add ``tid``/``oid``; return None for no id_token) and ``error_response``
   (AADSTS bodies; read ``error.grant.revoked_reason["params"]`` to answer with the AADSTS code
   a test armed, e.g. ``{"aadsts": 700082}``).
3. Point the provider's spec at it (``ProviderSpec.emulator`` in
   ``providers/<name>/__init__.py``); the sandbox mounts every spec's emulator at ``/<name>``.

msal insists on an https authority: ``providers.sandbox.serve(app, host, port,
ssl_context=(cert, key))`` serves the whole sandbox over TLS with a self-signed pair.

Every request to the blueprint is logged and subject to the ``latency`` fault; the
``invalid_grant`` and ``expire_access_tokens`` faults act on the provider's authorization
server when armed. Inside a view use ``self.oauth.validate_access_token(token)`` (None means
answer your provider's 401), ``self.take_fault(scenario, email)`` where the real provider
would fail, and ``self.account(email)`` for the (on-demand) sandbox account.
"""

from .accounts import ACCOUNT_KINDS, Account
from .config import OAuthClient, SandboxConfig, default_client
from .context import SandboxContext
from .emulator import COMMON_SCENARIOS, ProviderEmulator
from .faults import Fault, FaultRegistry
from .oauth_dialect import AuthorizationRequest, OAuthDialect, OAuthError, OAuthErrorKind
from .oauth_server import AuthorizationServer, IssuedTokens
from .state import SandboxState

__all__ = [
    "ACCOUNT_KINDS",
    "Account",
    "AuthorizationRequest",
    "AuthorizationServer",
    "COMMON_SCENARIOS",
    "Fault",
    "FaultRegistry",
    "IssuedTokens",
    "OAuthClient",
    "OAuthDialect",
    "OAuthError",
    "OAuthErrorKind",
    "ProviderEmulator",
    "SandboxConfig",
    "SandboxContext",
    "SandboxState",
    "default_client",
]
