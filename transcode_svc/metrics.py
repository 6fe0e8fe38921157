"""What the transcode pipeline measures of itself, and the few calls jobs.py makes to record it.

Recorded in the worker and its work horses (see :mod:`service_kit.job_metrics` for why
through Redis) and served by ``python -m transcode_svc.worker`` on
TRANSCODE_WORKER_METRICS_PORT. Queue depth and waiting time are transcode_svc's
(:mod:`service_kit.queue_metrics`). Kept out of the domain: jobs.py calls these at its
edges, with the facts it already has.
"""

from __future__ import annotations

import time
from datetime import datetime

from service_kit.db import utcnow
from service_kit.job_metrics import JobCounter, JobHistogram, JobMetric
from transcode_svc.ladder import LadderError, LadderTimedOut

SUCCEEDED, FAILED, CANCELLED = "succeeded", "failed", "cancelled"
FFMPEG_FAILED = "FFMPEG_FAILED"
"""FFmpeg refused the input (corrupt, truncated, unsupported): final, FFmpeg's words are in the job."""
FFMPEG_TIMED_OUT = "FFMPEG_TIMED_OUT"
"""FFmpeg ran past 120 s plus TRANSCODE_TIMEOUT_FACTOR times the source duration."""
SOURCE_MISSING = "SOURCE_MISSING"
"""The store answered 404 for the source upload_svc had confirmed (deleted since): final."""
ATTEMPTS_EXHAUSTED = "ATTEMPTS_EXHAUSTED"
"""Every attempt raised (object storage refusing or away too long, database, a killed worker) until
TRANSCODE_MAX_ATTEMPTS."""

JOBS_FINISHED = JobCounter(
    "media_transcode_jobs_finished",
    "Transcode jobs that reached a final status in a worker, by outcome (succeeded, failed, cancelled).",
    ("outcome",),
    known=((SUCCEEDED,), (FAILED,), (CANCELLED,)),
)
JOBS_FAILED = JobCounter(
    "media_transcode_jobs_failed",
    "Transcode jobs that ended failed, by reason"
    " (FFMPEG_FAILED, FFMPEG_TIMED_OUT, SOURCE_MISSING, ATTEMPTS_EXHAUSTED).",
    ("reason",),
    known=((FFMPEG_FAILED,), (FFMPEG_TIMED_OUT,), (SOURCE_MISSING,), (ATTEMPTS_EXHAUSTED,)),
)
ATTEMPTS = JobCounter(
    "media_transcode_attempts",
    "Transcode attempts started (first runs and retries); attempts minus finished jobs are retries.",
)
SPEED = JobHistogram(
    "media_transcode_speed_ratio",
    "Source seconds encoded per wall-clock second by one FFmpeg run of the whole ladder (1 = real time).",
    buckets=(0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0),
)
TIME_TO_PLAYABLE = JobHistogram(
    "media_transcode_time_to_playable_seconds",
    "Seconds from the transcode job's creation (the upload completed) until every rung has a segment online.",
    buckets=(5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 3600.0),
)
TIME_TO_READY = JobHistogram(
    "media_transcode_time_to_ready_seconds",
    "Seconds from the transcode job's creation (the upload completed) until it succeeded, retries included.",
    buckets=(10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 14400.0),
)

WORKER_METRICS: tuple[JobMetric, ...] = (JOBS_FINISHED, JOBS_FAILED, ATTEMPTS, SPEED, TIME_TO_PLAYABLE, TIME_TO_READY)
"""Everything ``python -m transcode_svc.worker`` serves besides its process figures."""


def _since(created_at: datetime) -> float:
    """Seconds since a database time; the worker's clock against the database's (NTP keeps them close)."""
    return max(0.0, (utcnow() - created_at).total_seconds())


def encoded(source_seconds: float, started_monotonic: float) -> None:
    """One FFmpeg run finished: its speed, source seconds per wall second."""
    wall = time.monotonic() - started_monotonic
    if wall > 0 and source_seconds > 0:
        SPEED.observe(source_seconds / wall)


def became_playable(created_at: datetime) -> None:
    TIME_TO_PLAYABLE.observe(_since(created_at))


def succeeded(created_at: datetime) -> None:
    JOBS_FINISHED.inc(outcome=SUCCEEDED)
    TIME_TO_READY.observe(_since(created_at))


def cancelled() -> None:
    JOBS_FINISHED.inc(outcome=CANCELLED)


def failure_of(error: LadderError) -> str:
    """The bounded reason label of FFmpeg's final failure (its own words go to the job, not here)."""
    return FFMPEG_TIMED_OUT if isinstance(error, LadderTimedOut) else FFMPEG_FAILED


def failed(reason: str) -> None:
    JOBS_FINISHED.inc(outcome=FAILED)
    JOBS_FAILED.inc(reason=reason)
