"""Microsoft's wire errors → `ProviderError`. One table per family, a doc link above each entry.

Identity platform (token endpoint): the AADSTS number in ``error_codes`` decides; ``suberror``
and then ``error`` are fallbacks for codes not listed.
  https://learn.microsoft.com/entra/identity-platform/reference-error-codes
Graph: the ``error.code`` string decides; the HTTP status is the fallback.
  https://learn.microsoft.com/graph/errors
getSchedule: per-schedule ``error.responseCode`` inside HTTP 200.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from providers.base import FULL_SYNC_REQUIRED, ProviderError
from providers.base import ErrorKind as K

PROVIDER = "microsoft"
REFERENCE = "https://learn.microsoft.com/entra/identity-platform/reference-error-codes#aadsts-error-codes"

AADSTS: dict[int, tuple[K, str | None]] = {
    # ExpiredOrRevokedGrantInactiveToken: unused for 90 days. [seen] Azure/azure-cli#14244
    # https://login.microsoftonline.com/error?code=700082
    700082: (K.AUTH_REVOKED, "token_expired_inactivity"),
    # ExpiredOrRevokedGrant: the grant expired or was revoked.
    # https://login.microsoftonline.com/error?code=70008
    70008: (K.AUTH_REVOKED, "token_revoked"),
    # FreshTokenNeeded: revoked, typically after a password change or reset. [seen] Azure/azure-cli#16745
    # https://login.microsoftonline.com/error?code=50173
    50173: (K.AUTH_REVOKED, "password_reset_revoked"),
    # DelegationDoesNotExist: the user or an admin has not consented (or consent was removed).
    # https://login.microsoftonline.com/error?code=65001
    65001: (K.AUTH_REVOKED, "consent_required"),
    # UserStrongAuthClientAuthNRequired: MFA needed; only an interactive sign-in satisfies it.
    # https://login.microsoftonline.com/error?code=50076
    50076: (K.AUTH_REVOKED, "mfa_required"),
    # UserStrongAuthExpired
    # https://login.microsoftonline.com/error?code=50078
    50078: (K.AUTH_REVOKED, "mfa_required"),
    # UserStrongAuthEnrollmentRequired
    # https://login.microsoftonline.com/error?code=50079
    50079: (K.AUTH_REVOKED, "mfa_required"),
    # BlockedByConditionalAccess. [seen] OfficeDev/BotBuilder-MicrosoftTeams#284
    # https://login.microsoftonline.com/error?code=53003
    53003: (K.AUTH_REVOKED, "conditional_access_blocked"),
    # ConditionalAccessFailed (device state, suspicious activity, policy)
    # https://login.microsoftonline.com/error?code=50131
    50131: (K.AUTH_REVOKED, "conditional_access_blocked"),
    # UserDisabled
    # https://login.microsoftonline.com/error?code=50057
    50057: (K.AUTH_REVOKED, "account_disabled"),
    # UserAccountNotFound: deleted from the tenant — no better stable cause than a dead grant.
    # https://login.microsoftonline.com/error?code=50034
    50034: (K.AUTH_REVOKED, "token_revoked"),
    # External (MSA/guest) account not in the tenant.
    # https://login.microsoftonline.com/error?code=90072
    90072: (K.AUTH_REVOKED, "token_revoked"),
    # Invalid / expired client secret: our configuration, nothing the user can fix.
    # https://login.microsoftonline.com/error?code=7000215
    7000215: (K.INVALID_REQUEST, "client_misconfigured"),
    # https://login.microsoftonline.com/error?code=7000222
    7000222: (K.INVALID_REQUEST, "client_misconfigured"),
    # https://login.microsoftonline.com/error?code=7000218
    7000218: (K.INVALID_REQUEST, "client_misconfigured"),
    # Application not found in the directory
    # https://login.microsoftonline.com/error?code=700016
    700016: (K.INVALID_REQUEST, "client_misconfigured"),
    # Redirect URI not registered
    # https://login.microsoftonline.com/error?code=50011
    50011: (K.INVALID_REQUEST, "client_misconfigured"),
    # InvalidScope: the hub asked for something the registration does not allow
    # https://login.microsoftonline.com/error?code=70011
    70011: (K.INVALID_REQUEST, "client_misconfigured"),
    # Code already redeemed: the hub's bug, the user's grant is fine.
    # https://login.microsoftonline.com/error?code=54005
    54005: (K.INVALID_REQUEST, None),
    # PKCE verifier mismatch: the hub's bug.
    # https://login.microsoftonline.com/error?code=501481
    501481: (K.INVALID_REQUEST, None),
    # Malformed grant / refresh token: the stored token is unusable; reconnecting fixes it.
    # https://login.microsoftonline.com/error?code=70000
    70000: (K.AUTH_REVOKED, "token_revoked"),
    # https://login.microsoftonline.com/error?code=9002313
    9002313: (K.AUTH_REVOKED, "token_revoked"),
    # UserDeclinedConsent
    # https://login.microsoftonline.com/error?code=65004
    65004: (K.ACCESS_DENIED, None),
    # TokenIssuanceError: a sign-in service fault; retry.
    # https://login.microsoftonline.com/error?code=50000
    50000: (K.PROVIDER_DOWN, "provider_unavailable"),
    # LoopDetected: too many identical token requests.
    # https://login.microsoftonline.com/error?code=50196
    50196: (K.RATE_LIMITED, "rate_limited"),
}

# suberror → cause, for AADSTS numbers not in the table.
# https://learn.microsoft.com/entra/msal/python/advanced/msal-error-handling-python
SUBERRORS: dict[str, tuple[K, str | None]] = {
    "consent_required": (K.AUTH_REVOKED, "consent_required"),
    "basic_action": (K.AUTH_REVOKED, "mfa_required"),
    "additional_action": (K.AUTH_REVOKED, "mfa_required"),
    "user_password_expired": (K.AUTH_REVOKED, "password_reset_revoked"),
    "token_expired": (K.AUTH_REVOKED, "token_expired_inactivity"),
    "bad_token": (K.AUTH_REVOKED, "token_revoked"),
    "message_only": (K.AUTH_REVOKED, None),
}

# `error` → cause, the last resort (RFC 6749 §5.2 plus Microsoft's additions).
# https://learn.microsoft.com/entra/identity-platform/reference-error-codes#handling-error-codes-in-your-application
TOKEN_ERRORS: dict[str, tuple[K, str | None]] = {
    "invalid_grant": (K.AUTH_REVOKED, "token_revoked"),
    "interaction_required": (K.AUTH_REVOKED, "token_revoked"),
    "consent_required": (K.AUTH_REVOKED, "consent_required"),
    "invalid_client": (K.INVALID_REQUEST, "client_misconfigured"),
    "unauthorized_client": (K.INVALID_REQUEST, "client_misconfigured"),
    "invalid_scope": (K.INVALID_REQUEST, "client_misconfigured"),
    "invalid_request": (K.INVALID_REQUEST, None),
    "unsupported_grant_type": (K.INVALID_REQUEST, None),
    "access_denied": (K.ACCESS_DENIED, None),
    "temporarily_unavailable": (K.PROVIDER_DOWN, "provider_unavailable"),
}

GRAPH_CODES: dict[str, tuple[K, str | None]] = {
    # https://learn.microsoft.com/graph/errors#code-property
    "InvalidAuthenticationToken": (K.AUTH_EXPIRED, None),
    # No Exchange Online mailbox: unlicensed, shared mailbox signed into directly, guest, on-premises.
    # [seen] microsoft/MicrosoftCloud#41; https://learn.microsoft.com/graph/api/resources/mail-api-overview
    "MailboxNotEnabledForRESTAPI": (K.MAILBOX_UNAVAILABLE, "mailbox_unlicensed"),
    # https://learn.microsoft.com/graph/api/resources/mail-api-overview
    "MailboxNotSupportedForRESTAPI": (K.MAILBOX_UNAVAILABLE, "mailbox_unlicensed"),
    # SMTP address without a mailbox. [seen]
    "ErrorNonExistentMailbox": (K.MAILBOX_UNAVAILABLE, "mailbox_unlicensed"),
    # [seen] user id / UPN not valid
    "ErrorInvalidUser": (K.NOT_FOUND, None),
    # [seen] missing delegation, application access policy, or missing scope on Outlook endpoints
    "ErrorAccessDenied": (K.ACCESS_DENIED, None),
    # https://learn.microsoft.com/graph/errors#code-property
    "Authorization_RequestDenied": (K.ACCESS_DENIED, None),
    "accessDenied": (K.ACCESS_DENIED, None),
    # [seen] event gone
    "ErrorItemNotFound": (K.NOT_FOUND, None),
    "ErrorInvalidIdMalformed": (K.NOT_FOUND, None),
    "itemNotFound": (K.NOT_FOUND, None),
    # Outlook throttling: MailboxConcurrency or the 10,000 / 10 min budget.
    # https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits
    "ApplicationThrottled": (K.RATE_LIMITED, "rate_limited"),
    "activityLimitReached": (K.RATE_LIMITED, "rate_limited"),
    "TooManyRequests": (K.RATE_LIMITED, "rate_limited"),
    # [seen] microsoftgraph/microsoft-graph-docs#19703
    "ErrorTimeIntervalTooBig": (K.INVALID_REQUEST, None),
    # https://learn.microsoft.com/graph/errors#code-property
    "serviceNotAvailable": (K.PROVIDER_DOWN, "provider_unavailable"),
    "generalException": (K.PROVIDER_DOWN, "provider_unavailable"),
    "UnknownError": (K.PROVIDER_DOWN, "provider_unavailable"),
    "ErrorInternalServerError": (K.PROVIDER_DOWN, "provider_unavailable"),
    # A delta token whose sync state Graph dropped: start over with a full sync.
    # [seen] microsoftgraph/microsoft-graph-docs#2350 (410); https://learn.microsoft.com/graph/errors
    "SyncStateNotFound": (K.CONFLICT, FULL_SYNC_REQUIRED),
    "resyncRequired": (K.CONFLICT, FULL_SYNC_REQUIRED),
    # A subscription that is gone (deleted, removed, expired). [seen] microsoftgraph/msgraph-sdk-php#221
    "ResourceNotFound": (K.NOT_FOUND, None),
}

GRAPH_STATUSES: dict[int, tuple[K, str | None]] = {
    400: (K.INVALID_REQUEST, None),
    401: (K.AUTH_EXPIRED, None),
    403: (K.ACCESS_DENIED, None),
    404: (K.NOT_FOUND, None),
    409: (K.CONFLICT, None),
    410: (K.CONFLICT, FULL_SYNC_REQUIRED),  # only delta answers 410 Gone
    429: (K.RATE_LIMITED, "rate_limited"),
    500: (K.PROVIDER_DOWN, "provider_unavailable"),
    502: (K.PROVIDER_DOWN, "provider_unavailable"),
    503: (K.PROVIDER_DOWN, "provider_unavailable"),
    504: (K.PROVIDER_DOWN, "provider_unavailable"),
}

# getSchedule's per-schedule error.responseCode. [seen] "5009" in
# microsoftgraph/microsoft-graph-docs#11225; the others are Exchange availability codes.
# https://learn.microsoft.com/exchange/client-developer/web-service-reference/responsecode
SCHEDULE_CODES: dict[str, tuple[K, str | None]] = {
    "5009": (K.NOT_FOUND, None),
    "ErrorMailRecipientNotFound": (K.NOT_FOUND, None),
    "ErrorInvalidUser": (K.NOT_FOUND, None),
    "ErrorNoFreeBusyAccess": (K.ACCESS_DENIED, None),
    "ErrorFreeBusyGenerationFailed": (K.PROVIDER_DOWN, "provider_unavailable"),
    "ErrorProxyRequestProcessingFailed": (K.PROVIDER_DOWN, "provider_unavailable"),
    "ErrorTimeoutExpired": (K.PROVIDER_DOWN, "provider_unavailable"),
}

# userPurpose values that are not a person's own mailbox.
# https://learn.microsoft.com/graph/api/resources/mailboxsettings
NOT_A_PERSON = frozenset({"shared", "room", "equipment"})

_AADSTS = re.compile(r"AADSTS(\d+)")


def aadsts_code(body: Mapping[str, Any]) -> int | None:
    codes = body.get("error_codes")
    if isinstance(codes, list) and codes and str(codes[0]).isdigit():
        return int(codes[0])
    match = _AADSTS.search(str(body.get("error_description") or ""))
    return int(match.group(1)) if match else None


def classify_token_error(status: int | None, body: Mapping[str, Any],
                         retry_after: float | None = None) -> ProviderError:
    code = aadsts_code(body)
    error = str(body.get("error") or "")
    description = str(body.get("error_description") or error or "token request refused")
    # The first line is the message; trace and correlation ids follow on the next lines.
    message = description.split("\r\n")[0].split("\n")[0]
    if code in AADSTS:
        kind, cause = AADSTS[code]
    elif body.get("suberror") in SUBERRORS:
        kind, cause = SUBERRORS[str(body["suberror"])]
    else:
        kind, cause = TOKEN_ERRORS.get(error, (K.UNKNOWN, None))
    if status == 429:
        kind, cause = K.RATE_LIMITED, "rate_limited"
    elif status is not None and status >= 500 and kind is not K.PROVIDER_DOWN:
        kind, cause = K.PROVIDER_DOWN, "provider_unavailable"
    return ProviderError(kind, message, provider=PROVIDER, cause=cause,
                         provider_code=f"AADSTS{code}" if code else (error or None), http_status=status,
                         retry_after=retry_after)


def classify_graph_error(status: int | None, code: str | None, message: str | None,
                         retry_after: float | None = None) -> ProviderError:
    kind, cause = GRAPH_CODES.get(code or "", GRAPH_STATUSES.get(status or 0, (K.UNKNOWN, None)))
    if kind is K.UNKNOWN and status is not None and status >= 500:
        kind, cause = K.PROVIDER_DOWN, "provider_unavailable"
    return ProviderError(kind, message or code or f"HTTP {status}", provider=PROVIDER, cause=cause,
                         provider_code=code, http_status=status, retry_after=retry_after)


def classify_schedule_error(email: str, response_code: str | None, message: str | None) -> ProviderError:
    kind, cause = SCHEDULE_CODES.get(str(response_code or ""), (K.UNKNOWN, None))
    return ProviderError(kind, message or f"free/busy of {email} unavailable", provider=PROVIDER, cause=cause,
                         provider_code=str(response_code) if response_code else None)


def mailbox_purpose_error(purpose: str) -> ProviderError | None:
    """A signed-in identity whose mailbox is not a person's: the hub cannot schedule as it."""
    if purpose not in NOT_A_PERSON:
        return None
    return ProviderError(K.MAILBOX_UNAVAILABLE,
                         f"This is a {purpose} mailbox, not a person's: sign in with your own account and use "
                         "delegation to reach the shared calendar.",
                         provider=PROVIDER, cause="shared_mailbox", provider_code=f"userPurpose:{purpose}")
