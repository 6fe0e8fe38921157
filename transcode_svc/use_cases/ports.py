"""What transcode_svc's use cases need from the world, as small interfaces (ports).

The use cases decide; these persist and talk. Production implements them in
:mod:`transcode_svc.store` (the unit of work over PostgreSQL) and
:mod:`transcode_svc.adapters` (the RQ queue, live progress in Redis, the bucket); the
tests implement them in a few lines each (``tests/transcode/fakes.py``), so every rule of
a flow (who may, the idempotent start, the clean-up when the queue fails) runs without
a server.

A unit of work is one database transaction: its job repository reads and writes inside
it, ``commit`` makes the writes durable, and leaving it without committing throws them
away. Use cases open one per step and never hold one across a call to the queue, so
no database connection waits on Redis.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Callable
from datetime import datetime
from types import TracebackType
from typing import Protocol

from transcode_svc.domain import LiveProgress, TranscodeJob


class StoreFailed(Exception):
    """The store did not answer or did not take a write (the database refused it or is away).

    A unit of work raises it in place of its driver's errors, so a use case learns that
    a step failed (and that nothing of it was written) without knowing which database is
    behind it.
    """


class QueueFailed(Exception):
    """The job queue (Redis, for RQ) did not answer: nothing was queued."""


class Jobs(Protocol):
    """The transcode jobs of every organization (each use case checks the caller's)."""

    async def get(self, job_id: uuid.UUID, *, for_update: bool = False) -> TranscodeJob | None:
        """The job, or None; ``for_update`` locks its row until the unit of work ends."""
        ...

    async def active(self, video_id: str) -> TranscodeJob | None:
        """The video's queued or running job, if any (there is at most one)."""
        ...

    async def latest(self, video_id: str) -> TranscodeJob | None:
        """The video's most recently created job, whatever its status."""
        ...

    async def add(self, job: TranscodeJob) -> bool:
        """Record a new job; False (nothing written) when the video has an active job already."""
        ...

    async def remove(self, job_id: uuid.UUID) -> None:
        """Forget a job that never reached the queue."""
        ...

    async def record_cancel(self, job: TranscodeJob) -> None:
        """Store ``job``'s cancellation (status, finish time, progress) as decided."""
        ...


class UnitOfWork(Protocol):
    @property
    def jobs(self) -> Jobs: ...

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        """Throw away what was not committed; a driver error leaves as StoreFailed."""
        ...

    async def commit(self) -> None:
        """Make this unit's writes durable; StoreFailed when the store does not take them."""
        ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
"""A fresh unit of work per step: one object cannot serve two transactions at once."""


class JobQueue(Protocol):
    """The queue the workers take jobs from (RQ)."""

    async def enqueue(self, job_id: str, duration_seconds: float) -> bool:
        """Queue the job unless the queue holds it already (idempotent); True when this call queued it.

        Raises QueueFailed when the queue does not answer.
        """
        ...

    async def withdraw(self, job_id: str) -> bool:
        """Take back a job no worker runs yet; False when a worker is running it."""
        ...


class LiveBoard(Protocol):
    """Live progress in Redis: what workers publish, and the cancel flag they poll."""

    async def live(self, job_id: str) -> LiveProgress | None:
        """The job's last published progress; None when no worker published any."""
        ...

    async def raise_cancel_flag(self, job_id: str) -> None:
        """Tell the worker running the job (now or later) to stop."""
        ...

    async def announce(self, job_id: str, status: str) -> None:
        """Record a final status decided here (a cancel) and wake the job's watchers."""
        ...

    def changes(self, job_id: str, poll_seconds: float) -> AsyncGenerator[None]:
        """Yield whenever the job may have changed: a published event, or every ``poll_seconds``.

        A generator, so the watch closes it (and its subscription) as soon as it ends.
        """
        ...


class Outputs(Protocol):
    """The video's HLS files in the bucket."""

    async def delete_outputs(self, video_id: str) -> None:
        """Delete every output of the video (what an interrupted attempt left)."""
        ...


Clock = Callable[[], datetime]
"""The current time, timezone-aware (UTC)."""
