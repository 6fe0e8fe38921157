"""Server-sent events of an upload's transcoding: GET /api/v1/media/uploads/{upload_id}/events.

The route is an additional http binding of TranscodeService.WatchTranscodeJob, so it is
in /openapi.json and in the router's precedence; this override does what a generic
transcoding cannot: it resolves the upload to its video (UploadService.GetUpload,
which also checks that the caller may see the upload), the video to its job
(TranscodeService.GetVideoTranscode), then relays WatchTranscodeJob as
``text/event-stream``, with a keep-alive comment while the job is quiet (queued
behind busy workers). Each snapshot is one ``event: progress`` whose data is the
same JSON the NDJSON route writes (``{"job": {...}}``); the stream ends with
``event: end`` after a final status, or ``event: error`` if the backend fails midway.

While the upload has no job yet (UPLOADED: transcode_svc not accepting), the handler
re-reads the upload every few seconds and says so with ``event: upload``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TypeVar

import grpc
from aiohttp import web
from google.protobuf.message import Message

from edge.errors import EdgeError, from_rpc_error
from edge.gateway import STREAM_DEADLINE_SECONDS, outgoing_metadata
from edge.keys import BACKENDS, MATCH, METRICS, SETTINGS
from edge.transcode import dumps, message_to_json
from media.transcode.v1 import transcode_pb2
from media.upload.v1 import upload_pb2

EVENTS_ROUTE = ("GET", "/api/v1/media/uploads/{upload_id}/events")
GET_UPLOAD = "/media.upload.v1.UploadService/GetUpload"
GET_VIDEO_TRANSCODE = "/media.transcode.v1.TranscodeService/GetVideoTranscode"
WATCH_JOB = "/media.transcode.v1.TranscodeService/WatchTranscodeJob"
WAITING_POLL_SECONDS = 2.0
"""How often an upload without a transcode job yet is looked at again."""
UPLOAD_FINAL = frozenset(
    {
        upload_pb2.VIDEO_STATUS_READY,
        upload_pb2.VIDEO_STATUS_FAILED,
        upload_pb2.VIDEO_STATUS_CANCELLED,
        upload_pb2.VIDEO_STATUS_PENDING_UPLOAD,
    }
)


KEEP_ALIVE = b": keep-alive\n\n"
"""A comment line: EventSource ignores it, an idle-timeout proxy sees traffic."""

Item = TypeVar("Item")


async def next_or_keep_alive(
    items: AsyncIterator[Item], response: web.StreamResponse, interval_seconds: float
) -> Item | None:
    """The stream's next item (None at its end), writing :data:`KEEP_ALIVE` while it is quiet.

    The pending read is kept across keep-alives rather than cancelled and restarted:
    cancelling a gRPC stream's read would end the stream.
    """
    pending = asyncio.ensure_future(anext(items, None))
    try:
        while True:
            done, _ = await asyncio.wait({pending}, timeout=interval_seconds)
            if done:
                return pending.result()
            await response.write(KEEP_ALIVE)
    except BaseException:
        pending.cancel()
        raise


def sse_event(event: str, data: object) -> bytes:
    """One event in the text/event-stream format (data is JSON on one line)."""
    payload = data if isinstance(data, bytes) else dumps(data)
    return b"event: " + event.encode() + b"\ndata: " + payload.strip() + b"\n\n"


async def _unary(request: web.Request, path: str, service: str, message: Message) -> Message:
    app = request.app
    timeout = app[SETTINGS].backend_timeout_seconds
    method = path.rsplit("/", 1)[-1]
    try:
        reply = await app[BACKENDS].unary(path)(message, timeout=timeout, metadata=outgoing_metadata(request))
    except grpc.aio.AioRpcError as exc:
        app[METRICS].observe_backend_call(service, method, exc.code().name)
        raise from_rpc_error(
            exc, service=service, timeout=timeout, token_sent="Authorization" in request.headers
        ) from None
    app[METRICS].observe_backend_call(service, method, grpc.StatusCode.OK.name)
    return reply


async def _job_of_upload(request: web.Request, upload_id: str) -> tuple[str, upload_pb2.GetUploadResponse]:
    """The upload's video's job id ("" while none) and the upload as the caller may see it."""
    upload = await _unary(request, GET_UPLOAD, "upload", upload_pb2.GetUploadRequest(upload_id=upload_id))
    assert isinstance(upload, upload_pb2.GetUploadResponse)
    if not upload.video_id:
        return "", upload
    video = await _unary(
        request,
        GET_VIDEO_TRANSCODE,
        "transcode",
        transcode_pb2.GetVideoTranscodeRequest(video_id=upload.video_id),
    )
    assert isinstance(video, transcode_pb2.GetVideoTranscodeResponse)
    return (video.job.job_id if video.HasField("job") else ""), upload


async def upload_events(request: web.Request) -> web.StreamResponse:
    """The override: resolve upload → job, then relay the job's snapshots as SSE."""
    upload_id = request[MATCH].params["upload_id"]
    job_id, upload = await _job_of_upload(request, upload_id)
    response = web.StreamResponse(
        status=200,
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    await response.prepare(request)
    try:
        while not job_id:
            await response.write(sse_event("upload", message_to_json(upload)))
            if upload.status in UPLOAD_FINAL:
                await response.write(sse_event("end", {"upload_id": upload_id}))
                return response
            await asyncio.sleep(WAITING_POLL_SECONDS)
            job_id, upload = await _job_of_upload(request, upload_id)
        items = _watch(request, job_id)
        keepalive = request.app[SETTINGS].sse_keepalive_seconds
        while (item := await next_or_keep_alive(items, response, keepalive)) is not None:
            await response.write(sse_event("progress", message_to_json(item)))
        await response.write(sse_event("end", {"upload_id": upload_id, "job_id": job_id}))
    except EdgeError as error:
        await response.write(sse_event("error", error.body()))
    await response.write_eof()
    return response


async def _watch(request: web.Request, job_id: str) -> AsyncIterator[Message]:
    call = request.app[BACKENDS].streaming(WATCH_JOB)(
        transcode_pb2.WatchTranscodeJobRequest(job_id=job_id),
        timeout=STREAM_DEADLINE_SECONDS,
        metadata=outgoing_metadata(request),
    )
    try:
        async for item in call:
            yield item
    except grpc.aio.AioRpcError as exc:
        request.app[METRICS].observe_backend_call("transcode", "WatchTranscodeJob", exc.code().name)
        raise from_rpc_error(
            exc, service="transcode", timeout=STREAM_DEADLINE_SECONDS, token_sent="Authorization" in request.headers
        ) from None
    except (ConnectionResetError, asyncio.CancelledError):
        call.cancel()
        raise
    request.app[METRICS].observe_backend_call("transcode", "WatchTranscodeJob", grpc.StatusCode.OK.name)
