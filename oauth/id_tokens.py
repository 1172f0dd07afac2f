"""OpenID Connect id_token verification against the provider's published JWKS."""
from __future__ import annotations

import threading
import time
from typing import Any

import requests
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from providers.base import ErrorKind, ProviderError

JWKS_TTL_SECONDS = 3600


class IdTokenVerifier:
    def __init__(self, provider: str, jwks_url: str, issuers: tuple[str, ...], audience: str,
                 timeout: float = 10.0) -> None:
        self.provider = provider
        self.jwks_url = jwks_url
        self.issuers = issuers
        self.audience = audience
        self.timeout = timeout
        # no mutate: with any other "no keys yet" value or start time, the first decode fails
        # and the forced fetch that follows loads the set: the same answer, one step later.
        self._keys: KeySet | None = None  # pragma: no mutate
        self._fetched_at = 0.0  # pragma: no mutate
        self._lock = threading.Lock()

    def verify(self, id_token: str, nonce: str | None) -> dict[str, Any]:
        try:
            token = jwt.decode(id_token, self._keyset(), algorithms=["RS256"])
        except (JoseError, ValueError):
            # A key rotation at the provider: fetch the set once more before giving up.
            try:
                token = jwt.decode(id_token, self._keyset(force=True), algorithms=["RS256"])
            except (JoseError, ValueError) as exc:
                raise self._invalid(f"id_token signature not valid ({type(exc).__name__})") from None
        options: dict[str, Any] = {
            "iss": {"essential": True, "values": list(self.issuers)},
            "aud": {"essential": True, "value": self.audience},
            "sub": {"essential": True},
        }
        if nonce:
            options["nonce"] = {"essential": True, "value": nonce}
        try:
            jwt.JWTClaimsRegistry(leeway=60, **options).validate(token.claims)
        except JoseError as exc:
            raise self._invalid(f"id_token claims not valid ({exc.error})") from None
        return dict(token.claims)

    def _keyset(self, force: bool = False) -> KeySet:
        with self._lock:
            stale = time.monotonic() - self._fetched_at > JWKS_TTL_SECONDS
            if self._keys is None or stale or force:
                try:
                    resp = requests.get(self.jwks_url, timeout=self.timeout)
                    resp.raise_for_status()
                except requests.RequestException as exc:
                    raise ProviderError(ErrorKind.PROVIDER_DOWN,
                                        f"could not fetch signing keys: {type(exc).__name__}",
                                        provider=self.provider, cause="provider_unavailable") from None
                self._keys = KeySet.import_key_set(resp.json())
                self._fetched_at = time.monotonic()
            return self._keys

    def _invalid(self, message: str) -> ProviderError:
        return ProviderError(ErrorKind.INVALID_REQUEST, message, provider=self.provider,
                             cause="client_misconfigured")
