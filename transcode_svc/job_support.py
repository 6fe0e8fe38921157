"""What every transcode job function shares: sessions, the cancel flag, progress, the poster, verdicts.

Used by the single-pass job (:mod:`transcode_svc.jobs`), the coordinator of a chunked job
(:mod:`transcode_svc.chunked`) and chunk tickets (:mod:`transcode_svc.chunk_work`), all in
RQ work horses: synchronous code, one engine per database URL per process.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from service_kit.settings import Settings
from transcode_svc import adapters, domain, ladder, metrics, store
from transcode_svc.domain import JobStatus, Progress, RenditionPlan

log = logging.getLogger(__name__)

MISSED_BEATS = 3
"""Heartbeats (TRANSCODE_HEARTBEAT_SECONDS) a running job, or a chunk's holder, may miss before it counts as gone."""
CANCEL_POLL_SECONDS = 0.5
REDIS_PROGRESS_MIN_INTERVAL = 0.5
"""Progress reaches Redis at most this often (PostgreSQL every TRANSCODE_PROGRESS_FLUSH_SECONDS)."""
"""How often Redis is asked whether the job was cancelled."""


@functools.cache
def _engine(url: str) -> Engine:
    # A coordinator uses three at once: its claims, its playlist publisher and a chunk's uploader.
    return create_engine(url, pool_size=4, pool_pre_ping=True)


def sessions_for(settings: Settings) -> sessionmaker[Session]:
    return sessionmaker(_engine(settings.database_url), expire_on_commit=False)


def thread_in_this_context(target: Callable[[], None], name: str) -> threading.Thread:
    """A daemon thread that sees the job's context variables, so its log lines carry the job id."""
    context = contextvars.copy_context()
    return threading.Thread(target=context.run, args=(target,), name=name, daemon=True)


class Poller(ABC):
    """A thread calling :meth:`tick` every ``interval`` seconds until stopped; what it raises waits for its owner.

    The publishers and chunk recorders that upload while FFmpeg encodes are pollers: the
    encoder never waits on the network, and a failed upload stops FFmpeg (the owner's
    ``should_stop`` reads :attr:`failed`) and is raised by :meth:`finish`, so the
    attempt fails as a whole rather than publishing a video with holes.
    """

    def __init__(self, name: str, interval: float) -> None:
        self._interval = interval
        self._halt = threading.Event()
        self._error: BaseException | None = None
        self._thread = thread_in_this_context(self._run, name)

    @abstractmethod
    def tick(self) -> None:
        """One pass of the work; what it raises ends the thread and reaches the owner."""

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._halt.wait(self._interval):
                self.tick()
        except BaseException as exc:  # raised by finish() in the owner's thread
            self._error = exc

    @property
    def failed(self) -> bool:
        """Whether a tick raised: encoding on would be for nothing."""
        return self._error is not None

    @property
    def error(self) -> BaseException | None:
        return self._error

    def raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def finish(self) -> None:
        """Stop the thread, raise what it hit, then tick once more for what is left."""
        self._halt.set()
        self._thread.join()
        self.raise_if_failed()
        self.tick()

    def abandon(self) -> None:
        """Stop the thread without a last tick (the attempt is ending anyway)."""
        self._halt.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)


class CancelWatch:
    """Whether the job was cancelled: its Redis flag, asked at most every CANCEL_POLL_SECONDS.

    Called as ``should_stop`` by FFmpeg's runner; :meth:`is_set` answers from what the
    last call saw, without asking again.
    """

    def __init__(self, board: adapters.ProgressBoard, job_id: str) -> None:
        self._board = board
        self._job_id = job_id
        self._last = 0.0
        self._cancelled = False

    def __call__(self) -> bool:
        now = time.monotonic()
        if not self._cancelled and now - self._last >= CANCEL_POLL_SECONDS:
            self._last = now
            self._cancelled = self._board.is_cancelled(self._job_id)
        return self._cancelled

    def is_set(self) -> bool:
        return self._cancelled


