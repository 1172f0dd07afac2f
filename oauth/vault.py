"""Token vault: AES-256-GCM with the ciphertext bound to its row and column.

Format: ``v1.<key id>.<base64url(nonce || ciphertext+tag)>``. The associated data is
``table/column/row id``, so a ciphertext copied into another row or column fails to decrypt
instead of silently handing one user's token to another. Several keys can be configured; the
first encrypts, all decrypt, and `reencrypt` moves a value to the first key (online rotation).
"""
from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = "v1"
NONCE_BYTES = 12


class VaultError(Exception):
    """A ciphertext that cannot be opened: wrong row, unknown key, or tampered."""


@dataclass(frozen=True)
class Binding:
    """Where a ciphertext lives; it is authenticated as associated data."""

    table: str
    column: str
    row_id: str

    def aad(self) -> bytes:
        return f"{self.table}/{self.column}/{self.row_id}".encode()


class TokenVault:
    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("the vault needs at least one key")
        for kid, key in keys:
            if len(key) != 32:
                raise ValueError(f"key {kid!r} is not 256 bits")
            if not kid.isalnum():
                raise ValueError(f"key id {kid!r} must be alphanumeric")
        self.primary_kid = keys[0][0]
        self._keys = {kid: AESGCM(key) for kid, key in keys}

    @classmethod
    def from_config(cls, spec: str) -> "TokenVault":
        """Parse ``kid:base64key,kid2:base64key`` (the HUB_ENCRYPTION_KEYS format)."""
        keys = []
        for part in filter(None, (p.strip() for p in spec.split(","))):
            kid, _, b64 = part.partition(":")
            if not b64:
                raise ValueError("HUB_ENCRYPTION_KEYS entries are kid:base64key")
            keys.append((kid, base64.urlsafe_b64decode(_pad(b64))))
        return cls(keys)

    @staticmethod
    def generate_key_spec(kid: str | None = None) -> str:
        kid = kid or "k" + secrets.token_hex(4)
        # no mutate: the last character of 32 bytes in base64 is one of A, Q, g, w, never an "X".
        return f"{kid}:" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")  # pragma: no mutate

    def encrypt(self, plaintext: str, binding: Binding) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self.primary_kid].encrypt(nonce, plaintext.encode(), binding.aad())
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{VERSION}.{self.primary_kid}.{body}"

    def decrypt(self, ciphertext: str, binding: Binding) -> str:
        version, kid, body = _split(ciphertext)
        if version != VERSION:
            raise VaultError("unknown ciphertext version")
        aes = self._keys.get(kid)
        if aes is None:
            raise VaultError(f"no key with id {kid!r} is configured")
        try:
            raw = base64.urlsafe_b64decode(_pad(body))
            return aes.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], binding.aad()).decode()
        except (InvalidTag, ValueError) as exc:
            # ValueError: a body cut short (AESGCM refuses a short nonce) or not base64 — a
            # damaged row must read as unreadable, like a tampered one, not crash the request.
            raise VaultError("ciphertext does not belong here or was altered") from exc

    def key_id_of(self, ciphertext: str) -> str:
        return _split(ciphertext)[1]

    def reencrypt(self, ciphertext: str, binding: Binding) -> str | None:
        """The value under the primary key, or None when it is already there."""
        if self.key_id_of(ciphertext) == self.primary_kid:
            return None
        return self.encrypt(self.decrypt(ciphertext, binding), binding)


def _split(ciphertext: str) -> tuple[str, str, str]:
    parts = ciphertext.split(".", 2)
    if len(parts) != 3:
        raise VaultError("not a vault ciphertext")
    return parts[0], parts[1], parts[2]


def _pad(b64: str) -> str:
    # no mutate: b64decode ignores surplus "=", so any padding at least this long decodes the same.
    return b64 + "=" * (-len(b64) % 4)  # pragma: no mutate
