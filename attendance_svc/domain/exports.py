"""Attendance rows as CSV records: the columns and how each value is written."""

from __future__ import annotations

from datetime import datetime

from attendance_svc.domain.events import zoom_time
from attendance_svc.domain.status import Row

CSV_COLUMNS = (
    "participant_name",
    "email",
    "user_id",
    "first_join",
    "last_leave",
    "attended_seconds",
    "attended_share",
    "join_count",
    "status",
    "matched_by",
    "estimated",
)


def _iso(moment: datetime | None) -> str:
    return zoom_time(moment) if moment is not None else ""


def csv_record(row: Row) -> list[str]:
    """One CSV line's values, in CSV_COLUMNS order; times as RFC 3339 UTC, as the JSON shows them."""
    return [
        row.name,
        row.email,
        row.user_id,
        _iso(row.first_join),
        _iso(row.last_leave),
        str(row.attended_seconds),
        f"{row.attended_share:.4f}",
        str(row.join_count),
        row.status.value,
        row.matched_by.value,
        "true" if row.estimated else "false",
    ]
