"""What a person reads about a CalDAV failure: the fix, in CalDAV's own terms.

The hub-wide table (hub/services/explanations.py) says what each cause means for any provider;
these are the CalDAV-specific next steps, shown under the connect form and in diagnostics.
"""
from __future__ import annotations

from providers.base import CauseText

# Causes only a password-signed-in calendar produces (the spec's `causes`; the hub-wide table
# in hub/services/explanations.py picks them up from the registry).
CAUSES = (
    CauseText("credentials_invalid",
              "{provider} refused the user name or password the hub has for this account (the password "
              "was changed or removed, or it was mistyped).",
              "Reconnect with a new app-specific password.", "reconnect",
              ("Create a new app-specific password in the account's security settings.",
               "Choose Reconnect and enter it.")),
    CauseText("app_password_required",
              "{provider} accepts only an app-specific password for calendar apps, not the account's own "
              "password.",
              "Create an app-specific password and reconnect with it.", "reconnect",
              ("Create an app-specific password in the account's security settings.",
               "Choose Reconnect and enter it instead of the account password.")),
    CauseText("calendar_not_found",
              "The calendar the hub was using is no longer there (it was deleted, or the account has none).",
              "Create or restore the calendar, then reconnect.", "reconnect",
              ("Create a calendar in the account, or restore the deleted one.", "Choose Reconnect.")),
)

FIXES: dict[str, str] = {
    "credentials_invalid": "Check the user name, and create a new app-specific password in your account's "
                           "security settings if you are not sure of it; then connect again.",
    "app_password_required": "This service refuses account passwords for calendar apps. Create an "
                             "app-specific password (iCloud: appleid.apple.com → Sign-In and Security → "
                             "App-Specific Passwords; Fastmail: Settings → Privacy & Security → App "
                             "passwords) and use it here.",
    "calendar_not_found": "Create a calendar in your account (or restore the deleted one), then connect "
                          "again so the hub finds it.",
    "client_misconfigured": "Check the server URL: it must be your provider's CalDAV address, for example "
                            "https://caldav.icloud.com/ or https://caldav.fastmail.com/dav/.",
    "provider_unavailable": "The server did not answer in time or could not be reached. Check the server "
                            "URL, or try again in a few minutes.",
    "rate_limited": "The server asks the hub to slow down. Try again in a minute.",
}


def fix_for(cause: str | None) -> str | None:
    return FIXES.get(cause or "")
