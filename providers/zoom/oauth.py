"""Zoom's OAuth client (per-user "General app" authorization code flow): authlib flow, HTTP
Basic client authentication, identity from ``GET /v2/users/me``. Endpoints come from settings,
so the same code talks to Zoom or to the sandbox.

https://developers.zoom.us/docs/integrations/oauth/
"""
from __future__ import annotations

from typing import Any

from oauth.flows import AuthlibFlow, Identity, OAuthEndpoints
from providers.base import ErrorKind, ProviderError
from providers.zoom.errors import PROVIDER, classify_token_error
from providers.zoom.meetings import ZoomMeetings

# Without these the hub can neither make meetings nor tell whose Zoom it is.
REQUIRED_SCOPES = ("meeting:write", "user:read")


def zoom_flow(endpoints: OAuthEndpoints, timeout: float = 20.0) -> AuthlibFlow:
    zoom = ZoomMeetings(endpoints.api_base, timeout=timeout)

    def identity(body: dict[str, Any], nonce: str) -> Identity:
        del nonce  # no OpenID Connect at Zoom: the new access token asks who it belongs to
        token = body.get("access_token")
        if not token:
            raise ProviderError(ErrorKind.INVALID_REQUEST, "Zoom sent no access token",
                                provider=PROVIDER, cause="client_misconfigured")
        user = zoom.me(token)
        return Identity(account_id=user.id, email=user.email, name=user.name,
                        extra={"zoom_account_id": user.account_id, "zoom_user_type": user.type})

    return AuthlibFlow(
        provider=PROVIDER,
        client_id=endpoints.client_id,
        client_secret=endpoints.client_secret,
        authorize_endpoint=endpoints.authorize_url,
        token_endpoint=endpoints.token_url,
        revoke_endpoint=endpoints.revoke_url,
        # The Marketplace app holds the scopes; Zoom has refused scopes in the authorize URL
        # at times, so none are sent and the granted ones are read from the token answer.
        scopes=(),
        required_scopes=REQUIRED_SCOPES,
        classify_error=classify_token_error,
        resolve_identity=identity,
        token_auth_method="client_secret_basic",  # Zoom's token endpoint takes Basic only
        new_grant_revokes_previous=True,  # Zoom 4741: a new authorization kills the older ones
        timeout=timeout,
    )
