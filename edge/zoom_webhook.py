"""Zoom's webhook and the attendance routes that JSON cannot carry.

- ``POST /api/v1/webhooks/zoom``: the signature covers the raw body, so the body is
  read as bytes, never parsed and re-serialised. The signature and timestamp are
  checked here, with attendance_svc's own rule, so forgeries and replays cost no backend
  call, and attendance_svc checks them again (no service trusts the network). The answer waits
  for RecordZoomEvent, which returns only after the event is committed: 204 means
  durable. If attendance_svc is down the edge answers 503 and Zoom delivers again.
  ``endpoint.url_validation`` is answered with ``{plainToken, encryptedToken}``.
- ``GET /api/v1/live-sessions/{session_id}/attendance``: JSON by default; CSV on
  ``?format=csv`` or ``Accept: text/csv``, streamed from ExportAttendance (same rows).
- ``GET .../attendance:export``: the file download (CSV or JSON) with its file name.
- ``GET .../attendance/events``: WatchAttendance as server-sent events, one
  ``joined``/``left`` event per change and an ``attendance`` event with the totals.
  attendance_svc fans changes out over Redis pub/sub, so any edge process and any
  service process can serve a watcher.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
from aiohttp import web
from multidict import MultiDict

from attendance_svc.domain.webhooks import verify_webhook
from attendance_svc.errors import AttendanceError
from edge.errors import EdgeError, InvalidRequest, from_rpc_error
from edge.gateway import STREAM_DEADLINE_SECONDS, call_unary, operation_of, outgoing_metadata
from edge.keys import ATTENDANCE_SETTINGS, BACKENDS, MATCH, METRICS, SETTINGS
from edge.operations import Handler
from edge.sse import next_or_keep_alive, sse_event
from edge.transcode import dumps, message_to_json
from media.attendance.v1 import attendance_pb2

WEBHOOK_ROUTE = ("POST", "/api/v1/webhooks/zoom")
REPORT_ROUTE = ("GET", "/api/v1/live-sessions/{session_id}/attendance")
EXPORT_ROUTE = ("GET", "/api/v1/live-sessions/{session_id}/attendance:export")
EVENTS_ROUTE = ("GET", "/api/v1/live-sessions/{session_id}/attendance/events")
EXPORT_RPC = "/media.attendance.v1.AttendanceService/ExportAttendance"
WATCH_RPC = "/media.attendance.v1.AttendanceService/WatchAttendance"
MAX_WEBHOOK_BYTES = 1024 * 1024
"""Zoom's notifications are a few kilobytes; anything near this is not one."""


class WebhookRefused(EdgeError):
    """A webhook turned away before any backend call; ``reason`` labels it in the metrics."""

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        code: grpc.StatusCode = grpc.StatusCode.UNAUTHENTICATED,
        http_status: int | None = None,
    ) -> None:
        super().__init__(code, message, http_status=http_status)
        self.reason = reason


def _too_large() -> WebhookRefused:
    return WebhookRefused(
        "ZOOM_EVENT_TOO_LARGE", "the notification is too large", code=grpc.StatusCode.INVALID_ARGUMENT, http_status=413
    )


def _check_signature(request: web.Request, signature: str, timestamp: str, raw_body: bytes) -> None:
    """attendance_svc's own rule (:func:`attendance_svc.domain.webhooks.verify_webhook`), run here first."""
    try:
        verify_webhook(
            request.app[SETTINGS].zoom_webhook_secret,
            signature=signature,
            timestamp=timestamp,
            raw_body=raw_body,
            now=time.time(),
            max_skew_seconds=request.app[ATTENDANCE_SETTINGS].webhook_max_skew_seconds,
        )
    except AttendanceError as refused:
        raise WebhookRefused(refused.reason, refused.message) from None


async def _verified_body(request: web.Request) -> tuple[bytes, str, str]:
    """The raw body with its signature and timestamp, once size, signature and clock are checked."""
    if request.content_length is not None and request.content_length > MAX_WEBHOOK_BYTES:
        raise _too_large()
    raw = await request.read()
    if len(raw) > MAX_WEBHOOK_BYTES:
        raise _too_large()
    signature = request.headers.get("x-zm-signature", "")
    timestamp = request.headers.get("x-zm-request-timestamp", "")
    _check_signature(request, signature, timestamp, raw)
    return raw, signature, timestamp


async def zoom_webhook(request: web.Request) -> web.StreamResponse:
    """Verify, hand the raw body to RecordZoomEvent, and acknowledge only once it is stored."""
    metrics = request.app[METRICS]
    metrics.observe_webhook_received()
    try:
        raw, signature, timestamp = await _verified_body(request)
    except WebhookRefused as refused:
        metrics.observe_webhook_refused(refused.reason)
        raise
    message = attendance_pb2.RecordZoomEventRequest(raw_body=raw, signature=signature, request_timestamp=timestamp)
    try:
        reply = await call_unary(request, operation_of(request), message, outgoing_metadata(request))
    except EdgeError as error:
        if error.code == grpc.StatusCode.CANCELLED:
            # attendance_svc stopped mid-call: not stored, so Zoom must see a server error and retry.
            raise EdgeError(
                grpc.StatusCode.UNAVAILABLE, "the event was not stored (attendance_svc stopping): deliver it again"
            ) from None
        raise
    assert isinstance(reply, attendance_pb2.RecordZoomEventResponse)
    if reply.plain_token:
        return web.json_response({"plainToken": reply.plain_token, "encryptedToken": reply.encrypted_token})
    return web.Response(status=204)


