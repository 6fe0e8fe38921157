"""Zoom's side of a live session, as the rules see it: credentials, the meeting, a registration.

The adapter (:class:`attendance_svc.adapters.Zoom`) turns Zoom's JSON into these and
these into Zoom's JSON, so no rule or use case reads a vendor's field names.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from attendance_svc.domain.sessions import SessionPlan


@dataclass(frozen=True)
class ZoomCredentials:
    """A Zoom Server-to-Server OAuth app's credentials; the secret is never logged."""

    account_id: str
    client_id: str
    client_secret: str

    @property
    def cache_key(self) -> str:
        return hashlib.sha256(f"{self.account_id}\x00{self.client_id}\x00{self.client_secret}".encode()).hexdigest()


@dataclass(frozen=True)
class ZoomMeeting:
    """A meeting Zoom created: its id, the uuid of its first instance, and its two links."""

    meeting_id: str
    meeting_uuid: str
    join_url: str
    start_url: str


@dataclass(frozen=True)
class ZoomRegistration:
    """A learner registered with a meeting: the registrant id webhooks echo, and their personal link."""

    registrant_id: str
    join_url: str


@dataclass(frozen=True)
class MeetingChange:
    """What Zoom must be told when a plan changes: a new topic, new times, or both."""

    topic: str | None = None
    times: tuple[datetime, datetime] | None = None


def meeting_change(before: SessionPlan, after: SessionPlan) -> MeetingChange | None:
    """Zoom hears of a new name or new times; thresholds are ours alone (None: nothing to tell)."""
    topic = after.session_name if after.session_name != before.session_name else None
    moved = (after.scheduled_start, after.scheduled_end) != (before.scheduled_start, before.scheduled_end)
    if topic is None and not moved:
        return None
    return MeetingChange(topic=topic, times=(after.scheduled_start, after.scheduled_end) if moved else None)
