"""`diagnose`: flow 3 of DESIGN.md — load the health record → refresh → read-only probes →
rules → checks with cause and fix → health record written back.

What a diagnosis may change: a refreshed token (through the TokenManager, exactly as any
request would) and the health record. It never writes to a calendar or a meeting; the only
other row it may add is a connect link when reconnecting is the fix.
"""
from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Callable, Sequence

from sqlalchemy import select

from hub.container import Hub
from hub.services import explanations
from hub.services.diagnostics import health, probing, rules
from hub.services.diagnostics.model import Check, ConnectionState, Report, UserState
from hub.services.diagnostics.providers import ProviderFacts, provider_facts, title
from hub.services.directory import require_connection, require_user, user_connections
from hub.services.sync import status as sync_status
from hub.services.sync.adapters import pushes
from hub.storage.models import Connection, User
from providers import registry
from providers.probes import FAIL, WARN, Subject

if TYPE_CHECKING:  # pragma: no cover
    from oauth.connect import ConnectService

# (tenant_id, user row, provider, login_hint) -> a fresh connect link URL
ConnectLink = Callable[[str, User, str, "str | None"], str]
# Fixes whose URL would not help: nothing to do, try again, or the hub's operators must act.
NO_LINK = frozenset({explanations.WAIT, explanations.RETRY, explanations.CONTACT_SUPPORT})


