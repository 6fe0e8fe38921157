"""The reconciler: transcode jobs PostgreSQL says are live but RQ has lost are queued again.

PostgreSQL is the record of every job; Redis only carries the work. A Redis restarted
without its data (no RDB, no AOF, as shipped) forgets every queued job, every retry
waiting in the scheduler and every running one, while ``transcode.jobs`` still says
``queued`` or ``running``: without this, such a job would wait for ever.

transcode_svc sweeps once at start and then every TRANSCODE_RECONCILE_SECONDS
(:func:`run_forever`). A sweep reads the live jobs from PostgreSQL, looks each one up
in RQ (:func:`observe`: the job hash, the queue, the scheduled and started registries
and the heartbeat there), and re-enqueues those the domain's rule
(:func:`transcode_svc.domain.needs_enqueue`) says are owed a run. This module is the
loop and the reading of RQ, a background room beside the servicer; the decision is a
plain function. Several replicas, or a sweep repeated at once, never queue a job twice: only one
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
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.job import JobStatus as RqJobStatus
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service_kit.settings import Settings
from transcode_svc import adapters, domain, store
from transcode_svc.domain import LiveJob, RqState, Sighting, needs_enqueue

log = logging.getLogger(__name__)

SWEEP_LOCK_KEY = "transcode:reconcile-lock"


def quiet_seconds(settings: Settings) -> float:
    """The quiet period for this process's flush interval (:func:`transcode_svc.domain.quiet_seconds`)."""
    return domain.quiet_seconds(settings.transcode.progress_flush_seconds)


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
        jobs = [LiveJob.of(job) for job in await store.live_jobs(session)]
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
