"""Notifications the emulators push to the hub (Google channel messages, Graph change and
lifecycle notifications), sent the way the providers send them: from elsewhere, after the
change that caused them has been answered, one at a time per channel, in order, retried with
backoff when the receiver fails (Google and Graph both retry; a 2xx ends it).

`GET /_control/notifications?provider=` lists every notification with the status the hub
answered, so a test can wait for a delivery instead of sleeping.
"""
from __future__ import annotations

import itertools
import queue
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import requests
from flask import Response, after_this_request, g, has_request_context

# Receivers that fail are retried after these delays (seconds): enough to ride out a hub
# restart in a test, short enough that a sandbox never piles up work.
RETRY_DELAYS = (0.5, 2.0, 5.0)


@dataclass
class Notification:
    id: int
    provider: str
    url: str
    headers: dict[str, str]
    body: bytes
    at: float
    kind: str = "change"  # what the provider calls it, for the control log
    attempts: list[Any] = field(default_factory=list)  # status codes or "unreachable: …"
    status: str = "pending"  # pending | delivered | failed | dropped
    generation: int = 0  # the sandbox reset count when it was sent: older ones are dropped

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "provider": self.provider, "url": self.url, "kind": self.kind,
                "headers": dict(self.headers), "body": self.body.decode("utf-8", "replace"),
                "at": self.at, "attempts": list(self.attempts), "status": self.status}


class PushSender:
    """One queue and daemon thread per receiver address, started on the first send to it
    (nothing runs at import or while a sandbox sends nothing): messages to one address stay in
    order, and a receiver that hangs or fails delays only its own messages."""

    def __init__(self, clock: Callable[[], float], sleep: Callable[[float], None], limit: int = 10_000) -> None:
        self._clock = clock
        # Kept for the injected-clock contract of the sandbox; retry waits use `_reset`, which a
        # reset interrupts, so a sandbox reset never waits for a retry of a hub that is gone.
        self._sleep = sleep
        self._limit = limit
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._log: list[Notification] = []
        self._queues: dict[str, queue.Queue[Notification]] = {}
        self._generation = 0
        self._reset = threading.Event()

    def send(self, provider: str, url: str, headers: dict[str, str], body: bytes, kind: str = "change") -> Notification:
        note = Notification(next(self._ids), provider, url, dict(headers), body, self._clock(), kind)
        with self._lock:
            note.generation = self._generation
            self._log.append(note)
            del self._log[: max(0, len(self._log) - self._limit)]
            inbox = self._queues.get(url)
            if inbox is None:
                inbox = self._queues[url] = queue.Queue()
                threading.Thread(target=self._run, args=(inbox,), name="sandbox-push", daemon=True).start()
        inbox.put(note)
        return note

    def entries(self, provider: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [n.to_dict() for n in self._log if provider in (None, n.provider)]

    def clear(self) -> None:
        """Forget the log and drop what is queued or waiting for a retry (a reset: the hub it
        was for may be gone)."""
        with self._lock:
            self._log.clear()
            self._generation += 1
            self._reset.set()
            self._reset = threading.Event()

    def _run(self, inbox: queue.Queue[Notification]) -> None:
        session = requests.Session()
        session.trust_env = False  # never through a proxy: the hub is on this machine
        while True:
            note = inbox.get()
            with self._lock:
                current, reset = self._generation, self._reset
            if note.generation != current:
                note.status = "dropped"
                continue
            self._deliver(session, note, current, reset)

    def _deliver(self, session: requests.Session, note: Notification, generation: int, reset: threading.Event) -> None:
        for delay in (0.0, *RETRY_DELAYS):
            if delay and reset.wait(delay):
                note.status = "dropped"
                return
            with self._lock:
                if generation != self._generation:
                    note.status = "dropped"
                    return
            try:
                status: Any = session.post(note.url, data=note.body, headers=note.headers, timeout=10).status_code
            except requests.RequestException as exc:
                status = f"unreachable: {type(exc).__name__}"
            note.attempts.append(status)
            if isinstance(status, int) and 200 <= status < 300:
                note.status = "delivered"
                return
        note.status = "failed"


def after_the_answer(send: Callable[[], Any]) -> None:
    """Call `send` (typically a `PushSender.send`) once the current request has its answer, in
    the order asked: providers notify from elsewhere, after the change, so a notification never
    overtakes the write that caused it, and queueing never delays the answer. Works for any
    blueprint (emulator or control API); outside a request, at once."""
    if not has_request_context():
        send()
        return
    pending = g.get("sandbox_pushes")
    if pending is None:
        pending = g.sandbox_pushes = []

        @after_this_request
        def flush(response: Response) -> Response:
            for queued in pending:
                queued()
            return response

    pending.append(send)
