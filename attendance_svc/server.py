"""The AttendanceService servicer and the process's ``serve``.

Each RPC is proto in, a use case, proto out: the decisions (who may, what the request
may ask, the order of Zoom and store calls, the clean-up when a step fails) are in
:mod:`attendance_svc.use_cases`, the rules in :mod:`attendance_svc.domain`, tables in
:mod:`attendance_svc.store`, Zoom, lti_svc and Redis in :mod:`attendance_svc.adapters`,
batched webhook writes in :mod:`attendance_svc.ingest`, the participants report in
:mod:`attendance_svc.reconcile`. ``serve`` wires them once per process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from google.api import httpbody_pb2
from google.protobuf import json_format, timestamp_pb2
from redis.asyncio import Redis

from attendance_svc import adapters, domain, store
from attendance_svc.ingest import EventBatcher
from attendance_svc.reconcile import Reconciler
from attendance_svc.use_cases import (
    Attendance,
    AttendanceUpdate,
    LiveSessions,
    NewLiveSession,
    SessionReport,
    SessionView,
    ZoomWebhooks,
)
from media.attendance.v1 import attendance_pb2, attendance_pb2_grpc
from service_kit import outbound
from service_kit.caller import require_caller
from service_kit.db import create_engine, session_factory
from service_kit.grpc_server import Registration
from service_kit.grpc_server import serve as serve_grpc
from service_kit.settings import Settings, load_attendance_settings

if TYPE_CHECKING:
    from grpc import aio

    Context = aio.ServicerContext[Any, Any]
else:
    Context = Any

SERVICE_NAME = attendance_pb2.DESCRIPTOR.services_by_name["AttendanceService"].full_name
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
SESSION_STATUS_TO_PROTO = {
    domain.SessionStatus.SCHEDULED: attendance_pb2.LIVE_SESSION_STATUS_SCHEDULED,
    domain.SessionStatus.LIVE: attendance_pb2.LIVE_SESSION_STATUS_LIVE,
    domain.SessionStatus.ENDED: attendance_pb2.LIVE_SESSION_STATUS_ENDED,
    domain.SessionStatus.CANCELLED: attendance_pb2.LIVE_SESSION_STATUS_CANCELLED,
}
CHANGE_TO_PROTO = {
    domain.JOINED: attendance_pb2.PRESENCE_CHANGE_KIND_JOINED,
    domain.LEFT: attendance_pb2.PRESENCE_CHANGE_KIND_LEFT,
}
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json; charset=utf-8"}


def _timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _datetime(stamp: timestamp_pb2.Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


def session_message(view: SessionView) -> attendance_pb2.LiveSession:
    """A session as the API shows it; the host's start URL only to staff."""
    session, state = view.session, view.state
    message = attendance_pb2.LiveSession(
        session_id=str(session.id),
        organization_id=session.organization_id,
        course_id=session.course_id,
        lti_config_id=session.lti_config_id,
        session_name=session.session_name,
        scheduled_start=_timestamp(session.scheduled_start),
        scheduled_end=_timestamp(session.scheduled_end),
        zoom_host_id=session.zoom_host_id,
        zoom_meeting_id=session.zoom_meeting_id,
        zoom_meeting_uuid=session.zoom_meeting_uuid,
        join_url=session.join_url,
        start_url=session.start_url if view.staff else "",
        status=SESSION_STATUS_TO_PROTO[view.status],
        min_attendance_share=session.min_attendance_share,
        late_grace_minutes=session.late_grace_minutes,
        created_by=session.created_by,
        created_at=_timestamp(session.created_at),
        updated_at=_timestamp(session.updated_at),
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


def attendance_message(read: SessionReport) -> attendance_pb2.GetAttendanceResponse:
    return attendance_pb2.GetAttendanceResponse(
        session_id=str(read.session.id),
        rows=[row_message(r) for r in read.report.rows],
        summary=summary_message(read.report),
        generated_at=_timestamp(read.generated_at),
    )


def change_message(notice: domain.PresenceNotice) -> attendance_pb2.PresenceChange:
    change = attendance_pb2.PresenceChange(
        kind=CHANGE_TO_PROTO[notice.kind], participant_name=notice.name, email=notice.email
    )
    if notice.occurred_at is not None:
        change.occurred_at.CopyFrom(_timestamp(notice.occurred_at))
    return change


def watch_message(update: AttendanceUpdate) -> attendance_pb2.WatchAttendanceResponse:
    return attendance_pb2.WatchAttendanceResponse(
        rows=[row_message(r) for r in update.rows],
        summary=summary_message(update.report),
        live_participants=update.report.live_participants,
        status=SESSION_STATUS_TO_PROTO[update.status],
        changes=[change_message(n) for n in update.changes],
    )


def _given_plan(message: attendance_pb2.LiveSession) -> tuple[domain.SessionPlan, frozenset[str]]:
    """The plan fields an update carries (unset times read as the epoch), and which it sets."""
    plan = domain.SessionPlan(
        session_name=message.session_name,
        scheduled_start=_datetime(message.scheduled_start),
        scheduled_end=_datetime(message.scheduled_end),
        min_attendance_share=message.min_attendance_share,
        late_grace_minutes=message.late_grace_minutes,
    )
    present = {
        name for name in ("session_name", "min_attendance_share", "late_grace_minutes") if getattr(message, name)
    }
    present |= {name for name in ("scheduled_start", "scheduled_end") if message.HasField(name)}
    return plan, frozenset(present)


class AttendanceServicer(attendance_pb2_grpc.AttendanceServiceServicer):
    """Serves media.attendance.v1.AttendanceService."""

    def __init__(self, sessions: LiveSessions, attendance: Attendance, webhooks: ZoomWebhooks) -> None:
        self._sessions = sessions
        self._attendance = attendance
        self._webhooks = webhooks

    # ---- live sessions ----------------------------------------------------------------------

    async def CreateLiveSession(
        self, request: attendance_pb2.CreateLiveSessionRequest, context: Context
    ) -> attendance_pb2.CreateLiveSessionResponse:
        new = NewLiveSession(
            course_id=request.course_id,
            session_name=request.session_name,
            scheduled_start=_datetime(request.scheduled_start) if request.HasField("scheduled_start") else None,
            scheduled_end=_datetime(request.scheduled_end) if request.HasField("scheduled_end") else None,
            zoom_host_id=request.zoom_host_id,
            lti_config_id=request.lti_config_id,
            min_attendance_share=request.min_attendance_share,
            late_grace_minutes=request.late_grace_minutes,
        )
        session = await self._sessions.create(require_caller(), new)
        return attendance_pb2.CreateLiveSessionResponse(
            session=session_message(SessionView(session, domain.NOT_STARTED, staff=True))
        )

    async def GetLiveSession(
        self, request: attendance_pb2.GetLiveSessionRequest, context: Context
    ) -> attendance_pb2.GetLiveSessionResponse:
        view = await self._sessions.get(require_caller(), request.session_id)
        return attendance_pb2.GetLiveSessionResponse(session=session_message(view))

    async def ListLiveSessions(
        self, request: attendance_pb2.ListLiveSessionsRequest, context: Context
    ) -> attendance_pb2.ListLiveSessionsResponse:
        page = await self._sessions.of_course(
            require_caller(), request.course_id, request.page_size, request.page_token
        )
        return attendance_pb2.ListLiveSessionsResponse(
            sessions=[session_message(v) for v in page.views], next_page_token=page.next_page_token
        )

    async def UpdateLiveSession(
        self, request: attendance_pb2.UpdateLiveSessionRequest, context: Context
    ) -> attendance_pb2.UpdateLiveSessionResponse:
        given, present = _given_plan(request.session)
        view = await self._sessions.update(
            require_caller(), request.session.session_id, given, mask=request.update_mask.paths, present=present
        )
        return attendance_pb2.UpdateLiveSessionResponse(session=session_message(view))

    async def DeleteLiveSession(
        self, request: attendance_pb2.DeleteLiveSessionRequest, context: Context
    ) -> attendance_pb2.DeleteLiveSessionResponse:
        await self._sessions.cancel(require_caller(), request.session_id)
        return attendance_pb2.DeleteLiveSessionResponse()

    async def CreateJoinLink(
        self, request: attendance_pb2.CreateJoinLinkRequest, context: Context
    ) -> attendance_pb2.CreateJoinLinkResponse:
        link = await self._sessions.join_link(require_caller(), request.session_id, request.user_id)
        return attendance_pb2.CreateJoinLinkResponse(join_url=link.join_url, registrant_id=link.registrant_id)

    # ---- webhooks ---------------------------------------------------------------------------

    async def RecordZoomEvent(
        self, request: attendance_pb2.RecordZoomEventRequest, context: Context
    ) -> attendance_pb2.RecordZoomEventResponse:
        answer = await self._webhooks.record(
            request.raw_body, signature=request.signature, timestamp=request.request_timestamp
        )
        return attendance_pb2.RecordZoomEventResponse(
            duplicate=answer.duplicate, plain_token=answer.plain_token, encrypted_token=answer.encrypted_token
        )

    # ---- attendance -------------------------------------------------------------------------

    async def GetAttendance(
        self, request: attendance_pb2.GetAttendanceRequest, context: Context
    ) -> attendance_pb2.GetAttendanceResponse:
        return attendance_message(await self._attendance.report(require_caller(), request.session_id))

    async def ExportAttendance(
        self, request: attendance_pb2.ExportAttendanceRequest, context: Context
    ) -> AsyncIterator[attendance_pb2.ExportAttendanceResponse]:
        export = await self._attendance.export(require_caller(), request.session_id, request.format)
        content_type = CONTENT_TYPES[export.format]
        # Over HTTP the edge forwards this header (its outgoing header matcher): the download's name.
        await context.send_initial_metadata((("content-disposition", f'attachment; filename="{export.filename}"'),))
        if export.format == "json":
            data = json_format.MessageToJson(
                attendance_message(export.report),
                preserving_proto_field_name=True,
                always_print_fields_with_no_presence=True,
            ).encode()
            chunks = iter([data])
        else:
            chunks = domain.csv_chunks(export.report.report.rows)
        for index, data in enumerate(chunks):
            # The file name also travels with the first chunk, for gRPC clients.
            yield attendance_pb2.ExportAttendanceResponse(
                chunk=httpbody_pb2.HttpBody(content_type=content_type, data=data),
                filename=export.filename if index == 0 else "",
            )

    async def WatchAttendance(
        self, request: attendance_pb2.WatchAttendanceRequest, context: Context
    ) -> AsyncIterator[attendance_pb2.WatchAttendanceResponse]:
        async for update in self._attendance.watch(require_caller(), request.session_id):
            yield watch_message(update)

    async def ReconcileAttendance(
        self, request: attendance_pb2.ReconcileAttendanceRequest, context: Context
    ) -> attendance_pb2.ReconcileAttendanceResponse:
        reconciled = await self._attendance.reconcile(require_caller(), request.session_id)
        resume_at = reconciled.outcome.resume_at
        reply = attendance_pb2.ReconcileAttendanceResponse(
            intervals_added=reconciled.outcome.intervals_added,
            summary=summary_message(reconciled.report),
            deferred=resume_at is not None,
        )
        if resume_at is not None:
            reply.resume_at.CopyFrom(_timestamp(resume_at))
        return reply


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
        policy=outbound.policy_for(settings.is_production),
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

    def unit_of_work() -> store.SqlUnitOfWork:
        return store.SqlUnitOfWork(sessions)

    live_sessions = LiveSessions(uow=unit_of_work, zoom=zoom, lti=lti)
    servicer = AttendanceServicer(
        live_sessions,
        Attendance(
            sessions=live_sessions,
            uow=unit_of_work,
            lti=lti,
            feed=feed,
            reconciliation=reconciler,
            watch_interval_seconds=attendance.watch_interval_seconds,
        ),
        ZoomWebhooks(
            recorder=batcher,
            secret=settings.zoom_webhook_secret,
            max_skew_seconds=attendance.webhook_max_skew_seconds,
        ),
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
