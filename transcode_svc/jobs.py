"""The RQ job: transcode one video into HLS, publishing segments while FFmpeg encodes.

``transcode_video(job_id)`` is idempotent: outputs have deterministic keys
(``hls/{video_id}/{rung}/seg_00000.ts``...), so a retried run (after a worker was
killed) overwrites what the dead one wrote, and on success every key under the
video's prefix that the final playlists do not name is deleted: no duplicate, no
orphan. Order: temp files → object keys → database state last.

While FFmpeg runs, a publisher thread uploads each segment once its playlist lists it
(FFmpeg lists a segment only after closing it), then that playlist, so the encoder
never waits on the network. When every rung has a segment, a master playlist goes up
and the job is *playable* (EVENT playlists). At the end the playlists become VOD.

Failures, by whose fault they are:
- The source's: FFmpeg refusing the input (corrupt, unsupported, truncated) while the
  store answers and still has the source is final, with FFmpeg's reason; so is a source
  the store answers 404 for (it was confirmed when the upload completed: deleted since).
- The object store's: no connection, a timeout or a 5xx, from boto3 or as the reason
  FFmpeg could not read (its failure is checked against the store before the source is
  blamed): :class:`transcode_svc.adapters.StoreUnavailable`. The attempt waits for the
  store (probing with back-off) and runs again, for up to TRANSCODE_STORE_WAIT_SECONDS
  in all; only then does the attempt fail. An outage spends no attempts.
- Anything else (the store refusing, FFmpeg losing a connection to a store that is back,
  the database) raises, so RQ retries with back-off up to TRANSCODE_MAX_ATTEMPTS, and
  :func:`record_failure` records the last one.
A cancel (flag in Redis) stops FFmpeg and removes the partial outputs.
"""

from __future__ import annotations

import itertools
import logging
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import redis

from service_kit.context import job_id_var
from service_kit.settings import Settings, load_settings
from transcode_svc import adapters, chunk_work, chunked, domain, ladder, metrics, store
from transcode_svc.domain import JobStatus, Progress, RenditionPlan
from transcode_svc.job_support import (
    CancelWatch,
    Poller,
    PosterTask,
    Reporter,
    blame_source,
    record_final_failure,
    seconds_since,
    sessions_for,
)

log = logging.getLogger(__name__)

PUBLISH_POLL_SECONDS = 0.1
"""How often the publisher looks for finished segments: a segment waits half of it on average
before its upload starts (0.15 s at 0.3; reading four small playlists ten times a second is nothing)."""


class SegmentPublisher(Poller):
    """Uploads finished segments and playlists from FFmpeg's output folder while it runs.

    The master goes up once every rung has a segment, not as soon as the lowest has
    (issue 17 asked which): one FFmpeg feeds every rung from one decoded frame, so the
    highest rung's first segment follows the lowest's by 0.2 to 0.3 s (0.7 s under a
    load of 11 on 2 cores; measured by bench/transcode_job.py). A master naming rungs without segments costs more than
    that: in hls.js 1.7 (web/'s player) a rung whose playlist is not stored yet or
    lists no segment is a LEVEL_LOAD_ERROR or LEVEL_EMPTY_ERROR, answered by a retry
    after a back-off or a switch of rung; and a master naming only some rungs would
    keep players that read it on those, since they never read the master again.
    """

    def __init__(
        self,
        outputs: adapters.OutputStore,
        video_id: str,
        outdir: Path,
        plans: Sequence[RenditionPlan],
        on_playable: Callable[[], None],
        target_duration: int = 0,
    ) -> None:
        self._outputs = outputs
        self._target_duration = target_duration
        self._video_id = video_id
        self._outdir = outdir
        self._plans = plans
        self._on_playable = on_playable
        self._uploaded: dict[str, set[str]] = {plan.name: set() for plan in plans}
        self._started = time.monotonic()
        self._published_playlist: dict[str, str] = {}
        self._playable = False
        super().__init__("segment-publisher", PUBLISH_POLL_SECONDS)

    def tick(self) -> None:
        self.publish_ready()

    def publish_ready(self) -> None:
        """Upload what FFmpeg has finished since the last pass; playlists after their segments."""
        for plan in self._plans:
            playlist_path = self._outdir / plan.name / domain.VARIANT_PLAYLIST
            try:
                text = playlist_path.read_text()
            except FileNotFoundError:
                continue
            if text == self._published_playlist.get(plan.name):
                continue
            uploaded = self._uploaded[plan.name]
            for segment in domain.parse_variant_playlist(text).segments:
                if segment.uri in uploaded:
                    continue
                relative = f"{plan.name}/{segment.uri}"
                found = time.monotonic()
                self._outputs.put_file(self._outdir / relative, domain.output_key(self._video_id, relative))
                if not uploaded:
                    self._log_first_segment(plan.name, found)
                uploaded.add(segment.uri)
            if uploaded:
                self._outputs.put_text(
                    domain.event_playlist(text, self._target_duration),
                    domain.output_key(self._video_id, f"{plan.name}/{domain.VARIANT_PLAYLIST}"),
                )
                self._published_playlist[plan.name] = text
        if not self._playable and all(self._uploaded.values()):
            master = domain.master_playlist([domain.nominal(plan) for plan in self._plans])
            self._outputs.put_text(master, domain.output_key(self._video_id, domain.MASTER_PLAYLIST))
            self._playable = True
            self._on_playable()

    def _log_first_segment(self, rung: str, found: float) -> None:
        """When a rung's first segment was seen and how long its upload took: the stages of time to playable."""
        log.info(
            "first segment published",
            extra={
                "video_id": self._video_id,
                "rung": rung,
                "seen_seconds": round(found - self._started, 3),
                "upload_seconds": round(time.monotonic() - found, 3),
            },
        )


