"""Push notifications and incremental sync, end to end over real HTTP: the live hub (its jobs on
its own threads) and the sandbox's Google and Microsoft, which push to the hub's public URL as
the providers would. People change events in their calendars through the sandbox's control API
(PATCH/DELETE /_control/events/{id}, …/responses); the backend's webhook receiver must get
`event.updated` / `event.cancelled`. Every wait is a poll with a deadline."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests
from sqlalchemy import select

from hub.storage.models import Job, SyncChannel, SyncState
from providers.base import ProviderError
from tests.e2e.support import Api, Sandbox
from tests.e2e.sync_support import (Backend, channel, connected_person, event_body, rfc3339, state, sync_jobs, synced,
                                    wait_for)


@pytest.fixture
def backend(api: Api):
    receiver = Backend()
    r = api.post("/v1/webhook-endpoints", json={"url": receiver.url, "events": ["event.updated", "event.cancelled"]})
    assert r.status_code == 201, r.text
    yield receiver
    receiver.close()


def _hub_post(live_hub, path: str, **kw) -> requests.Response:
    session = requests.Session()
    session.trust_env = False
    return session.post(live_hub.url + path, timeout=10, **kw)


def _people_change(sandbox: Sandbox, provider_event_id: str, **changes) -> dict:
    r = sandbox.http.patch(f"{sandbox.base}/_control/events/{provider_event_id}", json=changes, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def _respond(sandbox: Sandbox, provider_event_id: str, email: str, response: str) -> None:
    r = sandbox.http.post(f"{sandbox.base}/_control/events/{provider_event_id}/responses",
                          json={"email": email, "response": response}, timeout=10)
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_changes_people_make_reach_the_backend(api, sandbox, live_hub, backend, provider):
    person = connected_person(api, sandbox, provider)
    status = synced(api, person)
    assert status["window"]["start"] < status["window"]["end"] and status["errors"] == []
    opened = "/events/watch" if provider == "google" else "/subscriptions"
    assert [q for q in sandbox.requests_log(provider) if q["path"].endswith(opened) and q["method"] == "POST"]

    created = api.post("/v1/events", json=event_body(person))
    assert created.status_code == 201, created.text
    event = created.json()
    assert event["attendees"][0]["response_status"] == "needs_action"
    provider_event_id = event["calendar"]["event_id"]

    # The hub's own move sends its event.updated once; the sync that follows adds nothing.
    own = datetime.fromisoformat(event["start"].replace("Z", "+00:00")) + timedelta(hours=1)
    r = api.patch(f"/v1/events/{event['id']}", json={"start": own.isoformat(),
                                                     "end": (own + timedelta(hours=1)).isoformat()})
    assert r.status_code == 200, r.text

    moved = own + timedelta(hours=2)
    _people_change(sandbox, provider_event_id, start=rfc3339(moved), end=rfc3339(moved + timedelta(hours=1)),
                   subject="Interview: Ada (moved)")
    update = wait_for(lambda: [b for b in backend.of("event.updated", event["id"])
                               if b["data"].get("changed_by") == "provider"], "event.updated for the move")[0]
    assert update["data"]["start"] == rfc3339(moved)
    assert update["data"]["changes"]["start"] == {"previous": rfc3339(own), "current": rfc3339(moved)}
    assert update["data"]["changes"]["title"]["current"] == "Interview: Ada (moved)"
    by = [b["data"].get("changed_by") for b in backend.of("event.updated", event["id"])]
    assert sorted(by, key=str) == [None, "provider"], "the hub's own PATCH: its own event.updated, none from sync"

    _respond(sandbox, provider_event_id, "ada@candidates.example", "declined")
    answered = wait_for(lambda: [b for b in backend.of("event.updated", event["id"])
                                 if "attendees" in b["data"].get("changes", {})], "event.updated for the answer")[0]
    assert answered["data"]["changes"]["attendees"] == [
        {"email": "ada@candidates.example", "previous": "needs_action", "current": "declined"}]
    shown = api.get(f"/v1/events/{event['id']}").json()
    assert shown["attendees"][0]["response_status"] == "declined" and shown["start"] == rfc3339(moved)

    r = sandbox.http.delete(f"{sandbox.base}/_control/events/{provider_event_id}", timeout=10)
    assert r.status_code == 204, r.text
    wait_for(lambda: backend.of("event.cancelled", event["id"]), "event.cancelled")
    assert api.get(f"/v1/events/{event['id']}").json()["status"] == "cancelled"



def _delivered(sandbox: Sandbox, provider: str, external_id: str) -> list[dict]:
    """What the provider pushed to the hub on that channel and the hub acknowledged."""
    answer = sandbox.http.get(f"{sandbox.base}/_control/notifications", params={"provider": provider}, timeout=10)
    return [n for n in answer.json() if n["status"] == "delivered" and external_id in (
        n["headers"].get("X-Goog-Channel-ID", "") if provider == "google" else n["body"])]


def _replay(live_hub, provider: str, note: dict) -> requests.Response:
    if provider == "google":
        return _hub_post(live_hub, "/webhooks/google", headers=note["headers"])
    return _hub_post(live_hub, "/webhooks/microsoft", data=note["body"].encode(),
                     headers={"Content-Type": "application/json"})


def _retire_job(hub, connection_id: str) -> Job | None:
    with hub.db.session() as s:
        return next((j for j in s.execute(select(Job).where(Job.name == "connections.retire")).scalars()
                     if j.payload.get("connection_id") == connection_id), None)


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_disconnect_is_at_once_and_the_provider_is_cleaned_up_in_the_background(api, sandbox, live_hub, provider):
    """DELETE answers without a provider call; a job stops the channel at the provider, then
    revokes the grant (Google; Graph has no revocation) — retried while the provider fails.
    The deleted connection's channel is no longer the hub's: its notifications are refused."""
    person = connected_person(api, sandbox, provider)
    synced(api, person)
    row = channel(live_hub.hub, person.connection_id)
    assert row.external_id in [c["id"] for c in sandbox.channels(provider, person.email)]
    if provider == "microsoft":  # Graph sends nothing on creation: a change makes a notification
        sandbox.busy(provider, person.email, *_slot(60))
    note = wait_for(lambda: _delivered(sandbox, provider, row.external_id), "a notification delivered")[-1]
    hub_client = sandbox.http.get(f"{sandbox.base}/_control/clients", timeout=10).json()[provider]["client_id"]

    def alive_grants() -> list[dict]:
        return [g for g in sandbox.grants(provider, person.email) if g["alive"] and g["client_id"] == hub_client]

    assert alive_grants()
    # The provider is down: the disconnect still happens at once.
    sandbox.fault(provider, "server_error", person.email, params={"status": 500})
    try:
        assert api.delete(f"/v1/connections/{person.connection_id}").status_code == 204
        assert api.get(f"/v1/users/{person.user_id}/connections").json()["connections"] == []
        assert _replay(live_hub, provider, note).status_code == 404  # refused: no such channel any more
        failed = wait_for(lambda: (lambda j: j if j is not None and j.attempts >= 1 and j.last_error else None)(
            _retire_job(live_hub.hub, person.connection_id)), "the retire job's first attempt failing")
        assert failed.status == "pending" and "ProviderError" in failed.last_error
        # Not revoked while the channel could not be stopped: afterwards no token could stop it.
        assert row.external_id in [c["id"] for c in sandbox.channels(provider, person.email)]
        assert alive_grants()
    finally:
        sandbox.http.delete(f"{sandbox.base}/_control/faults", params={"provider": provider}, timeout=10)
    # The retry (after the job store's backoff) does it.
    wait_for(lambda: row.external_id not in [c["id"] for c in sandbox.channels(provider, person.email)],
             "the channel stopped at the provider")
    if provider == "google":
        wait_for(lambda: not alive_grants(), "the grant revoked at Google")
    done = wait_for(lambda: (lambda j: j if j is not None and j.status == "done" else None)(
        _retire_job(live_hub.hub, person.connection_id)), "the retire job done")
    assert done.payload["access_token_enc"] is None and done.payload["refresh_token_enc"] is None
    assert _replay(live_hub, provider, note).status_code == 404


def _slot(hours: int) -> tuple[str, str]:
    start = (datetime.now(timezone.utc) + timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)
    return rfc3339(start), rfc3339(start + timedelta(hours=1))


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_an_event_moved_beyond_the_synced_window_is_a_move_not_a_cancellation(api, sandbox, live_hub, backend,
                                                                            provider):
    """Graph's calendarView delta reports an event moved out of its window as `@removed`: only
    reading the event tells a move from a deletion. The backend must hear of a move."""
    person = connected_person(api, sandbox, provider)
    synced(api, person)
    event = api.post("/v1/events", json=event_body(person)).json()
    far = datetime.fromisoformat(event["start"].replace("Z", "+00:00")) + timedelta(days=90)
    assert far > state(live_hub.hub, person.connection_id).window_end
    _people_change(sandbox, event["calendar"]["event_id"], start=rfc3339(far), end=rfc3339(far + timedelta(hours=1)))

    update = wait_for(lambda: [b for b in backend.of("event.updated", event["id"])
                               if b["data"].get("changed_by") == "provider"], "event.updated for the far move")[0]
    assert update["data"]["changes"]["start"] == {"previous": event["start"], "current": rfc3339(far)}
    assert backend.of("event.cancelled", event["id"]) == []
    shown = api.get(f"/v1/events/{event['id']}").json()
    assert (shown["status"], shown["start"]) == ("confirmed", rfc3339(far))


def test_forged_google_notifications_are_refused_and_a_repeat_is_acknowledged(api, sandbox, live_hub):
    person = connected_person(api, sandbox, "google")
    synced(api, person)
    row = channel(live_hub.hub, person.connection_id)
    before = sync_jobs(live_hub.hub, person.connection_id)
    base = {"X-Goog-Channel-ID": row.external_id, "X-Goog-Resource-ID": row.resource_id,
            "X-Goog-Resource-State": "exists", "X-Goog-Message-Number": "9001"}
    wrong = _hub_post(live_hub, "/webhooks/google", headers={**base, "X-Goog-Channel-Token": "forged"})
    assert wrong.status_code == 401 and wrong.headers["Content-Type"].startswith("application/problem+json")
    unknown = _hub_post(live_hub, "/webhooks/google", headers={**base, "X-Goog-Channel-ID": "no-such-channel"})
    assert unknown.status_code == 404
    assert sync_jobs(live_hub.hub, person.connection_id) == before and state(live_hub.hub, person.connection_id).dirty_since is None

    # A delivery the sandbox made, sent again as is: acknowledged, nothing done.
    def delivered() -> list[dict]:
        answer = sandbox.http.get(f"{sandbox.base}/_control/notifications", params={"provider": "google"}, timeout=10)
        return [n for n in answer.json()
                if n["headers"].get("X-Goog-Channel-ID") == row.external_id and n["status"] == "delivered"]
    notes = wait_for(delivered, "the channel's first message delivered")
    again = _hub_post(live_hub, "/webhooks/google", headers=notes[-1]["headers"])
    assert again.status_code == 200 and again.json() == {"status": "duplicate"}
    assert sync_jobs(live_hub.hub, person.connection_id) == before


def test_forged_graph_notifications_are_refused_and_validation_is_echoed(api, sandbox, live_hub):
    person = connected_person(api, sandbox, "microsoft")
    synced(api, person)
    row = channel(live_hub.hub, person.connection_id)
    before = sync_jobs(live_hub.hub, person.connection_id)
    note = {"value": [{"subscriptionId": row.external_id, "clientState": "forged", "changeType": "updated",
                       "resource": "me/events/x", "resourceData": {"id": "x"}}]}
    assert _hub_post(live_hub, "/webhooks/microsoft", json=note).status_code == 401
    note["value"][0]["subscriptionId"] = "no-such-subscription"
    assert _hub_post(live_hub, "/webhooks/microsoft", json=note).status_code == 404
    assert sync_jobs(live_hub.hub, person.connection_id) == before
    echo = _hub_post(live_hub, "/webhooks/microsoft/lifecycle?validationToken=Validation%3A%20token%20%26%20more")
    assert echo.status_code == 200 and echo.headers["Content-Type"].startswith("text/plain")
    assert echo.text == "Validation: token & more"


def _moved_event(api, sandbox, backend, person, hours: int) -> None:
    """Create an event, move it at the provider, and wait for the backend to hear of it."""
    event = api.post("/v1/events", json=event_body(person, hours_ahead=hours)).json()
    moved = datetime.fromisoformat(event["start"].replace("Z", "+00:00")) + timedelta(minutes=30)
    _people_change(sandbox, event["calendar"]["event_id"], start=rfc3339(moved), end=rfc3339(moved + timedelta(hours=1)))
    wait_for(lambda: [b for b in backend.of("event.updated", event["id"]) if b["data"]["start"] == rfc3339(moved)],
             f"event.updated for {event['id']}")


def test_google_refused_sync_token_means_a_full_resync(api, sandbox, live_hub, backend):
    person = connected_person(api, sandbox, "google")
    synced(api, person)
    first_full = state(live_hub.hub, person.connection_id).last_full_sync_at
    sandbox.fault("google", "sync_token_invalid", person.email)
    _moved_event(api, sandbox, backend, person, 40)
    assert state(live_hub.hub, person.connection_id).last_full_sync_at > first_full
    assert api.get(f"/v1/connections/{person.connection_id}/sync").json()["errors"] == []


def test_graph_lifecycle_notifications(api, sandbox, live_hub, backend):
    person = connected_person(api, sandbox, "microsoft")
    synced(api, person)
    first = channel(live_hub.hub, person.connection_id)

    sandbox.fault("microsoft", "reauthorization_required", person.email)
    wait_for(lambda: [q for q in sandbox.requests_log("microsoft") if q["method"] == "PATCH"
                      and q["path"].endswith(f"/subscriptions/{first.external_id}")], "PATCH after reauthorizationRequired")

    sandbox.fault("microsoft", "subscription_removed", person.email)
    second = wait_for(lambda: (lambda c: c if c.external_id != first.external_id else None)(
        channel(live_hub.hub, person.connection_id)), "a new subscription after subscriptionRemoved")
    assert second.external_id != first.external_id
    _moved_event(api, sandbox, backend, person, 45)  # the new subscription delivers

    # The next change is not notified, then `missed` arrives: the resync still finds the move.
    sandbox.fault("microsoft", "missed", person.email, params={"changes": 1})
    _moved_event(api, sandbox, backend, person, 46)


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_renewal_before_expiry(api, sandbox, live_hub, provider):
    """What the renewal job does when its time comes (run here at once): Graph extends the
    subscription in place; Google opens a new channel, then stops the old one."""
    from hub.services.sync import channels
    person = connected_person(api, sandbox, provider)
    synced(api, person)
    old = channel(live_hub.hub, person.connection_id)
    channels.renew(live_hub.hub, old.id)
    now = channel(live_hub.hub, person.connection_id)
    log = sandbox.requests_log(provider)
    if provider == "microsoft":
        assert now.id == old.id and now.expires_at >= old.expires_at
        assert [q for q in log if q["method"] == "PATCH" and q["path"].endswith(f"/subscriptions/{old.external_id}")]
        return
    assert now.id != old.id and now.external_id != old.external_id
    wait_for(lambda: [q for q in sandbox.requests_log(provider)
                      if q["path"].endswith("/channels/stop") and old.external_id in str(q["body"])],
             "the old channel stopped")
    # The new channel delivers.
    body = event_body(person, hours_ahead=30)
    sandbox.busy(provider, person.email, body["start"], body["end"])
    wait_for(lambda: channel(live_hub.hub, person.connection_id).last_notice_at, "a notice on the new channel")


def test_a_channel_that_cannot_be_opened_is_reported_by_the_sync_route_and_diagnostics(api, sandbox, live_hub):
    """The channel lapsed and Google cannot open a new one (backendError): GET
    /v1/connections/{id}/sync says `failed` with the error, and the diagnosis names
    `channel_failed` — a warning, as the hub retries a provider that is down by itself (a
    refusal is a failure: test_diagnostics_rule_names_channel_failed)."""
    from hub.services.sync import channels
    person = connected_person(api, sandbox, "google")
    synced(api, person)
    row = channel(live_hub.hub, person.connection_id)
    with live_hub.hub.db.session() as s:
        s.get(SyncChannel, row.id).status = "expired"
    sandbox.fault("google", "server_error", person.email)
    try:
        with pytest.raises(ProviderError):
            channels.open_channel(live_hub.hub, person.connection_id)
    finally:
        sandbox.http.delete(f"{sandbox.base}/_control/faults", params={"provider": "google"}, timeout=10)
    status = api.get(f"/v1/connections/{person.connection_id}/sync").json()
    assert status["channel"]["status"] == "failed" and status["channel"]["last_error"]["kind"] == "provider_down"
    report = api.get(f"/v1/diagnostics/connections/{person.connection_id}").json()
    [check] = [c for c in report["checks"] if c["id"].endswith("sync_channel")]
    assert (check["status"], check["cause"]) == ("warn", "channel_failed"), check
    assert "backendError" in check["detail"] or "Backend Error" in check["detail"], check


def test_a_lost_notification_is_caught_by_the_periodic_resync(api, sandbox, live_hub, backend):
    """Google's message about a move never leads anywhere (here: the hub takes it for a repeat
    it has handled, as after a lost delivery), so only `sync.sweep` — every 15 s, resyncing each
    connection not synced for half of HUB_CACHE_MAX_AGE_SECONDS — can find the move."""
    from webhooks.calendar_push import SEEN
    person = connected_person(api, sandbox, "google")
    synced(api, person)
    row = channel(live_hub.hub, person.connection_id)
    created = datetime.now(timezone.utc)
    event = api.post("/v1/events", json=event_body(person, hours_ahead=70)).json()
    def settled() -> list[dict]:  # the channel's `sync` and the create's `exists`, both answered
        answer = sandbox.http.get(f"{sandbox.base}/_control/notifications", params={"provider": "google"}, timeout=10)
        mine = [n for n in answer.json() if n["headers"].get("X-Goog-Channel-ID") == row.external_id]
        return mine if len(mine) >= 2 and all(n["status"] == "delivered" for n in mine) else []

    next_number = max(int(n["headers"]["X-Goog-Message-Number"]) for n in wait_for(settled, "messages so far")) + 1

    def quiet() -> bool:  # the syncs the hub's own write and its message queued are done
        with live_hub.hub.db.session() as s:
            pending = [k for k in s.execute(select(Job.key).where(Job.name == "sync.run", Job.status == "pending"))
                       .scalars() if k and person.connection_id in k]
        st = state(live_hub.hub, person.connection_id)
        return not pending and st.dirty_since is None and st.last_synced_at >= created

    wait_for(quiet, "no sync on its way")
    live_hub.app.extensions[SEEN].remember(f"google:{row.external_id}:{row.external_id}:{next_number}")

    moved = datetime.fromisoformat(event["start"].replace("Z", "+00:00")) + timedelta(minutes=30)
    _people_change(sandbox, event["calendar"]["event_id"], start=rfc3339(moved), end=rfc3339(moved + timedelta(hours=1)))
    wait_for(lambda: [n for n in _delivered(sandbox, "google", row.external_id)
                      if int(n["headers"]["X-Goog-Message-Number"]) == next_number], "the move's message delivered")
    assert backend.of("event.updated", event["id"]) == [] and state(live_hub.hub, person.connection_id).dirty_since is None
    with live_hub.hub.db.session() as s:  # as if the last sync were long ago
        s.get(SyncState, person.connection_id).last_synced_at = datetime.now(timezone.utc) - timedelta(minutes=10)
    update = wait_for(lambda: [b for b in backend.of("event.updated", event["id"])
                               if b["data"].get("changed_by") == "provider"], "event.updated from the safety resync")[0]
    assert update["data"]["start"] == rfc3339(moved)
