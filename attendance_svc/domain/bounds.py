"""Stage 1 of the report: when the meeting ran, and the stretch attendance is judged against.

A meeting may run as several instances (Zoom gives each start a new uuid), so starts and
ends are kept per instance. The meeting counts as started at its first start, or at the
first join if Zoom's ``meeting.started`` never arrived; it has ended only once every
started instance has. The judged window is the meeting clipped to its schedule: a
lecture that starts twenty minutes late is forty minutes long for everyone's share,
and one held wholly outside its schedule is judged against itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from attendance_svc.domain.events import MEETING_ENDED, MEETING_STARTED, PARTICIPANT_JOINED, PRESENCE_ORDER, ZoomEvent
from attendance_svc.domain.sessions import DEFAULT_GRACE_MINUTES, DEFAULT_MIN_SHARE


@dataclass(frozen=True)
class Schedule:
    """The session's plan and its thresholds."""

    scheduled_start: datetime
    scheduled_end: datetime
    min_share: float = DEFAULT_MIN_SHARE
    grace_minutes: int = DEFAULT_GRACE_MINUTES


def is_presence(event: ZoomEvent) -> bool:
    """A join or leave of a participant: the only events that move anyone's presence."""
    return event.participant is not None and event.event in PRESENCE_ORDER


@dataclass(frozen=True)
class MeetingBounds:
    """When the meeting ran, from its own events."""

    starts: Mapping[str, datetime]
    """Each instance's (meeting uuid's) earliest ``meeting.started``."""
    ends: Mapping[str, datetime]
    """Each instance's latest ``meeting.ended``."""
    start: datetime | None
    """The first start, or the first join when earlier (or when no start arrived)."""
    end: datetime | None
    """The last end, once no instance runs any more; None while the meeting is live or never ended."""

    def is_running(self, meeting_uuid: str) -> bool:
        """This instance started and has not ended."""
        return meeting_uuid in self.starts and meeting_uuid not in self.ends


def meeting_bounds(events: Iterable[ZoomEvent]) -> MeetingBounds:
    """The bounds of a meeting from all its stored events (any order)."""
    starts: dict[str, datetime] = {}
    ends: dict[str, datetime] = {}
    joins: list[datetime] = []
    any_presence = False
    for ev in events:
        if ev.event == MEETING_STARTED:
            starts[ev.meeting_uuid] = min(ev.occurred_at, starts.get(ev.meeting_uuid, ev.occurred_at))
        elif ev.event == MEETING_ENDED:
            ends[ev.meeting_uuid] = max(ev.occurred_at, ends.get(ev.meeting_uuid, ev.occurred_at))
        elif is_presence(ev):
            any_presence = True
            if ev.event == PARTICIPANT_JOINED:
                joins.append(ev.occurred_at)
    candidates = [*starts.values(), *joins]
    # Live: an instance started and has not ended, or people come and go and nothing ended yet.
    live = any(uuid not in ends for uuid in starts) or (not ends and any_presence)
    return MeetingBounds(
        starts=starts,
        ends=ends,
        start=min(candidates) if candidates else None,
        end=max(ends.values()) if ends and not live else None,
    )


@dataclass(frozen=True)
class Window:
    """The stretch everyone's attended share is measured against."""

    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return max((self.end - self.start).total_seconds(), 0.0)


def judged_window(bounds: MeetingBounds, schedule: Schedule, now: datetime) -> Window:
    """The meeting clipped to its schedule; a meeting not over yet runs until ``now``.

    A meeting held wholly outside its schedule (started after the scheduled end) is
    judged against the meeting itself rather than against an empty window.
    """
    start = max(bounds.start, schedule.scheduled_start) if bounds.start else schedule.scheduled_start
    actual_end = bounds.end or now
    end = min(actual_end, schedule.scheduled_end)
    if bounds.start is not None and end <= start:
        return Window(bounds.start, max(actual_end, bounds.start))
    return Window(start, end)