def _wants_csv(request: web.Request) -> bool:
    fmt = request.query.get("format", "").lower()
    if fmt and fmt not in ("csv", "json"):
        raise InvalidRequest("format", f"{fmt!r} is not offered: use csv or json")
    if fmt:
        return fmt == "csv"
    accept = request.headers.get("Accept", "")
    return "text/csv" in accept and "application/json" not in accept


async def attendance_report(request: web.Request) -> web.StreamResponse:
    """JSON from GetAttendance, or the same rows as CSV from ExportAttendance."""
    session_id = request[MATCH].params["session_id"]
    if _wants_csv(request):
        return await _relay_export(request, session_id, "csv", attachment=False)
    operation = operation_of(request)
    query = MultiDict((k, v) for k, v in request.query.items() if k != "format")
    message = operation.decoder.decode(request[MATCH].params, query, b"")
    reply = await call_unary(request, operation, message, outgoing_metadata(request))
    payload, content_type = operation.encoder.encode(reply)
    return web.Response(body=payload, headers={"Content-Type": content_type})


async def attendance_export(request: web.Request) -> web.StreamResponse:
    """The download: ``?format=csv`` (default) or ``json``, with Content-Disposition."""
    fmt = request.query.get("format", "csv")
    unknown = sorted(set(request.query) - {"format"})
    if unknown:
        raise InvalidRequest(unknown[0], "no such query parameter; only format is accepted")
    return await _relay_export(request, request[MATCH].params["session_id"], fmt, attachment=True)


async def _relay_export(request: web.Request, session_id: str, fmt: str, *, attachment: bool) -> web.StreamResponse:
    """Relay ExportAttendance's chunks raw; the status line waits for the first chunk."""
    call = request.app[BACKENDS].streaming(EXPORT_RPC)(
        attendance_pb2.ExportAttendanceRequest(session_id=session_id, format=fmt),
        timeout=STREAM_DEADLINE_SECONDS,
        metadata=outgoing_metadata(request),
    )
    items: AsyncIterator[Any] = call.__aiter__()
    try:
        first = await anext(items, None)
    except grpc.aio.AioRpcError as exc:
        raise _backend_error(request, exc, "ExportAttendance") from None
    response = web.StreamResponse(status=200)
    response.headers["Content-Type"] = (first.chunk.content_type if first else "") or "text/csv; charset=utf-8"
    if attachment and first is not None and first.filename:
        response.headers["Content-Disposition"] = f'attachment; filename="{first.filename}"'
    response.enable_chunked_encoding()
    await response.prepare(request)
    try:
        item = first
        while item is not None:
            await response.write(item.chunk.data)
            item = await anext(items, None)
    except grpc.aio.AioRpcError:
        # A raw file has no room for an error line: cut the transfer so it never looks complete.
        if request.transport is not None:
            request.transport.close()
        return response
    await response.write_eof()
    return response


async def attendance_events(request: web.Request) -> web.StreamResponse:
    """WatchAttendance as text/event-stream: snapshot, then joined/left and attendance events."""
    call = request.app[BACKENDS].streaming(WATCH_RPC)(
        attendance_pb2.WatchAttendanceRequest(session_id=request[MATCH].params["session_id"]),
        timeout=STREAM_DEADLINE_SECONDS,
        metadata=outgoing_metadata(request),
    )
    items: AsyncIterator[Any] = call.__aiter__()
    try:
        first = await anext(items, None)
    except grpc.aio.AioRpcError as exc:
        raise _backend_error(request, exc, "WatchAttendance") from None
    response = web.StreamResponse(
        status=200,
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    await response.prepare(request)
    try:
        item = first
        kind = "snapshot"
        while item is not None:
            for change in item.changes:
                name = "joined" if change.kind == attendance_pb2.PRESENCE_CHANGE_KIND_JOINED else "left"
                await response.write(sse_event(name, message_to_json(change)))
            document = message_to_json(item)
            document.pop("changes", None)
            await response.write(sse_event(kind, dumps(document)))
            kind = "attendance"
            item = await next_or_keep_alive(items, response, request.app[SETTINGS].sse_keepalive_seconds)
        await response.write(sse_event("end", {"session_id": request[MATCH].params["session_id"]}))
    except grpc.aio.AioRpcError as exc:
        await response.write(sse_event("error", _backend_error(request, exc, "WatchAttendance").body()))
    except (ConnectionResetError, asyncio.CancelledError):
        call.cancel()
        raise
    await response.write_eof()
    return response


def _backend_error(request: web.Request, exc: grpc.aio.AioRpcError, rpc: str) -> EdgeError:
    request.app[METRICS].observe_backend_call("attendance", rpc, exc.code().name)
    return from_rpc_error(
        exc, service="attendance", timeout=STREAM_DEADLINE_SECONDS, token_sent="Authorization" in request.headers
    )


def attendance_overrides() -> dict[tuple[str, str], Handler]:
    """The attendance handlers for ``create_app(overrides=...)``."""
    return {
        WEBHOOK_ROUTE: zoom_webhook,
        REPORT_ROUTE: attendance_report,
        EXPORT_ROUTE: attendance_export,
        EVENTS_ROUTE: attendance_events,
    }
