"""Calendar API v3 ``settings`` and ``colors``: each account's user settings and Google's fixed
colour palette (https://developers.google.com/workspace/calendar/api/v3/reference/settings,
.../colors). Read-only, as in the API."""

from __future__ import annotations

import hashlib
from typing import Any

from providers.emulator_kit.accounts import Account

from . import emulator_errors as errors

# The palette has not changed since 2012; ids are what calendarList.colorId/event.colorId use.
_CALENDAR_BACKGROUNDS = (
    "#ac725e", "#d06b64", "#f83a22", "#fa573c", "#ff7537", "#ffad46", "#42d692", "#16a765", "#7bd148",
    "#b3dc6c", "#fbe983", "#fad165", "#92e1c0", "#9fe1e7", "#9fc6e7", "#4986e7", "#9a9cff", "#b99aff",
    "#c2c2c2", "#cabdbf", "#cca6ac", "#f691b2", "#cd74e6", "#a47ae2",
)
_EVENT_BACKGROUNDS = (
    "#a4bdfc", "#7ae7bf", "#dbadff", "#ff887c", "#fbd75b", "#ffb878", "#46d6db", "#e1e1e1", "#5484ed",
    "#51b749", "#dc2127",
)
COLORS: dict[str, Any] = {
    "kind": "calendar#colors",
    "updated": "2012-02-14T00:00:00.000Z",
    "calendar": {str(i): {"background": c, "foreground": "#1d1d1d"} for i, c in enumerate(_CALENDAR_BACKGROUNDS, 1)},
    "event": {str(i): {"background": c, "foreground": "#1d1d1d"} for i, c in enumerate(_EVENT_BACKGROUNDS, 1)},
}

# Google's defaults for a new account; every value is a string on the wire.
_DEFAULT_SETTINGS = {
    "autoAddHangouts": "true", "dateFieldOrder": "MDY", "defaultEventLength": "60", "format24HourTime": "false",
    "hideInvitations": "false", "hideWeekends": "false", "locale": "en", "remindOnRespondedEventsOnly": "false",
    "showDeclinedEvents": "true", "useKeyboardShortcuts": "true", "weekStart": "0",
}


def _etag(*parts: str) -> str:
    return '"' + str(int(hashlib.sha256(":".join(parts).encode()).hexdigest()[:12], 16)) + '"'


def _values(account: Account) -> dict[str, str]:
    values = {**_DEFAULT_SETTINGS, "timezone": account.timezone}
    values["autoAddHangouts"] = "true" if account.meet_enabled else "false"
    return dict(sorted(values.items()))


def _setting(account: Account, key: str, value: str) -> dict[str, str]:
    return {"kind": "calendar#setting", "etag": _etag(account.email, key, value), "id": key, "value": value}


def settings_list(account: Account) -> dict[str, Any]:
    items = [_setting(account, k, v) for k, v in _values(account).items()]
    return {"kind": "calendar#settings", "etag": _etag(account.email, *(i["etag"] for i in items)),
            "nextSyncToken": "00001" + _etag(account.email)[1:-1], "items": items}


def setting(account: Account, key: str) -> dict[str, str]:
    values = _values(account)
    if key not in values:
        raise errors.not_found()
    return _setting(account, key, values[key])