def _stop_check(board: adapters.ProgressBoard, job_id: str, publisher: SegmentPublisher) -> Callable[[], bool]:
    """FFmpeg stops on a cancel, and when the publisher failed (encoding on could not be published)."""
    cancelled = CancelWatch(board, job_id)
    return lambda: publisher.failed or cancelled()


STORE_PROBE_SECONDS = (1.0, 2.0, 3.0, 5.0)
"""Pauses between probes of an unreachable store; the last repeats."""
STORE_RERUNS_MAX = 10
"""Runs again after the store came back, per attempt, before the attempt is given up."""


def wait_for_store(outputs: adapters.OutputStore, until: float) -> bool:
    """Probe the store with back-off until it answers (True) or ``until`` (monotonic) passes (False)."""
    for probe in itertools.count():
        pause = STORE_PROBE_SECONDS[min(probe, len(STORE_PROBE_SECONDS) - 1)]
        if time.monotonic() + pause > until:
            return False
        time.sleep(pause)
        if outputs.reachable():
            return True
    return False  # unreachable: count() never ends


def transcode_video(job_id: str) -> str:
    """RQ entry point: run (or re-run) one transcode job to a final status; returns it.

    An unreachable object store is waited out (see the module's docstring); when it stays
    away past TRANSCODE_STORE_WAIT_SECONDS the last StoreUnavailable reaches RQ, which
    retries the attempt with back-off.
    """
    entered = time.monotonic()
    settings = load_settings()
    job_id_var.set(job_id)
    connection = redis.Redis.from_url(settings.redis_url)
    outputs = adapters.OutputStore(settings)
    give_up_at = time.monotonic() + settings.transcode.store_wait_seconds
    try:
        for rerun in itertools.count():
            try:
                return _transcode(settings, connection, outputs, uuid.UUID(job_id), entered)
            except adapters.StoreUnavailable as exc:
                log.warning("object store unreachable: waiting for it", extra={"error": str(exc), "rerun": rerun})
                if rerun >= STORE_RERUNS_MAX or not wait_for_store(outputs, give_up_at):
                    raise
                log.info("object store answers again: running the job again")
        raise AssertionError("unreachable")  # count() never ends
    finally:
        connection.close()


