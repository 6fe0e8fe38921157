"""The TranscodeService servicer and the process's `serve`.

Each RPC maps proto to domain and back; rules live in :mod:`transcode_svc.domain`,
tables in :mod:`transcode_svc.store`, Redis, RQ and the bucket in
:mod:`transcode_svc.adapters`. FFmpeg never runs here: jobs go to the RQ workers.
Nothing blocks the event loop: the database and Redis are asyncio clients; RQ and
boto3 calls, which are synchronous, run in ``asyncio.to_thread``. Beside the server
runs the reconciler (:mod:`transcode_svc.reconcile`), which queues again the jobs a
Redis restarted without its data forgot.

Who may call: StartTranscode and GetVideoTranscode are internal (upload_svc, and
playback_svc) and accept calls without a caller, as upload_svc's periodic hand-off
makes them; when a caller is sent, its organization must be the video's. Job reads
and watches need a caller of the job's organization; cancelling needs course staff.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import redis
import redis.asyncio
from google.protobuf import timestamp_pb2
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from media.transcode.v1 import transcode_pb2, transcode_pb2_grpc
from service_kit.caller import current_caller, require_caller
from service_kit.db import create_engine, session_factory
from service_kit.errors import ValidationErrors
from service_kit.grpc_server import Registration
from service_kit.grpc_server import serve as serve_grpc
from service_kit.queue_metrics import QueueCollector
from service_kit.settings import Settings
from transcode_svc import adapters, domain, errors, reconcile, store
from transcode_svc.domain import JobStatus

if TYPE_CHECKING:
    from grpc import aio

    Context = aio.ServicerContext[Any, Any]
else:
    Context = Any

SERVICE_NAME = transcode_pb2.DESCRIPTOR.services_by_name["TranscodeService"].full_name
WATCH_POLL_SECONDS = 1.0
"""A watch re-reads the job at least this often, even without a published event."""
DATABASE_EVERY_TICKS = 5
"""While Redis says "running", the database (final statuses, attempts) is read every few ticks."""

STATUS_TO_PROTO = {
    JobStatus.QUEUED: transcode_pb2.TRANSCODE_JOB_STATUS_QUEUED,
    JobStatus.RUNNING: transcode_pb2.TRANSCODE_JOB_STATUS_RUNNING,
    JobStatus.SUCCEEDED: transcode_pb2.TRANSCODE_JOB_STATUS_SUCCEEDED,
    JobStatus.FAILED: transcode_pb2.TRANSCODE_JOB_STATUS_FAILED,
    JobStatus.CANCELLED: transcode_pb2.TRANSCODE_JOB_STATUS_CANCELLED,
}


@dataclass(frozen=True)
class Dependencies:
    """What the servicer talks to, made once per process."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    board: adapters.AsyncProgressBoard
    queue_connection: redis.Redis[bytes]
    """Synchronous Redis for RQ, used only from worker threads."""
    outputs: adapters.OutputStore


def _timestamp(moment: datetime | None) -> timestamp_pb2.Timestamp | None:
    if moment is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _rendition_messages(row: store.JobRow) -> list[transcode_pb2.Rendition]:
    if row.job_status is JobStatus.SUCCEEDED and row.renditions:
        return [transcode_pb2.Rendition(**record) for record in row.renditions]
    try:
        plans = domain.plan_renditions(row.probe_facts)
    except domain.UnsupportedSource:
        return []
    return [
        transcode_pb2.Rendition(
            name=rendition.plan.name,
            width=rendition.plan.width,
            height=rendition.plan.height,
            bandwidth=rendition.bandwidth,
            average_bandwidth=rendition.average_bandwidth,
            codecs=rendition.plan.codecs,
            frame_rate=rendition.plan.frame_rate,
        )
        for rendition in map(domain.nominal, plans)
    ]


def job_message(row: store.JobRow, live: dict[str, str] | None = None) -> transcode_pb2.TranscodeJob:
    """The job as callers see it: the database row, with Redis's fresher progress while active."""
    status = row.job_status
    progress = row.progress
    if live and not status.is_final:
        fresh = adapters.decode_status(live)
        progress = progress.advanced(fresh["percent"], fresh["eta"], fresh["playable"])
        if fresh["status"] == JobStatus.RUNNING.value and status is JobStatus.QUEUED:
            status = JobStatus.RUNNING
    if status is JobStatus.SUCCEEDED:
        progress = progress.finished()
    return transcode_pb2.TranscodeJob(
        job_id=str(row.id),
        video_id=row.video_id,
        organization_id=row.organization_id,
        status=STATUS_TO_PROTO[status],
        progress_percent=progress.percent,
        eta_seconds=0 if status.is_final else progress.eta_seconds,
        error_reason=row.error_reason if status is JobStatus.FAILED else "",
        attempts=row.attempts,
        renditions=_rendition_messages(row),
        playable=progress.playable and status in (JobStatus.RUNNING, JobStatus.SUCCEEDED),
        created_at=_timestamp(row.created_at),
        started_at=_timestamp(row.started_at),
        finished_at=_timestamp(row.finished_at),
    )


