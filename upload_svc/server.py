"""The UploadService servicer and the process's ``serve``.

Each RPC maps proto to domain and back: the rules are in :mod:`upload_svc.domain`, the
tables in :mod:`upload_svc.store`, object storage, ffprobe and transcode_svc in
:mod:`upload_svc.adapters`. One database session per RPC; errors are raised as
:mod:`upload_svc.errors` and the shared interceptor turns them into statuses.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import timestamp_pb2
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from media.upload.v1 import upload_pb2, upload_pb2_grpc
from service_kit.caller import forwarded_metadata, require_caller
from service_kit.db import create_engine, session_factory
from service_kit.grpc_server import Registration
from service_kit.grpc_server import serve as serve_grpc
from service_kit.queue_metrics import QueueCollector
from service_kit.settings import Settings
from upload_svc import adapters, domain, errors, metrics, store
from upload_svc.domain import UploadMethod, VideoStatus
from upload_svc.jobs import UPLOAD_QUEUE

if TYPE_CHECKING:
    from grpc import aio

    Context = aio.ServicerContext[Any, Any]
else:
    Context = Any

log = logging.getLogger(__name__)

SERVICE_NAME = upload_pb2.DESCRIPTOR.services_by_name["UploadService"].full_name
PROBE_URL_SECONDS = 600
"""Lifetime of the GET URL ffprobe reads; longer than any probe may take."""

PARTS_GONE = "object storage no longer holds this upload's parts: start a new upload"

WATCH_POLL_SECONDS = 2.0
"""How often WatchUpload re-reads an upload whose video has no transcode job yet."""
WATCH_FINAL = frozenset(
    {
        upload_pb2.VIDEO_STATUS_READY,
        upload_pb2.VIDEO_STATUS_FAILED,
        upload_pb2.VIDEO_STATUS_CANCELLED,
        upload_pb2.VIDEO_STATUS_PENDING_UPLOAD,
    }
)
"""Upload statuses after which, with no job, WatchUpload has nothing more to wait for."""

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
class Dependencies:
    """What the servicer talks to, made once per process."""

    sessions: async_sessionmaker[AsyncSession]
    objects: adapters.ObjectStore
    prober: adapters.Prober
    transcoder: adapters.Transcoder
    limits: domain.UploadLimits
    presign_expiry_seconds: int
    upload_ttl_seconds: int


def _timestamp(moment: datetime | None) -> timestamp_pb2.Timestamp | None:
    if moment is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _probe(video: store.VideoRow) -> Any:
    facts = video.probe
    return adapters.probe_message(facts) if facts is not None else None


def video_message(video: store.VideoRow, upload_id: uuid.UUID | None = None, poster_url: str = "") -> upload_pb2.Video:
    """The catalog entry; ``upload_id`` only for callers who manage the video (they may follow its upload)."""
    return upload_pb2.Video(
        video_id=str(video.id),
        organization_id=video.organization_id,
        course_id=video.course_id,
        owner_id=video.owner_id,
        title=video.title,
        status=STATUS_TO_PROTO[video.video_status],
        published=video.published,
        probe=_probe(video),
        created_at=_timestamp(video.created_at),
        updated_at=_timestamp(video.updated_at),
        upload_id=str(upload_id) if upload_id is not None else "",
        poster_url=poster_url,
    )


def _managed_upload_id(video: store.VideoRow, upload: store.UploadRow | None) -> uuid.UUID | None:
    """The video's upload id when the caller manages the video, else None (learners follow no uploads)."""
    if upload is None:
        return None
    try:
        domain.ensure_manages(require_caller(), video.organization_id, video.course_id, what="video")
    except errors.UploadError:
        return None
    return upload.id


IN_FLIGHT = frozenset({VideoStatus.QUEUED, VideoStatus.TRANSCODING})
"""Statuses the catalog holds only until transcode_svc moves on: read fresh when listed."""


def plan_of(upload: store.UploadRow) -> domain.UploadPlan:
    return domain.UploadPlan(upload.upload_method, upload.file_size, upload.part_size, upload.part_count)


