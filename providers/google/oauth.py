"""Google's OAuth client: authlib flow + id_token identity. Endpoints come from settings, so
the same code talks to Google or to the sandbox."""
from __future__ import annotations

from typing import Any

from oauth.flows import AuthlibFlow, Identity, OAuthEndpoints
from oauth.id_tokens import IdTokenVerifier
from providers.base import ErrorKind, ProviderError
from providers.google.errors import PROVIDER, classify_token_error

CALENDAR_EVENTS = "https://www.googleapis.com/auth/calendar.events"
CALENDAR_READONLY = "https://www.googleapis.com/auth/calendar.readonly"
SCOPES = ("openid", "email", "profile", CALENDAR_EVENTS, CALENDAR_READONLY)
# Without these the hub cannot read free/busy and write events; openid/email/profile only
# name the account.
REQUIRED_SCOPES = (CALENDAR_EVENTS, CALENDAR_READONLY)
ISSUERS = ("https://accounts.google.com", "accounts.google.com")


def google_flow(endpoints: OAuthEndpoints, timeout: float = 20.0) -> AuthlibFlow:
    verifier = IdTokenVerifier(PROVIDER, endpoints.jwks_url or "", ISSUERS, endpoints.client_id)

    def identity(body: dict[str, Any], nonce: str) -> Identity:
        id_token = body.get("id_token")
        if not id_token:
            raise ProviderError(ErrorKind.INVALID_REQUEST, "Google sent no id_token",
                                provider=PROVIDER, cause="client_misconfigured")
        claims = verifier.verify(id_token, nonce)
        return Identity(account_id=str(claims["sub"]), email=claims.get("email"),
                        name=claims.get("name"))

    return AuthlibFlow(
        provider=PROVIDER,
        client_id=endpoints.client_id,
        client_secret=endpoints.client_secret,
        authorize_endpoint=endpoints.authorize_url,
        token_endpoint=endpoints.token_url,
        revoke_endpoint=endpoints.revoke_url,
        scopes=SCOPES,
        required_scopes=REQUIRED_SCOPES,
        classify_error=classify_token_error,
        resolve_identity=identity,
        # offline + consent: the only way Google hands out a refresh token every time.
        authorize_params={"access_type": "offline", "prompt": "consent",
                          "include_granted_scopes": "true"},
        timeout=timeout,
    )
