"""The AttendanceService servicer and the process's ``serve``.

Each RPC maps proto to domain and back: rules in :mod:`attendance_svc.domain`, tables
in :mod:`attendance_svc.store`, Zoom, lti_svc and Redis in :mod:`attendance_svc.adapters`,
batched webhook writes in :mod:`attendance_svc.ingest`, the participants report in
:mod:`attendance_svc.reconcile`.

Who may call what: scheduling, changing and cancelling sessions, and reading
attendance, is for the course's staff (its instructors and assistants, as the session
JWT says) and the organization's administrators; the course's members may read its
sessions and get their own join link (the host's start URL is shown to staff only).
RecordZoomEvent takes no caller: the Zoom signature is its credential, checked again
here because no service trusts the network.

Sessions never half-exist: the Zoom meeting is created first and the row written
after; if the row cannot be written, the meeting is deleted again.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from google.api import httpbody_pb2
from google.protobuf import timestamp_pb2
from redis.asyncio import Redis
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from attendance_svc import adapters, domain, errors, metrics, store
from attendance_svc.ingest import EventBatcher
from attendance_svc.reconcile import Reconciler
from media.attendance.v1 import attendance_pb2, attendance_pb2_grpc
from service_kit import paging
from service_kit.auth import SessionClaims
from service_kit.caller import require_caller
from service_kit.db import create_engine, session_factory
from service_kit.grpc_server import Registration
from service_kit.grpc_server import serve as serve_grpc
from service_kit.settings import AttendanceSettings, Settings, load_attendance_settings

if TYPE_CHECKING:
    from grpc import aio

    Context = aio.ServicerContext[Any, Any]
else:
    Context = Any

log = logging.getLogger(__name__)

SERVICE_NAME = attendance_pb2.DESCRIPTOR.services_by_name["AttendanceService"].full_name
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
CSV_CHUNK_ROWS = 200
MUTABLE_FIELDS = frozenset(
    {"session_name", "scheduled_start", "scheduled_end", "min_attendance_share", "late_grace_minutes"}
)
STATUS_TO_PROTO = {
    domain.Status.PRESENT: attendance_pb2.ATTENDANCE_STATUS_PRESENT,
    domain.Status.LATE: attendance_pb2.ATTENDANCE_STATUS_LATE,
    domain.Status.ABSENT: attendance_pb2.ATTENDANCE_STATUS_ABSENT,
}
MATCH_TO_PROTO = {
    domain.MatchedBy.REGISTRANT: attendance_pb2.PARTICIPANT_MATCH_REGISTRANT,
    domain.MatchedBy.EMAIL: attendance_pb2.PARTICIPANT_MATCH_EMAIL,
    domain.MatchedBy.NAME: attendance_pb2.PARTICIPANT_MATCH_NAME,
    domain.MatchedBy.NONE: attendance_pb2.PARTICIPANT_MATCH_NONE,
    domain.MatchedBy.ROSTER: attendance_pb2.PARTICIPANT_MATCH_NOT_JOINED,
}


@dataclass(frozen=True)
class Dependencies:
    """What the servicer talks to, made once per process."""

    sessions: async_sessionmaker[AsyncSession]
    zoom: adapters.Zoom
    lti: adapters.Lti
    redis: Redis[bytes]
    batcher: EventBatcher
    reconciler: Reconciler
    settings: Settings
    attendance: AttendanceSettings
    clock: Callable[[], float] = time.time


def _timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _datetime(stamp: timestamp_pb2.Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


def _is_staff(caller: SessionClaims, course_id: str) -> bool:
    return caller.is_administrator or (caller.manages_course and caller.course_id == course_id)


def _require_staff(caller: SessionClaims, course_id: str) -> None:
    if not _is_staff(caller, course_id):
        raise errors.NotCourseStaff(
            "only the course's instructors and assistants may schedule live sessions or read attendance"
        )


def _require_member(caller: SessionClaims, course_id: str) -> None:
    if not (caller.is_administrator or caller.course_id == course_id):
        raise errors.NotCourseMember("your session is for another course: launch the tool from this course")


@dataclass(frozen=True)
class MeetingState:
    started_at: datetime | None
    ended_at: datetime | None
    ended: bool


def session_message(row: store.SessionRow, state: MeetingState, *, staff: bool) -> attendance_pb2.LiveSession:
    """A session as the API shows it; the host's start URL only to staff."""
    if row.cancelled:
        status = attendance_pb2.LIVE_SESSION_STATUS_CANCELLED
    elif state.ended:
        status = attendance_pb2.LIVE_SESSION_STATUS_ENDED
    elif state.started_at is not None:
        status = attendance_pb2.LIVE_SESSION_STATUS_LIVE
    else:
        status = attendance_pb2.LIVE_SESSION_STATUS_SCHEDULED
    message = attendance_pb2.LiveSession(
        session_id=str(row.id),
        organization_id=row.organization_id,
        course_id=row.course_id,
        lti_config_id=row.lti_config_id,
        session_name=row.session_name,
        scheduled_start=_timestamp(row.scheduled_start),
        scheduled_end=_timestamp(row.scheduled_end),
        zoom_host_id=row.zoom_host_id,
        zoom_meeting_id=row.zoom_meeting_id,
        zoom_meeting_uuid=row.zoom_meeting_uuid,
        join_url=row.join_url,
        start_url=row.start_url if staff else "",
        status=status,
        min_attendance_share=row.min_attendance_share,
        late_grace_minutes=row.late_grace_minutes,
        created_by=row.created_by,
        created_at=_timestamp(row.created_at),
        updated_at=_timestamp(row.updated_at),
    )
    if state.started_at is not None:
        message.started_at.CopyFrom(_timestamp(state.started_at))
    if state.ended_at is not None and state.ended:
        message.ended_at.CopyFrom(_timestamp(state.ended_at))
    return message


