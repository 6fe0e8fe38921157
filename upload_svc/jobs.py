"""The periodic clean-up of uploads, run by RQ (``python -m upload_svc.worker``).

Browsers give up: a tab is closed mid-upload, a multipart upload is never completed.
Every SWEEP_INTERVAL_SECONDS the sweep

1. removes videos still pending after UPLOAD_TTL_SECONDS: aborts their multipart upload
   (freeing the stored parts, which S3 keeps, and bills, until aborted), deletes any
   object under their prefix, then their rows (objects first, rows last, so a failed
   run is finished by the next);
2. aborts open multipart uploads older than the TTL that no row points to any more
   (their row's insert failed after object storage created them);
3. offers verified videos to transcode_svc again when it could not accept them at
   completion (see ``adapters.NOT_ACCEPTING_YET``).

Step 3 also runs on its own, every HAND_OFF_INTERVAL_SECONDS: a transcode_svc restart of
a few seconds must not leave the uploads completed meanwhile waiting a quarter of an
hour for the next sweep (``make resilience`` found exactly that).

Each step is idempotent, so a retried or doubled run does no harm. Runs are scheduled
with RQ's scheduler under one deterministic job id per time slot: every worker may
schedule the next slot, and the slot still runs once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from redis import Redis
from rq import Queue, Retry
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service_kit.db import create_engine, session_factory
from service_kit.settings import Settings, load_settings
from upload_svc import adapters, domain, metrics, store

log = logging.getLogger(__name__)

UPLOAD_QUEUE = "upload"
SWEEP_INTERVAL_SECONDS = 900
SWEEP_BATCH = 100
SWEEP_JOB_TIMEOUT_SECONDS = 600
SWEEP_RETRY = Retry(max=3, interval=[30, 120, 300])
HAND_OFF_INTERVAL_SECONDS = 30
"""How long a video completed while transcode_svc was away waits, at most, to be offered again."""
HAND_OFF_JOB_TIMEOUT_SECONDS = 120


@dataclass
class SweepReport:
    """What one sweep did, returned as the job's result."""

    removed_videos: int = 0
    aborted_orphans: int = 0
    handed_off: int = 0


def sweep_uploads(ttl_seconds: int | None = None) -> dict[str, int]:
    """The RQ job: one sweep, with UPLOAD_TTL_SECONDS unless ``ttl_seconds`` is given."""
    settings = load_settings()
    report = asyncio.run(sweep(settings, settings.upload_ttl_seconds if ttl_seconds is None else ttl_seconds))
    log.info("upload sweep done", extra=asdict(report))
    metrics.swept(report.removed_videos, report.aborted_orphans, report.handed_off)
    return asdict(report)


async def sweep(settings: Settings, ttl_seconds: int) -> SweepReport:
    engine = create_engine(settings.database_url, pool_size=2)
    sessions = session_factory(engine)
    objects = adapters.ObjectStore(settings)
    transcoder = adapters.Transcoder(settings.endpoint("transcode").address, settings.backend_timeout_seconds)
    report = SweepReport()
    cutoff = store.utcnow() - timedelta(seconds=ttl_seconds)
    try:
        while True:
            async with sessions() as session, session.begin():
                batch = await store.abandoned_uploads(session, created_before=cutoff, limit=SWEEP_BATCH)
                for upload, video in batch:
                    if upload.s3_upload_id is not None:
                        await objects.abort_multipart(video.source_key, upload.s3_upload_id)
                    for prefix in domain.video_prefixes(video.organization_id, str(video.id)):
                        await objects.delete_prefix(prefix)
                    await store.delete_video(session, video.id)
                    report.removed_videos += 1
            if len(batch) < SWEEP_BATCH:
                break
        for pending in await objects.pending_multiparts("uploads/"):
            if pending.initiated < cutoff:
                await objects.abort_multipart(pending.key, pending.upload_id)
                report.aborted_orphans += 1
        report.handed_off = await _hand_off_waiting(sessions, transcoder)
    finally:
        await transcoder.close()
        await engine.dispose()
    return report


