"""The upload service's tables (schema ``upload``) and the queries on them.

``videos`` is the catalog: one row per video with its organization, course, owner,
title, status, source object and probe facts. ``uploads`` holds how each video's source
is (or was) being sent: single presigned POST or S3 multipart, with the part plan and
the S3 upload id. Functions take the caller's AsyncSession: the servicer opens one per
RPC and decides when to commit.
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

from service_kit.db import schema_metadata
from service_kit.db import utcnow as utcnow  # the one clock every store uses
from upload_svc.domain import ProbeFacts, TranscodeState, UploadMethod, VideoCursor, VideoStatus, can_transition

metadata = schema_metadata("upload")

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
    return [(video, upload_id) for video, upload_id in (await session.execute(query)).tuples()]


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
