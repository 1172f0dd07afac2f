"""Connecting with a credential form instead of an OAuth consent (CalDAV's app passwords).

A provider that signs in this way registers a `CredentialForm`: the fields a person fills in and
a `verify` function that checks them at the provider and returns a `Grant` (the secret to store,
usually without expiry or refresh token, and the identity) or raises ProviderError with a
cause. Everything else is shared with OAuth: the connect link, storing the connection
encrypted (replacing it in place on reconnect), the redirect to `return_url`. The form is
served at the connect link itself and posted back to it (oauth/connect.py, hub/web/connect.py).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from oauth.flows import Grant, OAuthFlow
from providers.base import ErrorKind, ProviderError


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    kind: str  # url | text | password — the HTML input type
    help: str = ""
    default: str = ""  # shown filled in (never for a password)


@dataclass(frozen=True)
class CredentialForm:
    provider: str
    title: str
    intro: str
    fields: tuple[FormField, ...]
    verify: Callable[[Mapping[str, str]], Grant]
    # cause -> what to do, in this provider's terms; shown under the form after a refusal.
    fixes: Mapping[str, str] = field(default_factory=dict)
    # What the token manager and the connect service ask of every connect method:
    required_scopes: tuple[str, ...] = ()
    new_grant_revokes_previous: bool = False

    def values(self, form: Mapping[str, str]) -> dict[str, str]:
        return {f.name: str(form.get(f.name) or "") for f in self.fields}

    def fix_for(self, error: ProviderError | None) -> str | None:
        return self.fixes.get(error.cause or "") if error is not None else None  # pragma: no mutate (no fix has an empty cause)

    def refresh(self, refresh_token: str, scopes: tuple[str, ...] = ()) -> Grant:
        raise ProviderError(ErrorKind.AUTH_REVOKED, "a form credential cannot be refreshed",
                            provider=self.provider, cause="credentials_invalid")

    def revoke(self, token: str) -> None:
        """Nothing to revoke at the provider: the person removes the app password there."""


# What connects a provider: an OAuth consent, or this form.
ConnectMethod = OAuthFlow | CredentialForm
