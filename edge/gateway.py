"""The generic handler: HTTP request → RPC → HTTP response, for every annotated RPC.

Handlers only translate. The caller's session JWT is verified here before any backend
is called (a bad token never costs a service a round trip) and forwarded unchanged,
since every service verifies it again. Helpers are public so that hand-written
overrides call backends the same way (deadline, metadata, metrics, error mapping).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import grpc
from aiohttp import web
from google.protobuf.message import Message

from edge.errors import EdgeError, error_response, from_rpc_error
from edge.keys import BACKENDS, ENCODINGS, MATCH, METRICS, REQUEST_ID, SETTINGS
from edge.marshalers import EVENT_STREAM, Choice, forwarded_headers
from edge.operations import Handler, Operation, RouteMatch, RouteTarget
from edge.routes import Match, MethodNotAllowed, Router
from edge.streams import EventStream, NdjsonStream, RawStream, StreamEncoder, next_or_keep_alive
from service_kit.auth import AUTHORIZATION_METADATA_KEY, bearer_token, verify_session_token
from service_kit.context import REQUEST_ID_HEADER, user_id_var

log = logging.getLogger("edge.gateway")

STREAM_DEADLINE_SECONDS = 3600.0
"""Server streams (job progress, live attendance) outlive a unary deadline; they still end."""

Metadata = tuple[tuple[str, str], ...]


def operation_of(request: web.Request) -> Operation:
    """The RPC the matched route maps to (for the generic handler and overrides)."""
    operation = request[MATCH].operation
    if operation is None:
        raise RuntimeError(f"route {request[MATCH].route} has no RPC")
    return operation


def outgoing_metadata(request: web.Request) -> Metadata:
    """``x-request-id`` and, when the caller sent one, its verified ``authorization``.

    A missing header forwards nothing: the service decides whether the RPC needs a
    caller. A present but bad one is refused here with 401 (service_kit raises an
    Unauthenticated error, which the error middleware renders).
    """
    metadata: list[tuple[str, str]] = [(REQUEST_ID_HEADER, request[REQUEST_ID])]
    header = request.headers.get("Authorization")
    if header is not None:
        token = bearer_token(header) or ""
        claims = verify_session_token(token, request.app[SETTINGS].jwt_secret_key)
        user_id_var.set(claims.user_id)
        metadata.append((AUTHORIZATION_METADATA_KEY, header))
    return tuple(metadata)


async def call_unary(request: web.Request, operation: Operation, message: Message, metadata: Metadata) -> Message:
    """Call a unary RPC with the deadline, counting it and mapping its failure to HTTP."""
    app = request.app
    timeout = app[SETTINGS].backend_timeout_seconds
    callable_ = app[BACKENDS].unary(operation.binding.rpc_path)
    try:
        response = await callable_(message, timeout=timeout, metadata=metadata)
    except grpc.aio.AioRpcError as exc:
        _count(request, operation, exc.code())
        raise _edge_error(request, operation, exc, timeout) from None
    _count(request, operation, grpc.StatusCode.OK)
    return response


async def handle_operation(request: web.Request) -> web.StreamResponse:
    """The generic handler every annotated route gets unless an override replaces it.

    The route's offer (:mod:`edge.marshalers`) picks the encoding, and with it the RPC
    that produces it (the route's own, or an alternate such as a CSV export).
    """
    match = request[MATCH]
    own = operation_of(request).binding
    choice = request.app[ENCODINGS][(own.http_method, own.template.source)].choose(
        request.query, request.headers.get("Accept", "")
    )
    operation = choice.operation
    metadata = outgoing_metadata(request)
    body = await request.read() if operation.binding.body else b""
    message = operation.decoder.decode(match.params, choice.query, body)
    if operation.binding.server_streaming:
        return await relay_stream(request, operation, message, metadata, stream_encoder(request, choice))
    call = request.app[BACKENDS].unary(operation.binding.rpc_path)
    timeout = request.app[SETTINGS].backend_timeout_seconds
    try:
        unary = call(message, timeout=timeout, metadata=metadata)
        response = await unary
        headers = forwarded_headers(await unary.initial_metadata())
    except grpc.aio.AioRpcError as exc:
        _count(request, operation, exc.code())
        raise _edge_error(request, operation, exc, timeout) from None
    _count(request, operation, grpc.StatusCode.OK)
    payload, content_type = operation.encoder.encode(response)
    return web.Response(body=payload, headers={**headers, "Content-Type": content_type})


def stream_encoder(request: web.Request, choice: Choice) -> StreamEncoder:
    """The writer of the chosen encoding: raw chunks for HttpBody, else NDJSON or SSE."""
    if choice.operation.binding.returns_http_body:
        return RawStream(choice.operation)
    if choice.media_type == EVENT_STREAM:
        return EventStream(request[MATCH].params, request.app[SETTINGS].sse_keepalive_seconds)
    return NdjsonStream(choice.operation)


async def relay_stream(
    request: web.Request, operation: Operation, message: Message, metadata: Metadata, encoder: StreamEncoder
) -> web.StreamResponse:
    """Relay a server stream through ``encoder``, counting it once it ends.

    The status line waits for the first message, so a stream that fails at once gets
    a normal error response, with the service's forwarded headers. A failure after
    that can only end the stream, as the encoder says (an error line or event, or a
    cut connection).
    """
    call = request.app[BACKENDS].streaming(operation.binding.rpc_path)(
        message, timeout=STREAM_DEADLINE_SECONDS, metadata=metadata
    )
    items: AsyncIterator[Message] = call.__aiter__()
    try:
        first = await anext(items, None)
        headers = forwarded_headers(await call.initial_metadata())
    except grpc.aio.AioRpcError as exc:
        _count(request, operation, exc.code())
        raise _edge_error(request, operation, exc, STREAM_DEADLINE_SECONDS) from None
    response = web.StreamResponse(status=200, headers={**headers, **encoder.headers(first)})
    response.enable_chunked_encoding()
    await response.prepare(request)
    code = grpc.StatusCode.OK
    try:
        item = first
        while item is not None:
            await response.write(encoder.item(item))
            item = await next_or_keep_alive(items, response, encoder.keep_alive_seconds)
    except grpc.aio.AioRpcError as exc:
        code = exc.code()
        log.warning("stream ended by the backend", extra={"grpc_code": code.name, "route": operation.route})
        last = encoder.failed(_edge_error(request, operation, exc, STREAM_DEADLINE_SECONDS))
        if last is None:
            if request.transport is not None:
                request.transport.close()
            return response
        await response.write(last)
    except (ConnectionResetError, asyncio.CancelledError):
        code = grpc.StatusCode.CANCELLED
        call.cancel()
        raise
    finally:
        _count(request, operation, code)
    if code is grpc.StatusCode.OK:
        await response.write(encoder.ended())
    await response.write_eof()
    return response


def _edge_error(request: web.Request, operation: Operation, exc: grpc.aio.AioRpcError, timeout: float) -> EdgeError:
    return from_rpc_error(
        exc, service=operation.backend.name, timeout=timeout, token_sent="Authorization" in request.headers
    )


def _count(request: web.Request, operation: Operation, code: grpc.StatusCode) -> None:
    request.app[METRICS].observe_backend_call(operation.backend.name, operation.binding.method.name, code.name)


def make_dispatcher(router: Router[RouteTarget]) -> Handler:
    """The one aiohttp handler behind every path: resolve with our router, then delegate.

    aiohttp's own router cannot express ``**`` in the middle of a variable, custom
    verbs or this module's precedence rule, so it only sees a catch-all.
    """

    async def dispatch(request: web.Request) -> web.StreamResponse:
        resolved = router.resolve(request.method, request.rel_url.raw_path)
        if isinstance(resolved, Match):
            target = resolved.target
            request[MATCH] = RouteMatch(resolved.template.source, resolved.params, target.operation)
            return await target.handler(request)
        if isinstance(resolved, MethodNotAllowed):
            return error_response(
                EdgeError(
                    grpc.StatusCode.UNIMPLEMENTED,
                    f"method {request.method} is not allowed here; allowed: {', '.join(resolved.allowed)}",
                    headers={"Allow": ", ".join(resolved.allowed)},
                    http_status=405,
                )
            )
        return error_response(EdgeError(grpc.StatusCode.NOT_FOUND, f"no route for {request.method} {request.path}"))

    return dispatch
