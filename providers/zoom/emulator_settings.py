"""Meeting ``settings`` as Zoom keeps them: every documented key comes back, with what the client
sent or Zoom's documented default (https://developers.zoom.us/docs/api/meetings/#tag/meetings/POST/users/{userId}/meetings).

Defaults are the ``default`` values of Zoom's published OpenAPI document where it gives one
(tests/schemas/zoom/); the rest are what Zoom answers for a new meeting of a user with account
defaults (false, empty, ``{"enable": false}``). Keys Zoom does not document are ignored, as Zoom
does. A value of the wrong type or outside its enum is Zoom's 300 "Validation Failed."."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from . import emulator_errors as errors

DEFAULTS: dict[str, Any] = {
    # In Zoom's published OpenAPI document (MeetingSettings), documented defaults first.
    "host_video": False,
    "participant_video": False,
    "cn_meeting": False,
    "in_meeting": False,
    "join_before_host": False,
    "jbh_time": 0,
    "mute_upon_entry": False,
    "watermark": False,
    "use_pmi": False,
    "approval_type": 2,
    "registration_type": 1,
    "audio": "both",
    "auto_recording": "none",
    "enforce_login": False,
    "enforce_login_domains": "",
    "alternative_hosts": "",
    "alternative_hosts_email_notification": True,
    "close_registration": False,
    "show_share_button": False,
    "allow_multiple_devices": False,
    "registrants_confirmation_email": True,
    "registrants_email_notification": True,
    "waiting_room": False,
    "meeting_authentication": False,
    "authentication_option": "",
    "authentication_domains": "",
    "authentication_name": "",
    "authentication_exception": [],
    "contact_name": "",
    "contact_email": "",
    "encryption_type": "enhanced_encryption",
    "global_dial_in_countries": [],
    "global_dial_in_numbers": [],
    "custom_keys": [],
    "approved_or_denied_countries_or_regions": {"enable": False},
    "breakout_room": {"enable": False},
    "language_interpretation": {"enable": False},
    # Documented in Zoom's current reference, newer than the published document we keep.
    "additional_data_center_regions": [],
    "alternative_host_update_polls": False,
    "audio_conference_info": "",
    "auto_start_meeting_summary": False,
    "auto_start_ai_companion_questions": False,
    "calendar_type": 1,
    "continuous_meeting_chat": {"enable": False, "auto_add_invited_external_users": False,
                                "auto_add_meeting_participants": False},
    "device_testing": False,
    "disable_participant_video": False,
    "email_in_attendee_report": False,
    "email_notification": True,
    "enable_dedicated_group_chat": False,
    "focus_mode": False,
    "host_save_video_order": False,
    "internal_meeting": False,
    "meeting_invitees": [],
    "participant_focused_meeting": False,
    "private_meeting": False,
    "push_change_to_calendar": False,
    "request_permission_to_unmute_participants": False,
    "resources": [],
    "show_join_info": False,
    "sign_language_interpretation": {"enable": False},
}

ENUMS: dict[str, tuple[Any, ...]] = {
    "approval_type": (0, 1, 2),
    "registration_type": (1, 2, 3),
    "audio": ("both", "telephony", "voip", "thirdParty"),
    "auto_recording": ("local", "cloud", "none"),
    "jbh_time": (0, 5, 10, 15),
    "encryption_type": ("enhanced_encryption", "e2ee"),
    "calendar_type": (1, 2),
}


def _valid(key: str, value: Any) -> bool:
    default = DEFAULTS[key]
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, type(default))
    return ok and (key not in ENUMS or value in ENUMS[key])


def merged_settings(current: Mapping[str, Any] | None, given: Any) -> dict[str, Any]:
    """``current`` (Zoom's defaults for a new meeting) with the documented keys of ``given``
    applied; objects such as ``breakout_room`` are merged key by key, as a PATCH does."""
    settings = copy.deepcopy(dict(current) if current is not None else DEFAULTS)
    if given is None:
        return settings
    if not isinstance(given, Mapping):
        raise errors.validation_failed("settings")
    for key, value in given.items():
        if key not in DEFAULTS or value is None:  # null leaves the setting as it is [?]
            continue
        if not _valid(key, value):
            raise errors.validation_failed(f"settings.{key}")
        if isinstance(value, dict):
            settings[key] = {**settings.get(key, {}), **copy.deepcopy(value)}
        else:
            settings[key] = copy.deepcopy(value)
    return settings
