"""What each TranscodeService RPC decides: start a video's job, read, watch and cancel it.

- **Start** (upload_svc's hand-off) is idempotent per video: a queued or running job,
  or one that succeeded, is answered again instead of a second job; a queued one is
  offered to the queue again (the enqueue is idempotent, and so heals a job whose queue
  entry was lost). A new job is recorded first and queued after the commit; when the
  queue does not answer, the new row is removed again, so no job waits for a queue
  entry it never got.
- **Read, watch, cancel** need staff of the video's course or an administrator of its
  organization (:func:`transcode_svc.domain.job_access`); another course's or
  organization's job answers not-found, like an unknown id.
- **GetVideoTranscode** (playback_svc, upload_svc) may come without a caller; a caller
  must belong to the video's organization.

Every step opens its own unit of work; a store that fails answers StoreUnavailable
(503), with nothing written and nothing queued.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

from service_kit.auth import SessionClaims
from service_kit.errors import ValidationErrors
from transcode_svc import domain, errors
from transcode_svc.domain import JobStatus, JobView, LiveProgress, ProbeFacts, TranscodeJob
from transcode_svc.use_cases.ports import (
    Clock,
    JobQueue,
    LiveBoard,
    Outputs,
    QueueFailed,
    StoreFailed,
    UnitOfWork,
    UnitOfWorkFactory,
)

log = logging.getLogger(__name__)

WATCH_POLL_SECONDS = 1.0
"""A watch re-reads the job at least this often, even without a published event."""
DATABASE_EVERY_TICKS = 5
"""While Redis says "running", the database (final statuses, attempts) is read every few ticks."""


@dataclass(frozen=True)
class NewTranscode:
    """What StartTranscode is asked: the video, whose it is, where its source is, and its probe facts."""

    video_id: str
    organization_id: str
    course_id: str
    source_key: str
    probe: ProbeFacts | None
    """None when the request carried no probe facts (refused)."""


@dataclass(frozen=True)
class VideoTranscode:
    """GetVideoTranscode's answer: the video's latest job, and the renditions a player may use now."""

    job: JobView
    renditions: tuple[domain.PublishedRendition, ...]
    """The job's renditions once it is playable, else none."""


def check_access(caller: SessionClaims, job: TranscodeJob | None, job_id: str) -> TranscodeJob:
    """The job, unless ``caller`` may not manage it (see :func:`domain.job_access`).

    Another organization's or course's job raises JobNotFound, as an unknown id does, so
    ids never leak; a learner of the job's course gets NotAllowed.
    """
    access = domain.JobAccess.HIDDEN if job is None else domain.job_access(caller, job.organization_id, job.course_id)
    if job is None or access is domain.JobAccess.HIDDEN:
        raise errors.JobNotFound(f"no transcode job {job_id}")
    if access is domain.JobAccess.NOT_STAFF:
        raise errors.NotAllowed("only the course's instructors follow and cancel its transcoding")
    return job


def check_organization(caller: SessionClaims | None, organization_id: str) -> None:
    """Internal calls may come without a caller; a caller must belong to the organization."""
    if caller is not None and caller.organization_id != organization_id:
        raise errors.NotAllowed("this video belongs to another organization")


