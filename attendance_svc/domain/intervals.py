"""Stage 3 of the report: each person's time in the meeting, as intervals.

Intervals are placed by the events' own times, never by when they arrived. Each
channel opens at a join and closes at the next leave (a second join while open changes
nothing); rejoins add up, and a person's devices and rooms are merged so that two
devices at once count once. Waiting-room time never counts: being put back into the
waiting room closes presence, and admission opens nothing by itself.

A join without a leave closes at its instance's end; while the meeting runs (or its
schedule has not ended) it counts until now and the person is present now; failing
both, nothing says when they left, so the scheduled end is used and the row is marked
estimated.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from attendance_svc.domain.bounds import MeetingBounds, Schedule
from attendance_svc.domain.events import BREAKOUT_JOINED, PARTICIPANT_JOINED
from attendance_svc.domain.identity import Channel

Interval = tuple[datetime, datetime]


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Union of intervals: overlapping or touching ones become one (several devices count once)."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def seconds_within(intervals: Sequence[Interval], start: datetime, end: datetime) -> float:
    """Seconds of (merged) intervals inside [start, end]."""
    total = 0.0
    for a, b in intervals:
        lo, hi = max(a, start), min(b, end)
        if hi > lo:
            total += (hi - lo).total_seconds()
    return total


class Closed(Enum):
    """How a join that no leave followed was closed."""

    AT_MEETING_END = "at the end of its meeting instance"
    STILL_PRESENT = "now: the person is still there"
    ESTIMATED = "at the scheduled end, for want of anything better"


def close_open_join(
    opened: datetime, meeting_uuid: str, bounds: MeetingBounds, schedule: Schedule, now: datetime
) -> tuple[datetime, Closed]:
    """When a join without a leave ends, and on what grounds."""
    instance_end = bounds.ends.get(meeting_uuid)
    if instance_end is not None and instance_end >= opened:
        return instance_end, Closed.AT_MEETING_END
    if now < schedule.scheduled_end or bounds.is_running(meeting_uuid):
        return max(now, opened), Closed.STILL_PRESENT
    return max(schedule.scheduled_end, opened), Closed.ESTIMATED


@dataclass
class Presence:
    """A person's (or one channel's) time in the meeting."""

    intervals: list[Interval] = field(default_factory=list)
    join_count: int = 0
    """Main-room joins: moving to a breakout room and back is not joining again."""
    estimated: bool = False
    present_now: bool = False
    last_leave: datetime | None = None

    def add(self, other: Presence) -> None:
        self.intervals += other.intervals
        self.join_count += other.join_count
        self.estimated = self.estimated or other.estimated
        self.present_now = self.present_now or other.present_now
        if other.last_leave is not None:
            self.last_leave = max(self.last_leave or other.last_leave, other.last_leave)


def channel_presence(channel: Channel, bounds: MeetingBounds, schedule: Schedule, now: datetime) -> Presence:
    """One channel's intervals, from its events in the order they happened."""
    presence = Presence()
    opened: datetime | None = None
    for ev in channel.events:
        if ev.event in (PARTICIPANT_JOINED, BREAKOUT_JOINED):
            if ev.event == PARTICIPANT_JOINED:
                presence.join_count += 1
            if opened is None:
                opened = ev.occurred_at
        elif opened is not None:
            presence.intervals.append((opened, ev.occurred_at))
            presence.last_leave = max(presence.last_leave or ev.occurred_at, ev.occurred_at)
            opened = None
    if opened is not None:
        close, closed = close_open_join(opened, channel.meeting_uuid, bounds, schedule, now)
        presence.intervals.append((opened, close))
        if closed is Closed.STILL_PRESENT:
            presence.present_now = True
        else:
            presence.estimated = closed is Closed.ESTIMATED
            presence.last_leave = max(presence.last_leave or close, close)
    return presence


def presence_of_people(
    person_channels: Iterable[Channel], bounds: MeetingBounds, schedule: Schedule, now: datetime
) -> dict[str, Presence]:
    """Each person's channels added up (intervals still unmerged: merging is per attendee)."""
    people: dict[str, Presence] = {}
    for channel in person_channels:
        people.setdefault(channel.person, Presence()).add(channel_presence(channel, bounds, schedule, now))
    return people
