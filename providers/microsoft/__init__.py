"""Microsoft 365 calendars with Teams: the provider spec (the registry's one line points here)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from providers.base import (Capability, CauseText, Conferencing, OAuthConnect, OAuthEndpoints,
                            ProviderConfig, ProviderSpec, Setting)

if TYPE_CHECKING:  # pragma: no cover
    from flask import Blueprint

    from oauth.flows import OAuthFlow
    from providers.base import AttendanceReader, CalendarProvider, CalendarSync


def endpoints(config: ProviderConfig) -> OAuthEndpoints:
    """The identity platform v2.0 for the configured tenant and Graph v1.0. With a sandbox, the
    login host is the sandbox's `/microsoft` (providers/microsoft/oauth.py rewrites msal's https
    authority there) and the default client is the sandbox's own."""
    sb = config.sandbox
    tenant = tenant_of(config)
    login = sb or "https://login.microsoftonline.com"
    return OAuthEndpoints(
        authorize_url=f"{login}/{tenant}/oauth2/v2.0/authorize",
        token_url=f"{login}/{tenant}/oauth2/v2.0/token",
        revoke_url=None,  # v2.0 has no token revocation endpoint
        jwks_url=f"{login}/{tenant}/discovery/v2.0/keys",
        api_base=f"{sb}/v1.0" if sb else "https://graph.microsoft.com/v1.0",
        client_id=config.get("client_id") or ("sandbox-microsoft-client" if sb else ""),
        client_secret=config.get("client_secret") or ("sandbox-microsoft-secret" if sb else ""))


def tenant_of(config: ProviderConfig) -> str:
    return config.get("tenant") or "common"


def _flow(config: ProviderConfig) -> "OAuthFlow":
    from providers.microsoft.oauth import microsoft_flow
    return microsoft_flow(endpoints(config), tenant_of(config), timeout=config.timeout)


def _calendar(config: ProviderConfig) -> "CalendarProvider":
    from providers.microsoft.calendar import MicrosoftCalendar
    return MicrosoftCalendar(endpoints(config).api_base, timeout=config.timeout)


def _attendance(config: ProviderConfig) -> "AttendanceReader":
    from providers.microsoft.attendance import TeamsAttendance
    return TeamsAttendance(endpoints(config).api_base, timeout=config.timeout)


def _sync(config: ProviderConfig) -> "CalendarSync":
    from providers.microsoft.sync import MicrosoftSync
    return MicrosoftSync(endpoints(config).api_base, timeout=config.timeout)


def _warm(calendar: Any) -> None:
    # msgraph-sdk imports ~1,200 model modules on its first answer (1-4 s).
    calendar.warm()


def _emulator():
    from providers.microsoft.emulator import MicrosoftEmulator
    return MicrosoftEmulator


def _diagnostics():
    from providers.microsoft import diagnostics
    return diagnostics


def _push_webhooks() -> "Blueprint":
    from webhooks.calendar_push import blueprint  # the hub's generic receiver, mounted per provider
    return blueprint("microsoft", ack=202, lifecycle=True)


SPEC = ProviderSpec(
    name="microsoft",
    title="Microsoft 365",
    capabilities=frozenset({Capability.CALENDAR, Capability.TEAMS}),
    connect=OAuthConnect(_flow),
    settings=(
        Setting("client_id", "Microsoft identity platform app (client) id (the sandbox's when unset)"),
        Setting("client_secret", "Microsoft app client secret", secret=True),
        Setting("tenant", "Directory (tenant) id, or `common` for any work account", default="common"),
    ),
    calendar=_calendar,
    meetings=Conferencing(Capability.TEAMS, "Microsoft Teams", unavailable_cause="teams_unavailable",
                          link_missing_cause="teams_link_not_generated",
                          join_label="Join Microsoft Teams Meeting"),
    native=True,
    attendance=_attendance,
    sync=_sync,
    attendance_scopes=("OnlineMeetingArtifact.Read.All",),
    attendance_scopes_in_consent=False,
    emulator=_emulator,
    webhooks=_push_webhooks,
    diagnostics=_diagnostics,
    warm_up=_warm,
    # Graph's MailboxConcurrency: https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits
    concurrency_per_account=4,
    causes=(
        CauseText("teams_unavailable",
                  "Microsoft Teams meetings are not enabled for this account, so interviews cannot get a "
                  "Teams link.",
                  "Ask your administrator to enable Teams, or choose another video meeting default.",
                  "choose_other_conferencing",
                  ("Ask your administrator to enable Teams meetings for you.",
                   "Or pick another default video meeting below.")),
        CauseText("teams_link_not_generated",
                  "Microsoft did not create a Teams link. This happens when the account has not used Teams "
                  "for a while.",
                  "Open Teams once (send a message in any chat), then try again; if it keeps happening, "
                  "disconnect and reconnect.", "retry",
                  ("Sign in to Microsoft Teams in your browser and send a message or open a channel.",
                   "Try again.", "If it still fails, disconnect Microsoft 365 here and connect it again.")),
        CauseText("mailbox_unlicensed",
                  "This Microsoft account has no mailbox, so it has no calendar the hub can use.",
                  "Ask your administrator for an Exchange Online licence, then reconnect.", "contact_admin",
                  ("Ask your administrator to assign a licence that includes Exchange Online.",
                   "Then choose Reconnect.")),
    ),
)
