"""Stage 2 of the report: who is who, among Zoom's participants and on the LMS roster.

A participant is a person, not a device: identifiers seen together on one event (Zoom
user id, email, registrant id; the per-meeting connection id ties a leave to its join)
are unioned, and display names are used only when nothing else is known. A person's
presence is kept per *channel* (one device in the main room, or in a breakout room), so
that a main-room leave followed by a breakout join is not read as the person leaving.

Matching to the LMS roster is exact by registrant id (personal join links), and only
then by email, and last by a name that is unique on the roster. Several Zoom persons
matched to one learner (a guest join and a registered one) become one attendee.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from attendance_svc.domain.bounds import is_presence
from attendance_svc.domain.events import (
    BREAKOUT_JOINED,
    BREAKOUT_LEFT,
    PRESENCE_ORDER,
    ParticipantIds,
    ZoomEvent,
    normalize_name,
)


class MatchedBy(Enum):
    REGISTRANT = "registrant"
    EMAIL = "email"
    NAME = "name"
    NONE = "none"
    ROSTER = "roster"
    """An absent roster member: nobody joined as them."""


MATCH_STRENGTH = (MatchedBy.REGISTRANT, MatchedBy.EMAIL, MatchedBy.NAME, MatchedBy.ROSTER, MatchedBy.NONE)
"""Strongest first: an attendee matched several ways shows the strongest."""


@dataclass(frozen=True)
class RosterMember:
    user_id: str
    name: str
    email: str
    is_learner: bool = True


def identifiers(meeting_uuid: str, participant: ParticipantIds) -> list[str]:
    """The ids one event ties together; a name only when the event carries no stronger id."""
    p = participant
    ids = [f"user:{p.zoom_user_id}" if p.zoom_user_id else "", f"email:{p.email.lower()}" if p.email else ""]
    ids.append(f"registrant:{p.registrant_id}" if p.registrant_id else "")
    ids = [i for i in ids if i]
    if not ids and p.name:
        ids.append(f"name:{normalize_name(p.name)}")
    if p.connection_id:
        ids.append(f"connection:{meeting_uuid}:{p.connection_id}")
    return ids


class _Identities:
    """Union-find over identifiers: everything seen on one event belongs to one person."""

    def __init__(self) -> None:
        self._parent: dict[str, str] = {}

    def find(self, item: str) -> str:
        parent = self._parent.setdefault(item, item)
        while parent != self._parent[parent]:
            self._parent[parent] = self._parent[self._parent[parent]]
            parent = self._parent[parent]
        self._parent[item] = parent
        return parent

    def union(self, items: Sequence[str]) -> None:
        roots = [self.find(item) for item in items]
        for root in roots[1:]:
            self._parent[root] = roots[0]


@dataclass
class Channel:
    """One device's presence in one room of one meeting instance."""

    meeting_uuid: str
    person: str
    """The person this device belongs to (an opaque key, the same for all their channels)."""
    events: list[ZoomEvent] = field(default_factory=list)
    """Joins and leaves in the order they happened (a join first at the same instant)."""


def channels(events: Iterable[ZoomEvent]) -> list[Channel]:
    """Presence events grouped by device and room, each channel knowing its person.

    Events that move nobody's presence are ignored, and so are participants with no
    identifier at all. Channels come in the order their first event was stored.
    """
    presence = [ev for ev in events if is_presence(ev)]
    people = _Identities()
    event_ids: list[list[str]] = []
    for ev in presence:
        assert ev.participant is not None
        ids = identifiers(ev.meeting_uuid, ev.participant)
        event_ids.append(ids)
        if ids:
            people.union(ids)
    by_key: dict[tuple[str, str, str], Channel] = {}
    for ev, ids in zip(presence, event_ids, strict=True):
        assert ev.participant is not None
        if not ids:
            continue
        person = people.find(ids[0])
        room = "breakout" if ev.event in (BREAKOUT_JOINED, BREAKOUT_LEFT) else "main"
        connection = ev.participant.connection_id or person
        channel = by_key.setdefault((ev.meeting_uuid, connection, room), Channel(ev.meeting_uuid, person))
        channel.events.append(ev)
    for channel in by_key.values():
        channel.events.sort(key=lambda e: (e.occurred_at, PRESENCE_ORDER[e.event]))
    return list(by_key.values())


