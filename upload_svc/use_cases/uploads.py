"""Uploads: create (presigned POST or multipart), presign and list parts, complete, abort, read, watch.

Who may touch an upload (course staff of its course, or an administrator of its
organization; anyone else is told it does not exist), which calls a status still
takes, the verify-and-probe flow at complete, the fail path (refused bytes deleted,
the refusal recorded before it is reported) and the hand-off to transcode_svc (owed,
and re-offered by the worker, while transcode_svc cannot take it).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from service_kit.auth import SessionClaims
from upload_svc import domain, errors, metrics
from upload_svc.domain import UploadMethod, VideoStatus
from upload_svc.use_cases.ports import (
    Clock,
    Forwarded,
    ObjectStorage,
    Prober,
    Transcoder,
    UnitOfWork,
    UnitOfWorkFactory,
    utc_now,
)
from upload_svc.use_cases.units import opened

log = logging.getLogger(__name__)

PROBE_URL_SECONDS = 600
"""Lifetime of the GET URL ffprobe reads; longer than any probe may take."""

PARTS_GONE = "object storage no longer holds this upload's parts: start a new upload"

WATCH_POLL_SECONDS = 2.0
"""How often WatchUpload re-reads an upload whose video has no transcode job yet."""
WATCH_FINAL = frozenset({VideoStatus.READY, VideoStatus.FAILED, VideoStatus.CANCELLED, VideoStatus.PENDING_UPLOAD})
"""Upload statuses after which, with no job, WatchUpload has nothing more to wait for."""


@dataclass(frozen=True)
class NewUpload:
    """What CreateUpload asks for."""

    course_id: str
    filename: str
    content_type: str
    file_size: int
    title: str


@dataclass(frozen=True)
class CreatedUpload:
    """Where the browser sends the bytes: a POST form, or a multipart plan (parts presigned on demand)."""

    upload: domain.Upload
    post: domain.PresignedPost | None


@dataclass(frozen=True)
class PresignedPartUrl:
    part_number: int
    url: str
    size: int
    expires_at: datetime


@dataclass(frozen=True)
class UploadView:
    upload: domain.Upload
    video: domain.Video


@dataclass(frozen=True)
class JobSnapshot:
    """One progress snapshot of the video's transcode job, as transcode_svc sent it."""

    snapshot: object


@dataclass(frozen=True)
class WatchEnded:
    upload_id: str
    job_id: str


WatchEvent = UploadView | JobSnapshot | WatchEnded