class DiagnosticsService:
    def __init__(self, hub: Hub, connect_link: ConnectLink) -> None:
        self.hub = hub
        self.connect_link = connect_link
        self._facts: dict[str, ProviderFacts] = {}

    @classmethod
    def for_hub(cls, hub: Hub, connect: "ConnectService") -> "DiagnosticsService":
        """Fixes that need a sign-in carry a fresh connect link from the connect service."""
        return cls(hub, lambda tenant_id, user, provider, hint:
                   connect.create_link(tenant_id, user, provider, None, hint).url)

    # --- entry points ---------------------------------------------------------------------
    def diagnose_user(self, tenant_id: str, user_id: str) -> Report:
        with self.hub.db.session() as session:
            user = require_user(session, tenant_id, user_id)
            states = [ConnectionState.of(c) for c in user_connections(session, user)]
        return self._diagnose(tenant_id, user, states, user_level=True)

    def diagnose_connection(self, tenant_id: str, connection_id: str) -> Report:
        with self.hub.db.session() as session:
            conn = require_connection(session, tenant_id, connection_id)
            user = session.get(User, conn.user_id)
            assert user is not None  # a connection belongs to a user (ON DELETE CASCADE)
            states = [ConnectionState.of(conn)]
        return self._diagnose(tenant_id, user, states, user_level=False)

    # --- the flow -------------------------------------------------------------------------
    def _diagnose(self, tenant_id: str, user: User, states: Sequence[ConnectionState], user_level: bool) -> Report:
        started = time.perf_counter()
        now = self.hub.clock()
        known = [s for s in states if s.provider in registry.PROVIDERS]
        facts = {s.provider: self.facts(s.provider) for s in known}
        user_state = UserState(user.id, user.external_id, user.email, user.default_conferencing)
        evidence = {s.id: rules.Evidence(s, facts[s.provider]) for s in known}
        for ev in evidence.values():
            ev.peers = rules.peers_of(ev.state, self._tenant_logins(tenant_id, ev.state))
        syncs = self._sync_status([s for s in known if pushes(s.provider)], now)
        for cid, found in syncs.items():
            evidence[cid].sync = found

        deadline = self.hub.settings.provider_timeout_seconds + 5
        active = [s.id for s in known if s.status == "active"]
        tokens = probing.refresh_all(self.hub, active, deadline)  # level 1
        jobs = []
        for cid, outcome in tokens.items():
            ev = evidence[cid]
            ev.refreshed = True
            if isinstance(outcome, str):
                subject = Subject(ev.state.provider_account_id, ev.state.account_email, ev.state.capabilities)
                jobs += [probing.ProbeJob(cid, probe, outcome, subject) for probe in ev.facts.probes]
            else:
                ev.refresh_error = outcome
        for cid, findings in probing.probe_all(self.hub, jobs, deadline).items():  # level 2
            evidence[cid].findings = findings

        checks: list[Check] = []
        if user_level:
            checks += rules.user_checks(user_state, known, facts)
        per_connection = {cid: rules.connection_checks(ev, user_state, now) for cid, ev in evidence.items()}
        for cid in evidence:
            checks += per_connection[cid]
        checks += [self._unknown_provider(s) for s in states if s.provider not in registry.PROVIDERS]

        links: dict[tuple[str, str | None], str] = {}
        for check in checks:
            self._explain(check, tenant_id, user, states, links)
        for cid, ev in evidence.items():
            probed = ev.refreshed and ev.refresh_error is None
            health.record(self.hub.db, cid, per_connection[cid], now, probed)
        with self.hub.db.session() as session:
            views = [health.health_view(c) for c in session.execute(
                select(Connection).where(Connection.id.in_([s.id for s in states]))
                .order_by(Connection.connected_at)).scalars()]
        for view in views:  # the same as GET /v1/connections/{id}/sync
            if view.get("id") in syncs:
                view["sync"] = syncs[view["id"]].as_dict()
        return Report(checks, views, user.external_id, now, (time.perf_counter() - started) * 1000)

    def _sync_status(self, states: Sequence[ConnectionState], now: datetime) -> dict[str, sync_status.SyncStatus]:
        if not states:
            return {}
        with self.hub.db.session() as session:
            return {s.id: sync_status.of(session, s.id, now) for s in states}

    def facts(self, provider: str) -> ProviderFacts:
        # Settings are fixed for the hub's life, so a provider's facts are gathered once.
        if provider not in self._facts:
            self._facts[provider] = provider_facts(self.hub, provider)
        return self._facts[provider]

    def _tenant_logins(self, tenant_id: str, state: ConnectionState) -> list[tuple[str, str, str, str]]:
        with self.hub.db.session() as session:
            rows = session.execute(
                select(Connection.id, Connection.provider, Connection.provider_account_id, User.external_id)
                .join(User, User.id == Connection.user_id)
                .where(Connection.tenant_id == tenant_id, Connection.provider == state.provider,
                       Connection.provider_account_id == state.provider_account_id,
                       Connection.user_id != state.user_id)).all()
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    # --- words and fixes ------------------------------------------------------------------
    def _explain(self, check: Check, tenant_id: str, user: User, states: Sequence[ConnectionState],
                 links: dict[tuple[str, str | None], str]) -> None:
        if check.status not in (FAIL, WARN) or (not check.cause and check.status == WARN):
            return
        # A failure the hub cannot name still gets words and a fix, from its kind.
        words = explanations.explain(check.cause, check.kind, title(check.provider) if check.provider else None)
        if not check.summary:
            check.summary = words.summary
        provider, hint = self._link_target(check, states)
        url = None
        if provider is not None and words.action not in NO_LINK:
            key = (provider, hint)
            if key not in links:
                links[key] = self.connect_link(tenant_id, user, provider, hint)
            url = links[key]
        check.fix = words.as_fix(url)

    def _link_target(self, check: Check, states: Sequence[ConnectionState]) -> tuple[str | None, str | None]:
        """Which provider a connect link should open, and for which account."""
        if check.connection_id:
            state = next(s for s in states if s.id == check.connection_id)
            # Reconnect the same account — except when the account itself is the problem.
            own_account = check.cause in ("credentials_shared", "shared_mailbox")
            return state.provider, None if own_account else state.account_email
        if check.cause == "conferencing_not_connected":
            wanted = check.wants
            bringing = registry.bringing(wanted or "")
            return (bringing.name if bringing else None), None
        if check.cause == "organizer_not_connected":
            calendars = [s.name for s in registry.SPECS if s.calendar is not None]
            # One calendar provider: link to it. Several: the person must choose, so no link.
            return (calendars[0] if len(calendars) == 1 else None), None
        return None, None

    @staticmethod
    def _unknown_provider(state: ConnectionState) -> Check:
        return Check(f"{state.provider}.provider", FAIL,
                     f"This hub does not know the provider {state.provider!r} any more.",
                     "the connection's provider is not in providers/registry.py", connection_id=state.id,
                     provider=state.provider, cause="client_misconfigured", kind="invalid_request")
