"""Webhook delivery: claims due outbox rows, POSTs them signed, records what happened.

It runs as background jobs (hub/jobs/catalog.py): `deliver(id)` when a row is committed or
due again, and a sweep that hands out every due row again, on Celery workers or in-process.

Safe with several processes: a due row is claimed in a short transaction — `SELECT … FOR
UPDATE SKIP LOCKED` on PostgreSQL, so concurrent workers take different rows instead of
queueing behind each other — by setting a lease (`locked_until`). The HTTP call runs outside
any transaction (on SQLite a transaction held across a 10 s call would block every writer of
the hub), and the result is written in a second short transaction. A worker that dies
mid-attempt leaves a lease that simply runs out: delivery is at least once, and the stable
`webhook-id` lets receivers drop the rare repeat.

Outcomes (Standard Webhooks' status code etiquette): 2xx delivered; 410 Gone disables the
endpoint and cancels what is queued for it; anything else — other statuses, redirects (never
followed), timeouts, refused connections — is retried on `schedule.RETRY_DELAYS`, honouring a
Retry-After, and given up after the last one.
"""
from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Callable

from sqlalchemy import or_, select, update

from hub.logs import get_logger
from hub.storage.db import Database
from hub.storage.models import WebhookDelivery, WebhookEndpoint
from oauth.vault import TokenVault, VaultError
from webhooks.outbound.endpoints import secret_binding
from webhooks.outbound.schedule import next_delay
from webhooks.outbound.signing import signed_headers
from webhooks.outbound.url_guard import AddressNotAllowed

if TYPE_CHECKING:
    import requests

log = get_logger(__name__)

PENDING, DELIVERED, FAILED, CANCELLED = "pending", "delivered", "failed", "cancelled"
USER_AGENT = "calendar-hub-webhooks/1"


@dataclass(frozen=True)
class Claimed:
    """One claimed delivery, copied out of the claiming transaction."""

    delivery_id: str
    message_id: str
    endpoint_id: str
    event_type: str
    url: str
    secret_enc: str
    payload: str
    attempt: int  # this attempt's number, 1-based


