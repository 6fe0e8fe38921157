"""The upload service's ties to the outside: object storage, ffprobe and transcode_svc.

Vendor errors become this service's errors here, so the servicer never sees botocore or
grpc exceptions from a dependency.

- :class:`ObjectStore`: two boto3 clients made once at start (they are thread-safe).
  Presigned requests are signed by the *public* client, for the host browsers use
  (S3_PUBLIC_ENDPOINT_URL), because the host is part of a SigV4 signature; every call
  the service makes itself, and the GET URL ffprobe reads, go through the internal
  client (S3_ENDPOINT_URL). Network calls run in ``asyncio.to_thread``; presigning is
  HMAC over static keys, microseconds of CPU and no I/O, so it runs inline.
- :class:`Prober`: ffprobe as a subprocess reading the object over a presigned GET,
  fetching only the byte ranges it needs (headers, index), never the whole file. The
  commands and the reading of their output are :mod:`service_kit.ffprobe`'s (the one
  reader, transcode_svc's too); what is here is running them without blocking the
  loop, the two-ends measurement of long Matroska files, and which failures are
  retriable.
- :class:`Transcoder`: the transcode_svc stub, and the one place that decides what an
  unavailable transcoder means for a verified upload.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
import grpc
from botocore.exceptions import BotoCoreError, ClientError

from media.transcode.v1 import transcode_pb2, transcode_pb2_grpc
from service_kit import ffprobe
from service_kit.object_store import s3_client
from service_kit.settings import Settings
from upload_svc import domain, errors

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

log = logging.getLogger(__name__)

Metadata = tuple[tuple[str, str], ...]
T = TypeVar("T")

_MISSING_OBJECT_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
_NO_SUCH_UPLOAD = "NoSuchUpload"


PresignedPost = domain.PresignedPost
StoredObject = domain.StoredObject
PartsPage = domain.PartsPage


@dataclass(frozen=True)
class PendingMultipart:
    """A multipart upload object storage still holds open."""

    key: str
    upload_id: str
    initiated: datetime


class ObjectStore:
    """The bucket, as the upload service uses it."""

    def __init__(self, settings: Settings) -> None:
        self.bucket = settings.s3_bucket
        self._client = s3_client(settings, max_pool_connections=32)
        self._public = s3_client(settings, endpoint_url=settings.s3_public_endpoint_url)

    # -- presigning (no I/O) --

    def presign_post(self, key: str, content_type: str, size: int, expires_in: int) -> PresignedPost:
        """A POST form whose policy pins the key, the exact size and the content type.

        Object storage checks the policy itself: a larger or smaller body, or another
        Content-Type field, is refused before anything is stored (proved against
        SeaweedFS in tests/upload).
        """
        post = self._public.generate_presigned_post(
            self.bucket,
            key,
            Fields={"Content-Type": content_type},
            Conditions=[["content-length-range", size, size], {"Content-Type": content_type}],
            ExpiresIn=expires_in,
        )
        return PresignedPost(url=post["url"], fields={str(k): str(v) for k, v in post["fields"].items()})

    def presign_part(self, key: str, s3_upload_id: str, part_number: int, size: int, expires_in: int) -> str:
        """A PUT URL for one part that signs its Content-Length, so a slice of another size is refused."""
        return self._public.generate_presigned_url(
            "upload_part",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "UploadId": s3_upload_id,
                "PartNumber": part_number,
                "ContentLength": size,
            },
            ExpiresIn=expires_in,
        )

    def presign_public_get(self, key: str, expires_in: int) -> str:
        """A GET URL a browser can load (an ``<img>``'s src), on the public endpoint."""
        return self._public.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
        )

    def presign_internal_get(self, key: str, expires_in: int) -> str:
        """A GET URL for this service's own reader (ffprobe), on the internal endpoint."""
        return self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
        )

    # -- calls --

    async def create_multipart(self, key: str, content_type: str) -> str:
        reply = await self._call(
            "create a multipart upload",
            lambda: self._client.create_multipart_upload(Bucket=self.bucket, Key=key, ContentType=content_type),
        )
        return str(reply["UploadId"])

    async def list_parts(self, key: str, s3_upload_id: str, *, marker: int, limit: int) -> PartsPage | None:
        """One page of stored parts; None when object storage no longer knows the upload."""

        def call() -> Any:
            try:
                return self._client.list_parts(
                    Bucket=self.bucket, Key=key, UploadId=s3_upload_id, PartNumberMarker=marker, MaxParts=limit
                )
            except ClientError as exc:
                if _code(exc) == _NO_SUCH_UPLOAD:
                    return None
                raise

        reply = await self._call("list the uploaded parts", call)
        if reply is None:
            return None
        parts = tuple(
            domain.StoredPart(int(p["PartNumber"]), int(p["Size"]), str(p["ETag"])) for p in reply.get("Parts", [])
        )
        truncated = bool(reply.get("IsTruncated")) and parts
        return PartsPage(parts, int(reply.get("NextPartNumberMarker") or parts[-1].part_number) if truncated else None)

    async def all_parts(self, key: str, s3_upload_id: str) -> tuple[domain.StoredPart, ...] | None:
        """Every stored part, following ListParts' pages (1,000 per page)."""
        found: list[domain.StoredPart] = []
        marker = 0
        while True:
            page = await self.list_parts(key, s3_upload_id, marker=marker, limit=domain.MAX_PARTS_PAGE_SIZE)
            if page is None:
                return None
            found.extend(page.parts)
            if page.next_marker is None:
                return tuple(found)
            marker = page.next_marker

    async def complete_multipart(self, key: str, s3_upload_id: str, parts: Sequence[domain.StoredPart]) -> bool:
        """Assemble the parts; False when object storage no longer knows the upload."""

        def call() -> bool:
            try:
                self._client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=s3_upload_id,
                    MultipartUpload={"Parts": [{"PartNumber": p.part_number, "ETag": p.etag} for p in parts]},
                )
            except ClientError as exc:
                if _code(exc) == _NO_SUCH_UPLOAD:
                    return False
                raise
            return True

        return await self._call("assemble the parts", call)

    async def abort_multipart(self, key: str, s3_upload_id: str) -> None:
        """Free the stored parts; an upload object storage no longer knows is already gone."""

        def call() -> None:
            try:
                self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=s3_upload_id)
            except ClientError as exc:
                if _code(exc) != _NO_SUCH_UPLOAD:
                    raise

        await self._call("abort the multipart upload", call)

    async def head(self, key: str) -> StoredObject | None:
        def call() -> StoredObject | None:
            try:
                reply = self._client.head_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if _code(exc) in _MISSING_OBJECT_CODES:
                    return None
                raise
            return StoredObject(int(reply["ContentLength"]), str(reply.get("ContentType") or ""))

        return await self._call("look up the uploaded file", call)

    async def delete(self, key: str) -> None:
        await self._call("delete the file", lambda: self._client.delete_object(Bucket=self.bucket, Key=key))

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix``, 1,000 per request; returns how many."""

        def call() -> int:
            deleted = 0
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                keys: list[ObjectIdentifierTypeDef] = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if keys:
                    self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
                    deleted += len(keys)
            return deleted

        return await self._call("delete the video's files", call)

    async def pending_multiparts(self, prefix: str) -> list[PendingMultipart]:
        """Open multipart uploads under ``prefix``, including any no database row points to."""

        def call() -> list[PendingMultipart]:
            found: list[PendingMultipart] = []
            paginator = self._client.get_paginator("list_multipart_uploads")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                found.extend(
                    PendingMultipart(str(u["Key"]), str(u["UploadId"]), u["Initiated"]) for u in page.get("Uploads", [])
                )
            return found

        return await self._call("list open multipart uploads", call)

    @staticmethod
    async def _call(action: str, call: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(call)
        except (ClientError, BotoCoreError) as exc:
            log.warning("object storage call failed", extra={"action": action, "error": str(exc)})
            raise errors.StorageUnavailable(f"object storage could not {action}: try again shortly") from exc


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


WHOLE_SCAN_BYTES = 16 * 1024 * 1024
"""Files up to this size have their packets read whole when their duration must be measured."""
MATROSKA_HEAD_BYTES = 1024 * 1024
"""Where a Matroska file's header (everything before its first Cluster) is looked for."""
MATROSKA_TAIL_BYTES = (4 * 1024 * 1024, 32 * 1024 * 1024)
"""Tails read, in turn, until one holds the start of a Cluster (a few seconds of video each)."""


