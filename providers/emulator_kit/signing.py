"""RS256 signing of id_tokens and the matching JWKS document.

The key is generated when the sandbox app is created (never at import), so every sandbox has
its own key and a client that verifies id_tokens must fetch the JWKS, as it would in
production.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def token_hash(token: str) -> str:
    """OpenID Connect `at_hash`: left half of SHA-256 of the access token, base64url."""
    digest = hashlib.sha256(token.encode("ascii")).digest()
    return b64url(digest[: len(digest) // 2])


class SigningKey:
    def __init__(self, kid: str | None = None) -> None:
        self.kid = kid or secrets.token_hex(20)
        self._private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def restore(self, kid: str, private_pem: bytes) -> None:
        """Become a saved key again (in place: the emulators hold this object)."""
        loaded = serialization.load_pem_private_key(private_pem, password=None)
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise ValueError("not an RSA private key")
        self.kid, self._private = kid, loaded

    def private_pem(self) -> bytes:
        """The key in PKCS#8 PEM, for a demo that keeps its sandbox across restarts."""
        return self._private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption())

    def sign(self, claims: dict[str, Any]) -> str:
        header = {"alg": "RS256", "kid": self.kid, "typ": "JWT"}
        signing_input = ".".join(
            b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        signature = self._private.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"

    def public_jwk(self) -> dict[str, str]:
        numbers = self._private.public_key().public_numbers()
        return {
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": _int_b64(numbers.n),
            "e": _int_b64(numbers.e),
        }

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [self.public_jwk()]}
