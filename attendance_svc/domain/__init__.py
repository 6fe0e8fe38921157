"""Attendance rules as plain functions: webhook checks, event identity, live sessions, the report.

Nothing here does I/O, so the tests call it directly. The rules live in one module per
seam; this package re-exports them all, so callers write ``domain.compute_attendance``
whichever module holds it:

- :mod:`.webhooks`: Zoom's signature over the raw body, the timestamp window, the URL check
- :mod:`.events`: event names, what a participant is called, and each event's idempotency key
- :mod:`.sessions`: a live session's fields and how long Zoom is told it lasts
- :mod:`.report`: the attendance report, composed of its stages:
  :mod:`.bounds` (when the meeting ran, the judged window), :mod:`.identity` (who is who,
  roster matching), :mod:`.intervals` (each person's time), :mod:`.status` (each row:
  present, late or absent) and :mod:`.summary` (order and figures)
- :mod:`.exports`: attendance rows as CSV records
"""

from attendance_svc.domain.bounds import MeetingBounds, Schedule, Window, is_presence, judged_window, meeting_bounds
from attendance_svc.domain.events import (
    BREAKOUT_JOINED,
    BREAKOUT_LEFT,
    MEETING_ENDED,
    MEETING_STARTED,
    PARTICIPANT_JOINED,
    PARTICIPANT_LEFT,
    PRESENCE_EVENTS,
    PRESENCE_ORDER,
    URL_VALIDATION,
    WAITING_ROOM_ADMITTED,
    WAITING_ROOM_ENTERED,
    WAITING_ROOM_JBH,
    EventToStore,
    ParticipantIds,
    ZoomEvent,
    event_key,
    event_to_store,
    events_from_report,
    normalize_name,
    parse_zoom_time,
    participant_from_report,
    participant_from_webhook,
    report_path_uuid,
    zoom_time,
)
from attendance_svc.domain.exports import CSV_COLUMNS, csv_record
from attendance_svc.domain.identity import (
    Attendee,
    Channel,
    Match,
    MatchedBy,
    RosterIndex,
    RosterMember,
    SeenAs,
    attendees,
    channels,
    identifiers,
    seen_as,
)
from attendance_svc.domain.intervals import (
    Closed,
    Interval,
    Presence,
    channel_presence,
    close_open_join,
    merge_intervals,
    presence_of_people,
    seconds_within,
)
from attendance_svc.domain.report import compute_attendance
from attendance_svc.domain.sessions import (
    DEFAULT_GRACE_MINUTES,
    DEFAULT_MIN_SHARE,
    MAX_SESSION_HOURS,
    duration_minutes,
    validate_session,
)
from attendance_svc.domain.status import (
    Row,
    Status,
    absent_learner_rows,
    attendance_status,
    attended_intervals,
    attended_share,
    attendee_row,
    display_name,
)
from attendance_svc.domain.summary import Report, peak_concurrent, summarize
from attendance_svc.domain.webhooks import (
    SIGNATURE_VERSION,
    Notification,
    parse_notification,
    url_validation_token,
    verify_webhook,
    webhook_signature,
)

__all__ = [
    "BREAKOUT_JOINED",
    "BREAKOUT_LEFT",
    "CSV_COLUMNS",
    "DEFAULT_GRACE_MINUTES",
    "DEFAULT_MIN_SHARE",
    "MAX_SESSION_HOURS",
    "MEETING_ENDED",
    "MEETING_STARTED",
    "PARTICIPANT_JOINED",
    "PARTICIPANT_LEFT",
    "PRESENCE_EVENTS",
    "PRESENCE_ORDER",
    "SIGNATURE_VERSION",
    "URL_VALIDATION",
    "WAITING_ROOM_ADMITTED",
    "WAITING_ROOM_ENTERED",
    "WAITING_ROOM_JBH",
    "Attendee",
    "Channel",
    "Closed",
    "EventToStore",
    "Interval",
    "Match",
    "MatchedBy",
    "MeetingBounds",
    "Notification",
    "ParticipantIds",
    "Presence",
    "Report",
    "RosterIndex",
    "RosterMember",
    "Row",
    "Schedule",
    "SeenAs",
    "Status",
    "Window",
    "ZoomEvent",
    "absent_learner_rows",
    "attendance_status",
    "attended_intervals",
    "attended_share",
    "attendee_row",
    "attendees",
    "channel_presence",
    "channels",
    "close_open_join",
    "compute_attendance",
    "csv_record",
    "display_name",
    "duration_minutes",
    "event_key",
    "event_to_store",
    "events_from_report",
    "identifiers",
    "is_presence",
    "judged_window",
    "meeting_bounds",
    "merge_intervals",
    "normalize_name",
    "parse_notification",
    "parse_zoom_time",
    "participant_from_report",
    "participant_from_webhook",
    "peak_concurrent",
    "presence_of_people",
    "report_path_uuid",
    "seconds_within",
    "seen_as",
    "summarize",
    "url_validation_token",
    "validate_session",
    "verify_webhook",
    "webhook_signature",
    "zoom_time",
]
