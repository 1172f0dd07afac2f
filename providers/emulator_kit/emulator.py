"""The base class every provider emulator extends.

A ``ProviderEmulator`` owns one provider's routes (a Flask blueprint mounted under
``/<name>``), its authorization server and the control hooks. The base class gives every
emulator, for free:

- the request log (every request to the blueprint is recorded before anything can fail),
- the ``latency`` fault (``{"ms": 100}``), applied to every request of the provider,
- the credential faults ``invalid_grant`` (revoke the account's grants: refresh refused, access
  tokens dead, until the user consents again) and ``expire_access_tokens`` (refresh still
  works), which act the moment they are armed,
- ``account_for_request()``: whose request this is, from the bearer token or the
  code/refresh token in a token call, so faults aimed at one account hit its token calls too.

See ``providers/emulator_kit/__init__.py`` for how a new provider plugs in.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, ClassVar, Mapping

from flask import Blueprint, g, has_request_context, request

from .accounts import Account
from .config import OAuthClient
from .context import SandboxContext
from .faults import Fault
from .oauth_dialect import OAuthDialect, OAuthError, OAuthErrorKind
from .oauth_server import AuthorizationServer, IssuedTokens
from .request_log import describe_request

# Scenarios the base class implements; an emulator lists those it supports in `scenarios`.
COMMON_SCENARIOS: Mapping[str, str] = {
    "invalid_grant": "The account's grants are revoked: refresh answers invalid_grant and access "
    "tokens are rejected until the user consents again.",
    "expire_access_tokens": "The account's current access tokens expire now; refresh still works.",
    "latency": 'Every request of the provider waits params.ms milliseconds first ({"ms": 100}).',
}

# Scenarios that change state once when armed instead of failing requests later.
IMMEDIATE_SCENARIOS = frozenset({"invalid_grant", "expire_access_tokens"})


def _charged() -> dict[str, Fault] | None:
    """The faults the current request has used a hit of, by id (None outside a request)."""
    if not has_request_context():
        return None
    if "sandbox_charged_faults" not in g:
        g.sandbox_charged_faults = {}
    return g.sandbox_charged_faults


class ProviderEmulator:
    #: URL prefix and provider name used everywhere (control API, faults, request log).
    name: ClassVar[str] = ""
    #: scenario -> one-line description; the control API refuses any other scenario.
    scenarios: ClassVar[Mapping[str, str]] = COMMON_SCENARIOS

    def __init__(self, ctx: SandboxContext) -> None:
        self.ctx = ctx
        # The hub's registration always requires PKCE (config.require_pkce=False relaxes it).
        self.client: OAuthClient = dataclasses.replace(ctx.config.client_for(self.name), require_pkce=True)
        self.oauth = AuthorizationServer(
            dialect=self.create_dialect(),
            client=self.client,
            other_clients=ctx.config.other_clients_for(self.name),
            clock=ctx.config.clock,
            signing_key=ctx.signing_key,
            account_lookup=lambda email: ctx.state.account(self.name, email),
            access_token_lifetime=ctx.config.access_token_lifetime,
            code_lifetime=ctx.config.authorization_code_lifetime,
            require_pkce=ctx.config.require_pkce,
        )

    # -- to implement ------------------------------------------------------------------------
    def create_dialect(self) -> OAuthDialect:
        raise NotImplementedError

    def add_routes(self, blueprint: Blueprint) -> None:
        """Register the provider's OAuth and API routes (paths relative to ``/<name>``)."""
        raise NotImplementedError

    def endpoints(self, base_url: str) -> dict[str, str]:
        """Absolute URLs the hub needs (authorize, token, jwks, api base...) for /_control/clients."""
        return {}

    def create_control_event(
        self, account: Account, start: datetime, end: datetime, status: str, subject: str | None
    ) -> dict[str, Any]:
        """Put a busy block on the account's calendar (POST /_control/events); return it in the
        provider's own wire format. Raise ValueError for a status the provider cannot show."""
        raise NotImplementedError(f"{self.name} has no calendar")

    def export_state(self) -> Any:
        """State kept outside SandboxState and the authorization server, for the demo's snapshot
        (providers/emulator_kit/snapshot.py); None when there is none."""
        return None

    def import_state(self, state: Any) -> None:
        """Put back what `export_state` returned."""

    def account_created(self, account: Account, data: Mapping[str, Any]) -> None:
        """POST /_control/accounts made or updated `account`; `data` is the whole request body,
        for provider-only fields (CalDAV's ``password``)."""

    def control_events(self, account: Account) -> list[dict[str, Any]]:
        """What is on the account's calendar now, in wire format (GET /_control/events)."""
        return []

    def person_changes_event(self, event_id: str, changes: Mapping[str, Any]) -> dict[str, Any] | None:
        """Someone moves or retitles an event in their own calendar (PATCH /_control/events/{id};
        `changes` has "start"/"end" as datetimes and "subject"): change it as the provider's
        own client would and push the notifications the provider sends. Return the event in
        wire format, or None when this provider has no event with that id."""
        return None

    def person_deletes_event(self, event_id: str) -> bool:
        """Someone deletes the event in their calendar (DELETE /_control/events/{id}); False when
        this provider has no such event."""
        return False

    def person_responds(self, event_id: str, email: str, response: str) -> dict[str, Any] | None:
        """An attendee answers the invitation (POST /_control/events/{id}/responses; response
        accepted|declined|tentative); None when this provider has no such event. Raise
        ControlRefusal when the email is not an attendee."""
        return None

    def control_meetings(self, account: Account) -> list[dict[str, Any]]:
        """The account's meetings (GET /_control/meetings): Zoom overrides this."""
        return []

    def control_channels(self, account: Account) -> list[dict[str, Any]]:
        """The push channels open on the account's calendar now, in wire format
        (GET /_control/channels): Google's watch channels, Graph's subscriptions."""
        return []

    def control_grants(self, account: Account) -> list[dict[str, Any]]:
        """The account's consents to the provider's apps (GET /_control/grants): whether each is
        alive and why it died, as the provider holds them."""
        return [{"id": g.id, "client_id": g.client_id, "scopes": list(g.scopes), "alive": g.alive,
                 "revoked_reason": g.revoked_reason} for g in self.oauth.grants(account.email)]

    def record_participant(self, meeting_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Someone joins (or leaves) one of the provider's meetings
        (POST /_control/meetings/{provider}/{id}/participants); raise `ControlRefusal` to refuse
        (providers/emulator_kit/participants.py)."""
        raise NotImplementedError(f"{self.name} has no meeting participants")

    def set_webhook(self, url: str, secret: str) -> None:
        """Where the provider sends its signed notifications (POST /_control/webhooks)."""
        raise NotImplementedError(f"{self.name} sends no configurable webhooks")

    def extra_grant(self, grant_type: str, client: OAuthClient, form: Mapping[str, str]) -> IssuedTokens:
        """Grant types beyond code and refresh listed in the dialect's ``grant_types``
        (e.g. Zoom's account_credentials)."""
        raise OAuthError(OAuthErrorKind.UNSUPPORTED_GRANT_TYPE, f"Invalid grant_type: {grant_type}")

    # -- provided ----------------------------------------------------------------------------
    def blueprint(self) -> Blueprint:
        blueprint = Blueprint(f"{self.name}_emulator", __name__)
        blueprint.before_request(self._observe_request)
        self.add_routes(blueprint)
        return blueprint

    def apply_fault(self, fault: Fault) -> bool:
        """Act on a newly armed fault; True when it took effect at once and must not stay
        armed. Override to add immediate scenarios, calling super() for the common ones."""
        if fault.scenario == "invalid_grant":
            self.oauth.revoke_grants(fault.email, {"scenario": fault.scenario, "params": dict(fault.params)})
            return True
        if fault.scenario == "expire_access_tokens":
            self.oauth.expire_access_tokens(fault.email)
            return True
        return False

    def take_fault(self, scenario: str, email: str | None) -> Fault | None:
        method = request.method if has_request_context() else None
        return self.ctx.faults.take(self.name, scenario, email, _charged(), method)

    def peek_fault(self, scenario: str, email: str | None) -> Fault | None:
        """Look without using a hit up."""
        return self.ctx.faults.peek(self.name, scenario, email)

    def account(self, email: str) -> Account:
        return self.ctx.state.ensure_account(self.name, email)

    def account_for_request(self) -> str | None:
        auth = request.headers.get("Authorization", "")
        if auth[:7].lower() == "bearer ":
            return self.oauth.email_for_credential(auth[7:].strip())
        if request.mimetype == "application/x-www-form-urlencoded":
            form = request.form
            return self.oauth.email_for_credential(form.get("code") or form.get("refresh_token"))
        return None

    def reset(self) -> None:
        """Forget codes, grants and tokens (state, faults and the log are reset by the app)."""
        self.oauth.reset()

    def _observe_request(self) -> None:
        self.ctx.requests.record(describe_request(self.name, request, self.ctx.now()))
        fault = self.take_fault("latency", self.account_for_request())
        if fault is not None:
            self.ctx.config.sleep(float(fault.params.get("ms", 100)) / 1000.0)
