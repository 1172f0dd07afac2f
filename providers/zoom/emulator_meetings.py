"""The sandbox Zoom's users and meetings, in Zoom's wire shapes
(https://developers.zoom.us/docs/api/meetings/ and /users/).

Meetings live in ``SandboxState`` under each host's ``"meetings"`` collection; a provider-wide
index maps meeting id → host so an id is unique across the sandbox and a meeting that belongs to
someone else answers 3001 as it would for a user-level token.
"""

from __future__ import annotations

import base64
import builtins
import hashlib
import secrets
import string
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from providers.emulator_kit.accounts import Account
from providers.emulator_kit.state import SandboxState
from providers.emulator_kit.timefmt import format_rfc3339, from_epoch, zone_or_none

from . import emulator_errors as errors
from .emulator_settings import merged_settings

PROVIDER = "zoom"
WEB_HOST = "https://us05web.zoom.us"  # the join host Zoom hands out for the us05 cluster
MEETING_TYPES = (1, 2, 3, 8)  # instant, scheduled, recurring without / with fixed time
TOPIC_MAX, AGENDA_MAX = 200, 2000
# Zoom user types (https://developers.zoom.us/docs/api/users/#tag/users/GET/users/{userId}):
# 1 Basic, 2 Licensed, 4 "Unassigned without Meetings Basic" — a user with no meetings product,
# who cannot host. The sandbox reports 4 for accounts with zoom_can_host=false.
LICENSED, NO_MEETINGS = 2, 4


def _b64id(seed: str) -> str:
    """A 22-character id shaped like Zoom's user and account ids."""
    return base64.urlsafe_b64encode(hashlib.sha256(seed.encode()).digest()).decode()[:22]


def zoom_user_id(account: Account) -> str:
    return _b64id(f"zoom-user:{account.subject}")


def zoom_account_id(account: Account) -> str:
    # Everyone on one email domain shares a Zoom account, as a company's users would.
    return _b64id(f"zoom-account:{account.email.rpartition('@')[2]}")


class ZoomMeetingStore:
    def __init__(self, state: SandboxState, clock: Callable[[], float],
                 can_host: Callable[[Account, bool], bool]) -> None:
        self.state = state
        self.clock = clock
        # (account, consume) -> may this account host now; consume=False only looks (users/me).
        self.can_host = can_host

    # -- users -------------------------------------------------------------------------------
    def user(self, account: Account) -> dict[str, Any]:
        first, _, last = account.name.partition(" ")
        user_id = zoom_user_id(account)
        pmi = 1_000_000_000 + int(hashlib.sha256(user_id.encode()).hexdigest()[:8], 16) % 8_999_999_999
        return {
            "id": user_id,
            "first_name": first,
            "last_name": last,
            "display_name": account.name,
            "email": account.email,
            "type": LICENSED if self.can_host(account, False) else NO_MEETINGS,
            "role_name": "Member",
            "pmi": pmi,
            "use_pmi": False,
            "personal_meeting_url": f"{WEB_HOST}/j/{pmi}",
            "timezone": account.timezone,
            "verified": 1,
            "dept": "",
            "created_at": "2024-01-02T09:00:00Z",
            "last_login_time": format_rfc3339(from_epoch(self.clock())),
            "pic_url": "",
            "language": "en-US",
            "phone_number": "",
            "status": "active",
            "role_id": "2",
            "account_id": zoom_account_id(account),
            "account_number": int(hashlib.sha256(zoom_account_id(account).encode()).hexdigest()[:8], 16),
            "cluster": "us05",
            "user_created_at": "2024-01-02T09:00:00Z",
        }

    def resolve_user(self, caller: Account, user_id: str) -> Account:
        """``me``, the caller's id or the caller's email; anyone else is not the caller's to act
        for with a user-level token."""
        if user_id in ("me", zoom_user_id(caller)) or user_id.lower() == caller.email:
            return caller
        known = [a for a in self.state.accounts(PROVIDER)
                 if user_id in (zoom_user_id(a), a.email) or user_id.lower() == a.email]
        if not known:
            raise errors.user_not_found(user_id)
        raise errors.user_not_in_account(user_id)

    # -- meetings ------------------------------------------------------------------------------
    def _index(self) -> dict[str, str]:
        return self.state.provider_data(PROVIDER).setdefault("meeting_hosts", {})

    def _meetings(self, host: Account) -> dict[str, dict[str, Any]]:
        return self.state.collection(PROVIDER, host.email, "meetings")

    def create(self, host: Account, body: Mapping[str, Any]) -> dict[str, Any]:
        fields = _validated(body, host)
        if not self.can_host(host, True):
            raise errors.cannot_host()
        now = from_epoch(self.clock())
        with self.state.lock:
            index = self._index()
            meeting_id = _new_meeting_id(index)
            given = body.get("password")
            password = given if isinstance(given, str) else _passcode()
            encrypted = base64.urlsafe_b64encode(hashlib.sha256(f"{meeting_id}:{password}".encode()).digest()
                                                 ).decode().rstrip("=")[:32]
            start = fields.get("start") or now
            meeting = {
                "uuid": base64.b64encode(secrets.token_bytes(16)).decode(),
                "id": int(meeting_id),
                "host_id": zoom_user_id(host),
                "host_email": host.email,
                "topic": fields.get("topic", "Zoom meeting"),
                "type": fields.get("type", 2),
                "status": "waiting",
                "start_time": format_rfc3339(start.astimezone(timezone.utc)),
                "duration": fields.get("duration", 60),
                "timezone": fields.get("timezone") or host.timezone,
                "agenda": fields.get("agenda", ""),
                "created_at": format_rfc3339(now),
                "start_url": f"{WEB_HOST}/s/{meeting_id}?zak={secrets.token_urlsafe(48)}",
                "join_url": f"{WEB_HOST}/j/{meeting_id}?pwd={encrypted}",
                "password": password,
                "h323_password": "".join(c for c in password if c.isdigit()) or "000000",
                "pstn_password": "".join(c for c in password if c.isdigit()) or "000000",
                "encrypted_password": encrypted,
                "settings": merged_settings(None, body.get("settings")),
                "pre_schedule": False,
            }
            index[meeting_id] = host.email
            self._meetings(host)[meeting_id] = meeting
            return dict(meeting)

    def _owned(self, caller: Account, meeting_id: str) -> dict[str, Any]:
        if not meeting_id.isdigit():
            raise errors.invalid_meeting_id(meeting_id)
        with self.state.lock:
            meeting = self._meetings(caller).get(meeting_id)
            if meeting is None:  # unknown, deleted, or another user's
                raise errors.meeting_not_found(meeting_id)
            return meeting

    def get(self, caller: Account, meeting_id: str) -> dict[str, Any]:
        with self.state.lock:
            return dict(self._owned(caller, meeting_id))

    def patch(self, caller: Account, meeting_id: str, body: Mapping[str, Any]) -> None:
        fields = _validated(body, caller)
        with self.state.lock:
            meeting = self._owned(caller, meeting_id)
            if not self.can_host(caller, True):
                raise errors.cannot_host()
            settings = merged_settings(meeting["settings"], body["settings"]) if "settings" in body else None
            for key in ("topic", "type", "duration", "agenda", "timezone"):
                if key in fields:
                    meeting[key] = fields[key]
            if "start" in fields:
                meeting["start_time"] = format_rfc3339(fields["start"].astimezone(timezone.utc))
            if settings is not None:
                meeting["settings"] = settings

    def delete(self, caller: Account, meeting_id: str) -> None:
        with self.state.lock:
            self._owned(caller, meeting_id)
            del self._meetings(caller)[meeting_id]
            self._index().pop(meeting_id, None)

    def list(self, caller: Account) -> dict[str, Any]:
        with self.state.lock:
            meetings = sorted(self._meetings(caller).values(), key=lambda m: m["start_time"])
            summary_keys = ("uuid", "id", "host_id", "topic", "type", "start_time", "duration", "timezone",
                            "agenda", "created_at", "join_url")
            items = [{k: m[k] for k in summary_keys} for m in meetings]
        return {"page_size": 30, "total_records": len(items), "next_page_token": "", "meetings": items}

    def all_for(self, host: Account) -> "builtins.list[dict[str, Any]]":
        with self.state.lock:
            return [dict(m) for m in sorted(self._meetings(host).values(), key=lambda m: m["created_at"])]