class Prober:
    """ffprobe over a URL; only the probe's own failures are retriable, the file's are final.

    A file that declares no duration (WebM written by a browser's MediaRecorder) is
    measured from its packets: for Matroska above ``whole_scan_bytes``, from its header
    and its last Clusters, two range reads of the presigned GET joined and demuxed by
    ffprobe from a pipe; otherwise (or if that finds nothing) by reading every packet
    over the URL, which demuxes but never decodes.
    """

    def __init__(
        self,
        timeout_seconds: float,
        executable: str = "ffprobe",
        *,
        whole_scan_bytes: int = WHOLE_SCAN_BYTES,
        head_bytes: int = MATROSKA_HEAD_BYTES,
        tail_bytes: Sequence[int] = MATROSKA_TAIL_BYTES,
    ) -> None:
        self._timeout = timeout_seconds
        self._executable = executable
        self._whole_scan_bytes = whole_scan_bytes
        self._head_bytes = head_bytes
        self._tail_bytes = tuple(tail_bytes)

    async def probe(self, url: str, size: int = 0) -> domain.ProbeFacts:
        """The facts of the file at ``url`` (``size`` bytes), or UploadRejected saying why it is no video."""
        command = ffprobe.report_command(url, executable=self._executable, network_timeout_seconds=self._timeout)
        stdout = await self._ffprobe(command, url)
        try:
            report = ffprobe.parse_report(stdout)
        except ffprobe.UnreadableReport as exc:
            raise domain.unreadable(str(exc)) from None
        if report.needs_measured_duration:
            measured = await self.measure_duration(url, size, report)
            log.info("duration measured from packets", extra={"seconds": measured, "bytes": size})
            report = report.with_measured_duration(measured)
        elif report.has_video and domain.needs_length_check(size, report.facts.duration_seconds):
            measured = await self.measure_duration(url, size, report)
            domain.check_declared_length(report.facts.duration_seconds, measured)
        return domain.video_facts(report)

    async def measure_duration(self, url: str, size: int, report: ffprobe.Report) -> float:
        """Seconds from the start to the end of the last packet; 0 when there is no packet."""
        if report.is_matroska and size > self._whole_scan_bytes:
            ends = await self._matroska_ends(url, size)
            if ends is not None:
                try:
                    measured = ffprobe.duration_from_packets(await self._packets("pipe:0", ends), report.start_seconds)
                except errors.UploadRejected:
                    measured = 0.0
                if measured > 0:
                    return measured
        return ffprobe.duration_from_packets(await self._packets(url), report.start_seconds)

    async def _matroska_ends(self, url: str, size: int) -> bytes | None:
        """Header plus last Clusters of a Matroska file, from range reads; None if either is not found."""
        head = await self._range(url, 0, min(size, self._head_bytes) - 1)
        header = domain.matroska_header(head) if head is not None else None
        if header is None:
            return None
        for tail_bytes in self._tail_bytes:
            begin = max(len(header), size - tail_bytes)
            tail = await self._range(url, begin, size - 1)
            clusters = domain.matroska_clusters(tail) if tail is not None else None
            if clusters is not None:
                return header + clusters
            if tail is None or begin == len(header):
                break
        return None

    async def _range(self, url: str, first: int, last: int) -> bytes | None:
        """Bytes ``first``..``last`` of the object; None if the store ignored the range."""
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout)) as session,
                session.get(url, headers={"Range": f"bytes={first}-{last}"}) as response,
            ):
                if response.status != 206:
                    return None
                return await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise errors.ProbeUnavailable(
                f"object storage did not answer a range read of the file ({type(exc).__name__}): try again shortly"
            ) from exc

    async def _packets(self, source: str, data: bytes | None = None) -> str:
        """``pts,duration`` of every packet of every stream (demuxed, not decoded)."""
        command = ffprobe.packets_command(source, executable=self._executable, network_timeout_seconds=self._timeout)
        return (await self._ffprobe(command, source, data)).decode(errors="replace")

    async def _ffprobe(self, command: Sequence[str], source: str, data: bytes | None = None) -> bytes:
        """ffprobe's standard output for ``command`` reading ``source`` (a URL, or ``pipe:0`` fed ``data``).

        Raises ProbeUnavailable when ffprobe or the store failed (retriable), and
        UploadRejected when ffprobe cannot read the file (final).
        """
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL if data is None else asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise errors.ProbeUnavailable(f"ffprobe could not be started ({exc.strerror}): try again later") from exc
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(data), self._timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise errors.ProbeUnavailable(
                f"probing the file took longer than {self._timeout:g} s: try completing again"
            ) from None
        detail = _probe_detail(stderr.decode(errors="replace"), source)
        if "HTTP error" in detail or "Server returned" in detail:
            # The store, not the file, failed: e.g. 403 on a clock skew, 5xx when overloaded.
            raise errors.ProbeUnavailable(f"object storage refused ffprobe's read ({detail}): try again shortly")
        if process.returncode != 0:
            raise domain.unreadable(detail)
        return stdout


