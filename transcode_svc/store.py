"""The transcode service's table (schema ``transcode``) and the queries on it.

``jobs`` holds one row per attempt to transcode a video: the source, the probe facts it
was planned from, where it stands, its last flushed progress, and the renditions it
published (JSONB: they are written once, read whole, and never queried by field). A
partial unique index keeps at most one queued or running job per video, which is what
makes StartTranscode idempotent under concurrent calls.

The use cases read and write through :class:`SqlUnitOfWork` (one transaction, driver
errors as StoreFailed) and the reconciler reads :func:`live_jobs`; the RQ job (a plain
synchronous process) uses the ``*_sync`` functions with a Session over the same models.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, DateTime, Index, Integer, Text, Uuid, delete, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from service_kit.db import DRIVER_ERRORS, SessionUnitOfWork, schema_metadata
from service_kit.db import utcnow as utcnow  # the one clock every store uses
from transcode_svc.domain import (
    JobStatus,
    MeasuredRendition,
    ProbeFacts,
    Progress,
    PublishedRendition,
    TranscodeJob,
    published,
)
from transcode_svc.use_cases.ports import StoreFailed

metadata = schema_metadata("transcode")

_STATUSES = ", ".join(f"'{status.value}'" for status in JobStatus)
ACTIVE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
"""What the driver raises when the database refuses a statement or cannot be reached."""


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
    course_id: Mapped[str] = mapped_column(Text, default="")
    """The video's course: whose staff may read and cancel the job ("" for jobs older than 0002)."""
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
    return [asdict(published(rendition)) for rendition in renditions]


# ---- the use cases' unit of work (async) ----------------------------------------------------


def to_job(row: JobRow) -> TranscodeJob:
    """The row as the domain's record of the job."""
    return TranscodeJob(
        id=row.id,
        video_id=row.video_id,
        organization_id=row.organization_id,
        course_id=row.course_id,
        source_key=row.source_key,
        probe=row.probe_facts,
        status=row.job_status,
        progress=row.progress,
        error_reason=row.error_reason,
        attempts=row.attempts,
        renditions=tuple(PublishedRendition(**record) for record in row.renditions or []),
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


async def live_jobs(session: AsyncSession) -> list[TranscodeJob]:
    """Every queued or running job, oldest first: what the reconciler checks RQ still holds."""
    result = await session.execute(select(JobRow).where(JobRow.status.in_(ACTIVE)).order_by(JobRow.created_at))
    return [to_job(row) for row in result.scalars()]


class SqlJobs:
    """The jobs table, read and written inside one transaction (:class:`transcode_svc.use_cases.ports.Jobs`)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _row(self, job_id: uuid.UUID, *, for_update: bool = False) -> JobRow | None:
        statement = select(JobRow).where(JobRow.id == job_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def get(self, job_id: uuid.UUID, *, for_update: bool = False) -> TranscodeJob | None:
        row = await self._row(job_id, for_update=for_update)
        return None if row is None else to_job(row)

    async def active(self, video_id: str) -> TranscodeJob | None:
        row = await self._session.scalar(
            select(JobRow).where(JobRow.video_id == video_id, JobRow.status.in_(ACTIVE)).limit(1)
        )
        return None if row is None else to_job(row)

    async def latest(self, video_id: str) -> TranscodeJob | None:
        row = await self._session.scalar(
            select(JobRow).where(JobRow.video_id == video_id).order_by(JobRow.created_at.desc()).limit(1)
        )
        return None if row is None else to_job(row)

    async def add(self, job: TranscodeJob) -> bool:
        """Insert the job; False when the video's active job exists (the partial unique index said so).

        The insert runs in a savepoint, so the conflict leaves the transaction usable.
        """
        row = JobRow(
            id=job.id,
            video_id=job.video_id,
            organization_id=job.organization_id,
            course_id=job.course_id,
            source_key=job.source_key,
            probe=asdict(job.probe),
            status=job.status.value,
            progress_percent=job.progress.percent,
            eta_seconds=job.progress.eta_seconds,
            playable=job.progress.playable,
            error_reason=job.error_reason,
            attempts=job.attempts,
            renditions=[asdict(rendition) for rendition in job.renditions],
            created_at=job.created_at,
            updated_at=job.updated_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
        )
        try:
            async with self._session.begin_nested():
                self._session.add(row)
        except IntegrityError:
            return False
        return True

    async def remove(self, job_id: uuid.UUID) -> None:
        await self._session.execute(delete(JobRow).where(JobRow.id == job_id))

    async def record_cancel(self, job: TranscodeJob) -> None:
        await self._session.execute(
            update(JobRow)
            .where(JobRow.id == job.id)
            .values(
                status=job.status.value,
                finished_at=job.finished_at,
                playable=job.progress.playable,
                eta_seconds=job.progress.eta_seconds,
                updated_at=job.updated_at,
            )
        )


class SqlUnitOfWork(SessionUnitOfWork):
    """The use cases' unit of work (:class:`service_kit.db.SessionUnitOfWork`) over the jobs table.

    Driver errors leave as :class:`transcode_svc.use_cases.ports.StoreFailed`.
    """

    jobs: SqlJobs

    def bind(self, session: AsyncSession) -> None:
        self.jobs = SqlJobs(session)

    def translate(self, error: BaseException, *, committing: bool) -> Exception | None:
        if not isinstance(error, DRIVER_ERRORS):
            return None
        what = "did not take the write" if committing else "failed"
        return StoreFailed(f"the store {what}: {error.__class__.__name__}")


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