def job_uuid(raw: str, field: str = "job_id") -> uuid.UUID:
    """The job id of a request; an invalid-argument error naming ``field`` when it is none."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        problems = ValidationErrors()
        problems.add(field, "must be a job id (a UUID)" if raw else "is required")
        problems.raise_if_any()
        raise  # unreachable: raise_if_any raised


class TranscodeJobs:
    """The transcode jobs' use cases, over the store, the queue, live progress and the bucket."""

    def __init__(
        self, *, uow: UnitOfWorkFactory, queue: JobQueue, board: LiveBoard, outputs: Outputs, clock: Clock
    ) -> None:
        self._uow = uow
        self._queue = queue
        self._board = board
        self._outputs = outputs
        self._clock = clock

    @contextlib.asynccontextmanager
    async def _unit(self, doing: str) -> AsyncIterator[UnitOfWork]:
        """One unit of work; a store failure inside it answers StoreUnavailable saying what was not done."""
        try:
            async with self._uow() as work:
                yield work
        except StoreFailed as exc:
            raise errors.StoreUnavailable(
                f"the transcode job could not be {doing}: the database is unavailable; try again shortly"
            ) from exc

    async def start(self, caller: SessionClaims | None, request: NewTranscode) -> JobView:
        """The video's job: the one it has (queued, running or succeeded), else a new one, queued.

        Raises InvalidArgument (missing fields), NotAllowed (another organization's caller),
        UnsupportedSource (no ladder from these probe facts), StoreUnavailable and
        QueueUnavailable (nothing recorded, nothing queued: call again).
        """
        problems = ValidationErrors()
        for name in ("video_id", "organization_id", "source_key"):
            if not getattr(request, name).strip():
                problems.add(name, "is required")
        if request.probe is None:
            problems.add("probe", "is required: the facts from probing the source")
        problems.raise_if_any()
        assert request.probe is not None
        check_organization(caller, request.organization_id)
        try:
            domain.plan_renditions(request.probe)
        except domain.UnsupportedSource as exc:
            raise errors.UnsupportedSource(f"cannot transcode this source: {exc}") from exc
        job, created = await self._record(request, request.probe)
        if job.status is JobStatus.QUEUED:
            # Also heals a queued job whose queue entry was lost (the enqueue is idempotent).
            await self._enqueue(job, fresh=created)
        return domain.job_view(job)

    async def _record(self, request: NewTranscode, probe: ProbeFacts) -> tuple[TranscodeJob, bool]:
        """The job to answer with, and whether this call recorded it."""
        async with self._unit("recorded") as work:
            existing = await work.jobs.active(request.video_id)
            if existing is None:
                latest = await work.jobs.latest(request.video_id)
                if latest is not None and latest.status is JobStatus.SUCCEEDED:
                    existing = latest
            if existing is not None:
                return existing, False
            job = domain.new_job(
                job_id=uuid.uuid4(),
                video_id=request.video_id,
                organization_id=request.organization_id,
                course_id=request.course_id,
                source_key=request.source_key,
                probe=probe,
                now=self._clock(),
            )
            if await work.jobs.add(job):
                await work.commit()
                return job, True
            existing = await work.jobs.active(request.video_id)  # a concurrent call made it first
        if existing is None:
            raise errors.QueueUnavailable("the video's job changed while starting; call again")
        return existing, False

    async def _enqueue(self, job: TranscodeJob, *, fresh: bool) -> None:
        try:
            await self._queue.enqueue(str(job.id), job.probe.duration_seconds)
        except QueueFailed as exc:
            if fresh:
                await self._forget(job)
            raise errors.QueueUnavailable("the transcode queue is unavailable; try again shortly") from exc

    async def _forget(self, job: TranscodeJob) -> None:
        """Remove a job the queue never got, so the next start records and queues it anew.

        Should the database fail too, the row stays queued and the reconciler
        (:mod:`transcode_svc.reconcile`) queues it once Redis is back.
        """
        try:
            async with self._uow() as work:
                if await work.jobs.get(job.id, for_update=True) is not None:
                    await work.jobs.remove(job.id)
                await work.commit()
        except StoreFailed:
            log.warning("unqueued transcode job left for the reconciler", extra={"job_id": str(job.id)})

    async def _load(self, caller: SessionClaims, job_id: str) -> tuple[TranscodeJob, LiveProgress | None]:
        """The job the caller manages, and its live progress while it is not final."""
        wanted = job_uuid(job_id)
        async with self._unit("read") as work:
            found = await work.jobs.get(wanted)
        job = check_access(caller, found, job_id)
        live = await self._board.live(str(job.id)) if not job.status.is_final else None
        return job, live

    async def get(self, caller: SessionClaims, job_id: str) -> JobView:
        """The job as the caller sees it; JobNotFound, NotAllowed, StoreUnavailable."""
        job, live = await self._load(caller, job_id)
        return domain.job_view(job, live)

    async def cancel(self, caller: SessionClaims, job_id: str) -> JobView:
        """Stop a queued or running job; a finished one is answered as it finished (the contract's rule).

        The cancel flag is raised while the row is locked, before it says cancelled: a
        worker finishing meanwhile either sees the flag or loses the race for the status.
        A job no worker holds is withdrawn from the queue and what an interrupted earlier
        attempt published is deleted.
        """
        wanted = job_uuid(job_id)
        async with self._unit("cancelled") as work:
            job = check_access(caller, await work.jobs.get(wanted, for_update=True), job_id)
            if job.status.is_final:
                return domain.job_view(job)
            await self._board.raise_cancel_flag(str(job.id))
            job = job.cancelled(self._clock())
            await work.jobs.record_cancel(job)
            await work.commit()
        await self._board.announce(str(job.id), JobStatus.CANCELLED.value)
        if await self._queue.withdraw(str(job.id)):
            # No worker holds it: remove what an interrupted earlier attempt may have left.
            await self._outputs.delete_outputs(job.video_id)
        return domain.job_view(job)

    async def watch(self, caller: SessionClaims, job_id: str) -> AsyncGenerator[JobView]:
        """The job now, then again each time a caller would see a difference, until it is final.

        Workers publish to Redis; the row is re-read whenever Redis does not say
        "running" (queued, a final status, nothing) and every few ticks while it does.
        """
        job, live = await self._load(caller, job_id)
        last = domain.job_view(job, live)
        yield last
        if job.status.is_final:
            return
        ticks = 0
        async with contextlib.aclosing(self._board.changes(str(job.id), WATCH_POLL_SECONDS)) as changes:
            async for _ in changes:
                ticks += 1
                live = await self._board.live(str(job.id))
                settled = live is not None and live.status == JobStatus.RUNNING.value
                if not settled or ticks % DATABASE_EVERY_TICKS == 0:
                    async with self._unit("read") as work:
                        fresh = await work.jobs.get(job.id)
                    job = fresh or job
                current = domain.job_view(job, live)
                if current != last:
                    last = current
                    yield current
                if job.status.is_final:
                    return

    async def of_video(self, caller: SessionClaims | None, video_id: str) -> VideoTranscode | None:
        """The video's latest job (None when it has none) and, once playable, its renditions."""
        if not video_id.strip():
            problems = ValidationErrors()
            problems.add("video_id", "is required")
            problems.raise_if_any()
        async with self._unit("read") as work:
            job = await work.jobs.latest(video_id)
        if job is None:
            return None
        check_organization(caller, job.organization_id)
        live = await self._board.live(str(job.id)) if not job.status.is_final else None
        view = domain.job_view(job, live)
        return VideoTranscode(view, view.renditions if view.playable else ())
