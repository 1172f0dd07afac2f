"""The Microsoft identity platform's v2.0 endpoints as the sandbox speaks them
(https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow).

Differences from plain RFC 6749 the hub must cope with and the emulator reproduces:
- a refresh token only with the ``offline_access`` scope, and a NEW one on every refresh; the
  old one keeps working (no rotation death), so a client that stores the old one still works
  until it does not — the hub must store the newest;
- ``client_info`` (base64url JSON ``{"uid","utid"}``) in the redirect and the token answer
  when the request carried ``client_info=1`` (msal always does);
- id_tokens with ``oid``/``tid``/``preferred_username`` and the request's nonce echoed;
- every error is an AADSTS body: ``{"error","error_description":"AADSTS<n>: …\\r\\nTrace ID:
  …\\r\\nCorrelation ID: …\\r\\nTimestamp: …","error_codes":[n],"timestamp","trace_id",
  "correlation_id","error_uri","suberror"?}``
  (https://learn.microsoft.com/entra/identity-platform/reference-error-codes).
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import has_request_context, request

from providers.emulator_kit.oauth_dialect import AuthorizationRequest, OAuthDialect, OAuthError, OAuthErrorKind
from providers.emulator_kit.signing import b64url

if TYPE_CHECKING:
    from providers.emulator_kit.accounts import Account
    from providers.emulator_kit.oauth_server import IssuedTokens

LOGIN = "https://login.microsoftonline.com"
GRAPH_RESOURCE_ID = "00000003-0000-0000-c000-000000000000"
OIDC_SCOPES = {
    "openid": "Sign you in",
    "profile": "View your basic profile",
    "email": "View your email address",
    "offline_access": "Maintain access to data you have given it access to",
}
GRAPH_SCOPES = {
    "User.Read": "Sign you in and read your profile",
    "Calendars.Read": "Read your calendars",
    "Calendars.ReadWrite": "Have full access to your calendars",
    "MailboxSettings.Read": "Read your mailbox settings",
    "MailboxSettings.ReadWrite": "Read and write to your mailbox settings",
    "OnlineMeetings.ReadWrite": "Read and create your online meetings",
    "OnlineMeetingArtifact.Read.All": "Read your online meetings' attendance reports",
}
GRAPH_PREFIX = "https://graph.microsoft.com/"


# -- identities --------------------------------------------------------------------------------
def tenant_id(email: str) -> str:
    """One directory per email domain, so colleagues share a tenant as they would."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, "sandbox-tenant." + email.rsplit("@", 1)[-1].lower()))


def object_id(email: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "sandbox-user:" + email.lower()))


def pairwise_subject(client_id: str, email: str) -> str:
    """v2.0 ``sub`` differs per application; ``oid`` is the same everywhere."""
    return b64url(hashlib.sha256(f"{client_id}:{object_id(email)}".encode()).digest())[:43]


def client_info(email: str) -> str:
    payload = json.dumps({"uid": object_id(email), "utid": tenant_id(email)}, separators=(",", ":"))
    return b64url(payload.encode())


def canonical_scope(scope: str) -> str:
    """Graph scopes are case-insensitive and may carry the resource URI."""
    bare = scope[len(GRAPH_PREFIX):] if scope.lower().startswith(GRAPH_PREFIX) else scope
    for known in (*OIDC_SCOPES, *GRAPH_SCOPES):
        if bare.lower() == known.lower():
            return known
    return bare