@dataclass(frozen=True)
class Result:
    status_code: int | None = None
    error: str | None = None  # a short phrase; never a URL, header or exception message
    retry_after: float | None = None
    unreadable_secret: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class DeliveryWorker:
    def __init__(self, db: Database, vault: TokenVault, clock: Callable[[], datetime], *,
                 batch_size: int = 8, connect_timeout: float = 5.0,  # pragma: no mutate (tuning, not behaviour)
                 read_timeout: float = 10.0,  # pragma: no mutate (tuning, not behaviour)
                 wall_clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None, allow_private_urls: bool = False) -> None:
        self.db = db
        self.vault = vault
        self.clock = clock
        self.batch_size = batch_size
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        # The signature timestamp is the receiver's replay guard: real time, even when the
        # scheduling clock is a test's.
        self.wall_clock = wall_clock
        self.rng = rng or random.Random()
        self.allow_private_urls = allow_private_urls
        self._http = threading.local()

    @property
    def lease(self) -> timedelta:
        # Longer than one attempt can take, so a live attempt never loses its row to another worker.
        return timedelta(seconds=self.connect_timeout + self.read_timeout + 30)

    # --- one round ----------------------------------------------------------------------------
    def deliver(self, delivery_id: str, now: datetime | None = None) -> datetime | None:
        """One attempt at `delivery_id` if it is due and nobody holds it (the background job;
        a duplicate or early message is a no-op). Returns when the next attempt is due, if any."""
        now = now or self.clock()
        claimed = self._claim(now, delivery_id)
        if not claimed:
            return None
        return self._record(claimed[0], self._send(claimed[0]), now)

    def deliver_due(self, now: datetime | None = None) -> int:
        """Attempt every delivery due at `now` (up to a batch); returns how many were tried."""
        now = now or self.clock()
        claimed = self._claim(now)
        if not claimed:
            return 0
        if len(claimed) == 1:
            results = [self._send(claimed[0])]
        else:  # one slow receiver must not hold up the others
            # no mutate: the pool's size and thread names change nothing that is sent or recorded
            with ThreadPoolExecutor(len(claimed), thread_name_prefix="webhook-send",  # pragma: no mutate
                                    ) as pool:
                results = list(pool.map(self._send, claimed))
        for item, result in zip(claimed, results):
            self._record(item, result, now)
        return sum(1 for r in results if not r.unreadable_secret)

    def due_ids(self, now: datetime, due_before: datetime | None = None,
                limit: int = 500,  # pragma: no mutate (the sweep's batch: any such number is as right)
                ) -> list[str]:
        """Pending deliveries due (before `due_before`, default `now`) that no worker holds at
        `now`: what the sweep hands out again."""
        D = WebhookDelivery
        with self.db.session() as session:
            return list(session.execute(select(D.id).where(*_due(now), D.next_attempt_at <= (due_before or now))
                                        .order_by(D.next_attempt_at).limit(limit)).scalars())

    def _claim(self, now: datetime, only: str | None = None) -> list[Claimed]:
        D = WebhookDelivery
        with self.db.session() as session:
            wanted = select(D.id).where(*_due(now))
            if only is not None:
                wanted = wanted.where(D.id == only)
            # no mutate (order): SQLite reads ix_webhook_deliveries_due in this order anyway
            due = session.execute(wanted.order_by(D.next_attempt_at)  # pragma: no mutate
                                  .limit(self.batch_size)
                                  # no mutate: SQLite has no row locks; on PostgreSQL the e2e test
                                  # test_concurrent_workers_deliver_each_message_once holds it.
                                  .with_for_update(skip_locked=True)  # pragma: no mutate
                                  ).scalars().all()
            if not due:
                return []
            # The conditions again: on SQLite (no row locks) another worker may have claimed
            # a row between the SELECT and here; RETURNING says which ones are ours.
            ours = session.execute(
                # no mutate: a race guard; only another worker's claim between the two statements
                # shows it (test_concurrent_workers_deliver_each_message_once, e2e)
                update(D).where(D.id.in_(due), *_due(now))  # pragma: no mutate
                .values(locked_until=now + self.lease).returning(D.id)
                .execution_options(synchronize_session=False)  # pragma: no mutate (None is as false)
                ).scalars().all()
            if not ours:
                return []
            # no mutate: without the ON clause the foreign key gives the same join
            rows = session.execute(select(D, WebhookEndpoint)  # pragma: no mutate
                                   .join(WebhookEndpoint, WebhookEndpoint.id == D.endpoint_id)  # pragma: no mutate
                                   .where(D.id.in_(ours))).all()
            claimed = []
            for delivery, endpoint in rows:
                if endpoint.status != "enabled":  # disabled after this was queued
                    delivery.status, delivery.locked_until = CANCELLED, None
                    delivery.last_error = "endpoint disabled"
                    continue
                claimed.append(Claimed(delivery.id, delivery.message_id, endpoint.id, delivery.event_type,
                                       endpoint.url, endpoint.secret_enc, delivery.payload, delivery.attempts + 1))
            return claimed

    def _send(self, item: Claimed) -> Result:
        import requests  # here, not at the top: a starting hub has nothing to send (~0.1 s of its start)

        try:
            secret = self.vault.decrypt(item.secret_enc, secret_binding(item.endpoint_id))
        except VaultError:
            # Another process's keys (a rolling key rotation, a misconfigured replica): leave
            # the row to a worker that can read it rather than burn an attempt.
            return Result(unreadable_secret=True)
        headers = {"content-type": "application/json", "user-agent": USER_AGENT,  # pragma: no mutate (names ignore case)
                   **signed_headers(secret, item.message_id, int(self.wall_clock()), item.payload)}
        try:
            # stream=True and no read: the receiver's body is not needed, and a huge one
            # must not cost memory.
            with self._session().post(item.url, data=item.payload.encode(), headers=headers,
                                      timeout=(self.connect_timeout, self.read_timeout), allow_redirects=False,
                                      stream=True,  # pragma: no mutate (no body is read either way)
                                      ) as resp:
                return Result(resp.status_code, None if 200 <= resp.status_code < 300 else _status_error(resp),
                              _retry_after(resp.headers.get("Retry-After"),  # pragma: no mutate (any case)
                                           self.wall_clock()))
        except AddressNotAllowed as refused:
            # Re-checked at every attempt: DNS may now point the name somewhere private.
            return Result(error=f"address not allowed ({refused})")
        except requests.Timeout:
            return Result(error="timed out")
        except requests.ConnectionError:
            return Result(error="connection failed")
        except requests.RequestException as exc:
            # The type only: requests' messages quote the URL, which may carry a token.
            return Result(error=f"request failed ({type(exc).__name__})")

    def _session(self) -> requests.Session:
        # no mutate: a session per attempt (a misspelt attribute) works the same, only slower
        http = getattr(self._http, "session", None)  # pragma: no mutate
        if http is None:
            import requests

            from webhooks.outbound.pinned_adapter import PublicAddressAdapter

            http = requests.Session()
            # No proxies, .netrc or CA bundles from the environment: a webhook goes straight
            # to the URL the tenant registered.
            http.trust_env = False  # pragma: no mutate (None is as false)
            if not self.allow_private_urls:
                # Resolves, refuses private addresses and connects to the checked one (SSRF).
                guard = PublicAddressAdapter()
                http.mount("http://", guard)  # pragma: no mutate (requests matches prefixes in any case)
                http.mount("https://", guard)  # pragma: no mutate (requests matches prefixes in any case)
            self._http.session = http  # pragma: no mutate (see the getattr above)
        return http

    def _record(self, item: Claimed, result: Result, now: datetime) -> datetime | None:
        """Write the attempt's outcome; returns when the next attempt is due, if there is one."""
        fields = dict(delivery_id=item.delivery_id, message_id=item.message_id, endpoint_id=item.endpoint_id,
                      event_type=item.event_type, attempt=item.attempt)
        with self.db.session() as session:
            row = session.execute(select(WebhookDelivery).where(WebhookDelivery.id == item.delivery_id)
                                  .with_for_update()).scalar_one_or_none()
            if row is None or row.status != PENDING:
                return None  # the endpoint was deleted or disabled meanwhile
            row.locked_until = None
            if result.unreadable_secret:
                log.warning("webhook_secret_unreadable", **fields,
                            detail="this process's encryption keys cannot open the endpoint's secret",  # pragma: no mutate
                            )
                return None
            row.attempts = item.attempt
            row.last_attempt_at = now
            row.last_status_code = result.status_code
            row.last_error = result.error
            if result.ok:
                row.status, row.delivered_at = DELIVERED, now
                log.info("webhook_delivered", **fields, status_code=result.status_code)
                return None
            if result.status_code == 410:
                row.status = FAILED
                self._disable(session, item.endpoint_id, now)
                log.warning("webhook_endpoint_disabled", **fields, status_code=410)
                return None
            delay = next_delay(item.attempt, result.retry_after, self.rng)
            if delay is None:
                row.status = FAILED
                log.warning("webhook_given_up", **fields, status_code=result.status_code, error=result.error)
                return None
            row.next_attempt_at = now + delay
            log.warning("webhook_attempt_failed", **fields, status_code=result.status_code, error=result.error,
                        next_attempt_at=row.next_attempt_at.isoformat())
            return row.next_attempt_at

    def _disable(self, session, endpoint_id: str, now: datetime) -> None:
        """410 Gone: the receiver asked to stop. Nothing more is sent to it, queued or new."""
        endpoint = session.get(WebhookEndpoint, endpoint_id)
        # no mutate: an endpoint already disabled has no pending row left, so _record never gets here for it
        if endpoint is not None and endpoint.status == "enabled":  # pragma: no mutate
            endpoint.status = "disabled"
            endpoint.disabled_at = now
            endpoint.disabled_reason = "The endpoint answered 410 Gone."
        session.execute(update(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id,
                                                      WebhookDelivery.status == PENDING)
                        .values(status=CANCELLED, locked_until=None, last_error="endpoint disabled")
                        .execution_options(synchronize_session=False)  # pragma: no mutate (None is as false)
                        )


def _due(now: datetime) -> tuple:
    D = WebhookDelivery
    return (D.status == PENDING, D.next_attempt_at <= now, or_(D.locked_until.is_(None), D.locked_until <= now))


def _status_error(resp: requests.Response) -> str:
    if 300 <= resp.status_code < 400:
        return f"HTTP {resp.status_code} (redirects are not followed; register the final URL)"
    return f"HTTP {resp.status_code}"


def _retry_after(value: str | None, now: float) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - now)
