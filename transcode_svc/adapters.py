"""The transcode service's ties to the outside: object storage, Redis progress, the RQ queue.

- :class:`OutputStore`: the bucket (boto3, thread-safe client made once). Workers call
  it directly; the use cases through :class:`AsyncOutputs` (a thread).
- :class:`ProgressBoard`: live progress in Redis, one hash per job plus a pub/sub
  channel, and the cancel flag. Workers write it (sync client); the use cases read and
  watch it (:class:`AsyncProgressBoard`, asyncio client).
- :func:`enqueue_job`: the one RQ enqueue, with deterministic job id, timeouts scaled to
  the source and bounded retries with back-off, under a per-job Redis lock so that the
  use cases and the reconciler (:mod:`transcode_svc.reconcile`) never queue a job twice.
- :class:`RqJobQueue`, :class:`AsyncOutputs` and :class:`AsyncProgressBoard`: the use
  cases' ports over RQ, the bucket and Redis, the synchronous ones in a thread.

Object-store failures come in two kinds: :class:`StoreUnavailable` (no connection, a
timeout, a 5xx: the store is away, the job waits for it, :mod:`transcode_svc.jobs`) and
plain :class:`StorageError` (the store answered and refused: retried as any error is).
"""

from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
from collections.abc import AsyncGenerator, Callable, Iterable
from pathlib import Path
from typing import Any

import boto3.exceptions
import botocore.exceptions
import redis
import redis.asyncio
from botocore.exceptions import BotoCoreError, ClientError
from rq import Callback, Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from service_kit.object_store import s3_client
from service_kit.settings import Settings
from transcode_svc.domain import LiveProgress, Progress, hls_prefix, job_timeouts, retry_intervals
from transcode_svc.use_cases.ports import QueueFailed

log = logging.getLogger(__name__)

TRANSCODE_QUEUE = "transcode"
CONTENT_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t", ".jpg": "image/jpeg"}


class StorageError(Exception):
    """Object storage refused or failed an operation (the job is retried)."""


class StoreUnavailable(StorageError):
    """The object store did not answer, timed out or answered 5xx: an outage, not the job's fault."""


class SourceMissing(StorageError):
    """The store answered 404 for a source that upload_svc had confirmed: it was deleted since."""


def is_unreachable(exc: BaseException) -> bool:
    """True for an outage of the store: no connection, a timeout, or a 5xx answer.

    boto3's ``upload_file`` wraps a ClientError in S3UploadFailedError without a cause,
    so the chain (``__cause__``, then ``__context__``) is followed.
    """
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)):
            return True
        if isinstance(seen, ClientError):
            status = seen.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            return int(status) >= 500
        seen = seen.__cause__ or seen.__context__
    return False


def storage_error(message: str, exc: BaseException) -> StorageError:
    """The exception to raise for a failed store call: :class:`StoreUnavailable` for an outage."""
    kind = StoreUnavailable if is_unreachable(exc) else StorageError
    return kind(f"{message}: {exc}")


STORE_ERRORS = (BotoCoreError, ClientError, boto3.exceptions.S3UploadFailedError)


PROBE_TIMEOUT_SECONDS = 5
"""Connect and read timeout of the probing client: a quick answer to "is the store there?"."""


