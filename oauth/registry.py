"""Which connect method (an OAuth flow, or a credential form) connects which provider: one line
per provider, imported lazily."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from oauth.credential_form import ConnectMethod, CredentialForm
from oauth.flows import OAuthFlow

if TYPE_CHECKING:  # pragma: no cover
    from hub.config import Settings


def _google(settings: "Settings") -> OAuthFlow:
    from oauth.google import google_flow
    return google_flow(settings.google(), timeout=settings.provider_timeout_seconds)


def _zoom(settings: "Settings") -> OAuthFlow:
    from oauth.zoom import zoom_flow
    return zoom_flow(settings.zoom(), timeout=settings.provider_timeout_seconds)


def _microsoft(settings: "Settings") -> OAuthFlow:
    from oauth.microsoft import microsoft_flow
    return microsoft_flow(settings.microsoft(), settings.microsoft_tenant, timeout=settings.provider_timeout_seconds)


def _caldav(settings: "Settings") -> CredentialForm:
    from providers.caldav.connect import credential_form
    return credential_form(settings)


FLOWS: dict[str, Callable[["Settings"], ConnectMethod]] = {
    "google": _google,
    "microsoft": _microsoft,
    "zoom": _zoom,
    "caldav": _caldav,
}
