"""Attendance: the report, its exports, the live view and reconciliation, for a course's staff.

A report is computed afresh from the stored events and the LMS roster (read at the same
time) on every request: events keep arriving while a meeting runs, and Zoom's
participants report may add missed ones afterwards.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from attendance_svc import domain, errors, metrics
from attendance_svc.use_cases.live_sessions import LiveSessions
from attendance_svc.use_cases.ports import Lti, PresenceFeed, Reconciliation, UnitOfWorkFactory
from service_kit.auth import SessionClaims

EXPORT_FORMATS = ("csv", "json")
NOTICE_WAIT_SECONDS = 30.0
"""How long a watcher waits for a notice before simply waiting again (the stream stays open)."""


@dataclass(frozen=True)
class SessionReport:
    session: domain.LiveSession
    report: domain.Report
    generated_at: datetime


@dataclass(frozen=True)
class AttendanceExport:
    """A report to download: which format, under which file name."""

    format: str
    filename: str
    report: SessionReport


@dataclass(frozen=True)
class AttendanceUpdate:
    """One message of the live view: rows that changed (all in the first), presence changes, totals."""

    report: domain.Report
    rows: list[domain.Row]
    changes: list[domain.PresenceNotice]
    status: domain.SessionStatus


@dataclass(frozen=True)
class Reconciled:
    outcome: domain.ReconcileOutcome
    report: domain.Report


class Attendance:
    """The attendance use cases over their ports; one per process, shared by every RPC."""

    def __init__(
        self,
        *,
        sessions: LiveSessions,
        uow: UnitOfWorkFactory,
        lti: Lti,
        feed: PresenceFeed,
        reconciliation: Reconciliation,
        watch_interval_seconds: float,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._sessions = sessions
        self._uow = uow
        self._lti = lti
        self._feed = feed
        self._reconciliation = reconciliation
        self._watch_interval = watch_interval_seconds
        self._clock = clock
        self._sleep = sleep

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def _staff_session(self, caller: SessionClaims, session_id: str) -> domain.LiveSession:
        session = await self._sessions.owned(caller, session_id)
        domain.require_staff(caller, session.course_id)
        return session

    async def _report(self, session: domain.LiveSession) -> domain.Report:
        async def stored() -> tuple[list[domain.ZoomEvent], dict[str, str]]:
            async with self._uow() as work:
                events = await work.events.of_meeting(session.zoom_meeting_id)
                return events, await work.join_links.registrants(session.id)

        with metrics.REPORT_SECONDS.time():
            # The roster (lti_svc) and the events (the store) are read at the same time.
            (events, registrants), roster = await asyncio.gather(
                stored(), self._lti.roster(session.organization_id, session.course_id)
            )
            schedule = domain.Schedule(
                session.scheduled_start,
                session.scheduled_end,
                session.min_attendance_share,
                session.late_grace_minutes,
            )
            return domain.compute_attendance(events, schedule, roster=roster, registrants=registrants, now=self._now())

    async def report(self, caller: SessionClaims, session_id: str) -> SessionReport:
        session = await self._staff_session(caller, session_id)
        report = await self._report(session)
        return SessionReport(session, report, generated_at=self._now())

    async def export(self, caller: SessionClaims, session_id: str, requested_format: str) -> AttendanceExport:
        """The report as a file; the format is checked before anything is read."""
        fmt = (requested_format or "csv").lower()
        if fmt not in EXPORT_FORMATS:
            raise errors.InvalidExportFormat(f"format {requested_format!r} is not offered: use csv or json")
        read = await self.report(caller, session_id)
        return AttendanceExport(fmt, f"attendance-{read.session.id}.{fmt}", read)

    async def watch(self, caller: SessionClaims, session_id: str) -> AsyncIterator[AttendanceUpdate]:
        """The whole report first, then what changed after each burst of joins and leaves, until the meeting ends.

        The watcher subscribes before it reads the first report, so no notice falls
        between the two; after a notice it waits ``watch_interval_seconds`` and takes
        every notice that came meanwhile, so a crowd joining at once is one update.
        """
        session = await self._staff_session(caller, session_id)
        async with self._feed.watch(session.zoom_meeting_id) as presence:
            report = await self._report(session)
            previous = domain.rows_by_key(report.rows)
            yield self._update(session, report, list(previous.values()), [])
            if session.cancelled or report.meeting_end is not None:
                return
            while True:
                notices = await presence.next(wait_seconds=NOTICE_WAIT_SECONDS)
                if not notices:
                    continue
                await self._sleep(self._watch_interval)
                notices += await presence.drain()
                report = await self._report(session)
                current = domain.rows_by_key(report.rows)
                changed = domain.changed_rows(previous, current)
                previous = current
                yield self._update(session, report, changed, [n for n in notices if n.is_presence_change])
                if report.meeting_end is not None:
                    return

    @staticmethod
    def _update(
        session: domain.LiveSession,
        report: domain.Report,
        rows: list[domain.Row],
        changes: list[domain.PresenceNotice],
    ) -> AttendanceUpdate:
        status = domain.session_status(
            cancelled=session.cancelled,
            started=report.meeting_start is not None,
            ended=report.meeting_end is not None,
        )
        return AttendanceUpdate(report, rows, changes, status)

    async def reconcile(self, caller: SessionClaims, session_id: str) -> Reconciled:
        """Read Zoom's participants report now, then answer with the report it completed."""
        session = await self._staff_session(caller, session_id)
        outcome = await self._reconciliation.reconcile_session(session)
        return Reconciled(outcome, await self._report(session))
