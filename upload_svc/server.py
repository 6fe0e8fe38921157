"""The UploadService servicer and the process's ``serve``.

Each RPC is proto in, a use case (:mod:`upload_svc.use_cases`), proto out: uploads in
:mod:`.use_cases.uploads`, the catalog in :mod:`.use_cases.videos`. Rules are in
:mod:`upload_svc.domain`; object storage, ffprobe and transcode_svc in
:mod:`upload_svc.adapters`; the tables in :mod:`upload_svc.store`. Errors are raised as
:mod:`upload_svc.errors` and the shared interceptor turns them into statuses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import grpc
from google.protobuf import timestamp_pb2

from media.transcode.v1 import transcode_pb2
from media.upload.v1 import upload_pb2, upload_pb2_grpc
from service_kit.caller import forwarded_metadata, require_caller
from service_kit.db import create_engine, session_factory
from service_kit.grpc_server import Registration
from service_kit.grpc_server import serve as serve_grpc
from service_kit.queue_metrics import QueueCollector
from service_kit.settings import Settings
from upload_svc import adapters, domain, store
from upload_svc.domain import UploadMethod, VideoStatus
from upload_svc.jobs import UPLOAD_QUEUE
from upload_svc.use_cases.ports import UnitOfWorkFactory
from upload_svc.use_cases.uploads import JobSnapshot, NewUpload, UploadFlows, UploadView
from upload_svc.use_cases.videos import Catalog, VideoView

if TYPE_CHECKING:
    from grpc import aio

    Context = aio.ServicerContext[Any, Any]
else:
    Context = Any

SERVICE_NAME = upload_pb2.DESCRIPTOR.services_by_name["UploadService"].full_name

METHOD_TO_PROTO = {
    UploadMethod.POST: upload_pb2.UPLOAD_METHOD_POST,
    UploadMethod.MULTIPART: upload_pb2.UPLOAD_METHOD_MULTIPART,
}
STATUS_TO_PROTO = {
    VideoStatus.PENDING_UPLOAD: upload_pb2.VIDEO_STATUS_PENDING_UPLOAD,
    VideoStatus.UPLOADED: upload_pb2.VIDEO_STATUS_UPLOADED,
    VideoStatus.QUEUED: upload_pb2.VIDEO_STATUS_QUEUED,
    VideoStatus.TRANSCODING: upload_pb2.VIDEO_STATUS_TRANSCODING,
    VideoStatus.READY: upload_pb2.VIDEO_STATUS_READY,
    VideoStatus.FAILED: upload_pb2.VIDEO_STATUS_FAILED,
    VideoStatus.CANCELLED: upload_pb2.VIDEO_STATUS_CANCELLED,
}


@dataclass(frozen=True)
class UseCases:
    """The two use cases the servicer calls, made once per process."""

    uploads: UploadFlows
    catalog: Catalog


def _timestamp(moment: datetime | None) -> timestamp_pb2.Timestamp | None:
    if moment is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _probe(video: domain.Video) -> Any:
    return adapters.probe_message(video.probe) if video.probe is not None else None


def video_message(view: VideoView) -> upload_pb2.Video:
    """The catalog entry; ``upload_id`` only for callers who manage the video (they may follow its upload)."""
    video = view.video
    return upload_pb2.Video(
        video_id=str(video.id),
        organization_id=video.organization_id,
        course_id=video.course_id,
        owner_id=video.owner_id,
        title=video.title,
        status=STATUS_TO_PROTO[video.status],
        published=video.published,
        probe=_probe(video),
        created_at=_timestamp(video.created_at),
        updated_at=_timestamp(video.updated_at),
        upload_id=view.upload_id,
        poster_url=view.poster_url,
    )


def upload_message(view: UploadView) -> upload_pb2.GetUploadResponse:
    upload, video = view.upload, view.video
    return upload_pb2.GetUploadResponse(
        upload_id=str(upload.id),
        video_id=str(video.id),
        status=STATUS_TO_PROTO[video.status],
        progress=domain.progress_percent(video.status, video.transcode_progress),
        error_reason=video.error_reason or "",
        probe=_probe(video),
        method=METHOD_TO_PROTO[upload.method],
        filename=upload.filename,
        file_size=upload.file_size,
        created_at=_timestamp(upload.created_at),
        updated_at=_timestamp(max(upload.updated_at, video.updated_at)),
        part_size=upload.part_size,
        part_count=upload.part_count,
    )


class UploadServicer(upload_pb2_grpc.UploadServiceServicer):
    """Serves media.upload.v1.UploadService: proto in, use case, proto out."""

    def __init__(self, use_cases: UseCases) -> None:
        self._use = use_cases

    # ---- uploads ----------------------------------------------------------------------------

    async def CreateUpload(
        self, request: upload_pb2.CreateUploadRequest, context: Context
    ) -> upload_pb2.CreateUploadResponse:
        created = await self._use.uploads.create(
            require_caller(),
            NewUpload(
                course_id=request.course_id,
                filename=request.filename,
                content_type=request.content_type,
                file_size=request.file_size,
                title=request.title,
            ),
        )
        upload = created.upload
        reply = upload_pb2.CreateUploadResponse(
            upload_id=str(upload.id), video_id=str(upload.video_id), method=METHOD_TO_PROTO[upload.method]
        )
        if created.post is not None:
            reply.url = created.post.url
            reply.fields.update(created.post.fields)
        else:
            reply.part_size = upload.part_size
            reply.part_count = upload.part_count
        reply.expires_at.FromDatetime(upload.expires_at)
        return reply

    async def PresignParts(
        self, request: upload_pb2.PresignPartsRequest, context: Context
    ) -> upload_pb2.PresignPartsResponse:
        parts = await self._use.uploads.presign_parts(require_caller(), request.upload_id, list(request.part_numbers))
        return upload_pb2.PresignPartsResponse(
            parts=[
                upload_pb2.PresignedPart(
                    part_number=part.part_number, url=part.url, expires_at=_timestamp(part.expires_at), size=part.size
                )
                for part in parts
            ]
        )

    async def ListUploadParts(
        self, request: upload_pb2.ListUploadPartsRequest, context: Context
    ) -> upload_pb2.ListUploadPartsResponse:
        page = await self._use.uploads.list_parts(
            require_caller(), request.upload_id, request.page_size, request.page_token
        )
        return upload_pb2.ListUploadPartsResponse(
            parts=[upload_pb2.UploadedPart(part_number=p.part_number, size=p.size, etag=p.etag) for p in page.parts],
            next_page_token=domain.encode_part_marker(page.next_marker) if page.next_marker is not None else "",
        )

    async def CompleteUpload(
        self, request: upload_pb2.CompleteUploadRequest, context: Context
    ) -> upload_pb2.CompleteUploadResponse:
        claimed = {part.part_number: part.etag for part in request.parts}
        view = await self._use.uploads.complete(
            require_caller(), request.upload_id, claimed, forwarded_metadata(context)
        )
        video = view.video
        return upload_pb2.CompleteUploadResponse(
            upload_id=str(view.upload.id),
            video_id=str(video.id),
            status=STATUS_TO_PROTO[video.status],
            transcode_job_id=video.transcode_job_id or "",
            probe=_probe(video),
        )

    async def AbortUpload(
        self, request: upload_pb2.AbortUploadRequest, context: Context
    ) -> upload_pb2.AbortUploadResponse:
        await self._use.uploads.abort(require_caller(), request.upload_id)
        return upload_pb2.AbortUploadResponse()

    async def GetUpload(self, request: upload_pb2.GetUploadRequest, context: Context) -> upload_pb2.GetUploadResponse:
        view = await self._use.uploads.get(require_caller(), request.upload_id, forwarded_metadata(context))
        return upload_message(view)

    async def WatchUpload(
        self, request: upload_pb2.WatchUploadRequest, context: Context
    ) -> AsyncIterator[upload_pb2.WatchUploadResponse]:
        """The upload until its video has a job, then the job's snapshots (:meth:`UploadFlows.watch`).

        The job's stream comes from transcode_svc with the caller's own credentials; its
        failure ends this stream with transcode_svc's code and details.
        """
        events = self._use.uploads.watch(require_caller(), request.upload_id, forwarded_metadata(context))
        try:
            async for event in events:
                if isinstance(event, UploadView):
                    yield upload_pb2.WatchUploadResponse(upload=upload_message(event))
                elif isinstance(event, JobSnapshot):
                    snapshot = cast(transcode_pb2.WatchTranscodeJobResponse, event.snapshot)
                    yield upload_pb2.WatchUploadResponse(progress=snapshot)
                else:
                    end = upload_pb2.WatchUploadEnd(upload_id=event.upload_id)
                    if event.job_id:  # optional: absent while no job was ever started
                        end.job_id = event.job_id
                    yield upload_pb2.WatchUploadResponse(end=end)
        except grpc.aio.AioRpcError as exc:
            await context.abort(exc.code(), exc.details() or "", trailing_metadata=_status_trailers(exc))

    # ---- the catalog ------------------------------------------------------------------------

    async def ListVideos(
        self, request: upload_pb2.ListVideosRequest, context: Context
    ) -> upload_pb2.ListVideosResponse:
        page = await self._use.catalog.of_course(
            require_caller(), request.course_id, request.page_size, request.page_token, forwarded_metadata(context)
        )
        return upload_pb2.ListVideosResponse(
            videos=[video_message(view) for view in page.videos], next_page_token=page.next_page_token
        )

    async def GetVideo(self, request: upload_pb2.GetVideoRequest, context: Context) -> upload_pb2.GetVideoResponse:
        view = await self._use.catalog.get(require_caller(), request.video_id, forwarded_metadata(context))
        return upload_pb2.GetVideoResponse(video=video_message(view))

    async def UpdateVideo(
        self, request: upload_pb2.UpdateVideoRequest, context: Context
    ) -> upload_pb2.UpdateVideoResponse:
        view = await self._use.catalog.update(
            require_caller(),
            request.video.video_id,
            list(request.update_mask.paths),
            request.video.title,
            request.video.published,
        )
        return upload_pb2.UpdateVideoResponse(video=video_message(view))

    async def DeleteVideo(
        self, request: upload_pb2.DeleteVideoRequest, context: Context
    ) -> upload_pb2.DeleteVideoResponse:
        await self._use.catalog.delete(require_caller(), request.video_id, forwarded_metadata(context))
        return upload_pb2.DeleteVideoResponse()


def limits_from(settings: Settings) -> domain.UploadLimits:
    return domain.UploadLimits(
        max_upload_bytes=settings.max_upload_bytes,
        multipart_threshold_bytes=settings.multipart_threshold_bytes,
        multipart_part_bytes=settings.multipart_part_bytes,
    )


def use_cases_of(settings: Settings, uow: UnitOfWorkFactory, transcoder: adapters.Transcoder) -> UseCases:
    """The use cases over the production ports, made once per process."""
    objects = adapters.ObjectStore(settings)
    return UseCases(
        uploads=UploadFlows(
            uow=uow,
            objects=objects,
            prober=adapters.Prober(settings.probe_timeout_seconds),
            transcoder=transcoder,
            limits=limits_from(settings),
            presign_expiry_seconds=settings.presign_expiry_seconds,
            upload_ttl_seconds=settings.upload_ttl_seconds,
        ),
        catalog=Catalog(uow=uow, objects=objects, transcoder=transcoder),
    )


async def serve(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    transcoder = adapters.Transcoder(settings.endpoint("transcode").address, settings.backend_timeout_seconds)
    use_cases = use_cases_of(settings, lambda: store.SqlUnitOfWork(sessions), transcoder)
    stops: list[Callable[[], Awaitable[None]]] = [transcoder.close, engine.dispose]
    await serve_grpc(
        service="upload",
        settings=settings,
        registrations=[
            Registration(SERVICE_NAME, upload_pb2_grpc.add_UploadServiceServicer_to_server, UploadServicer(use_cases))
        ],
        on_stop=stops,
        collectors=[QueueCollector(settings.redis_url, [UPLOAD_QUEUE])],
    )


STATUS_DETAILS_KEY = "grpc-status-details-bin"


def _status_trailers(exc: grpc.aio.AioRpcError) -> tuple[tuple[str, str | bytes], ...]:
    """The google.rpc.Status details of another service's failure, to relay them unchanged."""
    pairs: Iterable[Any] = exc.trailing_metadata() or ()  # grpc.aio: (key, value) pairs
    return tuple((key, value) for key, value in pairs if key == STATUS_DETAILS_KEY)