# -- AADSTS bodies -----------------------------------------------------------------------------
# code -> (HTTP status, error, suberror, message). Messages follow the error-code reference and
# the bodies captured in public reports; {client}/{tenant}/{issued} are filled in.
AADSTS: dict[int, tuple[int, str, str | None, str]] = {
    # [seen] Azure/azure-cli#14244 (suberror [seen] in msal-node logs)
    700082: (400, "invalid_grant", "bad_token",
             "The refresh token has expired due to inactivity. The token was issued on {issued} and was "
             "inactive for 90.00:00:00."),
    # [?] the reference lists it as ExpiredOrRevokedGrant
    70008: (400, "invalid_grant", None,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new "
            "interactive authorization request for this user and resource."),
    # [seen] Azure/azure-cli#16745
    50173: (400, "invalid_grant", None,
            "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user "
            "might have changed or reset their password. The grant was issued on '{issued}' and the "
            "TokensValidFrom date (before which tokens are not valid) for this user is '{now}'."),
    # [seen] consent revoked or never given
    65001: (400, "invalid_grant", "consent_required",
            "The user or administrator has not consented to use the application with ID '{client}' named "
            "'{client}'. Send an interactive authorization request for this user and resource."),
    50076: (400, "invalid_grant", "basic_action",
            "Due to a configuration change made by your administrator, or because you moved to a new "
            f"location, you must use multi-factor authentication to access '{GRAPH_RESOURCE_ID}'."),
    50078: (400, "invalid_grant", "basic_action",
            "Presented multi-factor authentication has expired due to policies configured by your "
            f"administrator, you must refresh your multi-factor authentication to access '{GRAPH_RESOURCE_ID}'."),
    50079: (400, "invalid_grant", "basic_action",
            "Due to a configuration change made by your administrator, or because you moved to a new "
            f"location, you must enroll in multi-factor authentication to access '{GRAPH_RESOURCE_ID}'."),
    # [seen] OfficeDev/BotBuilder-MicrosoftTeams#284 (invalid_grant); suberror [?]
    53003: (400, "invalid_grant", "message_only",
            "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance."),
    # [?] wording from the reference
    50057: (400, "invalid_grant", None, "The user account is disabled."),
    50034: (400, "invalid_grant", None,
            "The user account {{EmailHidden}} does not exist in the {tenant} directory. To sign into this "
            "application, the account must be added to the directory."),
    90072: (400, "invalid_grant", None,
            "User account '{{EmailHidden}}' from identity provider 'live.com' does not exist in tenant "
            "'{tenant}' and cannot access the application '{client}'."),
    54005: (400, "invalid_grant", None,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an "
            "existing refresh token."),
    70000: (400, "invalid_grant", None, "Provided grant is invalid or malformed."),
    9002313: (400, "invalid_grant", None, "Invalid request. Request is malformed or invalid."),
    501481: (400, "invalid_grant", None,
             "The Code_Verifier does not match the code_challenge supplied in the authorization request."),
    900144: (400, "invalid_request", None, "The request body must contain the following parameter: '{param}'."),
    70003: (400, "unsupported_grant_type", None, "The app requested an unsupported grant type '{param}'."),
    70011: (400, "invalid_scope", None, "The provided value for the input parameter 'scope' is not valid."),
    700016: (400, "unauthorized_client", None,
             "Application with identifier '{client}' was not found in the directory '{tenant}'."),
    7000215: (401, "invalid_client", None,
              "Invalid client secret provided. Ensure the secret being sent in the request is the client "
              "secret value, not the client secret ID, for a secret added to app '{client}'."),
    7000222: (401, "invalid_client", None, "The provided client secret keys for app '{client}' are expired."),
    7000218: (401, "invalid_client", None,
              "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."),
    50011: (400, "invalid_request", None,
            "The redirect URI '{param}' specified in the request does not match the redirect URIs configured "
            "for the application '{client}'."),
    65004: (400, "access_denied", None, "User declined to consent to access the app."),
    50049: (400, "invalid_instance", None, "Unknown or invalid instance."),
    90002: (400, "invalid_tenant", None,
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into "
            "the correct cloud."),
    50000: (503, "temporarily_unavailable", None,
            "There was an error issuing a token or an issue with our sign-in service."),
}

# Kit error kinds -> AADSTS code.
_KIND_CODES: dict[OAuthErrorKind, int] = {
    OAuthErrorKind.UNKNOWN_CLIENT: 700016,
    OAuthErrorKind.BAD_CLIENT_SECRET: 7000215,
    OAuthErrorKind.CLIENT_AUTH_METHOD: 7000218,
    OAuthErrorKind.INVALID_REQUEST: 900144,
    OAuthErrorKind.UNSUPPORTED_GRANT_TYPE: 70003,
    OAuthErrorKind.UNSUPPORTED_RESPONSE_TYPE: 900144,
    OAuthErrorKind.INVALID_SCOPE: 70011,
    OAuthErrorKind.REDIRECT_URI_MISMATCH: 50011,
    OAuthErrorKind.CODE_INVALID: 70000,
    OAuthErrorKind.CODE_REUSED: 54005,
    OAuthErrorKind.CODE_EXPIRED: 70008,
    OAuthErrorKind.PKCE_MISSING: 900144,
    OAuthErrorKind.PKCE_MISMATCH: 501481,
    OAuthErrorKind.REFRESH_TOKEN_UNKNOWN: 9002313,
    OAuthErrorKind.REFRESH_TOKEN_ROTATED: 70008,
    OAuthErrorKind.GRANT_REVOKED: 70008,
    OAuthErrorKind.TOKEN_CLIENT_MISMATCH: 70000,
    OAuthErrorKind.REVOKE_TOKEN_INVALID: 9002313,
}


