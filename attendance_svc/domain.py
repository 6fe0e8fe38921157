"""Attendance rules as plain functions: webhook checks, event identity, the report.

Nothing here does I/O, so the tests call it directly. The parts:

- **Webhook checks.** Zoom signs ``v0:{x-zm-request-timestamp}:{raw body}`` with the
  webhook secret (HMAC-SHA256, hex, prefixed ``v0=``). The comparison is constant
  time, and a timestamp more than a few minutes off is refused, so a captured request
  cannot be replayed later.
- **Event identity.** Each stored event has a key built from what it *says* (event,
  meeting uuid, participant, the time it names), not from when it arrived: Zoom's
  retries, duplicate deliveries and the same join learned again from the participants
  report collapse to one row.
- **The report.** A participant is a person, not a device: identifiers seen together
  on one event (Zoom user id, email, registrant id; the per-meeting connection id ties
  a leave to its join) are unioned; display names are used only when nothing else is
  known. Intervals are placed by their own times, merged across devices, and a join
  without a leave is closed at the meeting's end, or the scheduled end (marked
  estimated). Matching to the LMS roster is exact by registrant id (personal join
  links), and only then by email, and last by a unique name.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from attendance_svc import errors
from service_kit.errors import ValidationErrors

SIGNATURE_VERSION = "v0"

MEETING_STARTED = "meeting.started"
MEETING_ENDED = "meeting.ended"
PARTICIPANT_JOINED = "meeting.participant_joined"
PARTICIPANT_LEFT = "meeting.participant_left"
BREAKOUT_JOINED = "meeting.participant_joined_breakout_room"
BREAKOUT_LEFT = "meeting.participant_left_breakout_room"
WAITING_ROOM_ENTERED = "meeting.participant_put_in_waiting_room"
WAITING_ROOM_JBH = "meeting.participant_jbh_waiting"
WAITING_ROOM_ADMITTED = "meeting.participant_admitted"
URL_VALIDATION = "endpoint.url_validation"

PRESENCE_EVENTS = frozenset({PARTICIPANT_JOINED, PARTICIPANT_LEFT, BREAKOUT_JOINED, BREAKOUT_LEFT})
"""Events that open or close presence. Waiting-room events never add presence: a learner
held in the waiting room is not in the lecture. Being put back into the waiting room
closes presence; admission adds nothing by itself (Zoom sends participant_joined next).
Breakout rooms are part of the lecture: time there counts, on its own channel, and the
main-room leave that precedes it does not cut the person's presence, because the
person's channels are merged."""

AFTER_ALL = datetime.max.replace(tzinfo=UTC)
DEFAULT_MIN_SHARE = 0.75
DEFAULT_GRACE_MINUTES = 5
MAX_SESSION_HOURS = 24


# ---- webhook checks ----------------------------------------------------------------------------


