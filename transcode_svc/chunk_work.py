"""The chunks of a chunked job, encoded by whichever worker is free (issue 17).

A chunk is one window of the source (:class:`transcode_svc.domain.ChunkPlan`) encoded for
every rung by one FFmpeg (:func:`transcode_svc.ladder.chunk_command`), its segments
uploaded to their final keys as FFmpeg closes them. Who encodes which chunk is decided in
PostgreSQL, not by RQ: a worker *claims* the lowest pending chunk under a lease
(:func:`transcode_svc.store.claim_chunk_sync`), records each segment it publishes (which
renews the lease), and marks the chunk done. Two kinds of worker do this:

- the job's own worker, the coordinator (:mod:`transcode_svc.chunked`), between its other
  duties;
- any worker that takes one of the job's *chunk tickets* from the transcode queue:
  :func:`transcode_chunks`, which claims chunks until none is left.

A worker that dies mid-chunk stops renewing; once the lease (three heartbeats,
TRANSCODE_HEARTBEAT_SECONDS) lapses another claims the chunk and encodes it again, to
the same keys. If the first one was only stalled, its next write carries a claim id
that is no longer the chunk's, changes nothing, and tells it to stop.
"""

from __future__ import annotations

import enum
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import redis
from sqlalchemy.orm import Session, sessionmaker

from service_kit.context import job_id_var
from service_kit.settings import Settings, load_settings
from transcode_svc import adapters, domain, ladder, store
from transcode_svc.domain import PicturePlan, PublishedSegment, RenditionPlan
from transcode_svc.job_support import MISSED_BEATS, CancelWatch, Poller, blame_source, sessions_for

log = logging.getLogger(__name__)

UPLOAD_POLL_SECONDS = 0.1
"""How often a chunk's uploader looks for segments FFmpeg has closed."""