def _probe_facts(message: transcode_pb2.ProbeFacts) -> domain.ProbeFacts:
    return domain.ProbeFacts(
        duration_seconds=message.duration_seconds,
        width=message.width,
        height=message.height,
        rotation=message.rotation,
        frame_rate=message.frame_rate,
        video_codec=message.video_codec,
        audio_codec=message.audio_codec,
        has_audio=message.has_audio,
        sample_aspect_ratio=message.sample_aspect_ratio,
        field_order=message.field_order,
        pixel_format=message.pixel_format,
        color_transfer=message.color_transfer,
        color_primaries=message.color_primaries,
        color_space=message.color_space,
    )


def _job_uuid(raw: str, field: str = "job_id") -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        problems = ValidationErrors()
        problems.add(field, "must be a job id (a UUID)" if raw else "is required")
        problems.raise_if_any()
        raise  # unreachable: raise_if_any raised


def _check_organization(organization_id: str) -> None:
    """Internal calls may come without a caller; a caller must belong to the organization."""
    caller = current_caller()
    if caller is not None and caller.organization_id != organization_id:
        raise errors.NotAllowed("this video belongs to another organization")


class TranscodeServicer(transcode_pb2_grpc.TranscodeServiceServicer):
    """Serves media.transcode.v1.TranscodeService."""

    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    async def StartTranscode(
        self, request: transcode_pb2.StartTranscodeRequest, context: Context
    ) -> transcode_pb2.StartTranscodeResponse:
        problems = ValidationErrors()
        for name in ("video_id", "organization_id", "source_key"):
            if not getattr(request, name).strip():
                problems.add(name, "is required")
        if not request.HasField("probe"):
            problems.add("probe", "is required: the facts from probing the source")
        problems.raise_if_any()
        _check_organization(request.organization_id)
        probe = _probe_facts(request.probe)
        try:
            domain.plan_renditions(probe)
        except domain.UnsupportedSource as exc:
            raise errors.UnsupportedSource(f"cannot transcode this source: {exc}") from exc
        async with self._deps.sessions() as session, session.begin():
            existing = await store.active_job(session, request.video_id)
            if existing is None:
                latest = await store.latest_job(session, request.video_id)
                if latest is not None and latest.job_status is JobStatus.SUCCEEDED:
                    existing = latest
            created = None
            if existing is None:
                created = await store.insert_job(
                    session,
                    video_id=request.video_id,
                    organization_id=request.organization_id,
                    source_key=request.source_key,
                    probe=probe,
                )
                if created is None:  # a concurrent call made it first
                    existing = await store.active_job(session, request.video_id)
        row = created or existing
        if row is None:
            raise errors.QueueUnavailable("the video's job changed while starting; call again")
        if row.job_status is JobStatus.QUEUED:
            # Also heals a queued job whose RQ entry was lost (the enqueue is idempotent).
            await self._enqueue(row, fresh=created is not None)
        return transcode_pb2.StartTranscodeResponse(job=job_message(row))

    async def _enqueue(self, row: store.JobRow, *, fresh: bool) -> None:
        try:
            await asyncio.to_thread(
                adapters.enqueue_job,
                self._deps.queue_connection,
                self._deps.settings,
                str(row.id),
                row.probe_facts.duration_seconds,
            )
        except redis.RedisError as exc:
            if fresh:
                async with self._deps.sessions() as session, session.begin():
                    stored = await store.get_job(session, row.id, for_update=True)
                    if stored is not None:
                        await session.delete(stored)
            raise errors.QueueUnavailable("the transcode queue is unavailable; try again shortly") from exc

    async def _load(self, job_id: str) -> tuple[store.JobRow, dict[str, str]]:
        job_uuid = _job_uuid(job_id)
        caller = require_caller()
        async with self._deps.sessions() as session:
            row = await store.get_job(session, job_uuid)
        if row is None or row.organization_id != caller.organization_id:
            raise errors.JobNotFound(f"no transcode job {job_id}")
        live = await self._deps.board.current(job_id) if not row.job_status.is_final else {}
        return row, live

    async def GetTranscodeJob(
        self, request: transcode_pb2.GetTranscodeJobRequest, context: Context
    ) -> transcode_pb2.GetTranscodeJobResponse:
        row, live = await self._load(request.job_id)
        return transcode_pb2.GetTranscodeJobResponse(job=job_message(row, live))

    async def CancelTranscodeJob(
        self, request: transcode_pb2.CancelTranscodeJobRequest, context: Context
    ) -> transcode_pb2.CancelTranscodeJobResponse:
        job_uuid = _job_uuid(request.job_id)
        caller = require_caller()
        if not caller.manages_course:
            raise errors.NotAllowed("only course staff may cancel transcoding")
        async with self._deps.sessions() as session, session.begin():
            row = await store.get_job(session, job_uuid, for_update=True)
            if row is None or row.organization_id != caller.organization_id:
                raise errors.JobNotFound(f"no transcode job {request.job_id}")
            if row.job_status.is_final:
                return transcode_pb2.CancelTranscodeJobResponse(job=job_message(row))
            # The flag first: a worker that finishes meanwhile sees it, or loses the status race.
            await self._deps.board.cancel(request.job_id)
            row.status = JobStatus.CANCELLED.value
            row.finished_at = store.utcnow()
            row.playable = False
            row.eta_seconds = 0
        await self._deps.board.announce(request.job_id, JobStatus.CANCELLED.value)
        running = not await asyncio.to_thread(adapters.cancel_queued, self._deps.queue_connection, request.job_id)
        if not running:
            # No worker holds it: remove what an interrupted earlier attempt may have left.
            await asyncio.to_thread(self._deps.outputs.delete_outputs, row.video_id)
        return transcode_pb2.CancelTranscodeJobResponse(job=job_message(row))

    async def WatchTranscodeJob(
        self, request: transcode_pb2.WatchTranscodeJobRequest, context: Context
    ) -> AsyncIterator[transcode_pb2.WatchTranscodeJobResponse]:
        row, live = await self._load(request.job_id)
        last = job_message(row, live)
        yield transcode_pb2.WatchTranscodeJobResponse(job=last)
        if row.job_status.is_final:
            return
        ticks = 0
        async for _ in self._deps.board.changes(request.job_id, WATCH_POLL_SECONDS):
            ticks += 1
            live = await self._deps.board.current(request.job_id)
            settled = adapters.decode_status(live)["status"] == JobStatus.RUNNING.value
            if not settled or ticks % DATABASE_EVERY_TICKS == 0:
                async with self._deps.sessions() as session:
                    fresh = await store.get_job(session, row.id)
                row = fresh or row
            current = job_message(row, live)
            if current != last:
                last = current
                yield transcode_pb2.WatchTranscodeJobResponse(job=current)
            if row.job_status.is_final:
                return

    async def GetVideoTranscode(
        self, request: transcode_pb2.GetVideoTranscodeRequest, context: Context
    ) -> transcode_pb2.GetVideoTranscodeResponse:
        if not request.video_id.strip():
            problems = ValidationErrors()
            problems.add("video_id", "is required")
            problems.raise_if_any()
        async with self._deps.sessions() as session:
            row = await store.latest_job(session, request.video_id)
        if row is None:
            return transcode_pb2.GetVideoTranscodeResponse()
        _check_organization(row.organization_id)
        live = await self._deps.board.current(str(row.id)) if not row.job_status.is_final else {}
        job = job_message(row, live)
        renditions = list(job.renditions) if job.playable else []
        return transcode_pb2.GetVideoTranscodeResponse(job=job, renditions=renditions)


async def serve(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    async_redis = redis.asyncio.Redis.from_url(settings.redis_url)
    deps = Dependencies(
        settings=settings,
        sessions=session_factory(engine),
        board=adapters.AsyncProgressBoard(async_redis),
        queue_connection=redis.Redis.from_url(settings.redis_url),
        outputs=adapters.OutputStore(settings),
    )

    # Once at start, then every TRANSCODE_RECONCILE_SECONDS: jobs RQ lost are queued again.
    reconciler = asyncio.create_task(
        reconcile.run_forever(deps.sessions, deps.queue_connection, settings), name="transcode-reconciler"
    )

    async def close() -> None:
        reconciler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reconciler
        await deps.board.close()
        deps.queue_connection.close()
        await engine.dispose()

    await serve_grpc(
        service="transcode",
        settings=settings,
        registrations=[
            Registration(
                SERVICE_NAME, transcode_pb2_grpc.add_TranscodeServiceServicer_to_server, TranscodeServicer(deps)
            )
        ],
        on_stop=[close],
        collectors=[QueueCollector(settings.redis_url, [adapters.TRANSCODE_QUEUE])],
    )
