"""The transcode service's table (schema ``transcode``) and the queries on it.

``jobs`` holds one row per attempt to transcode a video: the source, the probe facts it
was planned from, where it stands, its last flushed progress, and the renditions it
published (JSONB: they are written once, read whole, and never queried by field). A
partial unique index keeps at most one queued or running job per video, which is what
makes StartTranscode idempotent under concurrent calls.

The servicer uses the async functions with its AsyncSession; the RQ job (a plain
synchronous process) uses the ``*_sync`` ones with a Session over the same models.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, DateTime, Index, Integer, Text, Uuid, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from service_kit.db import schema_metadata
from service_kit.db import utcnow as utcnow  # the one clock every store uses
from transcode_svc.domain import JobStatus, MeasuredRendition, ProbeFacts, Progress

metadata = schema_metadata("transcode")

_STATUSES = ", ".join(f"'{status.value}'" for status in JobStatus)
ACTIVE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


class Base(DeclarativeBase):
    metadata = metadata


class JobRow(Base):
    """One transcode job; progress columns are the last flush (Redis has the live value)."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUSES})", name="status"),
        CheckConstraint("progress_percent BETWEEN 0 AND 100", name="progress"),
        Index("ix_jobs_video_created", "video_id", "created_at"),
        Index(
            "uq_jobs_active_video",
            "video_id",
            unique=True,
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    video_id: Mapped[str] = mapped_column(Text)
    organization_id: Mapped[str] = mapped_column(Text)
    source_key: Mapped[str] = mapped_column(Text)
    probe: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(Text)
    progress_percent: Mapped[int] = mapped_column(Integer, default=0)
    eta_seconds: Mapped[int] = mapped_column(Integer, default=0)
    playable: Mapped[bool] = mapped_column(Boolean, default=False)
    error_reason: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    renditions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def job_status(self) -> JobStatus:
        return JobStatus(self.status)

    @property
    def probe_facts(self) -> ProbeFacts:
        return ProbeFacts(**self.probe)

    @property
    def progress(self) -> Progress:
        return Progress(self.progress_percent, self.eta_seconds, self.playable)


def rendition_records(renditions: list[MeasuredRendition]) -> list[dict[str, Any]]:
    """The published renditions as stored (and as the contract's Rendition fields)."""
    return [
        {
            "name": r.plan.name,
            "width": r.plan.width,
            "height": r.plan.height,
            "bandwidth": r.bandwidth,
            "average_bandwidth": r.average_bandwidth,
            "codecs": r.plan.codecs,
            "frame_rate": r.plan.frame_rate,
        }
        for r in renditions
    ]


# ---- the servicer's queries (async) ----------------------------------------------------------


async def active_job(session: AsyncSession, video_id: str) -> JobRow | None:
    result = await session.execute(
        select(JobRow).where(JobRow.video_id == video_id, JobRow.status.in_(ACTIVE)).limit(1)
    )
    return result.scalar_one_or_none()


async def latest_job(session: AsyncSession, video_id: str) -> JobRow | None:
    result = await session.execute(
        select(JobRow).where(JobRow.video_id == video_id).order_by(JobRow.created_at.desc()).limit(1)
    )
    return result.scalar_one_or_none()


async def live_jobs(session: AsyncSession) -> list[JobRow]:
    """Every queued or running job, oldest first: what the reconciler checks RQ still holds."""
    result = await session.execute(select(JobRow).where(JobRow.status.in_(ACTIVE)).order_by(JobRow.created_at))
    return list(result.scalars())


async def get_job(session: AsyncSession, job_id: uuid.UUID, *, for_update: bool = False) -> JobRow | None:
    statement = select(JobRow).where(JobRow.id == job_id)
    if for_update:
        statement = statement.with_for_update()
    result = await session.execute(statement)
    return result.scalar_one_or_none()


async def insert_job(
    session: AsyncSession, *, video_id: str, organization_id: str, source_key: str, probe: ProbeFacts
) -> JobRow | None:
    """A new queued job; None when another call made the video's active job first."""
    row = JobRow(
        id=uuid.uuid4(),
        video_id=video_id,
        organization_id=organization_id,
        source_key=source_key,
        probe=asdict(probe),
        status=JobStatus.QUEUED.value,
        progress_percent=0,
        eta_seconds=0,
        playable=False,
        error_reason="",
        attempts=0,
        renditions=[],
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


# ---- the worker's queries (sync) -------------------------------------------------------------


def get_job_sync(session: Session, job_id: uuid.UUID, *, for_update: bool = False) -> JobRow | None:
    statement = select(JobRow).where(JobRow.id == job_id)
    if for_update:
        statement = statement.with_for_update()
    return session.execute(statement).scalar_one_or_none()


def flush_progress_sync(session: Session, job_id: uuid.UUID, progress: Progress) -> None:
    """Write running progress, never lowering it, and only while the job still runs."""
    session.execute(
        update(JobRow)
        .where(JobRow.id == job_id, JobRow.status == JobStatus.RUNNING.value)
        .values(
            progress_percent=progress.percent,
            eta_seconds=progress.eta_seconds,
            playable=JobRow.playable | progress.playable,
            updated_at=utcnow(),
        )
    )


def finish_sync(
    session: Session,
    job_id: uuid.UUID,
    status: JobStatus,
    *,
    error_reason: str = "",
    renditions: list[dict[str, Any]] | None = None,
) -> bool:
    """Move a running (or queued) job to a final status; False if it was already final.

    The condition on the current status is what lets a cancel win over a finishing
    worker: whichever writes first decides, and the other sees False.
    """
    values: dict[str, Any] = {"status": status.value, "finished_at": utcnow(), "updated_at": utcnow(), "eta_seconds": 0}
    if status is JobStatus.SUCCEEDED:
        values.update(progress_percent=100, playable=True, renditions=renditions or [])
    else:
        values.update(error_reason=error_reason, playable=False)
    result = session.execute(
        update(JobRow).where(JobRow.id == job_id, JobRow.status.in_(ACTIVE)).values(**values).returning(JobRow.id)
    )
    return result.first() is not None