def _probe_detail(stderr: str, url: str) -> str:
    """ffprobe's last error line, without the presigned URL (a credential) it quotes."""
    lines = [line.replace(url, "the file").strip() for line in stderr.splitlines() if line.strip()]
    text = lines[-1] if lines else ""
    text = re.sub(r"https?://\S+", "the file", text)
    return text.removeprefix("the file: ")[:200]


_STATUS_BY_JOB = {
    transcode_pb2.TRANSCODE_JOB_STATUS_QUEUED: domain.VideoStatus.QUEUED,
    transcode_pb2.TRANSCODE_JOB_STATUS_RUNNING: domain.VideoStatus.TRANSCODING,
    transcode_pb2.TRANSCODE_JOB_STATUS_SUCCEEDED: domain.VideoStatus.READY,
    transcode_pb2.TRANSCODE_JOB_STATUS_FAILED: domain.VideoStatus.FAILED,
    transcode_pb2.TRANSCODE_JOB_STATUS_CANCELLED: domain.VideoStatus.CANCELLED,
}

NOT_ACCEPTING_YET = frozenset(
    {grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
)
"""transcode_svc codes that mean "cannot take the job now", not "the job is wrong".

This is the one place that decides it. UNIMPLEMENTED is what transcode_svc answers until
its StartTranscode is built; UNAVAILABLE and DEADLINE_EXCEEDED are a transcoder that is
down or slow. In all three the verified video stays UPLOADED, with its hand-off owed:
the periodic job (upload_svc.jobs) offers it again, so once transcode_svc accepts jobs
the video moves to QUEUED with no action from the uploader.
"""


WATCH_DEADLINE_SECONDS = 3600.0
"""A followed job's stream outlives a unary deadline (the edge's streams last an hour too); it still ends."""


class Transcoder:
    """transcode_svc's stub, over one channel opened at start."""

    def __init__(self, address: str, timeout_seconds: float) -> None:
        self._channel = grpc.aio.insecure_channel(address)
        self._stub = transcode_pb2_grpc.TranscodeServiceStub(self._channel)
        self._timeout = timeout_seconds

    async def hand_off(
        self,
        *,
        video_id: str,
        organization_id: str,
        course_id: str,
        source_key: str,
        facts: domain.ProbeFacts,
        metadata: Metadata,
    ) -> domain.TranscodeState | None:
        """Ask transcode_svc to transcode a verified source; None while it cannot accept jobs.

        StartTranscode is idempotent per video on transcode_svc's side, so offering the
        same video twice (a retried complete, the periodic job) starts one job.
        """
        request = transcode_pb2.StartTranscodeRequest(
            video_id=video_id,
            organization_id=organization_id,
            course_id=course_id,
            source_key=source_key,
            probe=probe_message(facts),
        )
        try:
            reply = await self._stub.StartTranscode(request, timeout=self._timeout, metadata=metadata)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in NOT_ACCEPTING_YET:
                log.info("transcode hand-off deferred", extra={"video_id": video_id, "code": exc.code().name})
                return None
            log.warning(
                "transcode hand-off refused",
                extra={"video_id": video_id, "code": exc.code().name, "error": exc.details()},
            )
            return None
        return _hand_off_of(reply.job)

    async def current(self, video_id: str, metadata: Metadata) -> domain.TranscodeState | None:
        """The video's latest job as transcode_svc sees it; None when it cannot tell now."""
        try:
            reply = await self._stub.GetVideoTranscode(
                transcode_pb2.GetVideoTranscodeRequest(video_id=video_id), timeout=self._timeout, metadata=metadata
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() not in NOT_ACCEPTING_YET:
                log.warning("transcode status unavailable", extra={"video_id": video_id, "code": exc.code().name})
            return None
        return _hand_off_of(reply.job) if reply.HasField("job") else None

    async def watch(self, job_id: str, metadata: Metadata) -> AsyncIterator[transcode_pb2.WatchTranscodeJobResponse]:
        """The job's snapshots until it finishes (WatchTranscodeJob), under a stream's deadline.

        transcode_svc's failure is raised as it came (``grpc.aio.AioRpcError``): the caller
        relays its code and details to its own caller rather than reinterpreting them.
        """
        call = self._stub.WatchTranscodeJob(
            transcode_pb2.WatchTranscodeJobRequest(job_id=job_id), timeout=WATCH_DEADLINE_SECONDS, metadata=metadata
        )
        try:
            async for snapshot in call:
                yield snapshot
        finally:
            call.cancel()

    async def cancel(self, job_id: str, metadata: Metadata) -> None:
        """Stop a job whose video is deleted; a transcoder that cannot tell is left alone."""
        try:
            await self._stub.CancelTranscodeJob(
                transcode_pb2.CancelTranscodeJobRequest(job_id=job_id), timeout=self._timeout, metadata=metadata
            )
        except grpc.aio.AioRpcError as exc:
            log.info("transcode cancel not done", extra={"job_id": job_id, "code": exc.code().name})

    async def close(self) -> None:
        await self._channel.close(None)


def _hand_off_of(job: transcode_pb2.TranscodeJob) -> domain.TranscodeState | None:
    status = _STATUS_BY_JOB.get(job.status)
    if not job.job_id or status is None:
        return None
    return domain.TranscodeState(job.job_id, status, job.progress_percent)


def probe_message(facts: domain.ProbeFacts) -> transcode_pb2.ProbeFacts:
    return transcode_pb2.ProbeFacts(
        duration_seconds=facts.duration_seconds,
        width=facts.width,
        height=facts.height,
        rotation=facts.rotation,
        frame_rate=facts.frame_rate,
        video_codec=facts.video_codec,
        audio_codec=facts.audio_codec,
        has_audio=facts.has_audio,
        sample_aspect_ratio=facts.sample_aspect_ratio,
        field_order=facts.field_order,
        pixel_format=facts.pixel_format,
        color_transfer=facts.color_transfer,
        color_primaries=facts.color_primaries,
        color_space=facts.color_space,
    )
