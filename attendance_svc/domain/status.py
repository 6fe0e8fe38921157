"""Stage 4 of the report: each attendee's row, and whether they were present, late or absent.

An attendee's intervals are merged across their people and devices and clipped to the
meeting's start (waiting in a meeting that has not started is not attending). The share
is of the judged window (:func:`attendance_svc.domain.bounds.judged_window`); below the
session's minimum share, or never there, is absent; a first join after the grace
minutes is late; else present. Roster learners nobody joined as are listed absent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum

from attendance_svc.domain.bounds import MeetingBounds, Schedule, Window
from attendance_svc.domain.identity import Attendee, MatchedBy, RosterMember, SeenAs
from attendance_svc.domain.intervals import Interval, Presence, merge_intervals, seconds_within

AFTER_ALL = datetime.max.replace(tzinfo=UTC)
SHARE_TOLERANCE = 1e-9
"""A share that equals the minimum in exact arithmetic may land a hair below it in floats."""


class Status(Enum):
    PRESENT = "present"
    LATE = "late"
    ABSENT = "absent"


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
    intervals: list[Interval] = field(default_factory=list, repr=False)


def attended_intervals(presences: Iterable[Presence], bounds: MeetingBounds) -> list[Interval]:
    """An attendee's time, merged, from the meeting's start on."""
    merged = merge_intervals(interval for p in presences for interval in p.intervals)
    if bounds.start is not None:
        merged = [(max(a, bounds.start), b) for a, b in merged if b > bounds.start]
    return merged


def attended_share(intervals: Sequence[Interval], window: Window) -> float:
    """The part of the judged window spent in the meeting, from 0 to 1 (0 for an empty window)."""
    if window.seconds <= 0:
        return 0.0
    return min(seconds_within(intervals, window.start, window.end) / window.seconds, 1.0)


def attendance_status(share: float, first_join: datetime | None, window: Window, schedule: Schedule) -> Status:
    """Absent below the minimum share or never there; late after the grace minutes; else present."""
    if first_join is None or share + SHARE_TOLERANCE < schedule.min_share:
        return Status.ABSENT
    if first_join > window.start + timedelta(minutes=schedule.grace_minutes):
        return Status.LATE
    return Status.PRESENT


def display_name(seen: Sequence[SeenAs]) -> str:
    """The display name used most, and on a tie the one the person joined with first."""
    names = sum((s.names for s in seen), Counter[str]())
    if not names:
        return ""
    first_seen: dict[str, datetime] = {}
    for s in seen:
        for name, when in s.first_seen.items():
            first_seen[name] = min(first_seen.get(name, when), when)
    return min(names, key=lambda n: (-names[n], first_seen.get(n, AFTER_ALL), n))


def attendee_row(
    attendee: Attendee,
    seen: Mapping[str, SeenAs],
    presence: Mapping[str, Presence],
    bounds: MeetingBounds,
    window: Window,
    schedule: Schedule,
) -> Row:
    """The row of one attendee: the roster's name and email when matched, else what Zoom saw most."""
    facts = [seen[person] for person in attendee.people]
    times = [presence[person] for person in attendee.people]
    merged = attended_intervals(times, bounds)
    share = attended_share(merged, window)
    first_join = merged[0][0] if merged else None
    present_now = any(p.present_now for p in times)
    leaves = [p.last_leave for p in times if p.last_leave is not None]
    emails = sum((s.emails for s in facts), Counter[str]())
    member = attendee.match.member
    return Row(
        name=(member.name if member is not None and member.name else "") or display_name(facts),
        email=(member.email if member is not None and member.email else "")
        or (emails.most_common(1)[0][0] if emails else ""),
        user_id=member.user_id if member is not None else "",
        first_join=first_join,
        last_leave=None if present_now else (max(leaves) if leaves else None),
        attended_seconds=round(sum((b - a).total_seconds() for a, b in merged)),
        attended_share=round(share, 4),
        join_count=sum(p.join_count for p in times),
        status=attendance_status(share, first_join, window, schedule),
        matched_by=attendee.match.matched_by,
        estimated=any(p.estimated for p in times),
        present_now=present_now,
        intervals=merged,
    )


def absent_learner_rows(roster: Iterable[RosterMember], rows: Iterable[Row]) -> list[Row]:
    """A row for each roster learner no attendee matched (listed once even if the roster repeats them)."""
    matched = {row.user_id for row in rows if row.user_id}
    absent: list[Row] = []
    for member in roster:
        if member.is_learner and member.user_id not in matched:
            absent.append(
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
            matched.add(member.user_id)
    return absent