def row_message(row: domain.Row) -> attendance_pb2.AttendanceRow:
    message = attendance_pb2.AttendanceRow(
        participant_name=row.name,
        email=row.email,
        user_id=row.user_id,
        attended_seconds=row.attended_seconds,
        attended_share=row.attended_share,
        join_count=row.join_count,
        status=STATUS_TO_PROTO[row.status],
        matched_by=MATCH_TO_PROTO[row.matched_by],
        estimated=row.estimated,
    )
    if row.first_join is not None:
        message.first_join.CopyFrom(_timestamp(row.first_join))
    if row.last_leave is not None:
        message.last_leave.CopyFrom(_timestamp(row.last_leave))
    return message


def summary_message(report: domain.Report) -> attendance_pb2.AttendanceSummary:
    return attendance_pb2.AttendanceSummary(
        participants=report.participants,
        average_attended_seconds=round(report.average_attended_seconds, 1),
        peak_concurrent=report.peak_concurrent,
        present_count=report.present_count,
        late_count=report.late_count,
        absent_count=report.absent_count,
    )


class AttendanceServicer(attendance_pb2_grpc.AttendanceServiceServicer):
    """Serves media.attendance.v1.AttendanceService."""

    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._deps.clock(), UTC)

    async def _owned(self, caller: SessionClaims, session_id: str) -> store.SessionRow:
        parsed = store.parse_id(session_id)
        async with self._deps.sessions() as session:
            row = await store.session_row(session, parsed) if parsed else None
        if row is None or row.organization_id != caller.organization_id:
            raise errors.SessionNotFound("no such live session: check the session_id")
        return row

    async def _state(self, meeting_id: str) -> MeetingState:
        async with self._deps.sessions() as session:
            started, ended_at, ended = await store.meeting_bounds(session, meeting_id)
        return MeetingState(started, ended_at, ended)

    # ---- live sessions ----------------------------------------------------------------------

    async def CreateLiveSession(
        self, request: attendance_pb2.CreateLiveSessionRequest, context: Context
    ) -> attendance_pb2.CreateLiveSessionResponse:
        caller = require_caller()
        course_id = request.course_id or caller.course_id or ""
        if not course_id:
            raise errors.InvalidSession("course_id is required when the session is not for a course")
        _require_staff(caller, course_id)
        start = _datetime(request.scheduled_start) if request.HasField("scheduled_start") else None
        end = _datetime(request.scheduled_end) if request.HasField("scheduled_end") else None
        share = request.min_attendance_share or domain.DEFAULT_MIN_SHARE
        grace = request.late_grace_minutes or domain.DEFAULT_GRACE_MINUTES
        domain.validate_session(
            session_name=request.session_name,
            scheduled_start=start,
            scheduled_end=end,
            zoom_host_id=request.zoom_host_id,
            lti_config_id=request.lti_config_id,
            min_attendance_share=share,
            late_grace_minutes=grace,
        )
        assert start is not None and end is not None
        credentials = await self._credentials(caller.organization_id, request.lti_config_id)
        meeting = await self._deps.zoom.create_meeting(
            credentials, host=request.zoom_host_id, topic=request.session_name, start=start, end=end
        )
        now = store.utcnow()
        row = store.SessionRow(
            id=uuid.uuid4(),
            organization_id=caller.organization_id,
            course_id=course_id,
            lti_config_id=request.lti_config_id,
            session_name=request.session_name,
            scheduled_start=start,
            scheduled_end=end,
            zoom_host_id=request.zoom_host_id,
            zoom_meeting_id=str(meeting["id"]),
            zoom_meeting_uuid=str(meeting.get("uuid", "")),
            join_url=str(meeting.get("join_url", "")),
            start_url=str(meeting.get("start_url", "")),
            cancelled=False,
            min_attendance_share=share,
            late_grace_minutes=grace,
            created_by=caller.user_id,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self._deps.sessions() as session, session.begin():
                session.add(row)
        except (SQLAlchemyError, OSError):
            log.exception("session not stored: deleting its Zoom meeting again")
            with contextlib.suppress(errors.AttendanceError):
                await self._deps.zoom.delete_meeting(credentials, row.zoom_meeting_id)
            raise errors.StoreUnavailable("the session could not be stored; nothing was scheduled: try again") from None
        log.info("live session created", extra={"session_id": str(row.id), "meeting_id": row.zoom_meeting_id})
        return attendance_pb2.CreateLiveSessionResponse(
            session=session_message(row, MeetingState(None, None, False), staff=True)
        )

    async def _credentials(self, organization_id: str, config_id: str) -> adapters.ZoomCredentials:
        try:
            return await self._deps.lti.zoom_credentials(organization_id, config_id)
        except errors.LtiRefused as exc:
            raise errors.InvalidSession(
                f"lti_config_id: {exc.message.split(': ', 1)[-1]}",
                violations=(),
            ) from None

    async def GetLiveSession(
        self, request: attendance_pb2.GetLiveSessionRequest, context: Context
    ) -> attendance_pb2.GetLiveSessionResponse:
        caller = require_caller()
        row = await self._owned(caller, request.session_id)
        _require_member(caller, row.course_id)
        state = await self._state(row.zoom_meeting_id)
        return attendance_pb2.GetLiveSessionResponse(
            session=session_message(row, state, staff=_is_staff(caller, row.course_id))
        )

    async def ListLiveSessions(
        self, request: attendance_pb2.ListLiveSessionsRequest, context: Context
    ) -> attendance_pb2.ListLiveSessionsResponse:
        caller = require_caller()
        course_id = request.course_id or caller.course_id or ""
        if not course_id:
            raise errors.InvalidSession("course_id is required when your session is not for a course")
        _require_member(caller, course_id)
        if request.page_size < 0:
            raise errors.InvalidSession("page_size must not be negative")
        size = min(request.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        after = paging.decode_cursor(request.page_token, invalid=errors.InvalidPageToken)
        async with self._deps.sessions() as session:
            rows = await store.course_sessions(session, caller.organization_id, course_id, after=after, limit=size + 1)
        staff = _is_staff(caller, course_id)
        page, next_token = paging.keyset_page(rows, size, lambda r: (r.scheduled_start, r.id))
        messages = [session_message(r, await self._state(r.zoom_meeting_id), staff=staff) for r in page]
        return attendance_pb2.ListLiveSessionsResponse(sessions=messages, next_page_token=next_token)

    async def UpdateLiveSession(
        self, request: attendance_pb2.UpdateLiveSessionRequest, context: Context
    ) -> attendance_pb2.UpdateLiveSessionResponse:
        caller = require_caller()
        row = await self._owned(caller, request.session.session_id)
        _require_staff(caller, row.course_id)
        if row.cancelled:
            raise errors.SessionCancelled("the session was cancelled: schedule a new one")
        given = request.session
        paths = list(request.update_mask.paths) or [name for name in sorted(MUTABLE_FIELDS) if _is_set(given, name)]
        refused = sorted(set(paths) - MUTABLE_FIELDS)
        if refused:
            raise errors.InvalidSession(
                f"update_mask: {', '.join(refused)} cannot be changed; allowed: {', '.join(sorted(MUTABLE_FIELDS))}"
            )
        if not paths:
            raise errors.InvalidSession("nothing to change: name the fields in update_mask")
        name = given.session_name if "session_name" in paths else row.session_name
        start = _datetime(given.scheduled_start) if "scheduled_start" in paths else row.scheduled_start
        end = _datetime(given.scheduled_end) if "scheduled_end" in paths else row.scheduled_end
        share = given.min_attendance_share if "min_attendance_share" in paths else row.min_attendance_share
        grace = given.late_grace_minutes if "late_grace_minutes" in paths else row.late_grace_minutes
        domain.validate_session(
            session_name=name,
            scheduled_start=start,
            scheduled_end=end,
            zoom_host_id=row.zoom_host_id,
            lti_config_id=row.lti_config_id,
            min_attendance_share=share,
            late_grace_minutes=grace,
        )
        zoom_changes: dict[str, Any] = {}
        if name != row.session_name:
            zoom_changes["topic"] = name
        if start != row.scheduled_start or end != row.scheduled_end:
            zoom_changes.update(
                start_time=domain.zoom_time(start), duration=domain.duration_minutes(start, end), timezone="UTC"
            )
        if zoom_changes:
            credentials = await self._credentials(caller.organization_id, row.lti_config_id)
            await self._deps.zoom.update_meeting(credentials, row.zoom_meeting_id, zoom_changes)
        async with self._deps.sessions() as session, session.begin():
            stored = await store.session_row(session, row.id)
            assert stored is not None
            stored.session_name, stored.scheduled_start, stored.scheduled_end = name, start, end
            stored.min_attendance_share, stored.late_grace_minutes = share, grace
            stored.updated_at = store.utcnow()
        state = await self._state(stored.zoom_meeting_id)
        return attendance_pb2.UpdateLiveSessionResponse(session=session_message(stored, state, staff=True))

    async def DeleteLiveSession(
        self, request: attendance_pb2.DeleteLiveSessionRequest, context: Context
    ) -> attendance_pb2.DeleteLiveSessionResponse:
        caller = require_caller()
        row = await self._owned(caller, request.session_id)
        _require_staff(caller, row.course_id)
        if not row.cancelled:
            credentials = await self._credentials(caller.organization_id, row.lti_config_id)
            await self._deps.zoom.delete_meeting(credentials, row.zoom_meeting_id)
            async with self._deps.sessions() as session, session.begin():
                stored = await store.session_row(session, row.id)
                assert stored is not None
                stored.cancelled = True
                stored.updated_at = store.utcnow()
            log.info("live session cancelled", extra={"session_id": str(row.id)})
        return attendance_pb2.DeleteLiveSessionResponse()

    # ---- webhooks ---------------------------------------------------------------------------

    async def RecordZoomEvent(
        self, request: attendance_pb2.RecordZoomEventRequest, context: Context
    ) -> attendance_pb2.RecordZoomEventResponse:
        secret = self._deps.settings.zoom_webhook_secret
        with metrics.webhook_received():
            domain.verify_webhook(
                secret,
                signature=request.signature,
                timestamp=request.request_timestamp,
                raw_body=request.raw_body,
                now=self._deps.clock(),
                max_skew_seconds=self._deps.attendance.webhook_max_skew_seconds,
            )
            notification = domain.parse_notification(request.raw_body)
            if notification.event == domain.URL_VALIDATION:
                plain = notification.payload.get("plainToken")
                if not isinstance(plain, str) or not plain:
                    raise errors.MalformedZoomEvent("endpoint.url_validation without payload.plainToken")
                return attendance_pb2.RecordZoomEventResponse(
                    plain_token=plain, encrypted_token=domain.url_validation_token(secret, plain)
                )
            item = domain.event_to_store(notification, request.raw_body)
            duplicate = await self._deps.batcher.record(item)
        metrics.event_recorded(item.event, duplicate=duplicate)
        return attendance_pb2.RecordZoomEventResponse(duplicate=duplicate)

    # ---- attendance -------------------------------------------------------------------------

    async def _report(self, row: store.SessionRow) -> domain.Report:
        async def stored() -> tuple[list[domain.ZoomEvent], dict[str, str]]:
            async with self._deps.sessions() as session:
                return await store.meeting_events(session, row.zoom_meeting_id), await store.registrants(
                    session, row.id
                )

        with metrics.REPORT_SECONDS.time():
            # The roster (lti_svc) and the events (PostgreSQL) are read at the same time.
            (events, registrants), roster = await asyncio.gather(
                stored(), self._deps.lti.roster(row.organization_id, row.course_id)
            )
            schedule = domain.Schedule(
                row.scheduled_start, row.scheduled_end, row.min_attendance_share, row.late_grace_minutes
            )
            return domain.compute_attendance(events, schedule, roster=roster, registrants=registrants, now=self._now())

    async def _staff_session(self, session_id: str) -> store.SessionRow:
        caller = require_caller()
        row = await self._owned(caller, session_id)
        _require_staff(caller, row.course_id)
        return row

    async def GetAttendance(
        self, request: attendance_pb2.GetAttendanceRequest, context: Context
    ) -> attendance_pb2.GetAttendanceResponse:
        row = await self._staff_session(request.session_id)
        report = await self._report(row)
        return attendance_pb2.GetAttendanceResponse(
            session_id=str(row.id),
            rows=[row_message(r) for r in report.rows],
            summary=summary_message(report),
            generated_at=_timestamp(self._now()),
        )

    async def ExportAttendance(
        self, request: attendance_pb2.ExportAttendanceRequest, context: Context
    ) -> AsyncIterator[attendance_pb2.ExportAttendanceResponse]:
        fmt = (request.format or "csv").lower()
        if fmt not in ("csv", "json"):
            raise errors.InvalidExportFormat(f"format {request.format!r} is not offered: use csv or json")
        row = await self._staff_session(request.session_id)
        report = await self._report(row)
        filename = f"attendance-{row.id}.{fmt}"
        if fmt == "json":
            document = attendance_pb2.GetAttendanceResponse(
                session_id=str(row.id),
                rows=[row_message(r) for r in report.rows],
                summary=summary_message(report),
                generated_at=_timestamp(self._now()),
            )
            from google.protobuf import json_format

            data = json_format.MessageToJson(
                document, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
            ).encode()
            yield attendance_pb2.ExportAttendanceResponse(
                chunk=httpbody_pb2.HttpBody(content_type="application/json; charset=utf-8", data=data),
                filename=filename,
            )
            return
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(domain.CSV_COLUMNS)
        first = True
        for index, item in enumerate(report.rows, start=1):
            writer.writerow(domain.csv_record(item))
            if index % CSV_CHUNK_ROWS == 0:
                yield self._csv_chunk(buffer, filename if first else "")
                first = False
        if first or buffer.tell():
            yield self._csv_chunk(buffer, filename if first else "")

    @staticmethod
    def _csv_chunk(buffer: io.StringIO, filename: str) -> attendance_pb2.ExportAttendanceResponse:
        data = buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
        return attendance_pb2.ExportAttendanceResponse(
            chunk=httpbody_pb2.HttpBody(content_type="text/csv; charset=utf-8", data=data), filename=filename
        )

    async def WatchAttendance(
        self, request: attendance_pb2.WatchAttendanceRequest, context: Context
    ) -> AsyncIterator[attendance_pb2.WatchAttendanceResponse]:
        row = await self._staff_session(request.session_id)
        pubsub = self._deps.redis.pubsub()
        await pubsub.subscribe(adapters.PresenceFeed.channel(row.zoom_meeting_id))
        try:
            report = await self._report(row)
            previous = {_row_identity(r): row_message(r) for r in report.rows}
            yield self._watch_message(row, report, list(previous.values()), [])
            if row.cancelled or report.meeting_end is not None:
                return
            interval = self._deps.attendance.watch_interval_seconds
            while True:
                notices = await _next_notices(pubsub, wait_seconds=30.0)
                if not notices:
                    continue
                await asyncio.sleep(interval)
                notices += await _drain(pubsub)
                report = await self._report(row)
                current = {_row_identity(r): row_message(r) for r in report.rows}
                changed = [m for key, m in current.items() if previous.get(key) != m]
                previous = current
                changes = [_change_message(n) for n in notices if n.get("kind") in ("joined", "left")]
                yield self._watch_message(row, report, changed, changes)
                if report.meeting_end is not None:
                    return
        finally:
            with contextlib.suppress(Exception):
                await pubsub.unsubscribe()
                await pubsub.close()

    def _watch_message(
        self,
        row: store.SessionRow,
        report: domain.Report,
        rows: list[attendance_pb2.AttendanceRow],
        changes: list[attendance_pb2.PresenceChange],
    ) -> attendance_pb2.WatchAttendanceResponse:
        if row.cancelled:
            status = attendance_pb2.LIVE_SESSION_STATUS_CANCELLED
        elif report.meeting_end is not None:
            status = attendance_pb2.LIVE_SESSION_STATUS_ENDED
        elif report.meeting_start is not None:
            status = attendance_pb2.LIVE_SESSION_STATUS_LIVE
        else:
            status = attendance_pb2.LIVE_SESSION_STATUS_SCHEDULED
        return attendance_pb2.WatchAttendanceResponse(
            rows=rows,
            summary=summary_message(report),
            live_participants=report.live_participants,
            status=status,
            changes=changes,
        )

    async def ReconcileAttendance(
        self, request: attendance_pb2.ReconcileAttendanceRequest, context: Context
    ) -> attendance_pb2.ReconcileAttendanceResponse:
        row = await self._staff_session(request.session_id)
        outcome = await self._deps.reconciler.reconcile_session(row)
        report = await self._report(row)
        reply = attendance_pb2.ReconcileAttendanceResponse(
            intervals_added=outcome.intervals_added,
            summary=summary_message(report),
            deferred=outcome.resume_at is not None,
        )
        if outcome.resume_at is not None:
            reply.resume_at.CopyFrom(_timestamp(outcome.resume_at))
        return reply

    async def CreateJoinLink(
        self, request: attendance_pb2.CreateJoinLinkRequest, context: Context
    ) -> attendance_pb2.CreateJoinLinkResponse:
        caller = require_caller()
        row = await self._owned(caller, request.session_id)
        _require_member(caller, row.course_id)
        user_id = request.user_id or caller.user_id
        if user_id != caller.user_id and not _is_staff(caller, row.course_id):
            raise errors.NotCourseStaff("only the course's staff may register someone else")
        if row.cancelled:
            raise errors.SessionCancelled("the session was cancelled: there is no meeting to join")
        async with self._deps.sessions() as session:
            existing = await store.join_link(session, row.id, user_id)
        if existing is not None:
            return attendance_pb2.CreateJoinLinkResponse(
                join_url=existing.join_url, registrant_id=existing.registrant_id
            )
        roster = await self._deps.lti.roster(row.organization_id, row.course_id)
        member = next((m for m in roster if m.user_id == user_id), None)
        name = member.name if member is not None and member.name else user_id
        first, _, last = name.partition(" ")
        address = member.email if member is not None and member.email else _placeholder_email(row, user_id)
        credentials = await self._credentials(row.organization_id, row.lti_config_id)
        registrant = await self._deps.zoom.add_registrant(
            credentials, row.zoom_meeting_id, email_address=address, first_name=first, last_name=last
        )
        link = store.JoinLinkRow(
            session_id=row.id,
            user_id=user_id,
            registrant_id=str(registrant.get("registrant_id") or registrant.get("id") or ""),
            join_url=str(registrant["join_url"]),
            created_at=store.utcnow(),
        )
        async with self._deps.sessions() as session, session.begin():
            stored = await store.save_join_link(session, link)
        return attendance_pb2.CreateJoinLinkResponse(join_url=stored.join_url, registrant_id=stored.registrant_id)


def _is_set(message: attendance_pb2.LiveSession, name: str) -> bool:
    if name in ("scheduled_start", "scheduled_end"):
        return message.HasField(name)  # type: ignore[arg-type]
    return bool(getattr(message, name))


def _placeholder_email(row: store.SessionRow, user_id: str) -> str:
    """Zoom requires an email per registrant; without one from the roster, a reserved address.

    ``.invalid`` (RFC 2606) never delivers mail, and the registrant id, not the address,
    is what matches the learner afterwards.
    """
    import hashlib

    digest = hashlib.sha256(f"{row.organization_id}\x00{user_id}".encode()).hexdigest()[:20]
    return f"learner-{digest}@registrants.invalid"


def _row_identity(row: domain.Row) -> str:
    return row.user_id or f"{row.name}\x00{row.email}"


def _change_message(notice: dict[str, Any]) -> attendance_pb2.PresenceChange:
    kind = (
        attendance_pb2.PRESENCE_CHANGE_KIND_JOINED
        if notice["kind"] == "joined"
        else (attendance_pb2.PRESENCE_CHANGE_KIND_LEFT)
    )
    change = attendance_pb2.PresenceChange(
        kind=kind, participant_name=notice.get("name", ""), email=notice.get("email", "")
    )
    with contextlib.suppress(KeyError, ValueError):
        change.occurred_at.CopyFrom(_timestamp(datetime.fromisoformat(notice["at"])))
    return change


async def _next_notices(pubsub: Any, *, wait_seconds: float) -> list[dict[str, Any]]:
    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=wait_seconds)
    return _notices_of(message)


async def _drain(pubsub: Any) -> list[dict[str, Any]]:
    notices: list[dict[str, Any]] = []
    while True:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.0)
        if message is None:
            return notices
        notices += _notices_of(message)


