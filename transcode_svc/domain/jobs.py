"""A transcode job: where it stands, its progress and ETA, how long it may run, why it failed.

The record of a job (:class:`TranscodeJob`, as PostgreSQL keeps it), the live progress
workers publish (:class:`LiveProgress`, Redis), and the job as callers see it, the two
merged (:func:`job_view`).
"""

from __future__ import annotations

import enum
import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from transcode_svc.domain.playlists import PublishedRendition, nominal, published
from transcode_svc.domain.renditions import ProbeFacts, UnsupportedSource, plan_renditions


class JobStatus(enum.Enum):
    """Where a transcode job stands; the values are the database's."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


@dataclass(frozen=True)
class Progress:
    """A job's progress as users see it: never backwards, 100 only when done."""

    percent: int = 0
    eta_seconds: int = 0
    playable: bool = False

    def advanced(self, percent: int, eta_seconds: int, playable: bool = False) -> Progress:
        """This progress moved forward; a lower percent (a retried attempt) keeps the old one."""
        if percent < self.percent:
            return replace(self, playable=self.playable or playable)
        return Progress(percent, eta_seconds, self.playable or playable)

    def finished(self) -> Progress:
        return Progress(100, 0, True)


def encoded_percent(encoded_seconds: float, duration_seconds: float) -> int:
    """Share of the source encoded, 0 to 99: 100 is kept for "published and ready"."""
    if duration_seconds <= 0 or encoded_seconds <= 0:
        return 0
    return max(0, min(99, math.floor(encoded_seconds / duration_seconds * 100)))


def eta_seconds(elapsed_seconds: float, encoded_seconds: float, duration_seconds: float) -> int:
    """Seconds left if the rest goes at the pace so far; 0 when there is no pace yet."""
    if encoded_seconds <= 0 or duration_seconds <= 0 or elapsed_seconds <= 0:
        return 0
    remaining = max(0.0, duration_seconds - encoded_seconds)
    return math.ceil(remaining * elapsed_seconds / encoded_seconds)


@dataclass(frozen=True)
class Timeouts:
    """How long FFmpeg may run, and the RQ job around it (which must outlive FFmpeg)."""

    ffmpeg_seconds: int
    job_seconds: int


FFMPEG_BASE_SECONDS = 120
"""Start-up, probing and the poster, whatever the length."""
PUBLISH_MARGIN_SECONDS = 300
"""The job's own work after FFmpeg: final playlists, orphan clean-up, database."""


def job_timeouts(duration_seconds: float, seconds_per_source_second: float) -> Timeouts:
    """Timeouts that scale with the source: a 2-hour lecture is not a stuck 2-minute clip.

    ``seconds_per_source_second`` is the slowest pace still considered alive
    (TRANSCODE_TIMEOUT_FACTOR); the RQ job gets a margin on top so that FFmpeg's own
    timeout always fires first and the job can record why.
    """
    ffmpeg = FFMPEG_BASE_SECONDS + math.ceil(max(0.0, duration_seconds) * seconds_per_source_second)
    return Timeouts(ffmpeg, ffmpeg + PUBLISH_MARGIN_SECONDS)


def retry_intervals(max_attempts: int, intervals: Sequence[int]) -> list[int]:
    """Back-off before each retry: the configured list, its last value repeated as needed."""
    retries = max(0, max_attempts - 1)
    if not intervals:
        return [0] * retries
    return [intervals[min(i, len(intervals) - 1)] for i in range(retries)]


NETWORK_FAILURE_MARKERS = (
    "connection refused",
    "connection reset",
    "connection timed out",
    "operation timed out",
    "network is unreachable",
    "no route to host",
    "broken pipe",
    "server returned 5",
    "stream ends prematurely",
    "will reconnect",
    "input/output error",
)
"""Lower-case fragments of FFmpeg's words (its http and tcp protocols) for a read that failed in transit."""


def is_network_failure(reason: str) -> bool:
    """Whether FFmpeg's reason says the source could not be read in transit, not that it is bad media."""
    lowered = reason.lower()
    return any(marker in lowered for marker in NETWORK_FAILURE_MARKERS)


def failure_reason(stderr_tail: str) -> str:
    """FFmpeg's reason in words: its last meaningful error lines, without paths or noise."""
    lines = [line.strip() for line in stderr_tail.splitlines() if line.strip()]
    meaningful = [
        line
        for line in lines
        if not line.startswith(("frame=", "size=", "Press [q]", "video:", "[out#", "Conversion failed"))
    ]
    chosen = meaningful[-3:] if meaningful else lines[-1:]
    text = "; ".join(chosen)
    text = re.sub(r"(/[^\s:;'\"]+)+", "the source", text)
    text = re.sub(r"https?://\S+", "the source", text)
    return (text or "FFmpeg failed without saying why")[:500]


