"""Standard Webhooks signing: `webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{ts}.{body}")>`.

The key is the secret's bytes: the part after `whsec_`, base64-decoded — not the string
itself. The timestamp is the attempt's (it changes on every retry, so a captured request
cannot be replayed later), while the id stays the event's (so receivers can dedupe).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os

SECRET_PREFIX = "whsec_"
# The spec asks for 24–64 random bytes; 32 matches the HMAC-SHA256 block strength.
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(os.urandom(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    # no mutate: b64decode ignores surplus "=", so any padding at least this long decodes the same.
    return base64.b64decode(encoded + "=" * (-len(encoded) % 4))  # pragma: no mutate


def sign(secret: str, message_id: str, timestamp: int, body: str) -> str:
    # An id or timestamp containing "." could shift bytes between the signed fields.
    if "." in message_id:
        raise ValueError("a webhook id must not contain '.'")
    signed = f"{message_id}.{int(timestamp)}.{body}".encode()
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, message_id: str, timestamp: int, body: str) -> dict[str, str]:
    return {"webhook-id": message_id, "webhook-timestamp": str(int(timestamp)),
            "webhook-signature": sign(secret, message_id, timestamp, body)}