def aadsts_body(code: int, *, client: str = "", tenant: str = "common", param: str = "",
                issued: datetime | None = None, error: str | None = None, suberror: str | None = None,
                status: int | None = None) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) of one AADSTS error; unknown codes fall back to a generic invalid_grant."""
    default_status, default_error, default_sub, template = AADSTS.get(
        code, (400, "invalid_grant", None, "The request could not be completed."))
    now = datetime.now(timezone.utc)
    stamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    message = template.format(client=client, tenant=tenant, param=param,
                              issued=(issued or now).strftime("%Y-%m-%dT%H:%M:%S.%f0Z"),
                              now=now.strftime("%Y-%m-%dT%H:%M:%S.0000000Z"))
    body: dict[str, Any] = {
        "error": error or default_error,
        "error_description": f"AADSTS{code}: {message}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}"
                             f"\r\nTimestamp: {stamp}",
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": f"{LOGIN}/error?code={code}",
    }
    if suberror or default_sub:
        body["suberror"] = suberror or default_sub
    if code in (50076, 50078, 50079, 53003):
        # A claims challenge tells an interactive client what to ask for next.
        body["claims"] = '{"access_token":{"capolids":{"essential":true,"values":["' + str(uuid.uuid4()) + '"]}}}'
    return status or default_status, body


def _path_tenant() -> str:
    return (request.view_args or {}).get("tenant", "common") if has_request_context() else "common"


class MicrosoftOAuthDialect(OAuthDialect):
    provider = "microsoft"
    title = "Microsoft"
    issuer = LOGIN
    scope_descriptions = {**OIDC_SCOPES, **GRAPH_SCOPES}
    client_auth_methods = ("client_secret_post", "client_secret_basic")
    rotate_refresh_tokens = True
    rotated_refresh_token_dies = False  # the old one keeps working until it ages out
    code_prefix = "0.AXoA"
    access_token_prefix = "EwBYA8l6"
    refresh_token_prefix = "1.AXoA"

    # -- authorize ---------------------------------------------------------------------------
    def split_scopes(self, raw: str) -> list[str]:
        return list(dict.fromkeys(canonical_scope(s) for s in raw.split()))

    def select_scopes(self, auth: AuthorizationRequest, chosen: list[str] | None) -> list[str]:
        if chosen is None:
            return list(auth.scopes)
        ticked = {canonical_scope(s) for s in chosen}
        return [s for s in auth.scopes if s in ticked]

    def issues_refresh_token(self, auth: AuthorizationRequest, scopes: tuple[str, ...], has_live_offline_grant: bool) -> bool:
        return "offline_access" in scopes

    def authorization_response(self, auth: AuthorizationRequest, code: str, scopes: tuple[str, ...]) -> dict[str, str]:
        params = {"code": code}
        # The consent form's account is who signed in; AAD adds client_info for msal's routing.
        email = request.form.get("account", "").strip().lower() if has_request_context() else ""
        if auth.extras.get("client_info") == "1" and email:
            params["client_info"] = client_info(email)
        if auth.state is not None:
            params["state"] = auth.state
        params["session_state"] = str(uuid.uuid4())
        return params

    def denial_response(self, auth: AuthorizationRequest) -> dict[str, str]:
        _, body = aadsts_body(65004)
        params = {"error": "access_denied", "error_description": body["error_description"]}
        if auth.state is not None:
            params["state"] = auth.state
        return params

    def authorization_error(self, error: OAuthError) -> tuple[str, str]:
        code = _KIND_CODES.get(error.kind, 900144)
        return f"AADSTS{code}", error.description

    # -- token -------------------------------------------------------------------------------
    def token_response(self, issued: "IssuedTokens", grant_type: str) -> dict[str, Any]:
        # [?] Graph scopes come back in the short form they were asked in; offline_access is
        # never listed.
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join(s for s in issued.scopes if s != "offline_access"),
            "expires_in": issued.expires_in,
            "ext_expires_in": issued.expires_in,
            "access_token": issued.access_token,
        }
        if issued.refresh_token:
            body["refresh_token"] = issued.refresh_token
        if issued.id_token:
            body["id_token"] = issued.id_token
        if has_request_context() and request.form.get("client_info") == "1":
            body["client_info"] = client_info(issued.grant.email)
        return body

    def id_token_claims(self, *, account: "Account", client_id: str, scopes: tuple[str, ...], nonce: str | None,
                        access_token: str, now: int) -> dict[str, Any] | None:
        del access_token
        if "openid" not in scopes:
            return None
        tid = tenant_id(account.email)
        claims: dict[str, Any] = {
            "aud": client_id,
            "iss": f"{LOGIN}/{tid}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
        }
        if "email" in scopes:
            claims["email"] = account.email
        if "profile" in scopes:
            claims.update(name=account.name, oid=object_id(account.email), preferred_username=account.email)
        if nonce:
            claims["nonce"] = nonce
        claims.update(sub=pairwise_subject(client_id, account.email), tid=tid, uti=b64url(uuid.uuid4().bytes),
                      ver="2.0")
        return claims

    def error_response(self, error: OAuthError) -> tuple[int, dict[str, Any], dict[str, str]]:
        code = _KIND_CODES.get(error.kind, 9002313)
        overrides: dict[str, Any] = {}
        issued = None
        if error.kind is OAuthErrorKind.GRANT_REVOKED and error.grant is not None:
            reason = error.grant.revoked_reason or {}
            params = reason.get("params") or {}
            code = int(params.get("aadsts") or (65001 if reason.get("scenario") == "consent_required" else 70008))
            overrides = {k: params[k] for k in ("error", "suberror", "status") if params.get(k)}
            issued = datetime.fromtimestamp(error.grant.created_at, timezone.utc)
        param = {OAuthErrorKind.PKCE_MISSING: "code_verifier", OAuthErrorKind.REDIRECT_URI_MISMATCH: "redirect_uri",
                 OAuthErrorKind.UNSUPPORTED_GRANT_TYPE: "grant_type"}.get(error.kind, "")
        if error.kind is OAuthErrorKind.INVALID_REQUEST:
            param = error.description.rsplit(":", 1)[-1].strip() or "grant_type"
        status, body = aadsts_body(code, client=self._client_id(), tenant=_path_tenant(), param=param,
                                   issued=issued, **overrides)
        return status, body, {}

    # -- helpers -----------------------------------------------------------------------------
    def _client_id(self) -> str:
        if has_request_context():
            return request.form.get("client_id") or (request.authorization.username if request.authorization else "") or ""
        return ""


def openid_configuration(tenant: str) -> dict[str, Any]:
    """The v2.0 discovery document. Endpoints name login.microsoftonline.com as the real one does:
    the hub reaches the sandbox by rewriting that host (oauth/microsoft.py), so the document
    stays byte-for-byte the shape msal parses in production."""
    base = f"{LOGIN}/{tenant}"
    issuer_tenant = tenant if tenant not in ("common", "organizations", "consumers") else "{tenantid}"
    return {
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{base}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{LOGIN}/{issuer_tenant}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
                             "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username",
                             "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "kerberos_endpoint": f"{base}/kerberos",
        "tenant_region_scope": None,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }


def decode_client_info(value: str) -> dict[str, str]:
    return json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))


# The public cloud's aliases as instance discovery lists them; msal reads preferred_network and
# preferred_cache to key its token cache.
CLOUD_INSTANCES: list[dict[str, Any]] = [
    {"preferred_network": "login.microsoftonline.com", "preferred_cache": "login.windows.net",
     "aliases": ["login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"]},
    {"preferred_network": "login.partner.microsoftonline.cn", "preferred_cache": "login.partner.microsoftonline.cn",
     "aliases": ["login.partner.microsoftonline.cn", "login.chinacloudapi.cn"]},
    {"preferred_network": "login.microsoftonline.us", "preferred_cache": "login.microsoftonline.us",
     "aliases": ["login.microsoftonline.us", "login.usgovcloudapi.net"]},
    {"preferred_network": "login-us.microsoftonline.com", "preferred_cache": "login-us.microsoftonline.com",
     "aliases": ["login-us.microsoftonline.com"]},
]


def instance_discovery(tenant: str, authorization_endpoint: str | None) -> tuple[int, dict[str, Any]]:
    """``GET /common/discovery/instance?api-version=1.1&authorization_endpoint=…`` as msal calls
    it before anything else: the tenant's discovery document and the cloud's host aliases.
    An endpoint on a host no cloud knows answers AADSTS50049 invalid_instance."""
    host = urlsplit(authorization_endpoint or f"{LOGIN}/{tenant}/oauth2/v2.0/authorize").hostname or ""
    if not any(host in entry["aliases"] for entry in CLOUD_INSTANCES):
        return aadsts_body(50049)
    path_tenant = (urlsplit(authorization_endpoint or "").path.strip("/").split("/") or [tenant])[0] or tenant
    version = "v2.0/" if authorization_endpoint and "/v2.0/" in authorization_endpoint else ""
    return 200, {
        "tenant_discovery_endpoint": f"https://{host}/{path_tenant}/{version}.well-known/openid-configuration",
        "api-version": "1.1",
        "metadata": CLOUD_INSTANCES,
    }
