"""Which live jobs the queue owes a run: PostgreSQL says queued or running, RQ has lost them.

The rule of :mod:`transcode_svc.reconcile` (which reads RQ and queues again), given a
job's row, what RQ holds of it and the time.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from transcode_svc.domain.jobs import JobStatus, TranscodeJob

QUIET_SECONDS_MIN = 15.0
"""The shortest quiet period: a live job changed or ended in RQ more recently is left alone."""


class RqState(enum.StrEnum):
    """What RQ knows of one transcode job."""

    MISSING = "missing"
    """No RQ job, or one RQ calls queued or scheduled that no queue or registry holds."""
    WAITING = "waiting"
    """In the queue (or taken from it a moment ago), or scheduled for a retry."""
    RUNNING = "running"
    """Started, and its worker's heartbeat is current."""
    ABANDONED = "abandoned"
    """Started, but the heartbeat lapsed: the worker died."""
    ENDED = "ended"
    """RQ finished, failed, stopped or cancelled it."""


@dataclass(frozen=True)
class Sighting:
    """RQ's state of a job, and since when (heartbeat lapse or end; None when unknown)."""

    state: RqState
    since: datetime | None = None


@dataclass(frozen=True)
class LiveJob:
    """The facts of a job's row the rule needs (status, last change) and the enqueue needs (duration)."""

    job_id: str
    status: JobStatus
    updated_at: datetime
    duration_seconds: float

    @classmethod
    def of(cls, job: TranscodeJob) -> LiveJob:
        return cls(str(job.id), job.status, job.updated_at, job.probe.duration_seconds)


def quiet_seconds(progress_flush_seconds: float) -> float:
    """How long a live job must have been left alone before it counts as lost (seconds).

    Three progress flushes (TRANSCODE_PROGRESS_FLUSH_SECONDS), so that a running horse
    that lost its worker is never taken for lost while it still writes; never less than
    :data:`QUIET_SECONDS_MIN`.
    """
    return max(QUIET_SECONDS_MIN, 3 * progress_flush_seconds)


def needs_enqueue(job: LiveJob, sighting: Sighting, now: datetime, quiet: float) -> bool:
    """Whether ``job`` must be put in the queue again: PostgreSQL says live, RQ has lost it.

    ``now`` and the job's times are aware datetimes; ``quiet`` in seconds. A final job
    never; a job whose row changed within ``quiet`` not yet (StartTranscode between its
    commit and its enqueue; a horse still flushing progress); a job RQ does not know,
    yes; one RQ holds (queued, scheduled, running with a heartbeat) no; one whose
    heartbeat lapsed or that RQ ended without the row following, once that is ``quiet``
    old (RQ's own maintenance retries abandoned jobs, and a failure callback may be writing).
    """
    if job.status.is_final:
        return False
    if now - job.updated_at < timedelta(seconds=quiet):
        return False
    if sighting.state is RqState.MISSING:
        return True
    if sighting.state in (RqState.WAITING, RqState.RUNNING):
        return False
    return sighting.since is None or now - sighting.since >= timedelta(seconds=quiet)