class Reporter:
    """Progress of one attempt: Redis on every FFmpeg report (throttled), PostgreSQL every few seconds."""

    def __init__(
        self,
        board: adapters.ProgressBoard,
        sessions: sessionmaker[Session],
        job_id: uuid.UUID,
        duration_seconds: float,
        flush_seconds: float,
        start: Progress,
    ) -> None:
        self._board = board
        self._sessions = sessions
        self._job_id = job_id
        self._duration = duration_seconds
        self._flush_seconds = flush_seconds
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self.progress = start
        self._last_redis = 0.0
        self._last_db = time.monotonic()

    def encoded(self, seconds: float) -> None:
        percent = domain.encoded_percent(seconds, self._duration)
        eta = domain.eta_seconds(time.monotonic() - self._started, seconds, self._duration)
        with self._lock:
            self.progress = self.progress.advanced(percent, eta)
        self._report()

    def elapsed_seconds(self) -> float:
        return round(time.monotonic() - self._started, 2)

    def playable(self) -> None:
        with self._lock:
            self.progress = Progress(self.progress.percent, self.progress.eta_seconds, True)
        self._report(force=True)

    def _report(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_redis >= REDIS_PROGRESS_MIN_INTERVAL:
            self._last_redis = now
            self._board.publish(str(self._job_id), self.progress, JobStatus.RUNNING.value)
        if force or now - self._last_db >= self._flush_seconds:
            self._last_db = now
            with self._sessions.begin() as session:
                store.flush_progress_sync(session, self._job_id, self.progress)


def blame_source(outputs: adapters.OutputStore, source_key: str, error: ladder.LadderError) -> str:
    """FFmpeg failed: return its reason when the source is at fault, raise when the store is.

    Raises :class:`adapters.StoreUnavailable` (the store is away: wait),
    :class:`adapters.SourceMissing` (404: final), or :class:`adapters.StorageError` when
    FFmpeg's reason is a lost connection to a store that answers again (RQ retries).
    """
    outputs.confirm_source(source_key)
    if domain.is_network_failure(error.reason):
        raise adapters.StorageError(f"FFmpeg lost its connection to the object store: {error.reason}")
    return error.reason


def seconds_since(created_at: datetime) -> float:
    """Seconds since the job's row was written (StartTranscode): the worker's clock against the servicer's."""
    return round((store.utcnow() - created_at).total_seconds(), 3)


class PosterTask:
    """The poster, extracted beside the ladder once the video is playable (or at the end).

    Not at the start: its FFmpeg decodes up to a GOP of the source and would take CPU
    from the first segments, which is what a waiting user needs first. A poster
    failure never fails the job.
    """

    def __init__(
        self,
        outputs: adapters.OutputStore,
        source: str,
        workdir: Path,
        plans: Sequence[RenditionPlan],
        duration_seconds: float,
        video_id: str,
        picture: domain.PicturePlan | None = None,
        *,
        timeout_seconds: float = ladder.POSTER_TIMEOUT_SECONDS,
    ) -> None:
        self._outputs = outputs
        self._timeout_seconds = timeout_seconds
        self._source = source
        self._workdir = workdir
        self._plans = plans
        self._duration_seconds = duration_seconds
        self._video_id = video_id
        self._picture = picture
        self._thread = thread_in_this_context(self._run, "poster")
        self._lock = threading.Lock()
        self._store_error: adapters.StoreUnavailable | None = None

    def start(self) -> None:
        """Begin extracting, once; later calls do nothing."""
        with self._lock:
            if self._thread.ident is None:
                self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        with self._lock:
            started = self._thread.ident is not None
        if started:
            self._thread.join(timeout)

    def raise_if_store_was_away(self) -> None:
        """Raise the StoreUnavailable that cost the poster: the attempt waits and runs again."""
        if self._store_error is not None:
            raise self._store_error

    def _run(self) -> None:
        try:
            path = ladder.make_poster(
                self._source,
                self._workdir,
                self._plans,
                self._duration_seconds,
                self._picture,
                timeout_seconds=self._timeout_seconds,
            )
            self._outputs.put_file(path, domain.output_key(self._video_id, domain.POSTER))
        except adapters.StoreUnavailable as exc:
            self._store_error = exc
        except ladder.LadderError as exc:
            if not self._outputs.reachable():
                self._store_error = adapters.StoreUnavailable(f"the poster could not read the source: {exc.reason}")
            else:
                log.warning("no poster", extra={"video_id": self._video_id, "error": str(exc)})
        except (adapters.StorageError, OSError) as exc:
            log.warning("no poster", extra={"video_id": self._video_id, "error": str(exc)})


def record_final_failure(
    sessions: sessionmaker[Session], board: adapters.ProgressBoard, job_uuid: uuid.UUID, reason: str, kind: str
) -> None:
    with sessions.begin() as session:
        won = store.finish_sync(session, job_uuid, JobStatus.FAILED, error_reason=reason)
    if won:
        board.publish(str(job_uuid), Progress(), JobStatus.FAILED.value)
        metrics.failed(kind)