def _transcode(
    settings: Settings,
    connection: redis.Redis[bytes],
    outputs: adapters.OutputStore,
    job_uuid: uuid.UUID,
    entered: float | None = None,
) -> str:
    """One run of the job; ``entered`` (monotonic) is when the work horse took it, for the hand-off's timings."""
    entered = time.monotonic() if entered is None else entered
    job_id = str(job_uuid)
    sessions = sessions_for(settings)
    board = adapters.ProgressBoard(connection)
    with sessions.begin() as session:
        row = store.get_job_sync(session, job_uuid, for_update=True)
        if row is None:
            log.warning("transcode job vanished", extra={"job_id": job_id})
            return "missing"
        if row.job_status.is_final:
            return row.status
        row.status = JobStatus.RUNNING.value
        row.attempts += 1
        row.started_at = row.started_at or store.utcnow()
        video_id, source_key, probe, start = row.video_id, row.source_key, row.probe_facts, row.progress
        attempt = row.attempts
        created_at = row.created_at
    log.info(
        "transcode started",
        extra={"video_id": video_id, "attempt": attempt, "since_created_seconds": seconds_since(created_at)},
    )
    try:
        outputs.confirm_source(source_key)
    except adapters.SourceMissing as exc:
        outputs.delete_outputs(video_id)
        record_final_failure(sessions, board, job_uuid, str(exc), metrics.SOURCE_MISSING)
        log.info("transcode failed", extra={"video_id": video_id, "reason": str(exc)})
        return JobStatus.FAILED.value
    metrics.ATTEMPTS.inc()
    board.publish(job_id, Progress(start.percent, 0, False), JobStatus.RUNNING.value)
    plans = domain.plan_renditions(probe)
    picture = domain.plan_picture(probe)
    transcode = settings.transcode
    timeouts = domain.job_timeouts(probe.duration_seconds, transcode.timeout_factor)
    options = ladder.LadderOptions.of(transcode)
    reporter = Reporter(board, sessions, job_uuid, probe.duration_seconds, transcode.progress_flush_seconds, start)
    if domain.chunks_wanted(probe.duration_seconds, transcode.chunk_threshold_seconds):
        job = chunk_work.ChunkedJob(
            job_uuid, video_id, source_key, tuple(plans), picture, options, probe.duration_seconds, probe.has_audio
        )
        run = chunked.ChunkedRun(
            settings, connection, outputs, sessions, board, job, reporter, created_at, start.playable
        )
        return chunked.coordinate(run)
    workdir = Path(tempfile.mkdtemp(prefix=f"transcode-{job_id}-"))
    publisher: SegmentPublisher | None = None
    poster: PosterTask | None = None

    def quiesce() -> None:
        """Stop every uploader before deleting, so nothing lands after the clean-up."""
        if publisher is not None:
            publisher.abandon()
        if poster is not None:
            poster.join(timeout=2 * transcode.poster_timeout_seconds + 10)

    try:
        ladder.prepare_outdir(workdir, plans)
        source = outputs.source_url(source_key, expires_in=timeouts.job_seconds + 3600)
        poster = poster_task = PosterTask(
            outputs,
            source,
            workdir,
            plans,
            probe.duration_seconds,
            video_id,
            picture,
            timeout_seconds=transcode.poster_timeout_seconds,
        )

        def on_playable() -> None:
            reporter.playable()
            if not start.playable:  # once per job: a retry of a playable job is not timed again
                metrics.became_playable(created_at)
            log.info(
                "transcode playable",
                extra={
                    "video_id": video_id,
                    "seconds": reporter.elapsed_seconds(),
                    "since_created_seconds": seconds_since(created_at),
                },
            )
            poster_task.start()

        publisher = SegmentPublisher(
            outputs, video_id, workdir, plans, on_playable, target_duration=options.grid.target_duration
        )
        publisher.start()
        command = ladder.build_command(
            source, workdir, plans, has_audio=probe.has_audio, options=options, picture=picture
        )
        encode_started = time.monotonic()
        log.info(
            "ffmpeg started",
            extra={
                "video_id": video_id,
                "setup_seconds": round(encode_started - entered, 3),
                "since_created_seconds": seconds_since(created_at),
            },
        )
        ladder.run_command(
            command,
            on_progress=reporter.encoded,
            should_stop=_stop_check(board, job_id, publisher),
            timeout_seconds=timeouts.ffmpeg_seconds,
        )
        metrics.encoded(probe.duration_seconds, encode_started)
        publisher.finish()
        poster.start()
        poster.join()
        poster.raise_if_store_was_away()
        renditions = ladder.finish_outputs(workdir, plans, options.grid.target_duration)
        expected = _publish_final(outputs, video_id, workdir, renditions)
        outputs.delete_outputs(video_id, keep=expected)
        with sessions.begin() as session:
            won = store.finish_sync(
                session, job_uuid, JobStatus.SUCCEEDED, renditions=store.rendition_records(renditions)
            )
        if not won:
            # Another status got there first. A cancel wins: nothing stays behind. Another
            # attempt's success (a horse that outlived its killed worker) wrote the very
            # same keys, so its outputs stay untouched.
            with sessions.begin() as session:
                settled = store.get_job_sync(session, job_uuid)
            if settled is not None and settled.job_status is JobStatus.CANCELLED:
                outputs.delete_outputs(video_id)
            return settled.status if settled is not None else "missing"
        board.publish(job_id, Progress().finished(), JobStatus.SUCCEEDED.value)
        metrics.succeeded(created_at)
        log.info(
            "transcode succeeded",
            extra={"video_id": video_id, "renditions": [p.name for p in plans], "seconds": reporter.elapsed_seconds()},
        )
        return JobStatus.SUCCEEDED.value
    except ladder.LadderCancelled:
        quiesce()
        if publisher is not None:
            publisher.raise_if_failed()  # the publisher stopped FFmpeg, not a cancel: its error decides
        outputs.delete_outputs(video_id)
        log.info("transcode cancelled", extra={"video_id": video_id})
        metrics.cancelled()
        return JobStatus.CANCELLED.value
    except ladder.LadderError as exc:
        # FFmpeg's verdict on a source the store still serves is final: retrying cannot change it.
        quiesce()
        try:
            reason, kind = blame_source(outputs, source_key, exc), metrics.failure_of(exc)
        except adapters.SourceMissing as missing:
            reason, kind = str(missing), metrics.SOURCE_MISSING
        outputs.delete_outputs(video_id)
        record_final_failure(sessions, board, job_uuid, reason, kind)
        log.info("transcode failed", extra={"video_id": video_id, "reason": reason})
        return JobStatus.FAILED.value
    finally:
        quiesce()
        shutil.rmtree(workdir, ignore_errors=True)


