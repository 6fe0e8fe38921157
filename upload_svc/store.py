"""The upload service's tables (schema ``upload``) and the queries on them.

``videos`` is the catalog: one row per video with its organization, course, owner,
title, status, source object and probe facts. ``uploads`` holds how each video's source
is (or was) being sent: single presigned POST or S3 multipart, with the part plan and
the S3 upload id. Functions take the caller's AsyncSession (the worker's jobs use them);
the use cases go through :class:`SqlUnitOfWork`, whose repositories read and write the
rows as :class:`upload_svc.domain.Video` and :class:`upload_svc.domain.Upload` records.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Text,
    Uuid,
    delete,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from service_kit.db import DRIVER_ERRORS, SessionUnitOfWork, schema_metadata
from service_kit.db import utcnow as utcnow  # the one clock every store uses
from upload_svc.domain import (
    ProbeFacts,
    TranscodeState,
    Upload,
    UploadMethod,
    Video,
    VideoCursor,
    VideoStatus,
    can_transition,
)
from upload_svc.use_cases.ports import StoreFailed

metadata = schema_metadata("upload")

"""What the driver raises when the database refuses a statement or cannot be reached."""

_STATUSES = ", ".join(f"'{status.value}'" for status in VideoStatus)
_METHODS = ", ".join(f"'{method.value}'" for method in UploadMethod)


class Base(DeclarativeBase):
    metadata = metadata


class VideoRow(Base):
    """One video of the catalog; probe columns stay NULL until the upload completes."""

    __tablename__ = "videos"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUSES})", name="status"),
        Index("ix_videos_course_listing", "organization_id", "course_id", "created_at", "id"),
        Index("ix_videos_status_created", "status", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[str] = mapped_column(Text)
    course_id: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    source_key: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(Text)
    file_size: Mapped[int] = mapped_column(BigInteger)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    rotation: Mapped[int | None] = mapped_column(Integer)
    frame_rate: Mapped[float | None] = mapped_column(Float)
    video_codec: Mapped[str | None] = mapped_column(Text)
    audio_codec: Mapped[str | None] = mapped_column(Text)
    has_audio: Mapped[bool | None] = mapped_column(Boolean)
    sample_aspect_ratio: Mapped[str | None] = mapped_column(Text)
    field_order: Mapped[str | None] = mapped_column(Text)
    pixel_format: Mapped[str | None] = mapped_column(Text)
    color_transfer: Mapped[str | None] = mapped_column(Text)
    color_primaries: Mapped[str | None] = mapped_column(Text)
    color_space: Mapped[str | None] = mapped_column(Text)
    error_reason: Mapped[str | None] = mapped_column(Text)
    transcode_job_id: Mapped[str | None] = mapped_column(Text)
    transcode_progress: Mapped[int] = mapped_column(Integer, default=0)
    uploaded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """When the source was verified: the hand-off to transcode_svc is owed from then on."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    @property
    def video_status(self) -> VideoStatus:
        return VideoStatus(self.status)

    @property
    def probe(self) -> ProbeFacts | None:
        if self.duration_seconds is None:
            return None
        return ProbeFacts(
            duration_seconds=self.duration_seconds,
            width=self.width or 0,
            height=self.height or 0,
            rotation=self.rotation or 0,
            frame_rate=self.frame_rate or 0.0,
            video_codec=self.video_codec or "",
            audio_codec=self.audio_codec or "",
            has_audio=bool(self.has_audio),
            sample_aspect_ratio=self.sample_aspect_ratio or "",
            field_order=self.field_order or "",
            pixel_format=self.pixel_format or "",
            color_transfer=self.color_transfer or "",
            color_primaries=self.color_primaries or "",
            color_space=self.color_space or "",
        )

    def record_transcode(self, job: TranscodeState | None) -> None:
        """Record transcode_svc's answer; without one the video stays where it is (UPLOADED: hand-off owed)."""
        if job is None or not can_transition(self.video_status, job.status):
            return
        self.transcode_job_id = job.job_id
        self.status = job.status.value
        self.transcode_progress = job.progress

    def record_probe(self, facts: ProbeFacts) -> None:
        self.duration_seconds = facts.duration_seconds
        self.width = facts.width
        self.height = facts.height
        self.rotation = facts.rotation
        self.frame_rate = facts.frame_rate
        self.video_codec = facts.video_codec
        self.audio_codec = facts.audio_codec
        self.has_audio = facts.has_audio
        self.sample_aspect_ratio = facts.sample_aspect_ratio
        self.field_order = facts.field_order
        self.pixel_format = facts.pixel_format
        self.color_transfer = facts.color_transfer
        self.color_primaries = facts.color_primaries
        self.color_space = facts.color_space


