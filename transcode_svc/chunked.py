"""A chunked job's own worker, the coordinator: plan, encode audio and chunks, publish, join once.

A source longer than TRANSCODE_CHUNK_THRESHOLD_SECONDS is not encoded start to end by one
worker. The worker that takes the job (:func:`transcode_svc.jobs.transcode_video`) runs
:func:`coordinate`:

1. records the chunks in PostgreSQL (:func:`transcode_svc.domain.plan_chunks`; a retried
   job keeps the plan and the finished chunks of its earlier attempts), claims the first
   one, and queues a chunk ticket per other chunk so every free worker joins in;
2. encodes the audio once, for the whole source, into its own rendition, in a thread
   beside its chunks (audio costs a few percent of the video);
3. encodes chunks itself (:func:`transcode_svc.chunk_work.encode_chunk`) while chunks
   are pending, then waits for those other workers hold, claiming any whose holder died;
4. meanwhile a publisher thread assembles each rung's EVENT playlist from the chunk table
   (done chunks in order, then what the next has so far), the audio's from its
   encoder, and puts the master up once every rung and the audio have a segment: the
   video is playable from chunk 0's first segment, as a single pass is;
5. when every chunk is done, joins: VOD playlists, the measured master, unlisted keys
   removed and the job SUCCEEDED, all under the job's row lock, in one transaction, so
   the join happens once whatever order the chunks finished in and however many
   coordinators a dead worker left behind.

The join is only playlists: each chunk wrote its final segments (numbered on, on the
source's timeline), so nothing is remuxed or copied.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import redis
from sqlalchemy.orm import Session, sessionmaker

from service_kit.settings import Settings
from transcode_svc import adapters, chunk_work, domain, ladder, metrics, store
from transcode_svc.chunk_work import ChunkedJob, ChunkOutcome, SegmentUploads
from transcode_svc.domain import (
    AUDIO_RENDITION,
    ChunkPlan,
    ChunkProgress,
    JobStatus,
    MeasuredRendition,
    Progress,
    PublishedSegment,
)
from transcode_svc.job_support import (
    CancelWatch,
    Poller,
    PosterTask,
    Reporter,
    blame_source,
    record_final_failure,
    seconds_since,
    thread_in_this_context,
)

log = logging.getLogger(__name__)

PUBLISH_POLL_SECONDS = 0.25
"""How often the coordinator reads the chunk table and publishes what grew."""
WAIT_POLL_SECONDS = 0.25
"""How often a coordinator with nothing to encode looks for a chunk to claim (a dead holder's)."""
STOP_WAIT_SECONDS = 10.0
"""After a cancel or a failure, how long to let other workers' chunks stop before removing outputs."""


class ChunkFailed(Exception):
    """A chunk's FFmpeg refused the source: the job fails with its reason."""


class AudioRendition:
    """The audio rendition: one FFmpeg over the whole source in a thread, its segments uploaded as they close."""

    def __init__(
        self,
        outputs: adapters.OutputStore,
        job: ChunkedJob,
        workdir: Path,
        source: str,
        stop: Callable[[], bool],
        timeout_seconds: int,
    ) -> None:
        (workdir / AUDIO_RENDITION).mkdir(parents=True, exist_ok=True)
        self.uploads = SegmentUploads(outputs, job.video_id, workdir, [AUDIO_RENDITION])
        audio_bitrate = max(plan.audio_bitrate for plan in job.plans)
        self._command = ladder.audio_command(source, workdir, audio_bitrate, options=job.options)
        self._stop = stop
        self._timeout = timeout_seconds
        self.error: BaseException | None = None
        self._thread = thread_in_this_context(self._run, "audio-rendition")

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            ladder.run_command(self._command, should_stop=self._stop, timeout_seconds=self._timeout)
        except BaseException as exc:  # raised by finish() in the coordinator
            self.error = exc

    def finish(self) -> list[PublishedSegment]:
        """Wait for FFmpeg, upload the rest, and return every segment; raise what FFmpeg hit."""
        self._thread.join()
        if self.error is not None:
            raise self.error
        self.uploads.upload_new()
        segments = self.uploads.segments(AUDIO_RENDITION)
        if not segments:
            raise ladder.LadderError("FFmpeg wrote no audio segment")
        return segments

    def abandon(self) -> None:
        self._thread.join(timeout=30)


class ChunkedPublisher(Poller):
    """Publishes a chunked job's EVENT playlists and, once, its master, from the chunk table.

    Only this thread writes a chunked job's playlists, so they never race. A playlist
    only ever grows at its end: what the chunk table shows is published when it extends
    what was published (a chunk claimed again after its holder died starts its list
    over, and is not published until it has caught up).
    """

    def __init__(
        self,
        outputs: adapters.OutputStore,
        sessions: sessionmaker[Session],
        job: ChunkedJob,
        chunks: list[ChunkPlan],
        audio: AudioRendition | None,
        reporter: Reporter,
        on_playable: Callable[[], None],
    ) -> None:
        self._outputs = outputs
        self._sessions = sessions
        self._job = job
        self._chunks = chunks
        self._audio = audio
        self._reporter = reporter
        self._on_playable = on_playable
        self._target = job.options.grid.target_duration
        self._seen: dict[int, datetime] = {}
        self._progress: dict[int, ChunkProgress] = {}
        self._published: dict[str, list[str]] = {plan.name: [] for plan in job.plans}
        if audio is not None:
            self._published[AUDIO_RENDITION] = []
        self.playable = False
        self.all_done = False
        self.failure = ""
        super().__init__("chunk-publisher", PUBLISH_POLL_SECONDS)

    def tick(self) -> None:
        self.publish()

    def publish(self) -> None:
        """One pass: read what changed, publish playlists that grew, the master once, the progress."""
        if self._audio is not None:
            self._audio.uploads.upload_new()
        self._read_chunks()
        progress = list(self._progress.values())
        for plan in self._job.plans:
            self._publish_playlist(plan.name, domain.published_segments(plan.name, progress))
        if self._audio is not None:
            self._publish_playlist(AUDIO_RENDITION, self._audio.uploads.segments(AUDIO_RENDITION))
        if not self.playable and all(self._published.values()):
            master = domain.master_playlist(
                [domain.nominal(plan) for plan in self._job.plans], separate_audio=self._audio is not None
            )
            self._outputs.put_text(master, domain.output_key(self._job.video_id, domain.MASTER_PLAYLIST))
            self.playable = True
            self._on_playable()
        self._reporter.encoded(domain.encoded_seconds(progress, self._chunks))

    def _read_chunks(self) -> None:
        with self._sessions.begin() as session:
            changes = store.chunk_changes_sync(session, self._job.job_id)
            changed = [index for index, _, updated in changes if self._seen.get(index) != updated]
            rows = store.chunks_by_index_sync(session, self._job.job_id, changed) if changed else []
            for row in rows:
                self._seen[row.chunk_index] = row.updated_at
                self._progress[row.chunk_index] = row.progress
                if row.state == "failed" and not self.failure:
                    self.failure = row.error_reason or f"chunk {row.chunk_index} failed"
        self.all_done = bool(changes) and all(state == "done" for _, state, _ in changes)

    def _publish_playlist(self, rung: str, segments: list[PublishedSegment]) -> None:
        published = self._published[rung]
        names = [segment.uri for segment in segments]
        if len(names) <= len(published) or names[: len(published)] != published:
            return
        text = domain.variant_playlist(segments, self._target, ended=False)
        self._outputs.put_text(text, domain.output_key(self._job.video_id, f"{rung}/{domain.VARIANT_PLAYLIST}"))
        self._published[rung] = names


@dataclass(frozen=True)
class ChunkedRun:
    """One attempt of a chunked job, as :func:`transcode_svc.jobs._transcode` set it up."""

    settings: Settings
    connection: redis.Redis[bytes]
    outputs: adapters.OutputStore
    sessions: sessionmaker[Session]
    board: adapters.ProgressBoard
    job: ChunkedJob
    reporter: Reporter
    created_at: datetime
    was_playable: bool


def coordinate(run: ChunkedRun) -> str:
    """Run a chunked job to a final status (see the module's docstring); returns the status.

    Raises :class:`transcode_svc.adapters.StoreUnavailable` (the caller waits for the
    store and runs again) and anything unexpected (RQ retries the job); the chunk table
    keeps what is done for the next attempt.
    """
    job, settings, sessions = run.job, run.settings, run.sessions
    job_id = str(job.job_id)
    transcode = settings.transcode
    cancelled = CancelWatch(run.board, job_id)
    stopping = threading.Event()

    def stop() -> bool:
        return stopping.is_set() or cancelled()

    with sessions.begin() as session:
        chunks = store.add_chunks_sync(
            session,
            job.job_id,
            domain.plan_chunks(job.duration_seconds, job.options.grid, transcode.chunk_seconds),
        )
    first = _claim(run)
    timeouts = domain.job_timeouts(job.duration_seconds, transcode.timeout_factor)
    tickets = adapters.enqueue_chunk_tickets(
        run.connection, job_id, len(chunks) - 1, timeouts.job_seconds + transcode.store_wait_seconds
    )
    log.info(
        "chunked transcode planned",
        extra={"video_id": job.video_id, "chunks": len(chunks), "tickets": tickets, "seconds": job.duration_seconds},
    )
    workdir = Path(tempfile.mkdtemp(prefix=f"transcode-{job_id}-"))
    source = run.outputs.source_url(job.source_key, expires_in=timeouts.job_seconds + 3600)
    audio = AudioRendition(run.outputs, job, workdir, source, stop, timeouts.ffmpeg_seconds) if job.has_audio else None
    poster = PosterTask(
        run.outputs,
        source,
        workdir,
        job.plans,
        job.duration_seconds,
        job.video_id,
        job.picture,
        timeout_seconds=transcode.poster_timeout_seconds,
    )

    def on_playable() -> None:
        run.reporter.playable()
        if not run.was_playable:
            metrics.became_playable(run.created_at)
        log.info(
            "transcode playable",
            extra={
                "video_id": job.video_id,
                "seconds": run.reporter.elapsed_seconds(),
                "since_created_seconds": seconds_since(run.created_at),
            },
        )
        poster.start()

    publisher = ChunkedPublisher(run.outputs, sessions, job, chunks, audio, run.reporter, on_playable)

    def quiesce() -> None:
        stopping.set()
        publisher.abandon()
        if audio is not None:
            audio.abandon()
        poster.join(timeout=2 * transcode.poster_timeout_seconds + 10)

    try:
        if audio is not None:
            audio.start()
        publisher.start()
        _encode_until_done(run, first, publisher, stop)
        audio_segments = audio.finish() if audio is not None else []
        publisher.finish()
        poster.start()
        poster.join()
        poster.raise_if_store_was_away()
        return _join(run, audio_segments)
    except (ladder.LadderCancelled, _Cancelled):
        quiesce()
        _let_chunks_stop(sessions, job.job_id)
        run.outputs.delete_outputs(job.video_id)
        log.info("transcode cancelled", extra={"video_id": job.video_id})
        metrics.cancelled()
        return JobStatus.CANCELLED.value
    except (ladder.LadderError, ChunkFailed) as exc:
        quiesce()
        if isinstance(exc, ladder.LadderError):
            try:
                reason, kind = blame_source(run.outputs, job.source_key, exc), metrics.failure_of(exc)
            except adapters.SourceMissing as missing:
                reason, kind = str(missing), metrics.SOURCE_MISSING
        else:
            reason, kind = str(exc), metrics.FFMPEG_FAILED
        record_final_failure(sessions, run.board, job.job_id, reason, kind)
        _let_chunks_stop(sessions, job.job_id)
        run.outputs.delete_outputs(job.video_id)
        log.info("transcode failed", extra={"video_id": job.video_id, "reason": reason})
        return JobStatus.FAILED.value
    finally:
        quiesce()
        shutil.rmtree(workdir, ignore_errors=True)


class _Cancelled(Exception):
    """The job was cancelled while the coordinator waited for other workers' chunks."""


def _claim(run: ChunkedRun) -> store.ChunkClaim | None:
    with run.sessions.begin() as session:
        return store.claim_chunk_sync(
            session, run.job.job_id, chunk_work.worker_name(), chunk_work.lease_seconds(run.settings)
        )


def _encode_until_done(
    run: ChunkedRun, first: store.ChunkClaim | None, publisher: ChunkedPublisher, stop: Callable[[], bool]
) -> None:
    """Encode chunks while any is pending, then wait until every chunk is done (claiming a dead holder's).

    Raises :class:`ChunkFailed` when a chunk's FFmpeg refused the source,
    :class:`ladder.LadderCancelled` on a cancel, and what the publisher hit.
    """
    claim = first
    while True:
        if publisher.error is not None:
            raise publisher.error
        if publisher.failure:
            raise ChunkFailed(publisher.failure)
        if claim is not None:
            outcome = chunk_work.encode_chunk(run.settings, run.outputs, run.sessions, run.job, claim, stop=stop)
            if outcome is ChunkOutcome.STOPPED:
                raise ladder.LadderCancelled("stopped on request")
            if outcome is ChunkOutcome.FAILED:
                publisher.publish()
                raise ChunkFailed(publisher.failure or "a chunk of the source could not be decoded")
        elif publisher.all_done:
            return
        elif stop():
            raise _Cancelled
        else:
            time.sleep(WAIT_POLL_SECONDS)
        claim = _claim(run)


def _let_chunks_stop(sessions: sessionmaker[Session], job_id: uuid.UUID) -> None:
    """Give other workers' chunks a moment to notice the end (they stop within a cancel poll)."""
    deadline = time.monotonic() + STOP_WAIT_SECONDS
    while time.monotonic() < deadline:
        with sessions.begin() as session:
            rows = store.chunk_rows_sync(session, job_id)
        now = store.utcnow()
        if not any(row.state == "running" and row.lease_until and row.lease_until > now for row in rows):
            return
        time.sleep(WAIT_POLL_SECONDS)


def _join(run: ChunkedRun, audio_segments: list[PublishedSegment]) -> str:
    """The join, once: VOD playlists, measured master, the rest removed, SUCCEEDED, under the row lock.

    A second coordinator (a work horse that outlived its killed worker) waits on the
    lock and then finds the job final: it does nothing, and a cancel that got there
    first wins (its outputs are removed).
    """
    job = run.job
    with run.sessions.begin() as session:
        row = store.get_job_sync(session, job.job_id, for_update=True)
        if row is None:
            return "missing"
        if row.job_status.is_final:
            if row.job_status is JobStatus.CANCELLED:
                run.outputs.delete_outputs(job.video_id)
            return row.status
        chunk_rows = store.chunk_rows_sync(session, job.job_id)
        progress = [chunk.progress for chunk in chunk_rows]
        audio_peak, audio_average = domain.segment_bandwidths(audio_segments)
        expected: set[str] = set()
        renditions: list[MeasuredRendition] = []
        for plan in job.plans:
            segments = domain.published_segments(plan.name, progress)
            hole = domain.hole_in(plan.name, progress)
            if hole is not None:
                window = chunk_rows[hole].plan
                raise ladder.LadderError(
                    f"FFmpeg found no picture between {window.start_seconds:g} s and {window.end_seconds:g} s"
                    " of the source, though later parts have some"
                )
            if not segments:
                raise ladder.LadderError(f"no segment of {plan.name} was encoded")
            peak, average = domain.segment_bandwidths(segments)
            renditions.append(domain.with_measured_bandwidth(plan, peak + audio_peak, average + audio_average))
            expected |= _put_vod(run, plan.name, segments)
        if audio_segments:
            expected |= _put_vod(run, AUDIO_RENDITION, audio_segments)
        master_key = domain.output_key(job.video_id, domain.MASTER_PLAYLIST)
        run.outputs.put_text(domain.master_playlist(renditions, separate_audio=bool(audio_segments)), master_key)
        expected.add(master_key)
        poster_key = domain.output_key(job.video_id, domain.POSTER)
        expected.add(poster_key)
        run.outputs.delete_outputs(job.video_id, keep=expected)
        store.finish_sync(session, job.job_id, JobStatus.SUCCEEDED, renditions=store.rendition_records(renditions))
    run.board.publish(str(job.job_id), Progress().finished(), JobStatus.SUCCEEDED.value)
    metrics.succeeded(run.created_at)
    log.info(
        "transcode succeeded",
        extra={
            "video_id": job.video_id,
            "renditions": [plan.name for plan in job.plans],
            "chunks": len(chunk_rows),
            "seconds": run.reporter.elapsed_seconds(),
        },
    )
    return JobStatus.SUCCEEDED.value


def _put_vod(run: ChunkedRun, rung: str, segments: list[PublishedSegment]) -> set[str]:
    """Upload one rendition's VOD playlist; return its keys (playlist and segments)."""
    video_id = run.job.video_id
    key = domain.output_key(video_id, f"{rung}/{domain.VARIANT_PLAYLIST}")
    target = run.job.options.grid.target_duration
    run.outputs.put_text(domain.variant_playlist(segments, target, ended=True), key)
    return {key} | {domain.output_key(video_id, f"{rung}/{segment.uri}") for segment in segments}
