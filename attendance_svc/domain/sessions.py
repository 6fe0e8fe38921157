"""A live session's fields: what may be scheduled, and how long Zoom is told it lasts."""

from __future__ import annotations

from datetime import datetime, timedelta

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
