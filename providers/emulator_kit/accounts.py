"""Sandbox accounts: the people (and shared mailboxes and rooms) who sign in at an emulated
provider. Provider-specific switches (Teams, Meet, Zoom hosting) live here too so the control
API can set them without knowing which emulator reads them."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

ACCOUNT_KINDS = ("user", "shared", "room")
# How a mailbox names its time zone: IANA ("Europe/Berlin") or Windows ("W. Europe Standard
# Time", what Outlook on Windows sets up). Only Microsoft reads it.
TIMEZONE_STYLES = ("iana", "windows")


@dataclass(frozen=True)
class Account:
    provider: str
    email: str
    name: str
    subject: str  # stable per provider and email: the OpenID `sub` / provider user id
    kind: str = "user"
    timezone: str = "UTC"  # always IANA here; timezone_style decides how Graph names it
    timezone_style: str = "iana"
    teams_enabled: bool = True
    meet_enabled: bool = True
    zoom_can_host: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


# Attributes the control API may set; everything else is derived.
SETTABLE_ATTRIBUTES = ("name", "kind", "timezone", "timezone_style", "teams_enabled", "meet_enabled", "zoom_can_host")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def default_name(email: str) -> str:
    local = email.split("@", 1)[0]
    words = [w for w in local.replace("_", ".").replace("-", ".").split(".") if w]
    return " ".join(w.capitalize() for w in words) or email


def stable_subject(provider: str, email: str) -> str:
    """A numeric id derived from provider and email, so it survives /_control/reset (Google's
    `sub` is a 21-digit number; other providers can reformat it)."""
    digest = hashlib.sha256(f"{provider}:{email}".encode()).digest()
    return "1" + str(int.from_bytes(digest[:12], "big")).zfill(29)[-20:]
