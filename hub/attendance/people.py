"""Matching what a conferencing provider reports to the people of an event, and merging many
sightings (webhooks, API reads) into one line per person.

Providers name people unevenly: Zoom sends an email that is often empty for guests, Meet a
Google account id and a display name, Teams an email. A participant is matched by email first,
then by the per-attendee key the hub set (Zoom's `customer_key`), then by the provider account
id of a connected interviewer, and last by name — only when exactly one expected person has
that name, so two "Alex"es never get mixed up.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable

CANDIDATE, INTERVIEWER, OTHER = "candidate", "interviewer", "other"


@dataclass(frozen=True)
class Person:
    role: str  # candidate | interviewer
    email: str
    name: str | None = None
    aliases: frozenset[str] = frozenset()  # lower-case addresses they may join as
    account_ids: frozenset[str] = frozenset()  # their provider account ids (Meet users/{id})
    key: str | None = None


@dataclass(frozen=True)
class Sighting:
    """One fact from a source: someone joined (or left) at `at`."""

    name: str
    at: datetime
    joined: bool = True
    email: str | None = None
    key: str | None = None
    account_id: str | None = None
    ref: str | None = None  # the provider's id for this participant, to pair a leave with its join


@dataclass
class Line:
    """One person's presence, merged over every sighting."""

    name: str
    email: str | None
    role: str
    person: Person | None
    joins: list[datetime] = field(default_factory=list)
    leaves: list[datetime] = field(default_factory=list)

    @property
    def joined_at(self) -> datetime | None:
        return min(self.joins) if self.joins else None

    @property
    def left_at(self) -> datetime | None:
        """The last leave, when it came after the last join (otherwise they are still in)."""
        if not self.leaves:
            return None
        last_leave = max(self.leaves)
        return last_leave if not self.joins or last_leave >= max(self.joins) else None


def attendee_key(event_id: str, email: str) -> str:
    """A stable per-attendee key (≤ 35 characters, Zoom's `customer_key` limit) that names an
    attendee without revealing their address."""
    return hashlib.sha256(f"{event_id}:{email.strip().lower()}".encode()).hexdigest()[:32]


def normal_name(name: str | None) -> str:
    return " ".join((name or "").casefold().split())


def match(sighting: Sighting, people: Iterable[Person]) -> Person | None:
    people = list(people)
    email = (sighting.email or "").strip().lower()
    if email:
        found = next((p for p in people if email == p.email.lower() or email in p.aliases), None)
        if found is not None:
            return found
    if sighting.key:
        found = next((p for p in people if p.key == sighting.key), None)
        if found is not None:
            return found
    if sighting.account_id:
        found = next((p for p in people if sighting.account_id in p.account_ids), None)
        if found is not None:
            return found
    name = normal_name(sighting.name)
    named = [p for p in people if name and normal_name(p.name) == name]
    return named[0] if len(named) == 1 else None


def lines(sightings: Iterable[Sighting], people: Iterable[Person]) -> list[Line]:
    """One line per matched person (or per unmatched participant), in order of first join."""
    people = list(people)
    merged: dict[str, Line] = {}
    refs: dict[str, str] = {}  # provider participant id -> line key, so a bare leave finds its join
    for s in sorted(sightings, key=lambda s: (s.at, not s.joined)):
        person = match(s, people)
        if person is not None:
            key = f"p:{person.role}:{person.email.lower()}"
        elif s.ref and s.ref in refs:
            key = refs[s.ref]
        else:
            key = f"o:{(s.email or '').lower() or normal_name(s.name)}"
        if s.ref:
            refs.setdefault(s.ref, key)
        line = merged.get(key)
        if line is None:
            line = merged[key] = Line(name=s.name or (person.name if person else "") or "",
                                      email=(person.email if person else s.email) or None,
                                      role=person.role if person else OTHER, person=person)
        (line.joins if s.joined else line.leaves).append(s.at)
    return sorted(merged.values(), key=lambda ln: (ln.joined_at is None,
                                                   ln.joined_at.timestamp() if ln.joined_at else 0.0))


def first_join(all_lines: Iterable[Line], person: Person) -> datetime | None:
    times = [ln.joined_at for ln in all_lines if ln.person == person and ln.joined_at is not None]
    return min(times) if times else None


def minutes_late(joined_at: datetime, start: datetime) -> int:
    return max(0, int((joined_at - start).total_seconds() // 60))
