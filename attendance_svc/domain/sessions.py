"""A live session: its fields and what may be scheduled, how it may change, and where it stands.

A session is a lecture planned in a course and the Zoom meeting made for it. Staff may
change its plan (name, times, thresholds) but never its host, registration or meeting;
a cancelled session's meeting is gone, so it changes no more.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum

from attendance_svc import errors
from service_kit.errors import ValidationErrors

DEFAULT_MIN_SHARE = 0.75
DEFAULT_GRACE_MINUTES = 5
MAX_SESSION_HOURS = 24


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


@dataclass(frozen=True)
class SessionPlan:
    """What staff may change about a session after scheduling it."""

    session_name: str
    scheduled_start: datetime
    scheduled_end: datetime
    min_attendance_share: float
    late_grace_minutes: int


MUTABLE_FIELDS = frozenset(
    {"session_name", "scheduled_start", "scheduled_end", "min_attendance_share", "late_grace_minutes"}
)
"""The plan's fields, by their API names: the only ones an update may name."""


@dataclass(frozen=True)
class LiveSession:
    """A scheduled lecture and the Zoom meeting made for it."""

    id: uuid.UUID
    organization_id: str
    course_id: str
    lti_config_id: str
    session_name: str
    scheduled_start: datetime
    scheduled_end: datetime
    zoom_host_id: str
    zoom_meeting_id: str
    zoom_meeting_uuid: str
    join_url: str
    start_url: str
    cancelled: bool
    min_attendance_share: float
    late_grace_minutes: int
    created_by: str
    created_at: datetime
    updated_at: datetime

    @property
    def plan(self) -> SessionPlan:
        return SessionPlan(
            self.session_name,
            self.scheduled_start,
            self.scheduled_end,
            self.min_attendance_share,
            self.late_grace_minutes,
        )


def session_id_of(raw: str) -> uuid.UUID | None:
    """A session id as the API spells it; None for anything that is not one (answered as not found)."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


def fields_to_change(mask: Sequence[str], present: Collection[str]) -> list[str]:
    """The plan fields an update changes: those its mask names, or without a mask those it carries.

    An update that names a field that is not part of the plan, or names nothing, is refused
    before anything is read or changed.
    """
    paths = list(mask) or [name for name in sorted(MUTABLE_FIELDS) if name in present]
    refused = sorted(set(paths) - MUTABLE_FIELDS)
    if refused:
        raise errors.InvalidSession(
            f"update_mask: {', '.join(refused)} cannot be changed; allowed: {', '.join(sorted(MUTABLE_FIELDS))}"
        )
    if not paths:
        raise errors.InvalidSession("nothing to change: name the fields in update_mask")
    return paths


def edited_plan(current: SessionPlan, given: SessionPlan, paths: Collection[str]) -> SessionPlan:
    """The plan after an update: the named fields from ``given``, the rest as they were."""
    return replace(current, **{name: getattr(given, name) for name in paths})


class SessionStatus(Enum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    CANCELLED = "cancelled"


def session_status(*, cancelled: bool, started: bool, ended: bool) -> SessionStatus:
    """Where a session stands: cancelling wins over anything Zoom says, an end over a start."""
    if cancelled:
        return SessionStatus.CANCELLED
    if ended:
        return SessionStatus.ENDED
    if started:
        return SessionStatus.LIVE
    return SessionStatus.SCHEDULED


@dataclass(frozen=True)
class MeetingState:
    """What the stored meeting events say of a session's meeting (its first start, last end)."""

    started_at: datetime | None
    ended_at: datetime | None
    ended: bool
    """Every instance that started has ended."""


NOT_STARTED = MeetingState(None, None, False)