def _notices_of(message: Any) -> list[dict[str, Any]]:
    if not message or message.get("type") != "message":
        return []
    try:
        data = json.loads(message["data"])
    except (ValueError, TypeError):
        return []
    return [n for n in data if isinstance(n, dict)] if isinstance(data, list) else []


async def serve(settings: Settings) -> None:
    attendance = load_attendance_settings()
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    redis = Redis.from_url(settings.redis_url)
    zoom = adapters.Zoom(
        api_base_url=settings.zoom_api_base_url,
        oauth_base_url=settings.zoom_oauth_base_url,
        timeout_seconds=attendance.zoom_http_timeout_seconds,
        max_retry_wait_seconds=attendance.zoom_max_retry_wait_seconds,
    )
    lti = adapters.Lti(settings.endpoint("lti").address, settings.jwt_secret_key, settings.backend_timeout_seconds)
    feed = adapters.PresenceFeed(redis)
    batcher = EventBatcher(
        sessions,
        max_events=attendance.batch_max_events,
        max_wait_seconds=attendance.batch_max_wait_ms / 1000,
        reconcile_delay_seconds=attendance.reconcile_delay_seconds,
        publish=feed.publish,
    )
    batcher.start()
    reconciler = Reconciler(sessions, zoom, lti, poll_seconds=attendance.reconcile_poll_seconds)
    reconciler.start()
    servicer = AttendanceServicer(
        Dependencies(
            sessions=sessions,
            zoom=zoom,
            lti=lti,
            redis=redis,
            batcher=batcher,
            reconciler=reconciler,
            settings=settings,
            attendance=attendance,
        )
    )

    async def close() -> None:
        await batcher.close()
        await reconciler.close()
        await zoom.close()
        await lti.close()
        await redis.connection_pool.disconnect()
        await engine.dispose()

    await serve_grpc(
        service="attendance",
        settings=settings,
        registrations=[
            Registration(SERVICE_NAME, attendance_pb2_grpc.add_AttendanceServiceServicer_to_server, servicer)
        ],
        on_stop=[close],
    )
