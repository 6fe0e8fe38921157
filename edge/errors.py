"""Every failure leaves the edge as one JSON shape, with grpc-gateway's status table.

``{"error": {"code": <http status>, "status": "<gRPC code name>", "message": "...",
"details": [...]}}``. The details are the ``google.rpc.Status`` details a service put
in the ``grpc-status-details-bin`` trailer (ErrorInfo, BadRequest, ...), each rendered
with its ``@type``. One middleware turns backend errors, the edge's own refusals,
aiohttp's HTTP exceptions and unexpected exceptions into that body; nothing else in
the edge formats errors.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import grpc
from aiohttp import web
from aiohttp.typedefs import Handler
from google.protobuf import any_pb2, json_format
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped,unused-ignore]

from service_kit import errors as kit_errors
from service_kit.context import request_id_var
from service_kit.grpc_errors import to_rpc_status

log = logging.getLogger("edge.errors")

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
STATUS_DETAILS_KEY = "grpc-status-details-bin"

HTTP_STATUS_BY_CODE: Mapping[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
}
"""grpc-gateway's runtime.HTTPStatusFromCode, row for row."""

_CODE_BY_HTTP_STATUS: Mapping[int, grpc.StatusCode] = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    405: grpc.StatusCode.UNIMPLEMENTED,
    409: grpc.StatusCode.ABORTED,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    499: grpc.StatusCode.CANCELLED,
    501: grpc.StatusCode.UNIMPLEMENTED,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}
"""For errors born in HTTP (aiohttp's exceptions): the gRPC name the body reports."""

_GENERIC_5XX = "the request failed inside the media service; quote the request id when reporting it"


class EdgeError(Exception):
    """A failure with everything the error body needs; raised anywhere, rendered once."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        details: Sequence[dict[str, Any]] = (),
        headers: Mapping[str, str] | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = list(details)
        self.headers = dict(headers or {})
        self.http_status = HTTP_STATUS_BY_CODE.get(code, 500) if http_status is None else http_status

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.http_status,
                "status": self.code.name,
                "message": self.message,
                "details": self.details,
            }
        }


class InvalidRequest(EdgeError):
    """The HTTP request cannot become a proto request: names the field and what it expects."""

    def __init__(self, field: str, description: str) -> None:
        violation = error_details_pb2.BadRequest(
            field_violations=[error_details_pb2.BadRequest.FieldViolation(field=field, description=description)]
        )
        packed = any_pb2.Any()
        packed.Pack(violation)
        super().__init__(grpc.StatusCode.INVALID_ARGUMENT, f"{field}: {description}", details=[render_detail(packed)])
        self.field = field
        self.description = description


def render_detail(detail: any_pb2.Any) -> dict[str, Any]:
    """One status detail as JSON with its ``@type``; unknown types keep their raw bytes."""
    try:
        return json_format.MessageToDict(detail, preserving_proto_field_name=True)
    except (TypeError, KeyError, json_format.Error):
        return {"@type": detail.type_url, "value": json_format.MessageToDict(detail).get("value", "")}


def status_from_trailers(metadata: Iterable[Any] | None) -> Any:
    """The google.rpc.Status a service attached in the ``grpc-status-details-bin`` trailer, or None.

    grpc.aio hands trailers over as (key, value) pairs; binary ones (``-bin``) as bytes.
    """
    for key, value in metadata or ():
        if key == STATUS_DETAILS_KEY and isinstance(value, bytes):
            status = status_pb2.Status()
            try:
                status.ParseFromString(value)
            except Exception:  # a corrupt trailer must not hide the status code itself
                log.warning("unreadable grpc-status-details-bin trailer")
                return None
            return status
    return None


def from_rpc_error(exc: grpc.aio.AioRpcError, *, service: str, timeout: float, token_sent: bool) -> EdgeError:
    """Map a backend's failure to the HTTP error, keeping the service's message and details.

    Messages of the 500 rows are replaced by a generic sentence (they may carry a
    traceback's words); the original goes to the log. Transport failures get a message
    that names the service instead of the channel's internals.
    """
    code = exc.code()
    status = status_from_trailers(exc.trailing_metadata())
    message = status.message if status is not None and status.message else (exc.details() or "")
    details = [render_detail(d) for d in status.details] if status is not None else []
    if code is grpc.StatusCode.UNAVAILABLE and status is None:
        log.warning("backend unavailable", extra={"service": service, "detail": exc.details()})
        message = f"service {service} is unavailable"
    elif code is grpc.StatusCode.DEADLINE_EXCEEDED and status is None:
        message = f"service {service} did not answer within {timeout:g} s"
    elif HTTP_STATUS_BY_CODE.get(code, 500) == 500:
        log.error("backend failed", extra={"service": service, "grpc_code": code.name, "detail": exc.details()})
        message = _GENERIC_5XX
    return EdgeError(code, message, details=details, headers=_auth_headers(code, token_sent))


def from_service_error(exc: kit_errors.ServiceError, *, token_sent: bool) -> EdgeError:
    """A shared-kit error raised in the edge itself (today: a refused session token).

    Its code and details come from the kit's one table (:mod:`service_kit.grpc_errors`),
    exactly as if a service had raised it.
    """
    code, status = to_rpc_status(exc, domain="edge")
    details = [render_detail(detail) for detail in status.details]
    return EdgeError(code, exc.message, details=details, headers=_auth_headers(code, token_sent))


def from_http_exception(exc: web.HTTPException) -> EdgeError:
    """aiohttp's own refusals (413 body too large, ...) in the common body."""
    code = _CODE_BY_HTTP_STATUS.get(exc.status, grpc.StatusCode.UNKNOWN)
    headers = {k: v for k, v in exc.headers.items() if k.lower() not in ("content-type", "content-length")}
    return EdgeError(code, exc.reason.lower(), headers=headers, http_status=exc.status)


def _auth_headers(code: grpc.StatusCode, token_sent: bool) -> dict[str, str]:
    """RFC 6750: a 401 names the Bearer scheme, and says invalid_token when one was sent."""
    if code is not grpc.StatusCode.UNAUTHENTICATED:
        return {}
    return {"WWW-Authenticate": 'Bearer error="invalid_token"' if token_sent else "Bearer"}


def error_response(error: EdgeError) -> web.Response:
    """The JSON error body and status, with the error's headers (Allow, WWW-Authenticate)."""
    body = json.dumps(error.body(), ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"Content-Type": JSON_CONTENT_TYPE, **error.headers}
    return web.Response(status=error.http_status, body=body, headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one place errors become responses; unexpected ones are logged, never shown."""
    try:
        return await handler(request)
    except EdgeError as exc:
        return error_response(exc)
    except kit_errors.ServiceError as exc:
        return error_response(from_service_error(exc, token_sent="Authorization" in request.headers))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(from_http_exception(exc))
    except Exception:
        log.exception("unexpected error in the edge", extra={"path": request.path, "method": request.method})
        request_id = request_id_var.get() or "unknown"
        return error_response(
            EdgeError(grpc.StatusCode.INTERNAL, f"internal error in the edge (request id {request_id})")
        )
