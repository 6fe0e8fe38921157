"""The reconciler: transcode jobs PostgreSQL says are live but RQ has lost are queued again.

PostgreSQL is the record of every job; Redis only carries the work. A Redis restarted
without its data (no RDB, no AOF, as shipped) forgets every queued job, every retry
waiting in the scheduler and every running one, while ``transcode.jobs`` still says
``queued`` or ``running``: without this, such a job would wait for ever.

transcode_svc sweeps once at start and then every TRANSCODE_RECONCILE_SECONDS
(:func:`run_forever`). A sweep reads the live jobs from PostgreSQL, looks each one up
in RQ (:func:`observe`: the job hash, the queue, the scheduled and started registries
and the heartbeat there), and re-enqueues those :func:`needs_enqueue` picks, a pure
rule. Several replicas, or a sweep repeated at once, never queue a job twice: only one
replica sweeps per interval (a Redis lock), and each re-enqueue looks again and decides
again under the job's own lock in :func:`transcode_svc.adapters.enqueue_job`, with the
job's deterministic RQ id.

A job someone may be handling right now is left alone: one whose row changed within
the quiet period (StartTranscode between its commit and its enqueue; a work horse,
which flushes progress every TRANSCODE_PROGRESS_FLUSH_SECONDS, still encoding after its
worker lost Redis), and one whose RQ heartbeat lapsed or that RQ ended only moments ago
(RQ's own maintenance retries abandoned jobs, and a failure callback may be writing).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.job import JobStatus as RqJobStatus
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service_kit.settings import Settings
from transcode_svc import adapters, store
from transcode_svc.domain import JobStatus

log = logging.getLogger(__name__)

QUIET_SECONDS_MIN = 15.0
"""The shortest quiet period: a live job changed or ended in RQ more recently is left alone."""
SWEEP_LOCK_KEY = "transcode:reconcile-lock"


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
    def of(cls, row: store.JobRow) -> LiveJob:
        return cls(str(row.id), row.job_status, row.updated_at, row.probe_facts.duration_seconds)


def quiet_seconds(settings: Settings) -> float:
    """How long a live job must have been left alone before it counts as lost (seconds).

    Three progress flushes, so that a running horse that lost its worker is never taken
    for lost while it still writes; never less than :data:`QUIET_SECONDS_MIN`.
    """
    return max(QUIET_SECONDS_MIN, 3 * settings.transcode.progress_flush_seconds)


def needs_enqueue(job: LiveJob, sighting: Sighting, now: datetime, quiet: float) -> bool:
    """Whether ``job`` must be put in the queue again: PostgreSQL says live, RQ has lost it.

    ``now`` and the job's times are aware datetimes; ``quiet`` in seconds. A final job
    never; a job whose row changed within ``quiet`` not yet; a job RQ does not know, yes;
    one RQ holds (queued, scheduled, running with a heartbeat) no; one whose heartbeat
    lapsed or that RQ ended without the row following, once that is ``quiet`` old.
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