def webhook_signature(secret: str, timestamp: str, raw_body: bytes) -> str:
    """``v0=`` and the hex HMAC-SHA256 of ``v0:{timestamp}:{body}`` under the webhook secret."""
    message = f"{SIGNATURE_VERSION}:{timestamp}:".encode() + raw_body
    return f"{SIGNATURE_VERSION}=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_webhook(
    secret: str, *, signature: str, timestamp: str, raw_body: bytes, now: float, max_skew_seconds: int
) -> None:
    """Raise unless the signature matches (constant time) and the timestamp is recent.

    The signature is checked first, so an attacker learns nothing about our clock from
    the answer; the timestamp then bounds replays of a genuine request.
    """
    if not signature or not timestamp:
        raise errors.MissingZoomSignature("x-zm-signature and x-zm-request-timestamp are required")
    expected = webhook_signature(secret, timestamp, raw_body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise errors.InvalidZoomSignature("x-zm-signature does not match the body: check ZOOM_WEBHOOK_SECRET")
    try:
        sent = int(timestamp)
    except ValueError:
        raise errors.StaleZoomTimestamp("x-zm-request-timestamp must be epoch seconds") from None
    if abs(now - sent) > max_skew_seconds:
        raise errors.StaleZoomTimestamp(
            f"x-zm-request-timestamp is {int(now - sent)} s off (at most {max_skew_seconds} s): refused as a replay"
        )


def url_validation_token(secret: str, plain_token: str) -> str:
    """Zoom's endpoint check: the hex HMAC-SHA256 of the plainToken under the webhook secret."""
    return hmac.new(secret.encode(), plain_token.encode(), hashlib.sha256).hexdigest()


# ---- event identity ----------------------------------------------------------------------------


@dataclass(slots=True)
class ParticipantIds:
    """What Zoom tells about a participant on one event; any field may be empty."""

    connection_id: str = ""
    """The per-meeting id Zoom assigns on joining (``participant.user_id``): one device's session."""
    zoom_user_id: str = ""
    """The participant's Zoom account id (``participant_user_id``, or ``id``): empty for guests."""
    email: str = ""
    registrant_id: str = ""
    name: str = ""

    @property
    def identity(self) -> str:
        """The strongest identifier present, in the issue's order: Zoom user, email, registrant, name."""
        for prefix, value in (
            ("user", self.zoom_user_id),
            ("email", self.email.lower()),
            ("registrant", self.registrant_id),
            ("name", normalize_name(self.name)),
        ):
            if value:
                return f"{prefix}:{value}"
        return ""


@dataclass(slots=True)
class ZoomEvent:
    """One stored event, as the report reads it back."""

    event: str
    meeting_id: str
    meeting_uuid: str
    occurred_at: datetime
    participant: ParticipantIds | None = None


@dataclass(frozen=True)
class Notification:
    """A parsed webhook: its event, when Zoom sent it, and its payload."""

    event: str
    event_ts: datetime
    payload: Mapping[str, Any]


def parse_notification(raw_body: bytes) -> Notification:
    """The event name, event_ts (epoch ms) and payload; MalformedZoomEvent when they are not there."""
    try:
        document = json.loads(raw_body)
    except (UnicodeDecodeError, ValueError):
        raise errors.MalformedZoomEvent("the body is not JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("event"), str) or not document["event"]:
        raise errors.MalformedZoomEvent("the body has no event name")
    payload = document.get("payload", {})
    if not isinstance(payload, dict):
        raise errors.MalformedZoomEvent("payload must be an object")
    ts = document.get("event_ts")
    if isinstance(ts, bool) or not isinstance(ts, int | float):
        event_ts = datetime.now(UTC)
    else:
        event_ts = datetime.fromtimestamp(ts / 1000, UTC)
    return Notification(event=document["event"], event_ts=event_ts, payload=payload)


def parse_zoom_time(value: object) -> datetime | None:
    """Zoom's ISO 8601 times (``2026-03-02T14:00:05Z``), as aware datetimes; None when absent or bad."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def zoom_time(moment: datetime) -> str:
    """An aware datetime as Zoom writes times: UTC, seconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(value: object) -> str:
    if value is None or isinstance(value, bool):
        return ""
    return str(value).strip()


def participant_from_webhook(participant: Mapping[str, Any]) -> ParticipantIds:
    return ParticipantIds(
        connection_id=_text(participant.get("user_id")) or _text(participant.get("participant_uuid")),
        zoom_user_id=_text(participant.get("participant_user_id")) or _text(participant.get("id")),
        email=_text(participant.get("email")),
        registrant_id=_text(participant.get("registrant_id")),
        name=_text(participant.get("user_name")),
    )


def participant_from_report(record: Mapping[str, Any]) -> ParticipantIds:
    """The participants report names the same facts differently (``user_email``, ``name``)."""
    return ParticipantIds(
        connection_id=_text(record.get("user_id")),
        zoom_user_id=_text(record.get("participant_user_id")) or _text(record.get("id")),
        email=_text(record.get("user_email")) or _text(record.get("email")),
        registrant_id=_text(record.get("registrant_id")),
        name=_text(record.get("name")) or _text(record.get("user_name")),
    )


def event_key(event: str, meeting_uuid: str, participant: ParticipantIds | None, occurred_at: datetime) -> str:
    """The idempotency key: what the event says, never when or how often it arrived.

    The connection id is part of it so two devices of one person joining in the same
    second stay two joins; the identity is the strongest id, which the webhook and the
    participants report share, so a join learned twice is stored once.
    """
    parts = [event, meeting_uuid, zoom_time(occurred_at)]
    if participant is not None:
        parts += [participant.identity, participant.connection_id]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class EventToStore:
    """A webhook event ready for the events table."""

    key: str
    event: str
    meeting_id: str
    meeting_uuid: str
    occurred_at: datetime
    event_ts: datetime
    participant: ParticipantIds | None
    raw: str
    source: str = "webhook"


def event_to_store(notification: Notification, raw_body: bytes) -> EventToStore:
    """Where a notification's facts are: meeting in ``payload.object``, participant under it."""
    obj = notification.payload.get("object", {})
    obj = obj if isinstance(obj, dict) else {}
    meeting_id = _text(obj.get("id"))
    meeting_uuid = _text(obj.get("uuid"))
    participant_doc = obj.get("participant")
    participant = participant_from_webhook(participant_doc) if isinstance(participant_doc, dict) else None
    occurred: datetime | None = None
    if notification.event == MEETING_STARTED:
        occurred = parse_zoom_time(obj.get("start_time"))
    elif notification.event == MEETING_ENDED:
        occurred = parse_zoom_time(obj.get("end_time"))
    elif participant_doc is not None and isinstance(participant_doc, dict):
        occurred = parse_zoom_time(participant_doc.get("join_time")) or parse_zoom_time(
            participant_doc.get("leave_time") or participant_doc.get("date_time")
        )
        if notification.event in (PARTICIPANT_LEFT, BREAKOUT_LEFT):
            occurred = parse_zoom_time(participant_doc.get("leave_time")) or occurred
    occurred_at = occurred or notification.event_ts
    if notification.event in PRESENCE_EVENTS and participant is not None and meeting_uuid:
        key = event_key(notification.event, meeting_uuid, participant, occurred_at)
    elif notification.event in (MEETING_STARTED, MEETING_ENDED) and meeting_uuid:
        key = event_key(notification.event, meeting_uuid, None, occurred_at)
    else:
        # Anything else is kept as Zoom sent it, once per distinct body.
        key = hashlib.sha256(raw_body).hexdigest()
    return EventToStore(
        key=key,
        event=notification.event,
        meeting_id=meeting_id,
        meeting_uuid=meeting_uuid,
        occurred_at=occurred_at,
        event_ts=notification.event_ts,
        participant=participant,
        raw=raw_body.decode("utf-8", errors="replace"),
    )


def events_from_report(
    meeting_id: str, meeting_uuid: str, records: Iterable[Mapping[str, Any]], *, received_at: datetime
) -> list[EventToStore]:
    """Each report record is a join and (when it has one) a leave, keyed as the webhooks were."""
    stored: list[EventToStore] = []
    for record in records:
        participant = participant_from_report(record)
        raw = json.dumps(dict(record), sort_keys=True)
        for event, when in (
            (PARTICIPANT_JOINED, parse_zoom_time(record.get("join_time"))),
            (PARTICIPANT_LEFT, parse_zoom_time(record.get("leave_time"))),
        ):
            if when is None:
                continue
            stored.append(
                EventToStore(
                    key=event_key(event, meeting_uuid, participant, when),
                    event=event,
                    meeting_id=meeting_id,
                    meeting_uuid=meeting_uuid,
                    occurred_at=when,
                    event_ts=received_at,
                    participant=participant,
                    raw=raw,
                    source="report",
                )
            )
    return stored


def report_path_uuid(meeting_uuid: str) -> str:
    """A meeting uuid as a path segment: Zoom wants it double-encoded when it starts with / or has //."""
    from urllib.parse import quote

    once = quote(meeting_uuid, safe="")
    if meeting_uuid.startswith("/") or "//" in meeting_uuid:
        return quote(once, safe="")
    return once


# ---- live sessions -----------------------------------------------------------------------------


def validate_session(
    *,
    session_name: str,
    scheduled_start: datetime | None,
    scheduled_end: datetime | None,
    zoom_host_id: str,
    lti_config_id: str,
    min_attendance_share: float,
    late_grace_minutes: int,
    require_config: bool = True,
) -> None:
    """Every violation at once, so an instructor fixes the form in one go."""
    problems = ValidationErrors()
    if not session_name.strip():
        problems.add("session_name", "give the session a name")
    elif len(session_name) > 200:
        problems.add("session_name", "at most 200 characters (Zoom's topic limit)")
    if scheduled_start is None:
        problems.add("scheduled_start", "required, as an RFC 3339 time such as 2026-03-02T14:00:00Z")
    if scheduled_end is None:
        problems.add("scheduled_end", "required, as an RFC 3339 time such as 2026-03-02T15:30:00Z")
    if scheduled_start is not None and scheduled_end is not None:
        if scheduled_end <= scheduled_start:
            problems.add("scheduled_end", "must be after scheduled_start")
        elif scheduled_end - scheduled_start > timedelta(hours=MAX_SESSION_HOURS):
            problems.add("scheduled_end", f"a session lasts at most {MAX_SESSION_HOURS} hours")
    if not zoom_host_id.strip():
        problems.add("zoom_host_id", "name the Zoom host (user id or email)")
    if require_config and not lti_config_id.strip():
        problems.add("lti_config_id", "name the LTI registration whose Zoom account runs the meeting")
    if not 0 <= min_attendance_share <= 1:
        problems.add("min_attendance_share", "a share from 0 to 1, e.g. 0.75")
    if not 0 <= late_grace_minutes <= 24 * 60:
        problems.add("late_grace_minutes", "minutes from 0 to 1440")
    if problems.violations:
        detail = "; ".join(f"{v.field}: {v.description}" for v in problems.violations)
        raise errors.InvalidSession(
            f"the live session cannot be scheduled: {detail}", violations=tuple(problems.violations)
        )


def duration_minutes(start: datetime, end: datetime) -> int:
    """Zoom's meeting duration: whole minutes, rounded up, at least one."""
    seconds = (end - start).total_seconds()
    return max(1, int(-(-seconds // 60)))


# ---- the report --------------------------------------------------------------------------------


class Status(Enum):
    PRESENT = "present"
    LATE = "late"
    ABSENT = "absent"


class MatchedBy(Enum):
    REGISTRANT = "registrant"
    EMAIL = "email"
    NAME = "name"
    NONE = "none"
    ROSTER = "roster"
    """An absent roster member: nobody joined as them."""


@dataclass(frozen=True)
class Schedule:
    """The session's plan and its thresholds."""

    scheduled_start: datetime
    scheduled_end: datetime
    min_share: float = DEFAULT_MIN_SHARE
    grace_minutes: int = DEFAULT_GRACE_MINUTES


@dataclass(frozen=True)
class RosterMember:
    user_id: str
    name: str
    email: str
    is_learner: bool = True


@dataclass
class Row:
    """One person's attendance."""

    name: str
    email: str
    user_id: str
    first_join: datetime | None
    last_leave: datetime | None
    attended_seconds: int
    attended_share: float
    join_count: int
    status: Status
    matched_by: MatchedBy
    estimated: bool = False
    present_now: bool = False
    intervals: list[tuple[datetime, datetime]] = field(default_factory=list, repr=False)


@dataclass
class Report:
    rows: list[Row]
    participants: int
    average_attended_seconds: float
    peak_concurrent: int
    present_count: int
    late_count: int
    absent_count: int
    live_participants: int
    meeting_start: datetime | None
    meeting_end: datetime | None


def normalize_name(name: str) -> str:
    """Case, accents and spacing do not make two people: 'José  Núñez' equals 'jose nunez'."""
    decomposed = unicodedata.normalize("NFKD", name)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


def merge_intervals(intervals: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Union of intervals: overlapping or touching ones become one (several devices count once)."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def seconds_within(intervals: Sequence[tuple[datetime, datetime]], start: datetime, end: datetime) -> float:
    """Seconds of (merged) intervals inside [start, end]."""
    total = 0.0
    for a, b in intervals:
        lo, hi = max(a, start), min(b, end)
        if hi > lo:
            total += (hi - lo).total_seconds()
    return total


def peak_concurrent(people: Iterable[Sequence[tuple[datetime, datetime]]]) -> int:
    """Most people present at once; a leave at the same instant as a join frees the seat first."""
    edges: list[tuple[datetime, int]] = []
    for intervals in people:
        for start, end in intervals:
            edges += [(start, 1), (end, -1)]
    edges.sort(key=lambda edge: (edge[0], edge[1]))
    current = best = 0
    for _, step in edges:
        current += step
        best = max(best, current)
    return best


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


def _identifiers(meeting_uuid: str, p: ParticipantIds) -> list[str]:
    ids = [f"user:{p.zoom_user_id}" if p.zoom_user_id else "", f"email:{p.email.lower()}" if p.email else ""]
    ids.append(f"registrant:{p.registrant_id}" if p.registrant_id else "")
    ids = [i for i in ids if i]
    if not ids and p.name:
        ids.append(f"name:{normalize_name(p.name)}")
    if p.connection_id:
        ids.append(f"connection:{meeting_uuid}:{p.connection_id}")
    return ids


@dataclass
class _Person:
    intervals: list[tuple[datetime, datetime]] = field(default_factory=list)
    join_count: int = 0
    estimated: bool = False
    present_now: bool = False
    names: Counter[str] = field(default_factory=Counter)
    first_seen: dict[str, datetime] = field(default_factory=dict)
    emails: Counter[str] = field(default_factory=Counter)
    registrant_ids: set[str] = field(default_factory=set)
    last_leave: datetime | None = None


_ORDER = {PARTICIPANT_JOINED: 0, BREAKOUT_JOINED: 0, PARTICIPANT_LEFT: 1, BREAKOUT_LEFT: 1, WAITING_ROOM_ENTERED: 1}


def compute_attendance(
    events: Sequence[ZoomEvent],
    schedule: Schedule,
    *,
    roster: Sequence[RosterMember] = (),
    registrants: Mapping[str, str] | None = None,
    now: datetime,
) -> Report:
    """The report of one session from its stored events (any order, duplicates already gone).

    ``registrants`` maps Zoom registrant ids (personal join links) to LMS user ids.
    """
    registrants = registrants or {}
    starts: dict[str, datetime] = {}
    ends: dict[str, datetime] = {}
    presence: list[ZoomEvent] = []
    for ev in events:
        if ev.event == MEETING_STARTED:
            starts[ev.meeting_uuid] = min(ev.occurred_at, starts.get(ev.meeting_uuid, ev.occurred_at))
        elif ev.event == MEETING_ENDED:
            ends[ev.meeting_uuid] = max(ev.occurred_at, ends.get(ev.meeting_uuid, ev.occurred_at))
        elif ev.participant is not None and ev.event in _ORDER:
            presence.append(ev)

    identities = _Identities()
    event_ids: list[list[str]] = []
    for ev in presence:
        assert ev.participant is not None
        ids = _identifiers(ev.meeting_uuid, ev.participant)
        event_ids.append(ids)
        if ids:
            identities.union(ids)

    # Channels: one device's main-room presence, or its breakout-room presence.
    channels: dict[tuple[str, str, str], list[ZoomEvent]] = {}
    person_of_channel: dict[tuple[str, str, str], str] = {}
    for ev, ids in zip(presence, event_ids, strict=True):
        assert ev.participant is not None
        if not ids:
            continue
        person_id = identities.find(ids[0])
        room = "breakout" if ev.event in (BREAKOUT_JOINED, BREAKOUT_LEFT) else "main"
        connection = ev.participant.connection_id or person_id
        key = (ev.meeting_uuid, connection, room)
        channels.setdefault(key, []).append(ev)
        person_of_channel[key] = person_id

    all_starts = list(starts.values()) + [ev.occurred_at for ev in presence if ev.event == PARTICIPANT_JOINED]
    meeting_start = min(all_starts) if all_starts else None
    live = any(uuid not in ends for uuid in starts) or (not ends and bool(presence))
    meeting_end = max(ends.values()) if ends and not live else None

    people: dict[str, _Person] = {}
    for key, channel_events in channels.items():
        uuid = key[0]
        person = people.setdefault(person_of_channel[key], _Person())
        channel_events.sort(key=lambda e: (e.occurred_at, _ORDER[e.event]))
        opened: datetime | None = None
        for ev in channel_events:
            assert ev.participant is not None
            if ev.participant.name:
                person.names[ev.participant.name] += 1
                known = person.first_seen.get(ev.participant.name)
                person.first_seen[ev.participant.name] = min(known or ev.occurred_at, ev.occurred_at)
            if ev.participant.email:
                person.emails[ev.participant.email] += 1
            if ev.participant.registrant_id:
                person.registrant_ids.add(ev.participant.registrant_id)
            if ev.event in (PARTICIPANT_JOINED, BREAKOUT_JOINED):
                if ev.event == PARTICIPANT_JOINED:
                    person.join_count += 1
                if opened is None:
                    opened = ev.occurred_at
            elif opened is not None:
                person.intervals.append((opened, ev.occurred_at))
                person.last_leave = max(person.last_leave or ev.occurred_at, ev.occurred_at)
                opened = None
        if opened is not None:
            instance_end = ends.get(uuid)
            if instance_end is not None and instance_end >= opened:
                close = instance_end
                person.last_leave = max(person.last_leave or close, close)
            elif now < schedule.scheduled_end or (uuid in starts and uuid not in ends):
                close = max(now, opened)
                person.present_now = True
            else:
                close = max(schedule.scheduled_end, opened)
                person.estimated = True
                person.last_leave = max(person.last_leave or close, close)
            person.intervals.append((opened, close))

    # Matching to the roster: registrant id (exact), then email, then a unique name.
    by_email = {m.email.lower(): m for m in roster if m.email}
    name_counts = Counter(normalize_name(m.name) for m in roster if m.name)
    by_name = {normalize_name(m.name): m for m in roster if m.name and name_counts[normalize_name(m.name)] == 1}
    by_user = {m.user_id: m for m in roster}

    window_start = max(meeting_start, schedule.scheduled_start) if meeting_start else schedule.scheduled_start
    actual_end = meeting_end or now
    window_end = min(actual_end, schedule.scheduled_end)
    if meeting_start is not None and window_end <= window_start:
        # The meeting ran wholly outside its schedule: judge against the meeting itself.
        window_start, window_end = meeting_start, max(actual_end, meeting_start)
    window_seconds = max((window_end - window_start).total_seconds(), 0.0)
    late_after = window_start + timedelta(minutes=schedule.grace_minutes)

    grouped: dict[str, tuple[list[_Person], str, MatchedBy, RosterMember | None]] = {}
    for person_key, person in people.items():
        member: RosterMember | None = None
        matched = MatchedBy.NONE
        for rid in sorted(person.registrant_ids):
            if rid in registrants:
                member = by_user.get(registrants[rid]) or RosterMember(registrants[rid], "", "")
                matched = MatchedBy.REGISTRANT
                break
        if member is None:
            for email in person.emails:
                if email.lower() in by_email:
                    member, matched = by_email[email.lower()], MatchedBy.EMAIL
                    break
        if member is None:
            for name in person.names:
                if normalize_name(name) in by_name:
                    member, matched = by_name[normalize_name(name)], MatchedBy.NAME
                    break
        group_key = f"user:{member.user_id}" if member is not None else f"zoom:{person_key}"
        if group_key in grouped:
            entry = grouped[group_key]
            entry[0].append(person)
            if _match_rank(matched) < _match_rank(entry[2]):
                grouped[group_key] = (entry[0], group_key, matched, member)
        else:
            grouped[group_key] = ([person], group_key, matched, member)

    rows: list[Row] = []
    for persons, _, matched, member in grouped.values():
        merged = merge_intervals(iv for p in persons for iv in p.intervals)
        if meeting_start is not None:
            merged = [(max(a, meeting_start), b) for a, b in merged if b > meeting_start]
        names = sum((p.names for p in persons), Counter[str]())
        first_seen: dict[str, datetime] = {}
        for p in persons:
            for name_seen, when in p.first_seen.items():
                first_seen[name_seen] = min(first_seen.get(name_seen, when), when)
        # The display name used most, and on a tie the one the person joined with first.
        display = min(names, key=lambda n: (-names[n], first_seen.get(n, AFTER_ALL), n)) if names else ""
        emails = sum((p.emails for p in persons), Counter[str]())
        share = seconds_within(merged, window_start, window_end) / window_seconds if window_seconds > 0 else 0.0
        share = min(share, 1.0)
        first_join = merged[0][0] if merged else None
        present_now = any(p.present_now for p in persons)
        leaves = [p.last_leave for p in persons if p.last_leave is not None]
        if share + 1e-9 < schedule.min_share or not merged:
            status = Status.ABSENT
        elif first_join is not None and first_join > late_after:
            status = Status.LATE
        else:
            status = Status.PRESENT
        rows.append(
            Row(
                name=(member.name if member is not None and member.name else "") or display,
                email=(member.email if member is not None and member.email else "")
                or (emails.most_common(1)[0][0] if emails else ""),
                user_id=member.user_id if member is not None else "",
                first_join=first_join,
                last_leave=None if present_now else (max(leaves) if leaves else None),
                attended_seconds=round(sum((b - a).total_seconds() for a, b in merged)),
                attended_share=round(share, 4),
                join_count=sum(p.join_count for p in persons),
                status=status,
                matched_by=matched,
                estimated=any(p.estimated for p in persons),
                present_now=present_now,
                intervals=merged,
            )
        )
    matched_users = {row.user_id for row in rows if row.user_id}
    for member in roster:
        if member.is_learner and member.user_id not in matched_users:
            rows.append(
                Row(
                    name=member.name,
                    email=member.email,
                    user_id=member.user_id,
                    first_join=None,
                    last_leave=None,
                    attended_seconds=0,
                    attended_share=0.0,
                    join_count=0,
                    status=Status.ABSENT,
                    matched_by=MatchedBy.ROSTER,
                )
            )
            matched_users.add(member.user_id)
    rows.sort(key=lambda r: (normalize_name(r.name), r.email.lower(), r.user_id))
    joined = [row for row in rows if row.join_count > 0 or row.intervals]
    return Report(
        rows=rows,
        participants=len(joined),
        average_attended_seconds=(sum(r.attended_seconds for r in joined) / len(joined)) if joined else 0.0,
        peak_concurrent=peak_concurrent(row.intervals for row in rows),
        present_count=sum(1 for r in rows if r.status is Status.PRESENT),
        late_count=sum(1 for r in rows if r.status is Status.LATE),
        absent_count=sum(1 for r in rows if r.status is Status.ABSENT),
        live_participants=sum(1 for r in rows if r.present_now),
        meeting_start=meeting_start,
        meeting_end=meeting_end,
    )


def _match_rank(matched: MatchedBy) -> int:
    return [MatchedBy.REGISTRANT, MatchedBy.EMAIL, MatchedBy.NAME, MatchedBy.ROSTER, MatchedBy.NONE].index(matched)


# ---- exports -----------------------------------------------------------------------------------

CSV_COLUMNS = (
    "participant_name",
    "email",
    "user_id",
    "first_join",
    "last_leave",
    "attended_seconds",
    "attended_share",
    "join_count",
    "status",
    "matched_by",
    "estimated",
)


def _iso(moment: datetime | None) -> str:
    return zoom_time(moment) if moment is not None else ""


def csv_record(row: Row) -> list[str]:
    """One CSV line's values, in CSV_COLUMNS order; times as RFC 3339 UTC, as the JSON shows them."""
    return [
        row.name,
        row.email,
        row.user_id,
        _iso(row.first_join),
        _iso(row.last_leave),
        str(row.attended_seconds),
        f"{row.attended_share:.4f}",
        str(row.join_count),
        row.status.value,
        row.matched_by.value,
        "true" if row.estimated else "false",
    ]