class UploadServicer(upload_pb2_grpc.UploadServiceServicer):
    """Serves media.upload.v1.UploadService."""

    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    def _poster_url(self, video: store.VideoRow) -> str:
        """A signed URL of the poster once the video is ready (signing is local: no call to storage)."""
        if video.video_status != VideoStatus.READY:
            return ""
        return self._deps.objects.presign_public_get(domain.poster_key(str(video.id)), domain.POSTER_URL_SECONDS)

    # ---- uploads ----------------------------------------------------------------------------

    async def CreateUpload(
        self, request: upload_pb2.CreateUploadRequest, context: Context
    ) -> upload_pb2.CreateUploadResponse:
        caller = require_caller()
        with metrics.refusals(metrics.CREATE):
            course = domain.course_for_new_upload(caller, request.course_id)
            declared = domain.validate_declaration(
                filename=request.filename,
                content_type=request.content_type,
                file_size=request.file_size,
                limits=self._deps.limits,
                title=request.title,
            )
            plan = domain.plan_upload(declared.file_size, self._deps.limits)
        video_id, upload_id = uuid.uuid4(), uuid.uuid4()
        key = domain.source_key(caller.organization_id, str(video_id))
        now = store.utcnow()
        reply = upload_pb2.CreateUploadResponse(
            upload_id=str(upload_id), video_id=str(video_id), method=METHOD_TO_PROTO[plan.method]
        )
        s3_upload_id: str | None = None
        if plan.method is UploadMethod.MULTIPART:
            # Created before the rows: should the insert fail, the periodic job aborts the
            # orphan by listing object storage's open uploads.
            s3_upload_id = await self._deps.objects.create_multipart(key, declared.content_type)
            expires_at = now + timedelta(seconds=self._deps.upload_ttl_seconds)
            reply.part_size = plan.part_size
            reply.part_count = plan.part_count
        else:
            expires_at = now + timedelta(seconds=self._deps.presign_expiry_seconds)
            post = self._deps.objects.presign_post(
                key, declared.content_type, declared.file_size, self._deps.presign_expiry_seconds
            )
            reply.url = post.url
            reply.fields.update(post.fields)
        reply.expires_at.FromDatetime(expires_at)
        video = store.VideoRow(
            id=video_id,
            organization_id=caller.organization_id,
            course_id=course,
            owner_id=caller.user_id,
            title=declared.title,
            status=VideoStatus.PENDING_UPLOAD.value,
            published=False,
            source_key=key,
            content_type=declared.content_type,
            file_size=declared.file_size,
            transcode_progress=0,
            created_at=now,
            updated_at=now,
        )
        upload = store.UploadRow(
            id=upload_id,
            video_id=video_id,
            organization_id=caller.organization_id,
            owner_id=caller.user_id,
            method=plan.method.value,
            filename=declared.filename,
            content_type=declared.content_type,
            file_size=declared.file_size,
            part_size=plan.part_size,
            part_count=plan.part_count,
            s3_upload_id=s3_upload_id,
            expires_at=expires_at,
            created_at=now,
            updated_at=now,
        )
        async with self._deps.sessions() as session, session.begin():
            store.add_video_with_upload(session, video, upload)
        metrics.created(plan.method)
        log.info("upload created", extra={"upload_id": str(upload_id), "method": plan.method.value})
        return reply

    async def PresignParts(
        self, request: upload_pb2.PresignPartsRequest, context: Context
    ) -> upload_pb2.PresignPartsResponse:
        async with self._deps.sessions() as session:
            upload, video = await self._managed_upload(session, request.upload_id)
        domain.refuse_unless_pending(video.video_status, video.error_reason)
        self._require_multipart(upload)
        plan = plan_of(upload)
        numbers = domain.check_part_numbers(list(request.part_numbers), plan)
        expiry = self._deps.presign_expiry_seconds
        expires_at = _timestamp(store.utcnow() + timedelta(seconds=expiry))
        assert upload.s3_upload_id is not None
        return upload_pb2.PresignPartsResponse(
            parts=[
                upload_pb2.PresignedPart(
                    part_number=number,
                    url=self._deps.objects.presign_part(
                        video.source_key, upload.s3_upload_id, number, plan.part_bytes(number), expiry
                    ),
                    expires_at=expires_at,
                    size=plan.part_bytes(number),
                )
                for number in numbers
            ]
        )

    async def ListUploadParts(
        self, request: upload_pb2.ListUploadPartsRequest, context: Context
    ) -> upload_pb2.ListUploadPartsResponse:
        limit = domain.page_size(
            request.page_size, default=domain.MAX_PARTS_PAGE_SIZE, maximum=domain.MAX_PARTS_PAGE_SIZE
        )
        marker = domain.decode_part_marker(request.page_token) if request.page_token else 0
        async with self._deps.sessions() as session:
            upload, video = await self._managed_upload(session, request.upload_id)
        domain.refuse_unless_pending(video.video_status, video.error_reason)
        self._require_multipart(upload)
        assert upload.s3_upload_id is not None
        page = await self._deps.objects.list_parts(video.source_key, upload.s3_upload_id, marker=marker, limit=limit)
        if page is None:
            raise errors.UploadCancelled("object storage no longer holds this upload: start a new upload")
        return upload_pb2.ListUploadPartsResponse(
            parts=[upload_pb2.UploadedPart(part_number=p.part_number, size=p.size, etag=p.etag) for p in page.parts],
            next_page_token=domain.encode_part_marker(page.next_marker) if page.next_marker is not None else "",
        )

    async def CompleteUpload(
        self, request: upload_pb2.CompleteUploadRequest, context: Context
    ) -> upload_pb2.CompleteUploadResponse:
        claimed = {part.part_number: part.etag for part in request.parts}
        metadata = forwarded_metadata(context)
        async with self._deps.sessions() as session, session.begin():
            # Locked: a second complete waits for the first and then sees its outcome.
            upload, video = await self._managed_upload(session, request.upload_id, for_update=True)
            refusal: errors.UploadRejected | None = None
            decided = False  # this call moved the upload out of pending (counted once committed)
            if video.video_status == VideoStatus.PENDING_UPLOAD:
                decided = True
                try:
                    await self._verify_and_probe(upload, video, claimed)
                except errors.UploadRejected as rejected:
                    refusal = rejected
                    await self._fail(upload, video, rejected.message)
                else:
                    video.record_transcode(await self._hand_off(video, metadata))
            elif video.video_status == VideoStatus.FAILED:
                refusal = errors.UploadRejected(video.error_reason or "the upload failed: start a new upload")
            elif video.video_status == VideoStatus.CANCELLED:
                raise errors.UploadCancelled("the upload was cancelled or expired: start a new upload")
            # Committed: a refusal is recorded before it is reported, and reported again on retries.
        if refusal is not None:
            if decided:
                metrics.refused(metrics.COMPLETE, refusal)
            raise refusal
        if decided:
            metrics.completed(upload.upload_method)
        return upload_pb2.CompleteUploadResponse(
            upload_id=str(upload.id),
            video_id=str(video.id),
            status=STATUS_TO_PROTO[video.video_status],
            transcode_job_id=video.transcode_job_id or "",
            probe=_probe(video),
        )

    async def _verify_and_probe(self, upload: store.UploadRow, video: store.VideoRow, claimed: dict[int, str]) -> None:
        """Assemble (multipart), check size and type, probe; raise UploadRejected if it is no video.

        Anything the browser can still fix (missing parts, no file yet) raises a
        retriable error and leaves the upload pending.
        """
        objects = self._deps.objects
        if upload.upload_method is UploadMethod.MULTIPART:
            assert upload.s3_upload_id is not None
            parts = await objects.all_parts(video.source_key, upload.s3_upload_id)
            if parts is None:
                # Object storage finished this upload already (a complete that died before
                # its commit): the assembled object is checked below like any other.
                if await objects.head(video.source_key) is None:
                    raise errors.UploadRejected(
                        "object storage no longer holds this upload's parts: start a new upload"
                    )
            else:
                domain.check_parts_complete(parts, plan_of(upload), claimed)
                if not await objects.complete_multipart(video.source_key, upload.s3_upload_id, parts):
                    raise errors.UploadRejected(
                        "object storage no longer holds this upload's parts: start a new upload"
                    )
        stored = await objects.head(video.source_key)
        if stored is None:
            raise errors.SourceNotUploaded(
                "the file has not been uploaded yet: send it with the presigned request, then complete"
            )
        domain.check_stored_object(stored.size, stored.content_type, upload.file_size, upload.content_type)
        url = objects.presign_internal_get(video.source_key, PROBE_URL_SECONDS)
        facts = await self._deps.prober.probe(url, stored.size)
        now = store.utcnow()
        video.record_probe(facts)
        video.status = VideoStatus.UPLOADED.value
        video.uploaded_at = now
        upload.completed_at = now

    async def _fail(self, upload: store.UploadRow, video: store.VideoRow, reason: str) -> None:
        """Record a final refusal; the refused bytes are of no use, so they are deleted."""
        video.status = VideoStatus.FAILED.value
        video.error_reason = reason
        upload.completed_at = store.utcnow()
        if upload.upload_method is UploadMethod.MULTIPART and upload.s3_upload_id is not None:
            await self._deps.objects.abort_multipart(video.source_key, upload.s3_upload_id)
        await self._deps.objects.delete(video.source_key)
        log.info("upload rejected", extra={"upload_id": str(upload.id), "reason": reason})

    async def _hand_off(self, video: store.VideoRow, metadata: adapters.Metadata) -> domain.TranscodeState | None:
        facts = video.probe
        assert facts is not None
        return await self._deps.transcoder.hand_off(
            video_id=str(video.id),
            organization_id=video.organization_id,
            source_key=video.source_key,
            facts=facts,
            metadata=metadata,
        )

    async def AbortUpload(
        self, request: upload_pb2.AbortUploadRequest, context: Context
    ) -> upload_pb2.AbortUploadResponse:
        async with self._deps.sessions() as session, session.begin():
            upload, video = await self._managed_upload(session, request.upload_id, for_update=True)
            if video.video_status == VideoStatus.CANCELLED:
                return upload_pb2.AbortUploadResponse()
            if video.video_status != VideoStatus.PENDING_UPLOAD:
                raise errors.UploadNotPending(
                    f"the upload is no longer pending (status {video.status}): delete the video instead"
                )
            if upload.s3_upload_id is not None:
                await self._deps.objects.abort_multipart(video.source_key, upload.s3_upload_id)
            await self._deps.objects.delete(video.source_key)
            video.status = VideoStatus.CANCELLED.value
        return upload_pb2.AbortUploadResponse()

    async def GetUpload(self, request: upload_pb2.GetUploadRequest, context: Context) -> upload_pb2.GetUploadResponse:
        return await self._upload_message(request.upload_id, context)

    async def WatchUpload(
        self, request: upload_pb2.WatchUploadRequest, context: Context
    ) -> AsyncIterator[upload_pb2.WatchUploadResponse]:
        """The upload until its video has a job (re-read every WATCH_POLL_SECONDS), then the job's snapshots.

        Whether the caller may see the upload is GetUpload's check, made on every read.
        The job's stream comes from transcode_svc with the caller's own credentials; its
        failure ends this stream with transcode_svc's code and details.
        """
        upload_id = request.upload_id
        metadata = forwarded_metadata(context)
        job_id = ""
        while not job_id:
            upload = await self._upload_message(upload_id, context)
            current = await self._deps.transcoder.current(upload.video_id, metadata) if upload.video_id else None
            if current is not None:
                job_id = current.job_id
                break
            yield upload_pb2.WatchUploadResponse(upload=upload)
            if upload.status in WATCH_FINAL:
                yield upload_pb2.WatchUploadResponse(end=upload_pb2.WatchUploadEnd(upload_id=upload_id))
                return
            await asyncio.sleep(WATCH_POLL_SECONDS)
        try:
            async for snapshot in self._deps.transcoder.watch(job_id, metadata):
                yield upload_pb2.WatchUploadResponse(progress=snapshot)
        except grpc.aio.AioRpcError as exc:
            await context.abort(exc.code(), exc.details() or "", trailing_metadata=_status_trailers(exc))
        end = upload_pb2.WatchUploadEnd(upload_id=upload_id, job_id=job_id)
        yield upload_pb2.WatchUploadResponse(end=end)

    async def _upload_message(self, upload_id: str, context: Context) -> upload_pb2.GetUploadResponse:
        async with self._deps.sessions() as session, session.begin():
            upload, video = await self._managed_upload(session, upload_id)
            if video.video_status in (VideoStatus.QUEUED, VideoStatus.TRANSCODING):
                current = await self._deps.transcoder.current(str(video.id), forwarded_metadata(context))
                video.record_transcode(current)
        return upload_pb2.GetUploadResponse(
            upload_id=str(upload.id),
            video_id=str(video.id),
            status=STATUS_TO_PROTO[video.video_status],
            progress=domain.progress_percent(video.video_status, video.transcode_progress),
            error_reason=video.error_reason or "",
            probe=_probe(video),
            method=METHOD_TO_PROTO[upload.upload_method],
            filename=upload.filename,
            file_size=upload.file_size,
            created_at=_timestamp(upload.created_at),
            updated_at=_timestamp(max(upload.updated_at, video.updated_at)),
            part_size=upload.part_size,
            part_count=upload.part_count,
        )

    async def _managed_upload(
        self, session: AsyncSession, upload_id: str, *, for_update: bool = False
    ) -> tuple[store.UploadRow, store.VideoRow]:
        caller = require_caller()
        parsed = store.parse_id(upload_id)
        found = await store.upload_with_video(session, parsed, for_update=for_update) if parsed else None
        if found is None:
            raise errors.UploadNotFound("no such upload: check the upload_id")
        upload, video = found
        domain.ensure_manages(caller, video.organization_id, video.course_id, what="upload")
        return upload, video

    @staticmethod
    def _require_multipart(upload: store.UploadRow) -> None:
        if upload.upload_method is not UploadMethod.MULTIPART:
            raise errors.WrongUploadMethod(
                "this upload is a single presigned POST, not multipart: it has no parts; send the file, then complete"
            )

    # ---- the catalog ------------------------------------------------------------------------

    async def ListVideos(
        self, request: upload_pb2.ListVideosRequest, context: Context
    ) -> upload_pb2.ListVideosResponse:
        caller = require_caller()
        listing = domain.listing_for(caller, request.course_id)
        size = domain.page_size(request.page_size)
        after = domain.decode_video_cursor(request.page_token, listing.course_id) if request.page_token else None
        async with self._deps.sessions() as session, session.begin():
            rows = await store.course_videos(
                session,
                organization_id=caller.organization_id,
                course_id=listing.course_id,
                published_only=listing.published_only,
                after=after,
                limit=size + 1,
            )
            page = rows[:size]
            await self._catch_up([video for video, _ in page], context)
        token = ""
        if len(rows) > size:
            last = page[-1][0]
            token = domain.encode_video_cursor(domain.VideoCursor(listing.course_id, last.created_at, str(last.id)))
        staff = not listing.published_only
        return upload_pb2.ListVideosResponse(
            videos=[
                video_message(video, upload_id if staff else None, self._poster_url(video)) for video, upload_id in page
            ],
            next_page_token=token,
        )

    async def GetVideo(self, request: upload_pb2.GetVideoRequest, context: Context) -> upload_pb2.GetVideoResponse:
        async with self._deps.sessions() as session, session.begin():
            video, upload = await self._visible_video(session, request.video_id)
            await self._catch_up([video], context)
        return upload_pb2.GetVideoResponse(
            video=video_message(video, _managed_upload_id(video, upload), self._poster_url(video))
        )

    async def _catch_up(self, videos: list[store.VideoRow], context: Context) -> None:
        """Bring queued and transcoding rows up to date with transcode_svc (in the caller's transaction).

        The catalog's status changes when someone asks about the upload (GetUpload) or the
        sweep runs; without this, a video that finished while nobody watched its upload
        would stay "transcoding" in the list, and learners would never see it ready. Only
        in-flight rows are asked about, concurrently; an unanswered question leaves the row.
        """
        moving = [video for video in videos if video.video_status in IN_FLIGHT]
        if not moving:
            return
        metadata = forwarded_metadata(context)
        states = await asyncio.gather(*(self._deps.transcoder.current(str(v.id), metadata) for v in moving))
        for video, state in zip(moving, states, strict=True):
            video.record_transcode(state)

    async def UpdateVideo(
        self, request: upload_pb2.UpdateVideoRequest, context: Context
    ) -> upload_pb2.UpdateVideoResponse:
        changes = domain.fields_to_update(list(request.update_mask.paths), request.video.title, request.video.published)
        async with self._deps.sessions() as session, session.begin():
            video, upload = await self._visible_video(session, request.video.video_id, for_update=True)
            domain.ensure_manages(require_caller(), video.organization_id, video.course_id, what="video")
            for name, value in changes.items():
                setattr(video, name, value)
            video.updated_at = store.utcnow()
        return upload_pb2.UpdateVideoResponse(
            video=video_message(video, _managed_upload_id(video, upload), self._poster_url(video))
        )

    async def DeleteVideo(
        self, request: upload_pb2.DeleteVideoRequest, context: Context
    ) -> upload_pb2.DeleteVideoResponse:
        async with self._deps.sessions() as session, session.begin():
            video, upload = await self._visible_video(session, request.video_id, for_update=True)
            domain.ensure_manages(require_caller(), video.organization_id, video.course_id, what="video")
            # Objects first: if storage fails the rows stay, and deleting again finishes the job.
            if upload is not None and upload.s3_upload_id and video.video_status == VideoStatus.PENDING_UPLOAD:
                await self._deps.objects.abort_multipart(video.source_key, upload.s3_upload_id)
            if video.transcode_job_id and video.video_status in (VideoStatus.QUEUED, VideoStatus.TRANSCODING):
                await self._deps.transcoder.cancel(video.transcode_job_id, forwarded_metadata(context))
            for prefix in domain.video_prefixes(video.organization_id, str(video.id)):
                await self._deps.objects.delete_prefix(prefix)
            await store.delete_video(session, video.id)
        log.info("video deleted", extra={"video_id": str(video.id)})
        return upload_pb2.DeleteVideoResponse()

    async def _visible_video(
        self, session: AsyncSession, video_id: str, *, for_update: bool = False
    ) -> tuple[store.VideoRow, store.UploadRow | None]:
        caller = require_caller()
        parsed = store.parse_id(video_id)
        found = await store.video_with_upload(session, parsed, for_update=for_update) if parsed else None
        if found is None:
            raise errors.VideoNotFound("no such video: check the video_id")
        video, upload = found
        domain.ensure_sees_video(caller, video.organization_id, video.course_id, video.published)
        return video, upload


