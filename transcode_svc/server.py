"""The TranscodeService servicer and the process's `serve`.

Each RPC is proto in, a use case (:mod:`transcode_svc.use_cases`), proto out: the use
cases decide who may, what a request may ask and the order of store and queue calls;
rules live in :mod:`transcode_svc.domain`, the table in :mod:`transcode_svc.store`,
Redis, RQ and the bucket in :mod:`transcode_svc.adapters`. FFmpeg never runs here: jobs
go to the RQ workers. Beside the server runs the reconciler
(:mod:`transcode_svc.reconcile`), which queues again the jobs a Redis restarted without
its data forgot.

Who may call: StartTranscode and GetVideoTranscode are internal (upload_svc, and
playback_svc) and accept calls without a caller, as upload_svc's periodic hand-off
makes them; the other RPCs need a session (see :mod:`transcode_svc.use_cases.jobs`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import redis
import redis.asyncio
from google.protobuf import timestamp_pb2

from media.transcode.v1 import transcode_pb2, transcode_pb2_grpc
from service_kit.caller import current_caller, require_caller
from service_kit.db import create_engine, session_factory, utcnow
from service_kit.grpc_server import Registration
from service_kit.grpc_server import serve as serve_grpc
from service_kit.queue_metrics import QueueCollector
from service_kit.settings import Settings
from transcode_svc import adapters, domain, reconcile, store
from transcode_svc.domain import JobStatus, JobView
from transcode_svc.use_cases import NewTranscode, TranscodeJobs

if TYPE_CHECKING:
    from grpc import aio

    Context = aio.ServicerContext[Any, Any]
else:
    Context = Any

SERVICE_NAME = transcode_pb2.DESCRIPTOR.services_by_name["TranscodeService"].full_name

STATUS_TO_PROTO = {
    JobStatus.QUEUED: transcode_pb2.TRANSCODE_JOB_STATUS_QUEUED,
    JobStatus.RUNNING: transcode_pb2.TRANSCODE_JOB_STATUS_RUNNING,
    JobStatus.SUCCEEDED: transcode_pb2.TRANSCODE_JOB_STATUS_SUCCEEDED,
    JobStatus.FAILED: transcode_pb2.TRANSCODE_JOB_STATUS_FAILED,
    JobStatus.CANCELLED: transcode_pb2.TRANSCODE_JOB_STATUS_CANCELLED,
}


def _timestamp(moment: datetime | None) -> timestamp_pb2.Timestamp | None:
    if moment is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def rendition_message(rendition: domain.PublishedRendition) -> transcode_pb2.Rendition:
    return transcode_pb2.Rendition(
        name=rendition.name,
        width=rendition.width,
        height=rendition.height,
        bandwidth=rendition.bandwidth,
        average_bandwidth=rendition.average_bandwidth,
        codecs=rendition.codecs,
        frame_rate=rendition.frame_rate,
    )


def job_message(view: JobView) -> transcode_pb2.TranscodeJob:
    """The contract's TranscodeJob of a job as callers see it (:func:`transcode_svc.domain.job_view`)."""
    return transcode_pb2.TranscodeJob(
        job_id=view.job_id,
        video_id=view.video_id,
        organization_id=view.organization_id,
        status=STATUS_TO_PROTO[view.status],
        progress_percent=view.progress_percent,
        eta_seconds=view.eta_seconds,
        error_reason=view.error_reason,
        attempts=view.attempts,
        renditions=[rendition_message(r) for r in view.renditions],
        playable=view.playable,
        created_at=_timestamp(view.created_at),
        started_at=_timestamp(view.started_at),
        finished_at=_timestamp(view.finished_at),
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


class TranscodeServicer(transcode_pb2_grpc.TranscodeServiceServicer):
    """Serves media.transcode.v1.TranscodeService: proto in, use case, proto out."""

    def __init__(self, jobs: TranscodeJobs) -> None:
        self._jobs = jobs

    async def StartTranscode(
        self, request: transcode_pb2.StartTranscodeRequest, context: Context
    ) -> transcode_pb2.StartTranscodeResponse:
        asked = NewTranscode(
            video_id=request.video_id,
            organization_id=request.organization_id,
            course_id=request.course_id,
            source_key=request.source_key,
            probe=_probe_facts(request.probe) if request.HasField("probe") else None,
        )
        view = await self._jobs.start(current_caller(), asked)
        return transcode_pb2.StartTranscodeResponse(job=job_message(view))

    async def GetTranscodeJob(
        self, request: transcode_pb2.GetTranscodeJobRequest, context: Context
    ) -> transcode_pb2.GetTranscodeJobResponse:
        view = await self._jobs.get(require_caller(), request.job_id)
        return transcode_pb2.GetTranscodeJobResponse(job=job_message(view))

    async def CancelTranscodeJob(
        self, request: transcode_pb2.CancelTranscodeJobRequest, context: Context
    ) -> transcode_pb2.CancelTranscodeJobResponse:
        view = await self._jobs.cancel(require_caller(), request.job_id)
        return transcode_pb2.CancelTranscodeJobResponse(job=job_message(view))

    async def WatchTranscodeJob(
        self, request: transcode_pb2.WatchTranscodeJobRequest, context: Context
    ) -> AsyncIterator[transcode_pb2.WatchTranscodeJobResponse]:
        async with contextlib.aclosing(self._jobs.watch(require_caller(), request.job_id)) as views:
            async for view in views:
                yield transcode_pb2.WatchTranscodeJobResponse(job=job_message(view))

    async def GetVideoTranscode(
        self, request: transcode_pb2.GetVideoTranscodeRequest, context: Context
    ) -> transcode_pb2.GetVideoTranscodeResponse:
        found = await self._jobs.of_video(current_caller(), request.video_id)
        if found is None:
            return transcode_pb2.GetVideoTranscodeResponse()
        return transcode_pb2.GetVideoTranscodeResponse(
            job=job_message(found.job), renditions=[rendition_message(r) for r in found.renditions]
        )


async def serve(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    board = adapters.AsyncProgressBoard(redis.asyncio.Redis.from_url(settings.redis_url))
    queue_connection: redis.Redis[bytes] = redis.Redis.from_url(settings.redis_url)  # RQ's, used from threads only
    jobs = TranscodeJobs(
        uow=lambda: store.SqlUnitOfWork(sessions),
        queue=adapters.RqJobQueue(queue_connection, settings),
        board=board,
        outputs=adapters.AsyncOutputs(adapters.OutputStore(settings)),
        clock=utcnow,
    )

    # Once at start, then every TRANSCODE_RECONCILE_SECONDS: jobs RQ lost are queued again.
    reconciler = asyncio.create_task(
        reconcile.run_forever(sessions, queue_connection, settings), name="transcode-reconciler"
    )

    async def close() -> None:
        reconciler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reconciler
        await board.close()
        queue_connection.close()
        await engine.dispose()

    await serve_grpc(
        service="transcode",
        settings=settings,
        registrations=[
            Registration(
                SERVICE_NAME, transcode_pb2_grpc.add_TranscodeServiceServicer_to_server, TranscodeServicer(jobs)
            )
        ],
        on_stop=[close],
        collectors=[QueueCollector(settings.redis_url, [adapters.TRANSCODE_QUEUE])],
    )
