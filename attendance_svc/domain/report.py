"""The attendance report of one session: the five stages, in order.

Each stage is a plain function of the one before, tested on its own: :mod:`.bounds`
(when the meeting ran, the judged window), :mod:`.identity` (channels, people, roster
matching), :mod:`.intervals` (each person's time), :mod:`.status` (each attendee's row)
and :mod:`.summary` (order and figures).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from attendance_svc.domain.bounds import Schedule, judged_window, meeting_bounds
from attendance_svc.domain.events import ZoomEvent
from attendance_svc.domain.identity import RosterMember, attendees, channels, seen_as
from attendance_svc.domain.intervals import presence_of_people
from attendance_svc.domain.status import absent_learner_rows, attendee_row
from attendance_svc.domain.summary import Report, summarize


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
    bounds = meeting_bounds(events)
    person_channels = channels(events)
    seen = seen_as(person_channels)
    presence = presence_of_people(person_channels, bounds, schedule, now)
    window = judged_window(bounds, schedule, now)
    rows = [
        attendee_row(attendee, seen, presence, bounds, window, schedule)
        for attendee in attendees(seen, roster, registrants or {})
    ]
    return summarize([*rows, *absent_learner_rows(roster, rows)], bounds)