def _validated(body: Mapping[str, Any], host: Account) -> dict[str, Any]:
    """Zoom's field checks (300 Validation Failed) for create and update. Unknown fields are
    ignored, as Zoom does (zoomus sends ``user_id``/``id`` inside the body)."""
    out: dict[str, Any] = {}
    if "topic" in body:
        if not isinstance(body["topic"], str) or len(body["topic"]) > TOPIC_MAX:
            raise errors.validation_failed("topic")
        out["topic"] = body["topic"]
    if "agenda" in body:
        if not isinstance(body["agenda"], str) or len(body["agenda"]) > AGENDA_MAX:
            raise errors.validation_failed("agenda")
        out["agenda"] = body["agenda"]
    if "type" in body:
        if body["type"] not in MEETING_TYPES:
            raise errors.validation_failed("type")
        out["type"] = body["type"]
    if "duration" in body:
        if isinstance(body["duration"], bool) or not isinstance(body["duration"], int) or body["duration"] < 0:
            raise errors.validation_failed("duration")
        out["duration"] = body["duration"]
    if "timezone" in body and body["timezone"] not in (None, ""):
        if zone_or_none(body["timezone"]) is None:
            raise errors.validation_failed("timezone")
        out["timezone"] = body["timezone"]
    if body.get("start_time"):  # absent: a scheduled meeting starts "now", as on Zoom
        out["start"] = _start_time(body["start_time"], out.get("timezone") or host.timezone)
    return out


def _start_time(value: Any, zone_name: str) -> datetime:
    """``yyyy-MM-ddTHH:mm:ssZ`` is UTC; without ``Z`` the time is local to ``timezone`` (or the
    host's zone). This is why a client must never send a local time with a ``Z`` glued on."""
    if not isinstance(value, str):
        raise errors.validation_failed("start_time")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise errors.validation_failed("start_time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone_or_none(zone_name) or timezone.utc)
    return parsed


def _new_meeting_id(index: Mapping[str, str]) -> str:
    while True:
        candidate = str(secrets.randbelow(9 * 10**10) + 10**10)  # 11 digits, like real ids
        if candidate not in index:
            return candidate


def _passcode() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(6))
