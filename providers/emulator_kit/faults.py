"""Failures armed on demand through ``POST /_control/faults``.

A fault names a provider, a scenario, optionally the account it hits (``email=None`` hits
every account), how many requests it hits (``times=None``: until removed) and, with
``params.method``, only requests with that HTTP method. Emulators ask
``take(provider, scenario, email)`` at the point where the real provider would fail; each hit
uses up one of ``times``; within one HTTP request a fault is used up once however often the
emulator takes it (``ProviderEmulator.take_fault`` passes the request's ``charged`` record), so
``times`` counts requests for every scenario. ``peek`` looks without using one up, for reads
that may only reveal the condition (Google's calendar `conferenceProperties` under
`meet_unavailable`).

The registry does not know which scenarios exist: each emulator declares its own in
``ProviderEmulator.scenarios`` and the control API validates against that.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from .accounts import normalise_email


@dataclass
class Fault:
    id: str
    provider: str
    scenario: str
    email: str | None = None
    times: int | None = None  # remaining hits; None = unlimited
    params: dict[str, Any] = field(default_factory=dict)

    def hits(self, provider: str, scenario: str, email: str | None, method: str | None = None) -> bool:
        if self.provider != provider or self.scenario != scenario:
            return False
        # params.method: only requests with that HTTP method (a write fails, background reads
        # of the same account go through).
        wanted = self.params.get("method")
        if wanted and method is not None and str(wanted).upper() != method.upper():
            return False
        return self.email is None or (email is not None and normalise_email(email) == self.email)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "provider": self.provider,
            "scenario": self.scenario,
            "email": self.email,
            "times": self.times,
            "params": dict(self.params),
        }


class FaultRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(
        self,
        provider: str,
        scenario: str,
        email: str | None = None,
        times: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> Fault:
        with self._lock:
            fault = Fault(
                id=f"fault_{next(self._ids)}",
                provider=provider,
                scenario=scenario,
                email=normalise_email(email) if email else None,
                times=times,
                params=dict(params or {}),
            )
            self._faults.append(fault)
            return fault

    def take(self, provider: str, scenario: str, email: str | None,
             charged: dict[str, Fault] | None = None, method: str | None = None) -> Fault | None:
        """The oldest matching fault, with one of its hits used up (None when none is armed).

        ``charged`` holds the ids of faults one request has already used: a request that looks
        at the same fault twice (a read that reveals it, then the write it breaks) uses one hit,
        so ``times`` counts requests for every scenario."""
        with self._lock:
            for used in (charged or {}).values():
                if used.hits(provider, scenario, email):
                    return Fault(**{**used.__dict__, "params": dict(used.params)})
            for fault in self._faults:
                if fault.hits(provider, scenario, email, method):
                    if charged is not None:
                        charged[fault.id] = fault
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return Fault(**{**fault.__dict__, "params": dict(fault.params)})
            return None

    def peek(self, provider: str, scenario: str, email: str | None) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.hits(provider, scenario, email):
                    return Fault(**{**fault.__dict__, "params": dict(fault.params)})
            return None

    def list(self, provider: str | None = None) -> list[Fault]:
        with self._lock:
            return [f for f in self._faults if provider in (None, f.provider)]

    def remove(self, fault_id: str) -> bool:
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if f.id != fault_id]
            return len(self._faults) != before

    def clear(self, provider: str | None = None) -> None:
        with self._lock:
            self._faults = [f for f in self._faults if provider not in (None, f.provider)]
