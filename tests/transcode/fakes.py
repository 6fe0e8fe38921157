"""Fakes of transcode_svc's ports, so its use cases run in a test without any server.

``FakeStore`` holds the jobs table as a dict; each ``FakeUnitOfWork`` over it stages its
writes and applies them on ``commit``, or throws them away, as a transaction would, and
refuses a second active job per video as the database's partial unique index does.
``store.refuse_commits`` makes every commit fail and ``store.down`` every read, the way
a database outage does (``StoreFailed``). The queue, the live board and the bucket record
what they were asked and can be told to fail.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncGenerator, Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType

from service_kit.auth import SessionClaims
from transcode_svc.domain import JobStatus, LiveProgress, ProbeFacts, Progress, TranscodeJob, new_job
from transcode_svc.use_cases import QueueFailed, StoreFailed, TranscodeJobs

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
PROBE = ProbeFacts(duration_seconds=30.0, width=1280, height=720, frame_rate=30.0, has_audio=True)


def caller(
    *roles: str, user_id: str = "u-staff", organization_id: str = "org1", course_id: str | None = "c1"
) -> SessionClaims:
    return SessionClaims(user_id, organization_id, course_id, frozenset(roles), issued_at=0, expires_at=2**31)


def a_job(status: JobStatus = JobStatus.QUEUED, **fields: object) -> TranscodeJob:
    """A stored job of video 'v1' in org1's course c1, in the given status."""
    job = new_job(
        job_id=uuid.uuid4(),
        video_id="v1",
        organization_id="org1",
        course_id="c1",
        source_key="uploads/org1/v1/source",
        probe=PROBE,
        now=NOW - timedelta(minutes=5),
    )
    return dataclasses.replace(job, status=status, **fields)  # type: ignore[arg-type]


@dataclasses.dataclass
class FakeStore:
    jobs: dict[uuid.UUID, TranscodeJob] = dataclasses.field(default_factory=dict)
    refuse_commits: bool = False
    down: bool = False
    """Every read fails too: the database cannot be reached."""
    commits: int = 0

    def units(self) -> Callable[[], FakeUnitOfWork]:
        return lambda: FakeUnitOfWork(self)

    def put(self, job: TranscodeJob) -> TranscodeJob:
        self.jobs[job.id] = job
        return job


class _Jobs:
    def __init__(self, work: FakeUnitOfWork) -> None:
        self._work = work
        self._store = work.store

    def _read(self) -> dict[uuid.UUID, TranscodeJob]:
        if self._store.down:
            raise StoreFailed("the fake store is down")
        return self._store.jobs

    async def get(self, job_id: uuid.UUID, *, for_update: bool = False) -> TranscodeJob | None:
        return self._read().get(job_id)

    async def active(self, video_id: str) -> TranscodeJob | None:
        return next(
            (j for j in self._read().values() if j.video_id == video_id and not j.status.is_final),
            None,
        )

    async def latest(self, video_id: str) -> TranscodeJob | None:
        of_video = [j for j in self._read().values() if j.video_id == video_id]
        return max(of_video, key=lambda j: j.created_at, default=None)

    async def add(self, job: TranscodeJob) -> bool:
        if await self.active(job.video_id) is not None:
            return False
        self._work.stage(lambda: self._store.jobs.__setitem__(job.id, job))
        return True

    async def remove(self, job_id: uuid.UUID) -> None:
        self._work.stage(lambda: self._store.jobs.pop(job_id, None))

    async def record_cancel(self, job: TranscodeJob) -> None:
        self._work.stage(lambda: self._store.jobs.__setitem__(job.id, job))


class FakeUnitOfWork:
    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self._staged: list[Callable[[], object]] = []
        self.jobs = _Jobs(self)

    def stage(self, write: Callable[[], object]) -> None:
        self._staged.append(write)

    async def __aenter__(self) -> FakeUnitOfWork:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._staged.clear()

    async def commit(self) -> None:
        if self.store.refuse_commits or self.store.down:
            raise StoreFailed("the fake store refuses writes")
        for write in self._staged:
            write()
        self._staged.clear()
        self.store.commits += 1


class FakeQueue:
    """RQ: the ids queued (once each, as the deterministic RQ id makes it), and the ids withdrawn."""

    def __init__(self) -> None:
        self.queued: list[str] = []
        self.withdrawn: list[str] = []
        self.running: set[str] = set()
        """Ids a worker holds: withdrawing them fails."""
        self.down = False

    async def enqueue(self, job_id: str, duration_seconds: float) -> bool:
        if self.down:
            raise QueueFailed("the fake queue is down")
        if job_id in self.queued:
            return False
        self.queued.append(job_id)
        return True

    async def withdraw(self, job_id: str) -> bool:
        if job_id in self.running:
            return False
        if job_id in self.queued:
            self.queued.remove(job_id)
        self.withdrawn.append(job_id)
        return True


class FakeBoard:
    """Redis's live progress: what workers published, cancel flags raised, statuses announced.

    ``script`` holds what workers will publish next, one entry per change a watch sees;
    each entry also applies to the store (a worker's flush or its final status).
    """

    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self.published: dict[str, LiveProgress] = {}
        self.cancel_flags: list[str] = []
        self.announced: list[tuple[str, str]] = []
        self.script: list[tuple[LiveProgress | None, TranscodeJob | None]] = []

    async def live(self, job_id: str) -> LiveProgress | None:
        return self.published.get(job_id)

    async def raise_cancel_flag(self, job_id: str) -> None:
        self.cancel_flags.append(job_id)

    async def announce(self, job_id: str, status: str) -> None:
        self.announced.append((job_id, status))

    async def changes(self, job_id: str, poll_seconds: float) -> AsyncGenerator[None]:
        while self.script:
            live, row = self.script.pop(0)
            if live is not None:
                self.published[job_id] = live
            if row is not None:
                self.store.jobs[row.id] = row
            await asyncio.sleep(0)
            yield None


class FakeOutputs:
    def __init__(self) -> None:
        self.deleted: list[str] = []

    async def delete_outputs(self, video_id: str) -> None:
        self.deleted.append(video_id)


@dataclasses.dataclass
class Rig:
    """The use cases over fakes, and the fakes to look into."""

    store: FakeStore
    queue: FakeQueue
    board: FakeBoard
    outputs: FakeOutputs
    jobs: TranscodeJobs


def rig(*stored: TranscodeJob) -> Rig:
    store = FakeStore()
    for job in stored:
        store.put(job)
    queue, board, outputs = FakeQueue(), FakeBoard(store), FakeOutputs()
    jobs = TranscodeJobs(uow=store.units(), queue=queue, board=board, outputs=outputs, clock=lambda: NOW)
    return Rig(store, queue, board, outputs, jobs)


def running(job: TranscodeJob, percent: int = 40) -> TranscodeJob:
    """The job as a worker's flush leaves it: running, at ``percent``."""
    return dataclasses.replace(job, status=JobStatus.RUNNING, progress=Progress(percent, 20, False), attempts=1)