class UploadRow(Base):
    """How one video's source is sent; multipart uploads carry their plan and S3 upload id."""

    __tablename__ = "uploads"
    __table_args__ = (CheckConstraint(f"method IN ({_METHODS})", name="method"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    video_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("videos.id", ondelete="CASCADE"), unique=True)
    organization_id: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(Text)
    filename: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(Text)
    file_size: Mapped[int] = mapped_column(BigInteger)
    part_size: Mapped[int] = mapped_column(BigInteger, default=0)
    part_count: Mapped[int] = mapped_column(Integer, default=0)
    s3_upload_id: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    video: Mapped[VideoRow] = relationship(lazy="raise")
    """Never loaded (queries join explicitly); declared so a flush inserts the video before its upload."""

    @property
    def upload_method(self) -> UploadMethod:
        return UploadMethod(self.method)


def parse_id(text: str) -> uuid.UUID | None:
    """A UUID from a request, or None: a malformed id names nothing, like an unknown one."""
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        return None


def add_video_with_upload(session: AsyncSession, video: VideoRow, upload: UploadRow) -> None:
    """Both rows go out at the next flush, the video first (ordered by the ``UploadRow.video`` relationship)."""
    session.add_all([video, upload])


async def upload_with_video(
    session: AsyncSession, upload_id: uuid.UUID, *, for_update: bool = False
) -> tuple[UploadRow, VideoRow] | None:
    """The upload and its video; ``for_update`` locks both so concurrent completes take turns."""
    query = (
        select(UploadRow, VideoRow).join(VideoRow, VideoRow.id == UploadRow.video_id).where(UploadRow.id == upload_id)
    )
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1])


async def video_with_upload(
    session: AsyncSession, video_id: uuid.UUID, *, for_update: bool = False
) -> tuple[VideoRow, UploadRow | None] | None:
    query = (
        select(VideoRow, UploadRow)
        .outerjoin(UploadRow, UploadRow.video_id == VideoRow.id)
        .where(VideoRow.id == video_id)
    )
    if for_update:
        query = query.with_for_update(of=VideoRow)
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1])


async def course_videos(
    session: AsyncSession,
    *,
    organization_id: str,
    course_id: str,
    published_only: bool,
    after: VideoCursor | None,
    limit: int,
) -> Sequence[tuple[VideoRow, uuid.UUID | None]]:
    """One page of a course's videos with their upload's id, newest first, by keyset (stable while videos are added)."""
    query = (
        select(VideoRow, UploadRow.id)
        .outerjoin(UploadRow, UploadRow.video_id == VideoRow.id)
        .where(VideoRow.organization_id == organization_id, VideoRow.course_id == course_id)
    )
    if published_only:
        query = query.where(VideoRow.published.is_(True))
    if after is not None:
        query = query.where(
            tuple_(VideoRow.created_at, VideoRow.id) < tuple_(after.created_at, uuid.UUID(after.video_id))
        )
    query = query.order_by(VideoRow.created_at.desc(), VideoRow.id.desc()).limit(limit)
    return [(video, upload_id) for video, upload_id in await session.execute(query)]


async def delete_video(session: AsyncSession, video_id: uuid.UUID) -> None:
    """The video and (by cascade) its upload."""
    await session.execute(delete(VideoRow).where(VideoRow.id == video_id))