class OutputStore:
    """The bucket as the transcoder uses it: read the source, write and prune HLS outputs."""

    def __init__(self, settings: Settings) -> None:
        self.bucket = settings.s3_bucket
        self._client = s3_client(settings, max_attempts=5)
        self._probe_client = s3_client(settings, timeout_seconds=PROBE_TIMEOUT_SECONDS, max_attempts=1)

    def source_url(self, key: str, expires_in: int) -> str:
        """A presigned GET FFmpeg reads the source from, seeking with ranges: no download first."""
        return self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
        )

    def confirm_source(self, key: str) -> None:
        """Check the source is still there before (or after) FFmpeg reads it.

        Raises :class:`SourceMissing` on 404, :class:`StoreUnavailable` when the store is
        away, :class:`StorageError` for any other refusal.
        """
        try:
            self._probe_client.head_object(Bucket=self.bucket, Key=key)
        except STORE_ERRORS as exc:
            if isinstance(exc, ClientError) and exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                raise SourceMissing("the source is no longer in the object store") from exc
            raise storage_error(f"checking the source {key} failed", exc) from exc

    def reachable(self) -> bool:
        """Whether the store answers for the bucket now (one quick try, no retries)."""
        try:
            self._probe_client.head_bucket(Bucket=self.bucket)
        except STORE_ERRORS as exc:
            return not is_unreachable(exc)
        return True

    def put_file(self, path: Path, key: str) -> None:
        content_type = CONTENT_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "binary/octet-stream"
        try:
            self._client.upload_file(str(path), self.bucket, key, ExtraArgs={"ContentType": content_type})
        except STORE_ERRORS as exc:
            raise storage_error(f"upload of {key} failed", exc) from exc

    def put_text(self, text: str, key: str) -> None:
        suffix = Path(key).suffix
        try:
            self._client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=text.encode(),
                ContentType=CONTENT_TYPES.get(suffix, "text/plain"),
                CacheControl="no-cache" if suffix == ".m3u8" else "max-age=31536000",
            )
        except STORE_ERRORS as exc:
            raise storage_error(f"upload of {key} failed", exc) from exc

    def list_keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                keys.extend(item["Key"] for item in page.get("Contents", []) if "Key" in item)
        except STORE_ERRORS as exc:
            raise storage_error(f"listing {prefix} failed", exc) from exc
        return keys

    def delete_keys(self, keys: Iterable[str]) -> int:
        batch = list(keys)
        for start in range(0, len(batch), 1000):
            chunk = batch[start : start + 1000]
            try:
                self._client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": key} for key in chunk], "Quiet": True}
                )
            except STORE_ERRORS as exc:
                raise storage_error("deleting outputs failed", exc) from exc
        return len(batch)

    def delete_outputs(self, video_id: str, keep: Iterable[str] = ()) -> int:
        """Delete every output of the video but ``keep``: partial runs and orphans leave nothing."""
        kept = set(keep)
        return self.delete_keys(key for key in self.list_keys(hls_prefix(video_id)) if key not in kept)


# ---- live progress in Redis ------------------------------------------------------------------


def progress_key(job_id: str) -> str:
    return f"transcode:progress:{job_id}"


def events_channel(job_id: str) -> str:
    return f"transcode:events:{job_id}"


def cancel_key(job_id: str) -> str:
    return f"transcode:cancel:{job_id}"


PROGRESS_TTL_SECONDS = 7 * 24 * 3600
"""Live progress outlives any job; PostgreSQL keeps the record after that."""


class ProgressBoard:
    """What workers write while encoding: progress, playable, the final status; and cancel flags."""

    def __init__(self, connection: redis.Redis[bytes]) -> None:
        self._redis = connection

    def publish(self, job_id: str, progress: Progress, status: str) -> None:
        """Store and announce progress; the stored percent never goes down (Lua max, atomically)."""
        fields = {"percent": progress.percent, "eta": progress.eta_seconds, "playable": int(progress.playable)}
        self._redis.eval(  # type: ignore[no-untyped-call]
            _PUBLISH_SCRIPT,
            1,
            progress_key(job_id),
            events_channel(job_id),
            json.dumps(fields),
            status,
            PROGRESS_TTL_SECONDS,
        )

    def current(self, job_id: str) -> dict[str, str]:
        raw = self._redis.hgetall(progress_key(job_id))
        return {k.decode() if isinstance(k, bytes) else str(k): v.decode() for k, v in raw.items()}

    def is_cancelled(self, job_id: str) -> bool:
        return bool(self._redis.exists(cancel_key(job_id)))


# KEYS[1] hash, ARGV: channel, fields json, status, ttl. Percent and playable only rise.
_PUBLISH_SCRIPT = """
local fields = cjson.decode(ARGV[2])
local current = redis.call('HGET', KEYS[1], 'status')
if ARGV[3] == 'running' and (current == 'cancelled' or current == 'failed' or current == 'succeeded') then
  return -1
end
local old = tonumber(redis.call('HGET', KEYS[1], 'percent') or '-1')
local oldplay = tonumber(redis.call('HGET', KEYS[1], 'playable') or '0')
local percent = tonumber(fields['percent'])
if ARGV[3] == 'running' and percent < old then
  percent = old
end
local playable = math.max(tonumber(fields['playable']), oldplay)
if ARGV[3] == 'failed' or ARGV[3] == 'cancelled' then playable = 0 end
redis.call('HSET', KEYS[1], 'percent', percent, 'eta', fields['eta'], 'playable', playable, 'status', ARGV[3])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
redis.call('PUBLISH', ARGV[1], ARGV[3] .. ':' .. percent)
return percent
"""


