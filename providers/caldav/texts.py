"""What a person reads about a CalDAV failure: the fix, in CalDAV's own terms.

The hub-wide table (hub/services/explanations.py) says what each cause means for any provider;
these are the CalDAV-specific next steps, shown under the connect form and in diagnostics.
"""
from __future__ import annotations

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