class UploadFlows:
    """The UploadService RPCs about one upload, over the unit of work, storage, ffprobe and transcode_svc."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        objects: ObjectStorage,
        prober: Prober,
        transcoder: Transcoder,
        limits: domain.UploadLimits,
        presign_expiry_seconds: int,
        upload_ttl_seconds: int,
        clock: Clock = utc_now,
        watch_poll_seconds: float = WATCH_POLL_SECONDS,
    ) -> None:
        self._uow = uow
        self._objects = objects
        self._prober = prober
        self._transcoder = transcoder
        self._limits = limits
        self._presign_expiry = presign_expiry_seconds
        self._upload_ttl = upload_ttl_seconds
        self._now = clock
        self._poll = watch_poll_seconds

    async def create(self, caller: SessionClaims, new: NewUpload) -> CreatedUpload:
        """A pending video and its upload; multipart is opened in storage before the rows are written."""
        with metrics.refusals(metrics.CREATE):
            course = domain.course_for_new_upload(caller, new.course_id)
            declared = domain.validate_declaration(
                filename=new.filename,
                content_type=new.content_type,
                file_size=new.file_size,
                limits=self._limits,
                title=new.title,
            )
            plan = domain.plan_upload(declared.file_size, self._limits)
        video_id, upload_id = uuid.uuid4(), uuid.uuid4()
        key = domain.source_key(caller.organization_id, str(video_id))
        now = self._now()
        s3_upload_id: str | None = None
        post: domain.PresignedPost | None = None
        if plan.method is UploadMethod.MULTIPART:
            # Created before the rows: should the insert fail, the periodic job aborts the
            # orphan by listing object storage's open uploads.
            s3_upload_id = await self._objects.create_multipart(key, declared.content_type)
            expires_at = now + timedelta(seconds=self._upload_ttl)
        else:
            expires_at = now + timedelta(seconds=self._presign_expiry)
            post = self._objects.presign_post(key, declared.content_type, declared.file_size, self._presign_expiry)
        video = domain.Video(
            id=video_id,
            organization_id=caller.organization_id,
            course_id=course,
            owner_id=caller.user_id,
            title=declared.title,
            status=VideoStatus.PENDING_UPLOAD,
            published=False,
            source_key=key,
            content_type=declared.content_type,
            file_size=declared.file_size,
            created_at=now,
            updated_at=now,
        )
        upload = domain.Upload(
            id=upload_id,
            video_id=video_id,
            organization_id=caller.organization_id,
            owner_id=caller.user_id,
            method=plan.method,
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
        async with opened(self._uow) as work:
            await work.uploads.add(video, upload)
            await work.commit()
        metrics.created(plan.method)
        log.info("upload created", extra={"upload_id": str(upload_id), "method": plan.method.value})
        return CreatedUpload(upload, post)

    async def presign_parts(
        self, caller: SessionClaims, upload_id: str, part_numbers: Sequence[int]
    ) -> list[PresignedPartUrl]:
        """PUT URLs for the named parts of a pending multipart upload, each signing its exact size."""
        async with opened(self._uow) as work:
            upload, video = await self._managed(work, caller, upload_id)
        domain.refuse_unless_pending(video.status, video.error_reason)
        _require_multipart(upload)
        plan = upload.plan
        numbers = domain.check_part_numbers(list(part_numbers), plan)
        expires_at = self._now() + timedelta(seconds=self._presign_expiry)
        assert upload.s3_upload_id is not None
        return [
            PresignedPartUrl(
                part_number=number,
                url=self._objects.presign_part(
                    video.source_key, upload.s3_upload_id, number, plan.part_bytes(number), self._presign_expiry
                ),
                size=plan.part_bytes(number),
                expires_at=expires_at,
            )
            for number in numbers
        ]

    async def list_parts(
        self, caller: SessionClaims, upload_id: str, page_size: int, page_token: str
    ) -> domain.PartsPage:
        """What storage holds of a pending multipart upload, so a reloaded page resumes."""
        limit = domain.page_size(page_size, default=domain.MAX_PARTS_PAGE_SIZE, maximum=domain.MAX_PARTS_PAGE_SIZE)
        marker = domain.decode_part_marker(page_token) if page_token else 0
        async with opened(self._uow) as work:
            upload, video = await self._managed(work, caller, upload_id)
        domain.refuse_unless_pending(video.status, video.error_reason)
        _require_multipart(upload)
        assert upload.s3_upload_id is not None
        page = await self._objects.list_parts(video.source_key, upload.s3_upload_id, marker=marker, limit=limit)
        if page is None:
            raise errors.UploadCancelled("object storage no longer holds this upload: start a new upload")
        return page

    async def complete(
        self, caller: SessionClaims, upload_id: str, claimed: Mapping[int, str], forwarded: Forwarded
    ) -> UploadView:
        """Verify and probe the stored source, then hand it to transcode_svc; idempotent.

        The upload stays locked throughout, so a second complete waits and answers the same
        state. A file that is no video fails the upload for good (recorded, its bytes
        deleted, then reported, and reported again on every retry); what the browser can
        still fix (missing parts, no file yet) and an outage (storage, ffprobe, the
        database) leave it pending, with nothing written. A transcode_svc that cannot take
        the job leaves the video UPLOADED: the hand-off is owed, and the worker offers it again.
        """
        refusal: errors.UploadRejected | None = None
        decided = False  # this call moved the upload out of pending (counted once committed)
        async with opened(self._uow) as work:
            upload, video = await self._managed(work, caller, upload_id, for_update=True)
            if video.status == VideoStatus.PENDING_UPLOAD:
                decided = True
                try:
                    await self._verify_and_probe(upload, video, claimed)
                except errors.UploadRejected as rejected:
                    refusal = rejected
                    await self._fail(upload, video, rejected.message)
                else:
                    video.record_transcode(await self._hand_off(video, forwarded))
                await work.uploads.save(upload, video)
            elif video.status == VideoStatus.FAILED:
                refusal = errors.UploadRejected(video.error_reason or "the upload failed: start a new upload")
            elif video.status == VideoStatus.CANCELLED:
                raise errors.UploadCancelled("the upload was cancelled or expired: start a new upload")
            # Committed: a refusal is recorded before it is reported, and reported again on retries.
            await work.commit()
        if refusal is not None:
            if decided:
                metrics.refused(metrics.COMPLETE, refusal)
            raise refusal
        if decided:
            metrics.completed(upload.method)
        return UploadView(upload, video)

    async def _verify_and_probe(self, upload: domain.Upload, video: domain.Video, claimed: Mapping[int, str]) -> None:
        """Assemble (multipart), check size and type, probe; raise UploadRejected if it is no video.

        Anything the browser can still fix (missing parts, no file yet) raises a
        retriable error and leaves the upload pending.
        """
        objects = self._objects
        if upload.method is UploadMethod.MULTIPART:
            assert upload.s3_upload_id is not None
            parts = await objects.all_parts(video.source_key, upload.s3_upload_id)
            if parts is None:
                # Object storage finished this upload already (a complete that died before
                # its commit): the assembled object is checked below like any other.
                if await objects.head(video.source_key) is None:
                    raise errors.UploadRejected(PARTS_GONE)
            else:
                domain.check_parts_complete(parts, upload.plan, claimed)
                if not await objects.complete_multipart(video.source_key, upload.s3_upload_id, parts):
                    raise errors.UploadRejected(PARTS_GONE)
        stored = await objects.head(video.source_key)
        if stored is None:
            raise errors.SourceNotUploaded(
                "the file has not been uploaded yet: send it with the presigned request, then complete"
            )
        domain.check_stored_object(stored.size, stored.content_type, upload.file_size, upload.content_type)
        url = objects.presign_internal_get(video.source_key, PROBE_URL_SECONDS)
        facts = await self._prober.probe(url, stored.size)
        now = self._now()
        video.probe = facts
        video.status = VideoStatus.UPLOADED
        video.uploaded_at = now
        upload.completed_at = now

    async def _fail(self, upload: domain.Upload, video: domain.Video, reason: str) -> None:
        """Record a final refusal; the refused bytes are of no use, so they are deleted."""
        video.status = VideoStatus.FAILED
        video.error_reason = reason
        upload.completed_at = self._now()
        if upload.method is UploadMethod.MULTIPART and upload.s3_upload_id is not None:
            await self._objects.abort_multipart(video.source_key, upload.s3_upload_id)
        await self._objects.delete(video.source_key)
        log.info("upload rejected", extra={"upload_id": str(upload.id), "reason": reason})

    async def _hand_off(self, video: domain.Video, forwarded: Forwarded) -> domain.TranscodeState | None:
        assert video.probe is not None
        return await self._transcoder.hand_off(
            video_id=str(video.id),
            organization_id=video.organization_id,
            course_id=video.course_id,
            source_key=video.source_key,
            facts=video.probe,
            metadata=forwarded,
        )

    async def abort(self, caller: SessionClaims, upload_id: str) -> None:
        """Cancel a pending upload and delete what storage holds of it; aborting again is a no-op."""
        async with opened(self._uow) as work:
            upload, video = await self._managed(work, caller, upload_id, for_update=True)
            if video.status == VideoStatus.CANCELLED:
                return
            if video.status != VideoStatus.PENDING_UPLOAD:
                raise errors.UploadNotPending(
                    f"the upload is no longer pending (status {video.status.value}): delete the video instead"
                )
            if upload.s3_upload_id is not None:
                await self._objects.abort_multipart(video.source_key, upload.s3_upload_id)
            await self._objects.delete(video.source_key)
            video.status = VideoStatus.CANCELLED
            await work.videos.save(video)
            await work.commit()

    async def get(self, caller: SessionClaims, upload_id: str, forwarded: Forwarded) -> UploadView:
        """The upload and its video, brought up to date with transcode_svc while it is in flight."""
        async with opened(self._uow) as work:
            upload, video = await self._managed(work, caller, upload_id)
            if video.status in (VideoStatus.QUEUED, VideoStatus.TRANSCODING):
                video.record_transcode(await self._transcoder.current(str(video.id), forwarded))
                await work.videos.save(video)
                await work.commit()
        return UploadView(upload, video)

    async def watch(self, caller: SessionClaims, upload_id: str, forwarded: Forwarded) -> AsyncIterator[WatchEvent]:
        """The upload until its video has a job (re-read every poll), then the job's snapshots, then the end.

        Whether the caller may see the upload is :meth:`get`'s check, made on every read.
        transcode_svc's failure of the job stream is raised as it came, for the servicer to relay.
        """
        job_id = ""
        while not job_id:
            view = await self.get(caller, upload_id, forwarded)
            current = await self._transcoder.current(str(view.video.id), forwarded)
            if current is not None:
                job_id = current.job_id
                break
            yield view
            if view.video.status in WATCH_FINAL:
                yield WatchEnded(upload_id, "")
                return
            await asyncio.sleep(self._poll)
        async for snapshot in self._transcoder.watch(job_id, forwarded):
            yield JobSnapshot(snapshot)
        yield WatchEnded(upload_id, job_id)

    @staticmethod
    async def _managed(
        work: UnitOfWork, caller: SessionClaims, upload_id: str, *, for_update: bool = False
    ) -> tuple[domain.Upload, domain.Video]:
        parsed = parse_id(upload_id)
        found = await work.uploads.with_video(parsed, for_update=for_update) if parsed else None
        if found is None:
            raise errors.UploadNotFound("no such upload: check the upload_id")
        upload, video = found
        domain.ensure_manages(caller, video.organization_id, video.course_id, what="upload")
        return upload, video


def parse_id(text: str) -> uuid.UUID | None:
    """A UUID from a request, or None: a malformed id names nothing, like an unknown one."""
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        return None


def _require_multipart(upload: domain.Upload) -> None:
    if upload.method is not UploadMethod.MULTIPART:
        raise errors.WrongUploadMethod(
            "this upload is a single presigned POST, not multipart: it has no parts; send the file, then complete"
        )