class AsyncProgressBoard:
    """The use cases' view of live progress: read, watch, and raise the cancel flag."""

    def __init__(self, connection: redis.asyncio.Redis[bytes]) -> None:
        self._redis = connection

    async def current(self, job_id: str) -> dict[str, str]:
        raw = await self._redis.hgetall(progress_key(job_id))
        return {k.decode() if isinstance(k, bytes) else str(k): v.decode() for k, v in raw.items()}

    async def announce(self, job_id: str, status: str) -> None:
        """Record a final status decided here (a cancel) and wake the job's watchers."""
        fields = json.dumps({"percent": 0, "eta": 0, "playable": 0})
        await self._redis.eval(  # type: ignore[no-untyped-call]
            _PUBLISH_SCRIPT, 1, progress_key(job_id), events_channel(job_id), fields, status, PROGRESS_TTL_SECONDS
        )

    async def live(self, job_id: str) -> LiveProgress | None:
        """The job's progress as last published, typed; None when nothing was published."""
        fields = await self.current(job_id)
        if not fields:
            return None
        decoded = decode_status(fields)
        return LiveProgress(decoded["status"], decoded["percent"], decoded["eta"], decoded["playable"])

    async def raise_cancel_flag(self, job_id: str) -> None:
        """The flag the job polls (:meth:`ProgressBoard.is_cancelled`): its worker stops FFmpeg."""
        await self._redis.set(cancel_key(job_id), b"1", ex=PROGRESS_TTL_SECONDS)

    async def changes(self, job_id: str, poll_seconds: float) -> AsyncGenerator[None]:
        """Yield whenever the job may have changed: a published event, or every poll interval.

        Pub/sub makes updates prompt; the poll covers a message missed between a read
        and the subscription, and workers on another Redis connection dying silently.
        """
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(events_channel(job_id))
        try:
            while True:
                await pubsub.get_message(ignore_subscribe_messages=True, timeout=poll_seconds)
                yield None
        finally:
            await pubsub.unsubscribe()
            await pubsub.aclose()  # type: ignore[attr-defined]

    async def close(self) -> None:
        await self._redis.aclose()  # type: ignore[attr-defined]


# ---- the queue -------------------------------------------------------------------------------


def rq_job_id(job_id: str) -> str:
    """One RQ job per transcode job: enqueuing twice never runs it twice."""
    return f"transcode-{job_id}"


ENQUEUE_LOCK_SECONDS = 30
"""How long one caller may hold a job's enqueue lock; a caller that died frees it after this."""


def enqueue_lock_key(job_id: str) -> str:
    return f"transcode:enqueue-lock:{job_id}"


def not_in_rq(existing: Job | None) -> bool:
    """StartTranscode's test: enqueue unless RQ holds the job (queued, scheduled, running, done)."""
    return existing is None or existing.get_status(refresh=True) in (JobStatus.FAILED, JobStatus.CANCELED, None)


def enqueue_job(
    connection: redis.Redis[bytes],
    settings: Settings,
    job_id: str,
    duration_seconds: float,
    *,
    decide: Callable[[Job | None], bool] = not_in_rq,
) -> bool:
    """Queue the job function with a timeout above FFmpeg's own and bounded, spaced retries.

    Runs in a thread (rq is synchronous). Under the job's lock (SET NX, a few seconds)
    ``decide`` is asked, given the RQ job under this id if any, whether to enqueue; a job
    it replaces is removed first, registries included (:func:`_forget`), so RQ's
    maintenance does not also retry it. A caller that finds the lock taken does nothing: the holder is queueing the
    same job. Returns True when this call queued it.

    The timeout covers one run plus TRANSCODE_STORE_WAIT_SECONDS of waiting out an
    unreachable object store (:func:`transcode_svc.jobs.transcode_video`).
    """
    lock = enqueue_lock_key(job_id)
    if not connection.set(lock, b"1", nx=True, ex=ENQUEUE_LOCK_SECONDS):
        return False
    try:
        try:
            existing: Job | None = Job.fetch(rq_job_id(job_id), connection=connection)
        except NoSuchJobError:
            existing = None
        if not decide(existing):
            return False
        if existing is not None:
            _forget(connection, existing)
        transcode = settings.transcode
        timeouts = job_timeouts(duration_seconds, transcode.timeout_factor)
        intervals = retry_intervals(transcode.max_attempts, transcode.retry_intervals)
        Queue(TRANSCODE_QUEUE, connection=connection).enqueue(
            "transcode_svc.jobs.transcode_video",
            job_id,
            job_id=rq_job_id(job_id),
            job_timeout=timeouts.job_seconds + transcode.store_wait_seconds,
            retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
            on_failure=Callback("transcode_svc.jobs.record_failure"),
            result_ttl=24 * 3600,
            failure_ttl=7 * 24 * 3600,
            description=f"transcode {job_id}",
        )
        return True
    finally:
        connection.delete(lock)


