"""The catalog: list a course's videos, read one, change its title or publication, delete it.

Who sees what (learners only published videos of their course; staff every video of
theirs; another organization's video does not exist for the caller), who may change
or delete, and keeping in-flight statuses fresh with transcode_svc when they are read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from service_kit.auth import SessionClaims
from upload_svc import domain, errors
from upload_svc.domain import VideoStatus
from upload_svc.use_cases.ports import (
    Clock,
    Forwarded,
    ObjectStorage,
    Transcoder,
    UnitOfWork,
    UnitOfWorkFactory,
    utc_now,
)
from upload_svc.use_cases.units import opened
from upload_svc.use_cases.uploads import parse_id

log = logging.getLogger(__name__)

IN_FLIGHT = frozenset({VideoStatus.QUEUED, VideoStatus.TRANSCODING})
"""Statuses the catalog holds only until transcode_svc moves on: read fresh when listed."""


@dataclass(frozen=True)
class VideoView:
    """A catalog entry as this caller sees it.

    ``upload_id`` only for callers who manage the video (they may follow its upload);
    ``poster_url`` only once it is ready.
    """

    video: domain.Video
    upload_id: str
    poster_url: str


@dataclass(frozen=True)
class VideoPage:
    videos: list[VideoView]
    next_page_token: str


class Catalog:
    """ListVideos, GetVideo, UpdateVideo and DeleteVideo over the unit of work, storage and transcode_svc."""

    def __init__(
        self, *, uow: UnitOfWorkFactory, objects: ObjectStorage, transcoder: Transcoder, clock: Clock = utc_now
    ) -> None:
        self._uow = uow
        self._now = clock
        self._objects = objects
        self._transcoder = transcoder

    async def of_course(
        self, caller: SessionClaims, course_id: str, page_size: int, page_token: str, forwarded: Forwarded
    ) -> VideoPage:
        """A course's videos, newest first, a page at a time (learners: published only)."""
        listing = domain.listing_for(caller, course_id)
        size = domain.page_size(page_size)
        after = domain.decode_video_cursor(page_token, listing.course_id) if page_token else None
        async with opened(self._uow) as work:
            rows = await work.videos.of_course(
                organization_id=caller.organization_id,
                course_id=listing.course_id,
                published_only=listing.published_only,
                after=after,
                limit=size + 1,
            )
            page = rows[:size]
            await self._catch_up(work, [video for video, _ in page], forwarded)
            await work.commit()
        token = ""
        if len(rows) > size:
            last = page[-1][0]
            token = domain.encode_video_cursor(domain.VideoCursor(listing.course_id, last.created_at, str(last.id)))
        staff = not listing.published_only
        return VideoPage(
            [
                VideoView(video, str(upload_id) if staff and upload_id is not None else "", self._poster_url(video))
                for video, upload_id in page
            ],
            token,
        )

    async def get(self, caller: SessionClaims, video_id: str, forwarded: Forwarded) -> VideoView:
        async with opened(self._uow) as work:
            video, upload = await self._visible(work, caller, video_id)
            await self._catch_up(work, [video], forwarded)
            await work.commit()
        return self._view(caller, video, upload)

    async def update(
        self, caller: SessionClaims, video_id: str, mask: Sequence[str], title: str, published: bool
    ) -> VideoView:
        """Change the title or publication (course staff and administrators)."""
        changes: Mapping[str, object] = domain.fields_to_update(list(mask), title, published)
        async with opened(self._uow) as work:
            video, upload = await self._visible(work, caller, video_id, for_update=True)
            domain.ensure_manages(caller, video.organization_id, video.course_id, what="video")
            if "title" in changes:
                video.title = str(changes["title"])
            if "published" in changes:
                video.published = bool(changes["published"])
            video.updated_at = self._now()
            await work.videos.save(video)
            await work.commit()
        return self._view(caller, video, upload)

    async def delete(self, caller: SessionClaims, video_id: str, forwarded: Forwarded) -> None:
        """The video, its objects and its job; objects first, so a storage failure leaves it to delete again."""
        async with opened(self._uow) as work:
            video, upload = await self._visible(work, caller, video_id, for_update=True)
            domain.ensure_manages(caller, video.organization_id, video.course_id, what="video")
            if upload is not None and upload.s3_upload_id and video.status == VideoStatus.PENDING_UPLOAD:
                await self._objects.abort_multipart(video.source_key, upload.s3_upload_id)
            if video.transcode_job_id and video.status in IN_FLIGHT:
                await self._transcoder.cancel(video.transcode_job_id, forwarded)
            for prefix in domain.video_prefixes(video.organization_id, str(video.id)):
                await self._objects.delete_prefix(prefix)
            await work.videos.delete(video.id)
            await work.commit()
        log.info("video deleted", extra={"video_id": str(video.id)})

    async def _catch_up(self, work: UnitOfWork, videos: list[domain.Video], forwarded: Forwarded) -> None:
        """Bring queued and transcoding videos up to date with transcode_svc (in the caller's unit of work).

        The catalog's status changes when someone asks about the upload (GetUpload) or the
        sweep runs; without this, a video that finished while nobody watched its upload
        would stay "transcoding" in the list, and learners would never see it ready. Only
        in-flight videos are asked about, concurrently; an unanswered question leaves the video.
        """
        moving = [video for video in videos if video.status in IN_FLIGHT]
        if not moving:
            return
        states = await asyncio.gather(*(self._transcoder.current(str(v.id), forwarded) for v in moving))
        for video, state in zip(moving, states, strict=True):
            video.record_transcode(state)
            await work.videos.save(video)

    def _view(self, caller: SessionClaims, video: domain.Video, upload: domain.Upload | None) -> VideoView:
        return VideoView(video, _managed_upload_id(caller, video, upload), self._poster_url(video))

    def _poster_url(self, video: domain.Video) -> str:
        """A signed URL of the poster once the video is ready (signing is local: no call to storage)."""
        if video.status != VideoStatus.READY:
            return ""
        return self._objects.presign_public_get(domain.poster_key(str(video.id)), domain.POSTER_URL_SECONDS)

    @staticmethod
    async def _visible(
        work: UnitOfWork, caller: SessionClaims, video_id: str, *, for_update: bool = False
    ) -> tuple[domain.Video, domain.Upload | None]:
        parsed = parse_id(video_id)
        found = await work.videos.with_upload(parsed, for_update=for_update) if parsed else None
        if found is None:
            raise errors.VideoNotFound("no such video: check the video_id")
        video, upload = found
        domain.ensure_sees_video(caller, video.organization_id, video.course_id, video.published)
        return video, upload


def _managed_upload_id(caller: SessionClaims, video: domain.Video, upload: domain.Upload | None) -> str:
    """The video's upload id when the caller manages the video, else "" (learners follow no uploads)."""
    if upload is None:
        return ""
    try:
        domain.ensure_manages(caller, video.organization_id, video.course_id, what="video")
    except errors.UploadError:
        return ""
    return str(upload.id)