def limits_from(settings: Settings) -> domain.UploadLimits:
    return domain.UploadLimits(
        max_upload_bytes=settings.max_upload_bytes,
        multipart_threshold_bytes=settings.multipart_threshold_bytes,
        multipart_part_bytes=settings.multipart_part_bytes,
    )


async def serve(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    transcoder = adapters.Transcoder(settings.endpoint("transcode").address, settings.backend_timeout_seconds)
    deps = Dependencies(
        sessions=session_factory(engine),
        objects=adapters.ObjectStore(settings),
        prober=adapters.Prober(settings.probe_timeout_seconds),
        transcoder=transcoder,
        limits=limits_from(settings),
        presign_expiry_seconds=settings.presign_expiry_seconds,
        upload_ttl_seconds=settings.upload_ttl_seconds,
    )
    stops: list[Callable[[], Awaitable[None]]] = [transcoder.close, engine.dispose]
    await serve_grpc(
        service="upload",
        settings=settings,
        registrations=[
            Registration(SERVICE_NAME, upload_pb2_grpc.add_UploadServiceServicer_to_server, UploadServicer(deps))
        ],
        on_stop=stops,
        collectors=[QueueCollector(settings.redis_url, [UPLOAD_QUEUE])],
    )


STATUS_DETAILS_KEY = "grpc-status-details-bin"


def _status_trailers(exc: grpc.aio.AioRpcError) -> tuple[tuple[str, str | bytes], ...]:
    """The google.rpc.Status details of another service's failure, to relay them unchanged."""
    pairs: Iterable[Any] = exc.trailing_metadata() or ()  # grpc.aio: (key, value) pairs
    return tuple((key, value) for key, value in pairs if key == STATUS_DETAILS_KEY)