def _forget(connection: redis.Redis[bytes], job: Job) -> None:
    """Remove an RQ job from its queue and every registry, then its hash, before it is queued anew.

    Not ``Job.delete``: for a started job RQ 3 reads each execution's hash first and
    raises when a dead worker's has expired, which is exactly the job being replaced.
    """
    queue = Queue(TRANSCODE_QUEUE, connection=connection)
    started = queue.started_job_registry.key
    with connection.pipeline() as pipe:
        pipe.lrem(queue.key, 0, job.id)
        for registry in (
            queue.scheduled_job_registry,
            queue.failed_job_registry,
            queue.finished_job_registry,
            queue.canceled_job_registry,
            queue.deferred_job_registry,
        ):
            pipe.zrem(registry.key, job.id)
        for member, _ in connection.zscan_iter(started, match=f"{job.id}:*"):
            pipe.zrem(started, member)
        pipe.delete(job.key)
        pipe.execute()


def cancel_queued(connection: redis.Redis[bytes], job_id: str) -> bool:
    """Withdraw a job that no worker runs yet; True when it was withdrawn (not running)."""
    try:
        job = Job.fetch(rq_job_id(job_id), connection=connection)
    except NoSuchJobError:
        return True
    status = job.get_status(refresh=True)
    if status == JobStatus.STARTED:
        return False
    if status in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
        job.cancel()
    return True


class RqJobQueue:
    """The use cases' queue (:class:`transcode_svc.use_cases.ports.JobQueue`): RQ, off the event loop.

    RQ is synchronous, so each call runs in a thread over the synchronous connection;
    Redis failing to answer an enqueue becomes QueueFailed.
    """

    def __init__(self, connection: redis.Redis[bytes], settings: Settings) -> None:
        self._connection = connection
        self._settings = settings

    async def enqueue(self, job_id: str, duration_seconds: float) -> bool:
        try:
            return await asyncio.to_thread(enqueue_job, self._connection, self._settings, job_id, duration_seconds)
        except redis.RedisError as exc:
            raise QueueFailed(f"the transcode queue did not answer: {exc.__class__.__name__}") from exc

    async def withdraw(self, job_id: str) -> bool:
        return await asyncio.to_thread(cancel_queued, self._connection, job_id)


class AsyncOutputs:
    """The use cases' view of the bucket (:class:`transcode_svc.use_cases.ports.Outputs`), off the event loop."""

    def __init__(self, outputs: OutputStore) -> None:
        self._outputs = outputs

    async def delete_outputs(self, video_id: str) -> None:
        await asyncio.to_thread(self._outputs.delete_outputs, video_id)


def decode_status(fields: dict[str, str]) -> dict[str, Any]:
    """Typed values of a progress hash (missing fields read as nothing known)."""
    return {
        "percent": int(fields.get("percent", "0") or 0),
        "eta": int(fields.get("eta", "0") or 0),
        "playable": fields.get("playable") == "1",
        "status": fields.get("status", ""),
    }


def chunk_ticket_id(job_id: str, ticket: int) -> str:
    """RQ id of a chunked job's ``ticket``-th chunk ticket (a retried job reuses them)."""
    return f"transcode-chunk-{job_id}-{ticket}"


def enqueue_chunk_tickets(connection: redis.Redis[bytes], job_id: str, count: int, timeout_seconds: int) -> int:
    """Queue ``count`` chunk tickets for a chunked job on the transcode queue; returns how many were queued.

    A ticket is an invitation, not an assignment: the worker that takes it claims
    whichever chunk is pending in PostgreSQL (:func:`transcode_svc.store.claim_chunk_sync`)
    and claims again until none is left, so tickets need no retries of their own (a
    dead holder's chunk is claimed again once its lease lapses). A ticket still waiting
    under the same id is left alone; one that ran (a retried job) is queued again.
    Tickets queue behind the work already waiting, as any job: other videos are not
    starved, and the job's own worker encodes chunks meanwhile.
    """
    queue = Queue(TRANSCODE_QUEUE, connection=connection)
    queued = 0
    for ticket in range(1, count + 1):
        ticket_id = chunk_ticket_id(job_id, ticket)
        try:
            existing: Job | None = Job.fetch(ticket_id, connection=connection)
        except NoSuchJobError:
            existing = None
        if existing is not None and existing.get_status(refresh=True) in (JobStatus.QUEUED, JobStatus.STARTED):
            continue
        if existing is not None:
            _forget(connection, existing)
        queue.enqueue(
            "transcode_svc.chunk_work.transcode_chunks",
            job_id,
            job_id=ticket_id,
            job_timeout=timeout_seconds,
            result_ttl=3600,
            failure_ttl=7 * 24 * 3600,
            description=f"transcode chunks of {job_id}",
        )
        queued += 1
    return queued