async def _hand_off_waiting(sessions: async_sessionmaker[AsyncSession], transcoder: adapters.Transcoder) -> int:
    """Offer transcode_svc the verified videos it could not take at completion; how many it took."""
    handed_off = 0
    async with sessions() as session, session.begin():
        for video in await store.videos_awaiting_hand_off(session, limit=SWEEP_BATCH):
            facts = video.probe
            if facts is None:
                continue
            state = await transcoder.hand_off(
                video_id=str(video.id),
                organization_id=video.organization_id,
                course_id=video.course_id,
                source_key=video.source_key,
                facts=facts,
                metadata=(),
            )
            if state is not None:
                video.record_transcode(state)
                handed_off += 1
    return handed_off


async def hand_off(settings: Settings) -> int:
    """Step 3 of the sweep alone: cheap (one indexed query when nothing waits), so it runs often."""
    engine = create_engine(settings.database_url, pool_size=1)
    transcoder = adapters.Transcoder(settings.endpoint("transcode").address, settings.backend_timeout_seconds)
    try:
        return await _hand_off_waiting(session_factory(engine), transcoder)
    finally:
        await transcoder.close()
        await engine.dispose()


def hand_off_uploads() -> dict[str, int]:
    """The RQ job: offer waiting videos to transcode_svc again."""
    handed_off = asyncio.run(hand_off(load_settings()))
    if handed_off:
        log.info("waiting uploads handed to transcode_svc", extra={"handed_off": handed_off})
    metrics.handed_off(handed_off)
    return {"handed_off": handed_off}


def next_slot(now: datetime, interval_seconds: int = SWEEP_INTERVAL_SECONDS) -> datetime:
    """The start of the next interval, on a grid every worker computes the same way."""
    epoch = int(now.timestamp())
    return datetime.fromtimestamp((epoch // interval_seconds + 1) * interval_seconds, UTC)


def schedule_next_sweep(queue: Queue, now: datetime | None = None) -> str:
    """Put the next slot's sweep in RQ's scheduled registry (one job id per slot, so once)."""
    slot = next_slot(now or datetime.now(UTC))
    job_id = f"upload-sweep-{int(slot.timestamp())}"
    queue.enqueue_at(
        slot,
        scheduled_sweep,
        job_id=job_id,
        job_timeout=SWEEP_JOB_TIMEOUT_SECONDS,
        retry=SWEEP_RETRY,
        result_ttl=SWEEP_INTERVAL_SECONDS * 4,
    )
    return job_id


def scheduled_sweep() -> dict[str, int]:
    """A sweep that schedules its successor first, so one failed run never stops the chain."""
    settings = load_settings()
    schedule_next_sweep(Queue(UPLOAD_QUEUE, connection=Redis.from_url(settings.redis_url)))
    return sweep_uploads()


def schedule_next_hand_off(queue: Queue, now: datetime | None = None) -> str:
    """Put the next slot's hand-off in the scheduled registry, once per slot like the sweep.

    No retry: the next slot is HAND_OFF_INTERVAL_SECONDS away and does the same work.
    """
    slot = next_slot(now or datetime.now(UTC), HAND_OFF_INTERVAL_SECONDS)
    job_id = f"upload-hand-off-{int(slot.timestamp())}"
    queue.enqueue_at(
        slot,
        scheduled_hand_off,
        job_id=job_id,
        job_timeout=HAND_OFF_JOB_TIMEOUT_SECONDS,
        result_ttl=HAND_OFF_INTERVAL_SECONDS * 4,
    )
    return job_id


def scheduled_hand_off() -> dict[str, int]:
    """A hand-off that schedules its successor first, so one failed run never stops the chain."""
    settings = load_settings()
    schedule_next_hand_off(Queue(UPLOAD_QUEUE, connection=Redis.from_url(settings.redis_url)))
    return hand_off_uploads()