async def abandoned_uploads(
    session: AsyncSession, *, created_before: datetime, limit: int
) -> Sequence[tuple[UploadRow, VideoRow]]:
    """Uploads still pending after their time to live, oldest first, locked against a racing complete."""
    query = (
        select(UploadRow, VideoRow)
        .join(VideoRow, VideoRow.id == UploadRow.video_id)
        .where(VideoRow.status == VideoStatus.PENDING_UPLOAD.value, VideoRow.created_at < created_before)
        .order_by(VideoRow.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]


async def videos_awaiting_hand_off(session: AsyncSession, *, limit: int) -> Sequence[VideoRow]:
    """Verified videos transcode_svc has not accepted yet (it was unavailable when they completed)."""
    query = (
        select(VideoRow)
        .where(VideoRow.status == VideoStatus.UPLOADED.value, VideoRow.transcode_job_id.is_(None))
        .order_by(VideoRow.uploaded_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(query)).scalars().all()


# ---- the unit of work the use cases write through ------------------------------------------

_VIDEO_FIELDS = (
    "organization_id",
    "course_id",
    "owner_id",
    "title",
    "published",
    "source_key",
    "content_type",
    "file_size",
    "error_reason",
    "transcode_job_id",
    "transcode_progress",
    "uploaded_at",
    "created_at",
    "updated_at",
)
_UPLOAD_FIELDS = (
    "video_id",
    "organization_id",
    "owner_id",
    "filename",
    "content_type",
    "file_size",
    "part_size",
    "part_count",
    "s3_upload_id",
    "expires_at",
    "completed_at",
    "created_at",
    "updated_at",
)


def video_record(row: VideoRow) -> Video:
    fields = {name: getattr(row, name) for name in _VIDEO_FIELDS}
    return Video(id=row.id, status=row.video_status, probe=row.probe, **fields)


def upload_record(row: UploadRow) -> Upload:
    fields = {name: getattr(row, name) for name in _UPLOAD_FIELDS}
    return Upload(id=row.id, method=row.upload_method, **fields)


def _video_row(video: Video, row: VideoRow | None = None) -> VideoRow:
    """The record's values on its row (a new row when there is none); unchanged values write nothing."""
    row = row if row is not None else VideoRow(id=video.id)
    for name in _VIDEO_FIELDS:
        setattr(row, name, getattr(video, name))
    row.status = video.status.value
    if video.probe is not None:
        row.record_probe(video.probe)
    return row


def _upload_row(upload: Upload, row: UploadRow | None = None) -> UploadRow:
    row = row if row is not None else UploadRow(id=upload.id)
    for name in _UPLOAD_FIELDS:
        setattr(row, name, getattr(upload, name))
    row.method = upload.method.value
    return row


class _Rows:
    """Saving records back onto the rows this transaction loaded."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _save_video(self, video: Video) -> None:
        row = await self._session.get(VideoRow, video.id)
        if row is None:
            return  # deleted meanwhile: nothing left to change
        explicit = video.updated_at != row.updated_at
        _video_row(video, row)
        await self._session.flush()
        if not explicit:
            video.updated_at = row.updated_at  # refreshed by ``onupdate`` when something changed


class _Uploads(_Rows):
    async def add(self, video: Video, upload: Upload) -> None:
        add_video_with_upload(self._session, _video_row(video), _upload_row(upload))

    async def with_video(self, upload_id: uuid.UUID, *, for_update: bool = False) -> tuple[Upload, Video] | None:
        found = await upload_with_video(self._session, upload_id, for_update=for_update)
        return None if found is None else (upload_record(found[0]), video_record(found[1]))

    async def save(self, upload: Upload, video: Video) -> None:
        row = await self._session.get(UploadRow, upload.id)
        explicit = row is None or upload.updated_at != row.updated_at
        if row is not None:
            _upload_row(upload, row)
        await self._save_video(video)  # flushes both
        if row is not None and not explicit:
            upload.updated_at = row.updated_at  # refreshed by ``onupdate`` when something changed


class _Videos(_Rows):
    async def with_upload(self, video_id: uuid.UUID, *, for_update: bool = False) -> tuple[Video, Upload | None] | None:
        found = await video_with_upload(self._session, video_id, for_update=for_update)
        if found is None:
            return None
        video, upload = found
        return video_record(video), None if upload is None else upload_record(upload)

    async def of_course(
        self, *, organization_id: str, course_id: str, published_only: bool, after: VideoCursor | None, limit: int
    ) -> Sequence[tuple[Video, uuid.UUID | None]]:
        rows = await course_videos(
            self._session,
            organization_id=organization_id,
            course_id=course_id,
            published_only=published_only,
            after=after,
            limit=limit,
        )
        return [(video_record(video), upload_id) for video, upload_id in rows]

    async def save(self, video: Video) -> None:
        await self._save_video(video)

    async def delete(self, video_id: uuid.UUID) -> None:
        await delete_video(self._session, video_id)


class SqlUnitOfWork(SessionUnitOfWork):
    """The use cases' unit of work (:class:`service_kit.db.SessionUnitOfWork`).

    Driver errors leave as :class:`upload_svc.use_cases.ports.StoreFailed`, which the use
    cases report as CatalogUnavailable (503).
    """

    uploads: _Uploads
    videos: _Videos

    def bind(self, session: AsyncSession) -> None:
        self.uploads = _Uploads(session)
        self.videos = _Videos(session)

    def translate(self, error: BaseException, *, committing: bool) -> Exception | None:
        if not isinstance(error, DRIVER_ERRORS):
            return None
        what = "did not take the write" if committing else "failed"
        return StoreFailed(f"the store {what}: {error.__class__.__name__}")