def _when(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


def observe(connection: redis.Redis[bytes], job_id: str, now: datetime) -> Sighting:
    """Look the transcode job up in RQ: hash, queue, scheduled and started registries."""
    rq_id = adapters.rq_job_id(job_id)
    try:
        job = Job.fetch(rq_id, connection=connection)
    except NoSuchJobError:
        return Sighting(RqState.MISSING)
    status = job.get_status(refresh=False)
    queue = Queue(adapters.TRANSCODE_QUEUE, connection=connection)
    if status == RqJobStatus.QUEUED:
        taken = queue.intermediate_queue.key
        waiting = queue.get_job_position(rq_id) is not None or connection.lpos(taken, rq_id) is not None
        return Sighting(RqState.WAITING if waiting else RqState.MISSING)
    if status == RqJobStatus.SCHEDULED:
        scheduled = connection.zscore(queue.scheduled_job_registry.key, rq_id) is not None
        return Sighting(RqState.WAITING if scheduled else RqState.MISSING)
    if status == RqJobStatus.STARTED:
        started_key = queue.started_job_registry.key
        scores = [score for _, score in connection.zscan_iter(started_key, match=f"{rq_id}:*")]
        if scores and max(scores) > now.timestamp():
            return Sighting(RqState.RUNNING)
        lapsed = _when(max(scores)) if scores else (job.last_heartbeat or job.started_at)
        return Sighting(RqState.ABANDONED, lapsed)
    if status in (RqJobStatus.FINISHED, RqJobStatus.FAILED, RqJobStatus.STOPPED, RqJobStatus.CANCELED):
        return Sighting(RqState.ENDED, job.ended_at)
    return Sighting(RqState.WAITING)  # deferred, created, rate-limited: RQ will move it on


def requeue_lost(
    connection: redis.Redis[bytes], settings: Settings, jobs: Sequence[LiveJob], quiet: float
) -> list[str]:
    """Re-enqueue those of ``jobs`` RQ has lost; returns their ids. Synchronous (RQ is)."""
    requeued: list[str] = []
    for job in jobs:
        try:
            if _requeue_if_lost(connection, settings, job, quiet):
                log.warning("transcode job re-enqueued: RQ had lost it", extra={"job_id": job.job_id})
                requeued.append(job.job_id)
        except redis.RedisError:
            raise  # Redis is away: the whole sweep waits for the next round
        except Exception:  # one odd job must not keep the others from being recovered
            log.exception("transcode job not reconciled", extra={"job_id": job.job_id})
    return requeued


def _requeue_if_lost(connection: redis.Redis[bytes], settings: Settings, job: LiveJob, quiet: float) -> bool:
    if not needs_enqueue(job, observe(connection, job.job_id, datetime.now(UTC)), datetime.now(UTC), quiet):
        return False

    def still_lost(_: Job | None) -> bool:
        """Decided again under the job's lock: another sweeper may have queued it meanwhile."""
        now = datetime.now(UTC)
        return needs_enqueue(job, observe(connection, job.job_id, now), now, quiet)

    return adapters.enqueue_job(connection, settings, job.job_id, job.duration_seconds, decide=still_lost)


async def sweep(
    sessions: async_sessionmaker[AsyncSession],
    connection: redis.Redis[bytes],
    settings: Settings,
    *,
    quiet: float | None = None,
) -> list[str]:
    """One pass: the live jobs from PostgreSQL, each looked up in RQ; the lost ones queued again.

    ``quiet`` defaults to :func:`quiet_seconds`. Returns the ids re-enqueued.
    """
    async with sessions() as session:
        rows = await store.live_jobs(session)
    jobs = [LiveJob.of(row) for row in rows]
    if not jobs:
        return []
    wait = quiet_seconds(settings) if quiet is None else quiet
    return await asyncio.to_thread(requeue_lost, connection, settings, jobs, wait)


def _take_turn(connection: redis.Redis[bytes], seconds: int) -> bool:
    """One replica sweeps per interval: the lock lapses just before the next one is due."""
    return bool(connection.set(SWEEP_LOCK_KEY, b"1", nx=True, ex=max(1, seconds - 1)))


async def run_forever(
    sessions: async_sessionmaker[AsyncSession], connection: redis.Redis[bytes], settings: Settings
) -> None:
    """Sweep now, then every TRANSCODE_RECONCILE_SECONDS, until cancelled; an outage only skips a round."""
    interval = settings.transcode.reconcile_seconds
    while True:
        try:
            if await asyncio.to_thread(_take_turn, connection, interval):
                requeued = await sweep(sessions, connection, settings)
                if requeued:
                    log.warning("reconciler re-enqueued lost transcode jobs", extra={"count": len(requeued)})
        except (redis.RedisError, SQLAlchemyError, OSError) as exc:
            log.warning("reconcile sweep skipped", extra={"error": str(exc)})
        except Exception:  # a surprise must not end the sweeps for the life of the process
            log.exception("reconcile sweep failed")
        await asyncio.sleep(interval)
