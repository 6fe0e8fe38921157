"""Zoom's webhook, ``POST /api/v1/webhooks/zoom``: the one attendance route written by hand.

The signature covers the raw body, so the body is read as bytes, never parsed and
re-serialised. The signature and timestamp are checked here, with attendance_svc's own
rule, so forgeries and replays cost no backend call, and attendance_svc checks them
again (no service trusts the network). The answer waits for RecordZoomEvent, which
returns only after the event is committed: 204 means durable. If attendance_svc is down
the edge answers 503 and Zoom delivers again. ``endpoint.url_validation`` is answered
with ``{plainToken, encryptedToken}``.

The attendance report (JSON, or CSV on ``?format=csv`` / ``Accept: text/csv``), its
download and its live events are ordinary annotated RPCs: :mod:`edge.marshalers`
chooses their encodings.
"""

from __future__ import annotations

import time

import grpc
from aiohttp import web

from attendance_svc.domain.webhooks import verify_webhook
from attendance_svc.errors import AttendanceError
from edge.errors import EdgeError
from edge.gateway import call_unary, operation_of, outgoing_metadata
from edge.keys import ATTENDANCE_SETTINGS, METRICS, SETTINGS
from edge.operations import Documented, Handler
from media.attendance.v1 import attendance_pb2

WEBHOOK_ROUTE = ("POST", "/api/v1/webhooks/zoom")
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


WEBHOOK_OPENAPI = {
    "security": [],
    "parameters": [
        {
            "name": "x-zm-signature",
            "in": "header",
            "required": True,
            "description": "`v0=` and the hex HMAC-SHA256 of `v0:{timestamp}:{raw body}` under the webhook secret.",
            "schema": {"type": "string"},
        },
        {
            "name": "x-zm-request-timestamp",
            "in": "header",
            "required": True,
            "description": "Unix seconds; refused outside the replay window (ZOOM_WEBHOOK_MAX_SKEW_SECONDS).",
            "schema": {"type": "string"},
        },
    ],
    "requestBody": {
        "required": True,
        "description": "Zoom's notification exactly as sent (at most 1 MiB): the signature covers these bytes.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["event", "payload"],
                    "properties": {
                        "event": {"type": "string"},
                        "event_ts": {"type": "integer"},
                        "payload": {"type": "object"},
                    },
                }
            }
        },
    },
    "responses": {
        "204": {"description": "Stored (a duplicate delivery changes nothing)."},
        "200": {
            "description": "An endpoint.url_validation challenge, answered.",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["plainToken", "encryptedToken"],
                        "properties": {"plainToken": {"type": "string"}, "encryptedToken": {"type": "string"}},
                    }
                }
            },
        },
    },
}
"""What the webhook handler reads and answers, for /openapi.json (not RecordZoomEventRequest's JSON)."""


def attendance_overrides() -> dict[tuple[str, str], Handler]:
    """The attendance handlers for ``create_app(overrides=...)``."""
    return {WEBHOOK_ROUTE: Documented(zoom_webhook, WEBHOOK_OPENAPI)}
