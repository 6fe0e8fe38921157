"""The live view of a session: presence notices, and which rows changed since the last update.

Joins and leaves are announced as they are stored; a watcher then recomputes the report
and sends only the rows whose shown values changed. Rows are told apart by user id, or
by name and email for people the roster does not know.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from attendance_svc.domain.status import Row

JOINED = "joined"
LEFT = "left"


@dataclass(frozen=True)
class PresenceNotice:
    """A join or leave as live watchers see it, or a meeting's start or end (kind is the event then)."""

    kind: str
    name: str = ""
    email: str = ""
    occurred_at: datetime | None = None

    @property
    def is_presence_change(self) -> bool:
        return self.kind in (JOINED, LEFT)


def row_key(row: Row) -> str:
    return row.user_id or f"{row.name}\x00{row.email}"


def rows_by_key(rows: Iterable[Row]) -> dict[str, Row]:
    """Rows as the live view tells them apart; of two rows with one key, the later is shown."""
    return {row_key(row): row for row in rows}


def _shown(row: Row) -> tuple[object, ...]:
    """What a watcher sees of a row (its intervals and present-now flag are not sent)."""
    return (
        row.name,
        row.email,
        row.user_id,
        row.first_join,
        row.last_leave,
        row.attended_seconds,
        row.attended_share,
        row.join_count,
        row.status,
        row.matched_by,
        row.estimated,
    )


def changed_rows(previous: Mapping[str, Row], current: Mapping[str, Row]) -> list[Row]:
    """Rows that are new or show something else than in the previous update."""
    return [row for key, row in current.items() if key not in previous or _shown(previous[key]) != _shown(row)]
