"""Attendance rows as CSV: the columns, how each value is written, and chunks for streaming.

The CSV is built in memory a chunk at a time (no file, no I/O), so the servicer streams
a report of any size without holding the whole document.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
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


CSV_CHUNK_ROWS = 200
"""Rows per streamed CSV chunk: big enough to be cheap, small enough that a download starts at once."""


def csv_chunks(rows: Iterable[Row], *, chunk_rows: int = CSV_CHUNK_ROWS) -> Iterator[bytes]:
    """The CSV document (header first, CRLF lines) in chunks of ``chunk_rows`` rows; one chunk at least."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    written = False
    for index, row in enumerate(rows, start=1):
        writer.writerow(csv_record(row))
        if index % chunk_rows == 0:
            yield _take(buffer)
            written = True
    if not written or buffer.tell():
        yield _take(buffer)


def _take(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    return data
