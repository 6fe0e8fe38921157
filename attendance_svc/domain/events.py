"""Zoom's events as the report reads them, and their identity in the events table.

Each stored event has a key built from what it *says* (event, meeting uuid,
participant, the time it names), not from when it arrived: Zoom's retries, duplicate
deliveries and the same join learned again from the participants report collapse to
one row.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from attendance_svc.domain.webhooks import Notification

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

PRESENCE_ORDER = {
    PARTICIPANT_JOINED: 0,
    BREAKOUT_JOINED: 0,
    PARTICIPANT_LEFT: 1,
    BREAKOUT_LEFT: 1,
    WAITING_ROOM_ENTERED: 1,
}
"""The events the report reads as opening (0) or closing (1) a participant's presence, and
their order at one instant: a join sorts before a leave stamped with the same time."""


def normalize_name(name: str) -> str:
    """Case, accents and spacing do not make two people: 'José  Núñez' equals 'jose nunez'."""
    decomposed = unicodedata.normalize("NFKD", name)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


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


@dataclass
class ReconcileOutcome:
    """What one reconciliation did: intervals (joins) added, and when work paused by Zoom resumes."""

    intervals_added: int = 0
    resume_at: datetime | None = None


def report_path_uuid(meeting_uuid: str) -> str:
    """A meeting uuid as a path segment: Zoom wants it double-encoded when it starts with / or has //."""
    from urllib.parse import quote

    once = quote(meeting_uuid, safe="")
    if meeting_uuid.startswith("/") or "//" in meeting_uuid:
        return quote(once, safe="")
    return once
