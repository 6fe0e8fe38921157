"""The transcode service's table (schema ``transcode``) and the queries on it.

``chunks`` holds the chunks of a job transcoded in chunks (issue 17): who holds each,
under a lease, and what it has published; the workers coordinate through it.

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
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
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
    false,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from service_kit.db import DRIVER_ERRORS, SessionUnitOfWork, schema_metadata
from service_kit.db import utcnow as utcnow  # the one clock every store uses
from transcode_svc.domain import (
    ChunkPlan,
    ChunkProgress,
    JobStatus,
    MeasuredRendition,
    ProbeFacts,
    Progress,
    PublishedRendition,
    PublishedSegment,
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


# ---- chunks of chunked jobs (sync: the workers') ---------------------------------------------

CHUNK_STATES = ("pending", "running", "done", "failed")


class ChunkRow(Base):
    """One chunk of a chunked job: its window of the source, who holds it, what it published.

    A worker *claims* a chunk (state ``running``, a fresh ``claim`` id, a lease); it
    renews the lease as it publishes segments and records them in ``segments``
    (``{rung: [[uri, seconds, bytes], ...]}``); a lease that lapses (the worker died)
    lets any other worker claim the chunk again, and the old holder's next write, under
    its stale claim id, changes nothing, which tells it to stop.
    """

    __tablename__ = "chunks"
    __table_args__ = (CheckConstraint("state IN ('pending', 'running', 'done', 'failed')", name="state"),)

    job_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    chunk_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    start_seconds: Mapped[float] = mapped_column(Float)
    end_seconds: Mapped[float] = mapped_column(Float)
    first_segment: Mapped[int] = mapped_column(Integer)
    opening: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    state: Mapped[str] = mapped_column(Text, default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    claim: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    worker: Mapped[str] = mapped_column(Text, default="", server_default="")
    encoded_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    encode_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    """Wall seconds of the encode that counted (the bench's per-chunk times)."""
    segments: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    error_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    @property
    def plan(self) -> ChunkPlan:
        return ChunkPlan(self.chunk_index, self.start_seconds, self.end_seconds, self.first_segment, self.opening)

    @property
    def progress(self) -> ChunkProgress:
        segments = {
            rung: tuple(PublishedSegment.of_record(record) for record in records)
            for rung, records in (self.segments or {}).items()
        }
        return ChunkProgress(self.chunk_index, self.state == "done", self.encoded_seconds, segments)


@dataclass(frozen=True)
class ChunkClaim:
    """A chunk a worker holds: what to encode, and the claim id its writes must carry."""

    job_id: uuid.UUID
    plan: ChunkPlan
    claim: uuid.UUID
    attempt: int


def add_chunks_sync(session: Session, job_id: uuid.UUID, plans: list[ChunkPlan]) -> list[ChunkPlan]:
    """Record a job's chunks unless an earlier attempt did; returns the chunks as recorded.

    A retried job keeps the plan (and the finished chunks) of its first attempt, even if
    the chunk settings changed since: its segments are already numbered by that plan.
    """
    if plans:
        session.execute(
            pg_insert(ChunkRow)
            .values(
                [
                    {
                        "job_id": job_id,
                        "chunk_index": plan.index,
                        "start_seconds": plan.start_seconds,
                        "end_seconds": plan.end_seconds,
                        "first_segment": plan.first_segment,
                        "opening": plan.opening,
                        "updated_at": utcnow(),
                    }
                    for plan in plans
                ]
            )
            .on_conflict_do_nothing(index_elements=["job_id", "chunk_index"])
        )
    return [row.plan for row in chunk_rows_sync(session, job_id)]


def chunk_rows_sync(session: Session, job_id: uuid.UUID) -> list[ChunkRow]:
    return list(session.scalars(select(ChunkRow).where(ChunkRow.job_id == job_id).order_by(ChunkRow.chunk_index)))


def claim_chunk_sync(session: Session, job_id: uuid.UUID, worker: str, lease_seconds: float) -> ChunkClaim | None:
    """Take the lowest chunk that is pending or whose holder's lease lapsed; None when there is none.

    ``FOR UPDATE SKIP LOCKED`` lets any number of workers claim at once, each a
    different chunk; only a running job's chunks are handed out (a cancelled or
    failed job's are not).
    """
    now = utcnow()
    candidate = (
        select(ChunkRow.job_id, ChunkRow.chunk_index)
        .join(JobRow, JobRow.id == ChunkRow.job_id)
        .where(
            ChunkRow.job_id == job_id,
            JobRow.status == JobStatus.RUNNING.value,
            (ChunkRow.state == "pending") | ((ChunkRow.state == "running") & (ChunkRow.lease_until < now)),
        )
        .order_by(ChunkRow.chunk_index)
        .limit(1)
        .with_for_update(of=ChunkRow, skip_locked=True)
    ).subquery()
    claim = uuid.uuid4()
    row = session.execute(
        update(ChunkRow)
        .where(ChunkRow.job_id == candidate.c.job_id, ChunkRow.chunk_index == candidate.c.chunk_index)
        .values(
            state="running",
            claim=claim,
            lease_until=now + timedelta(seconds=lease_seconds),
            worker=worker,
            attempts=ChunkRow.attempts + 1,
            encoded_seconds=0.0,
            updated_at=now,
        )
        .returning(
            ChunkRow.chunk_index,
            ChunkRow.start_seconds,
            ChunkRow.end_seconds,
            ChunkRow.first_segment,
            ChunkRow.opening,
            ChunkRow.attempts,
        )
    ).first()
    if row is None:
        return None
    return ChunkClaim(job_id, ChunkPlan(row[0], row[1], row[2], row[3], row[4]), claim, row[5])


def _held(claim: ChunkClaim, *, while_running: bool = True) -> Any:
    """The claim is still the chunk's and, unless ``while_running`` is False, the job still runs.

    A cancel or a failure of the job ends every claim for recording and finishing; giving
    a chunk back (:func:`release_chunk_sync`) works after it too, so the job's own worker
    sees at once that nobody holds the chunk any more.
    """
    held = (
        (ChunkRow.job_id == claim.job_id)
        & (ChunkRow.chunk_index == claim.plan.index)
        & (ChunkRow.claim == claim.claim)
        & (ChunkRow.state == "running")
    )
    if not while_running:
        return held
    running = select(JobRow.id).where(JobRow.id == claim.job_id, JobRow.status == JobStatus.RUNNING.value)
    return held & ChunkRow.job_id.in_(running)


def chunk_changes_sync(session: Session, job_id: uuid.UUID) -> list[tuple[int, str, datetime]]:
    """``(index, state, updated_at)`` of every chunk: what a publisher polls before reading segments."""
    rows = session.execute(
        select(ChunkRow.chunk_index, ChunkRow.state, ChunkRow.updated_at)
        .where(ChunkRow.job_id == job_id)
        .order_by(ChunkRow.chunk_index)
    )
    return [(index, state, updated) for index, state, updated in rows]


def chunks_by_index_sync(session: Session, job_id: uuid.UUID, indexes: list[int]) -> list[ChunkRow]:
    return list(session.scalars(select(ChunkRow).where(ChunkRow.job_id == job_id, ChunkRow.chunk_index.in_(indexes))))


def record_chunk_sync(
    session: Session,
    claim: ChunkClaim,
    segments: dict[str, list[list[object]]],
    encoded_seconds: float,
    lease_seconds: float,
) -> bool:
    """Record what the chunk published so far and renew the lease; False if the claim was lost."""
    result = session.execute(
        update(ChunkRow)
        .where(_held(claim))
        .values(
            segments=segments,
            encoded_seconds=encoded_seconds,
            lease_until=utcnow() + timedelta(seconds=lease_seconds),
            updated_at=utcnow(),
        )
        .returning(ChunkRow.chunk_index)
    )
    return result.first() is not None


def finish_chunk_sync(
    session: Session, claim: ChunkClaim, segments: dict[str, list[list[object]]], encode_seconds: float
) -> bool:
    """The chunk is done, with every segment it published; False if the claim was lost meanwhile."""
    result = session.execute(
        update(ChunkRow)
        .where(_held(claim))
        .values(
            state="done",
            segments=segments,
            encoded_seconds=ChunkRow.end_seconds - ChunkRow.start_seconds,
            encode_seconds=encode_seconds,
            lease_until=None,
            updated_at=utcnow(),
        )
        .returning(ChunkRow.chunk_index)
    )
    return result.first() is not None


def release_chunk_sync(session: Session, claim: ChunkClaim, reason: str, *, final: bool) -> None:
    """Give the chunk back: ``pending`` for another try, or ``failed`` with ``reason`` (final)."""
    session.execute(
        update(ChunkRow)
        .where(_held(claim, while_running=False))
        .values(
            state="failed" if final else "pending", error_reason=reason[:500], lease_until=None, updated_at=utcnow()
        )
    )