def worker_name() -> str:
    """Who holds a chunk, for the chunk table and the logs: host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def lease_seconds(settings: Settings) -> float:
    return float(settings.transcode.heartbeat_seconds * MISSED_BEATS)


@dataclass(frozen=True)
class ChunkedJob:
    """What every chunk of one job is encoded from: the source and the plans (from the job's row)."""

    job_id: uuid.UUID
    video_id: str
    source_key: str
    plans: tuple[RenditionPlan, ...]
    picture: PicturePlan
    options: ladder.LadderOptions
    duration_seconds: float
    has_audio: bool

    @classmethod
    def of(cls, row: store.JobRow, settings: Settings) -> ChunkedJob:
        probe = row.probe_facts
        return cls(
            job_id=row.id,
            video_id=row.video_id,
            source_key=row.source_key,
            plans=tuple(domain.plan_renditions(probe)),
            picture=domain.plan_picture(probe),
            options=ladder.LadderOptions.of(settings.transcode),
            duration_seconds=probe.duration_seconds,
            has_audio=probe.has_audio,
        )


class SegmentUploads:
    """Uploads the segments of some rungs from a local FFmpeg output folder as FFmpeg closes them.

    FFmpeg lists a segment in its playlist only once the segment is closed, so what the
    local playlist lists is complete. Segments keep FFmpeg's names (numbered on from
    the chunk's first segment) under ``hls/{video_id}/{rung}/``.
    """

    def __init__(self, outputs: adapters.OutputStore, video_id: str, outdir: Path, rungs: Sequence[str]) -> None:
        self._outputs = outputs
        self._video_id = video_id
        self._outdir = outdir
        self._lock = threading.Lock()
        self._published: dict[str, list[PublishedSegment]] = {rung: [] for rung in rungs}

    def upload_new(self) -> bool:
        """Upload what FFmpeg closed since the last call, in order; True if anything went up."""
        changed = False
        for rung, published in self._published.items():
            try:
                text = (self._outdir / rung / domain.VARIANT_PLAYLIST).read_text()
            except FileNotFoundError:
                continue
            for segment in domain.parse_variant_playlist(text).segments[len(published) :]:
                path = self._outdir / rung / segment.uri
                self._outputs.put_file(path, domain.output_key(self._video_id, f"{rung}/{segment.uri}"))
                with self._lock:
                    published.append(PublishedSegment(segment.uri, segment.duration, path.stat().st_size))
                changed = True
        return changed

    def segments(self, rung: str) -> list[PublishedSegment]:
        with self._lock:
            return list(self._published[rung])

    def records(self) -> dict[str, list[list[object]]]:
        """The chunk table's JSON of what went up: ``{rung: [[uri, seconds, bytes], ...]}``."""
        with self._lock:
            return {rung: [segment.as_record() for segment in listed] for rung, listed in self._published.items()}


class ChunkOutcome(enum.StrEnum):
    DONE = "done"
    LOST = "lost"
    """The claim is no longer ours (the lease lapsed and another took it), or the job ended."""
    STOPPED = "stopped"
    """Asked to stop (a cancel, or the coordinator giving up)."""
    FAILED = "failed"
    """The source is at fault: recorded on the chunk as final, for the coordinator to report."""


class _ChunkRecorder(Poller):
    """The uploader thread of one chunk: segments up, then their record (and a renewed lease)."""

    def __init__(
        self, uploads: SegmentUploads, sessions: sessionmaker[Session], claim: store.ChunkClaim, settings: Settings
    ) -> None:
        self._uploads = uploads
        self._sessions = sessions
        self._claim = claim
        self._lease = lease_seconds(settings)
        self._renew_every = max(1.0, settings.transcode.heartbeat_seconds / 2)
        self.encoded_seconds = 0.0
        self.lost = False
        self._last_record = 0.0
        super().__init__("chunk-uploads", UPLOAD_POLL_SECONDS)

    def tick(self) -> None:
        """Upload what FFmpeg closed; record it (and renew the lease) when anything went up, or when due."""
        if self._uploads.upload_new() or time.monotonic() - self._last_record >= self._renew_every:
            self._last_record = time.monotonic()
            self.record()

    def record(self) -> None:
        with self._sessions.begin() as session:
            held = store.record_chunk_sync(
                session, self._claim, self._uploads.records(), self.encoded_seconds, self._lease
            )
        self.lost = self.lost or not held


def encode_chunk(
    settings: Settings,
    outputs: adapters.OutputStore,
    sessions: sessionmaker[Session],
    job: ChunkedJob,
    claim: store.ChunkClaim,
    *,
    stop: Callable[[], bool],
) -> ChunkOutcome:
    """Encode one claimed chunk for every rung, publishing its segments as they close.

    Returns how it ended (:class:`ChunkOutcome`). Raises
    :class:`transcode_svc.adapters.StoreUnavailable` (the store is away) and anything
    unexpected after giving the chunk back (``pending``, or ``failed`` once it has been
    tried TRANSCODE_MAX_ATTEMPTS times), so another worker can take it.
    """
    chunk = claim.plan
    rungs = [plan.name for plan in job.plans]
    workdir = Path(tempfile.mkdtemp(prefix=f"chunk-{job.job_id}-{chunk.index}-"))
    uploads = SegmentUploads(outputs, job.video_id, workdir, rungs)
    recorder = _ChunkRecorder(uploads, sessions, claim, settings)
    started = time.monotonic()
    timeouts = domain.job_timeouts(chunk.seconds, settings.transcode.timeout_factor)

    def progress(seconds: float) -> None:
        recorder.encoded_seconds = min(seconds, chunk.seconds)

    try:
        ladder.prepare_outdir(workdir, job.plans)
        source = outputs.source_url(job.source_key, expires_in=timeouts.job_seconds + 3600)
        command = ladder.chunk_command(source, workdir, job.plans, chunk, options=job.options, picture=job.picture)
        recorder.start()
        ladder.run_command(
            command,
            on_progress=progress,
            should_stop=lambda: recorder.lost or recorder.failed or stop(),
            timeout_seconds=timeouts.ffmpeg_seconds,
        )
        recorder.finish()
        seconds = round(time.monotonic() - started, 3)
        with sessions.begin() as session:
            held = store.finish_chunk_sync(session, claim, uploads.records(), seconds)
        if not held:
            _release(sessions, claim, "the job ended or another worker took the chunk", final=False)
            return ChunkOutcome.LOST
        log.info(
            "chunk encoded",
            extra={
                "video_id": job.video_id,
                "chunk": chunk.index,
                "start_seconds": chunk.start_seconds,
                "end_seconds": chunk.end_seconds,
                "seconds": seconds,
                "attempt": claim.attempt,
            },
        )
        return ChunkOutcome.DONE
    except ladder.LadderCancelled:
        recorder.abandon()
        if recorder.error is not None:
            _give_back(sessions, claim, settings, recorder.error)
            raise recorder.error from None
        # Given back either way (a no-op when another worker holds it now), so the job's own
        # worker does not wait for a lease to lapse before it cleans up.
        _release(sessions, claim, "stopped", final=False)
        return ChunkOutcome.LOST if recorder.lost else ChunkOutcome.STOPPED
    except ladder.LadderError as exc:
        recorder.abandon()
        try:
            reason = blame_source(outputs, job.source_key, exc)
        except BaseException as blamed:
            _give_back(sessions, claim, settings, blamed)
            raise
        _release(sessions, claim, reason, final=True)
        log.info("chunk failed", extra={"video_id": job.video_id, "chunk": chunk.index, "reason": reason})
        return ChunkOutcome.FAILED
    except BaseException as exc:
        recorder.abandon()
        _give_back(sessions, claim, settings, exc)
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _give_back(
    sessions: sessionmaker[Session], claim: store.ChunkClaim, settings: Settings, exc: BaseException
) -> None:
    """Release a chunk whose encode raised: pending for another try, failed once out of attempts.

    An outage of the store spends no attempt's verdict: the chunk goes back to pending.
    """
    out_of_attempts = claim.attempt >= settings.transcode.max_attempts
    final = out_of_attempts and not isinstance(exc, adapters.StoreUnavailable)
    reason = f"gave up after {claim.attempt} attempts: {exc}" if final else str(exc)
    try:
        _release(sessions, claim, reason, final=final)
    except Exception:  # the database may be what failed: the lease lapses on its own
        log.warning("chunk not released", extra={"chunk": claim.plan.index, "error": str(exc)})


def _release(sessions: sessionmaker[Session], claim: store.ChunkClaim, reason: str, *, final: bool) -> None:
    with sessions.begin() as session:
        store.release_chunk_sync(session, claim, reason, final=final)


# ---- the chunk ticket: RQ's entry point on any worker ----------------------------------------


def transcode_chunks(job_id: str) -> str:
    """RQ entry point of a chunk ticket: claim and encode the job's chunks until none is left.

    Returns how many this worker encoded. A job that is no longer running (done,
    cancelled, failed) hands out no chunk, so a late ticket ends at once. When a cancel
    stops it, the ticket removes the video's outputs after its own last upload (as
    the job's own worker does), so nothing it wrote outlives the cancel.
    """
    settings = load_settings()
    job_id_var.set(job_id)
    job_uuid = uuid.UUID(job_id)
    sessions = sessions_for(settings)
    with sessions.begin() as session:
        row = store.get_job_sync(session, job_uuid)
        if row is None or row.job_status is not domain.JobStatus.RUNNING:
            return "0 chunks: the job is not running"
        job = ChunkedJob.of(row, settings)
    connection = redis.Redis.from_url(settings.redis_url)
    outputs = adapters.OutputStore(settings)
    cancelled = CancelWatch(adapters.ProgressBoard(connection), job_id)
    encoded = 0
    try:
        while True:
            with sessions.begin() as session:
                claim = store.claim_chunk_sync(session, job_uuid, worker_name(), lease_seconds(settings))
            if claim is None:
                return f"{encoded} chunks"
            outcome = encode_chunk(settings, outputs, sessions, job, claim, stop=cancelled)
            if outcome is ChunkOutcome.STOPPED and cancelled.is_set():
                outputs.delete_outputs(job.video_id)
                return f"{encoded} chunks: the job was cancelled"
            if outcome is ChunkOutcome.DONE:
                encoded += 1
    finally:
        connection.close()