@dataclass
class SeenAs:
    """What a person was called on Zoom: the facts roster matching and the row's name read."""

    names: Counter[str] = field(default_factory=Counter)
    first_seen: dict[str, datetime] = field(default_factory=dict)
    """When each display name was first used: on a tie, the name the person joined with wins."""
    emails: Counter[str] = field(default_factory=Counter)
    registrant_ids: set[str] = field(default_factory=set)


def seen_as(person_channels: Iterable[Channel]) -> dict[str, SeenAs]:
    """Each person's names, emails and registrant ids, in the order their channels were seen."""
    people: dict[str, SeenAs] = {}
    for channel in person_channels:
        seen = people.setdefault(channel.person, SeenAs())
        for ev in channel.events:
            assert ev.participant is not None
            name = ev.participant.name
            if name:
                seen.names[name] += 1
                known = seen.first_seen.get(name)
                seen.first_seen[name] = min(known or ev.occurred_at, ev.occurred_at)
            if ev.participant.email:
                seen.emails[ev.participant.email] += 1
            if ev.participant.registrant_id:
                seen.registrant_ids.add(ev.participant.registrant_id)
    return people


@dataclass(frozen=True)
class Match:
    member: RosterMember | None
    matched_by: MatchedBy


class RosterIndex:
    """The roster looked up by email and by unique name; a name two members share matches nobody."""

    def __init__(self, roster: Sequence[RosterMember], registrants: Mapping[str, str]) -> None:
        self._registrants = registrants
        self._by_user = {m.user_id: m for m in roster}
        self._by_email = {m.email.lower(): m for m in roster if m.email}
        counts = Counter(normalize_name(m.name) for m in roster if m.name)
        self._by_name = {normalize_name(m.name): m for m in roster if m.name and counts[normalize_name(m.name)] == 1}

    def match(self, seen: SeenAs) -> Match:
        """Registrant id (exact, even for someone the roster does not list), then email, then unique name."""
        for rid in sorted(seen.registrant_ids):
            if rid in self._registrants:
                user_id = self._registrants[rid]
                return Match(self._by_user.get(user_id) or RosterMember(user_id, "", ""), MatchedBy.REGISTRANT)
        for email in seen.emails:
            if email.lower() in self._by_email:
                return Match(self._by_email[email.lower()], MatchedBy.EMAIL)
        for name in seen.names:
            if normalize_name(name) in self._by_name:
                return Match(self._by_name[normalize_name(name)], MatchedBy.NAME)
        return Match(None, MatchedBy.NONE)


@dataclass
class Attendee:
    """One row of the report: every Zoom person matched to one roster member, or one unmatched person."""

    people: list[str]
    match: Match


def attendees(
    people: Mapping[str, SeenAs], roster: Sequence[RosterMember], registrants: Mapping[str, str]
) -> list[Attendee]:
    """People grouped by the roster member they match; the strongest match names the group."""
    index = RosterIndex(roster, registrants)
    grouped: dict[str, Attendee] = {}
    for person, seen in people.items():
        match = index.match(seen)
        key = f"user:{match.member.user_id}" if match.member is not None else f"zoom:{person}"
        attendee = grouped.get(key)
        if attendee is None:
            grouped[key] = Attendee([person], match)
            continue
        attendee.people.append(person)
        if MATCH_STRENGTH.index(match.matched_by) < MATCH_STRENGTH.index(attendee.match.matched_by):
            attendee.match = match
    return list(grouped.values())