def _publish_final(
    outputs: adapters.OutputStore, video_id: str, workdir: Path, renditions: list[domain.MeasuredRendition]
) -> set[str]:
    """Upload the VOD playlists and the measured master; return every key the video keeps."""
    expected: set[str] = set()
    for rendition in renditions:
        name = rendition.plan.name
        playlist = workdir / name / domain.VARIANT_PLAYLIST
        for segment in domain.parse_variant_playlist(playlist.read_text()).segments:
            relative = f"{name}/{segment.uri}"
            key = domain.output_key(video_id, relative)
            expected.add(key)
        key = domain.output_key(video_id, f"{name}/{domain.VARIANT_PLAYLIST}")
        outputs.put_file(playlist, key)
        expected.add(key)
    master = domain.output_key(video_id, domain.MASTER_PLAYLIST)
    outputs.put_file(workdir / domain.MASTER_PLAYLIST, master)
    expected.add(master)
    if (workdir / domain.POSTER).is_file():
        expected.add(domain.output_key(video_id, domain.POSTER))
    return expected


def record_failure(job: Any, connection: redis.Redis[bytes], exc_type: Any, exc_value: Any, traceback: Any) -> None:
    """RQ failure callback: once no retry is left, the job is FAILED with the error in words.

    RQ calls it on every failure, abandoned runs (a killed worker) included; while
    retries remain the job stays as it is and the next attempt picks it up.
    """
    if job.retries_left:
        return
    job_id = str(job.args[0]) if job.args else ""
    if not job_id:
        return
    settings = load_settings()
    reason = f"gave up after {settings.transcode.max_attempts} attempts: {exc_value or exc_type.__name__}"
    record_final_failure(
        sessions_for(settings),
        adapters.ProgressBoard(connection),
        uuid.UUID(job_id),
        reason[:500],
        metrics.ATTEMPTS_EXHAUSTED,
    )