# ---- a job as recorded, and as callers see it -------------------------------------------------


@dataclass(frozen=True)
class TranscodeJob:
    """One attempt to transcode a video, as PostgreSQL records it.

    ``progress`` is the last flush (every TRANSCODE_PROGRESS_FLUSH_SECONDS): Redis has
    the live value while the job runs (:class:`LiveProgress`). ``renditions`` are the
    published ones, empty until the job succeeds.
    """

    id: uuid.UUID
    video_id: str
    organization_id: str
    course_id: str
    """The video's course, whose staff manage the job; "" for jobs recorded before courses were."""
    source_key: str
    probe: ProbeFacts
    status: JobStatus
    progress: Progress
    error_reason: str
    attempts: int
    renditions: tuple[PublishedRendition, ...]
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None

    def cancelled(self, at: datetime) -> TranscodeJob:
        """The job once cancelled at ``at``: final, nothing left to wait for, nothing playable."""
        return replace(
            self,
            status=JobStatus.CANCELLED,
            progress=Progress(self.progress.percent, 0, False),
            finished_at=at,
            updated_at=at,
        )


def new_job(
    *,
    job_id: uuid.UUID,
    video_id: str,
    organization_id: str,
    course_id: str,
    source_key: str,
    probe: ProbeFacts,
    now: datetime,
) -> TranscodeJob:
    """A job as StartTranscode records it: queued, nothing done, no attempt yet."""
    return TranscodeJob(
        id=job_id,
        video_id=video_id,
        organization_id=organization_id,
        course_id=course_id,
        source_key=source_key,
        probe=probe,
        status=JobStatus.QUEUED,
        progress=Progress(),
        error_reason="",
        attempts=0,
        renditions=(),
        created_at=now,
        updated_at=now,
    )


@dataclass(frozen=True)
class LiveProgress:
    """What the workers last published of a job in Redis, fresher than the row while it runs."""

    status: str
    """The worker's word for where the job stands (a :class:`JobStatus` value), "" when it said none."""
    percent: int = 0
    eta_seconds: int = 0
    playable: bool = False


@dataclass(frozen=True)
class JobView:
    """A job as callers see it: the row, advanced by live progress, and the renditions it offers.

    Two views are equal exactly when a caller would see no difference, which is how a
    watch knows when to send a new snapshot.
    """

    job_id: str
    video_id: str
    organization_id: str
    status: JobStatus
    progress_percent: int
    eta_seconds: int
    error_reason: str
    attempts: int
    renditions: tuple[PublishedRendition, ...]
    playable: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def offered_renditions(job: TranscodeJob) -> tuple[PublishedRendition, ...]:
    """What the job publishes: the measured renditions once it succeeded, else the planned rungs.

    A source no ladder can be planned from offers nothing (StartTranscode refuses those,
    so only a job recorded before a planning rule changed can be one).
    """
    if job.status is JobStatus.SUCCEEDED and job.renditions:
        return job.renditions
    try:
        plans = plan_renditions(job.probe)
    except UnsupportedSource:
        return ()
    return tuple(published(nominal(plan)) for plan in plans)


def job_view(job: TranscodeJob, live: LiveProgress | None = None) -> JobView:
    """The job as callers see it.

    While the job is not final, Redis's progress advances the row's (never backwards),
    and a worker that says "running" makes a queued row read running. A succeeded job
    is at 100 % and playable; only a failed one has a reason; a final one has no ETA;
    only a running or succeeded job is playable.
    """
    status = job.status
    progress = job.progress
    if live is not None and not status.is_final:
        progress = progress.advanced(live.percent, live.eta_seconds, live.playable)
        if live.status == JobStatus.RUNNING.value and status is JobStatus.QUEUED:
            status = JobStatus.RUNNING
    if status is JobStatus.SUCCEEDED:
        progress = progress.finished()
    return JobView(
        job_id=str(job.id),
        video_id=job.video_id,
        organization_id=job.organization_id,
        status=status,
        progress_percent=progress.percent,
        eta_seconds=0 if status.is_final else progress.eta_seconds,
        error_reason=job.error_reason if status is JobStatus.FAILED else "",
        attempts=job.attempts,
        renditions=offered_renditions(job),
        playable=progress.playable and status in (JobStatus.RUNNING, JobStatus.SUCCEEDED),
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )
