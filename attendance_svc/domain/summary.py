"""Stage 5 of the report: the rows in order, and the figures staff read first.

Rows are sorted by name (as people read it: case and accents aside), then email, then
user id. The participants and their average time count only people who joined, not the
absent learners listed from the roster; the peak is of people, not devices.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from attendance_svc.domain.bounds import MeetingBounds
from attendance_svc.domain.events import normalize_name
from attendance_svc.domain.status import Row, Status


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


def summarize(rows: Iterable[Row], bounds: MeetingBounds) -> Report:
    """The report: rows sorted, counts by status, and who joined at all."""
    ordered = sorted(rows, key=lambda r: (normalize_name(r.name), r.email.lower(), r.user_id))
    joined = [row for row in ordered if row.join_count > 0 or row.intervals]
    return Report(
        rows=ordered,
        participants=len(joined),
        average_attended_seconds=(sum(r.attended_seconds for r in joined) / len(joined)) if joined else 0.0,
        peak_concurrent=peak_concurrent(row.intervals for row in ordered),
        present_count=sum(1 for r in ordered if r.status is Status.PRESENT),
        late_count=sum(1 for r in ordered if r.status is Status.LATE),
        absent_count=sum(1 for r in ordered if r.status is Status.ABSENT),
        live_participants=sum(1 for r in ordered if r.present_now),
        meeting_start=bounds.start,
        meeting_end=bounds.end,
    )
