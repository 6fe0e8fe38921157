"""The outer middleware: request id, user context, one JSON log line and metrics per request.

It wraps the error middleware, so it sees the final status of every request,
including the error responses. The request id is accepted from the client's
``X-Request-ID`` (service_kit bounds it) or minted, put in the contextvar so every log
line of the request carries it, forwarded to backends, and echoed on the response by
an ``on_response_prepare`` hook, which also covers streamed responses whose headers
leave before the handler returns.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from edge.keys import MATCH, METRICS, REQUEST_ID
from edge.metrics import UNMATCHED_ROUTE
from service_kit.context import accept_request_id, request_id_var, user_id_var

log = logging.getLogger("edge.access")

CLIENT_CLOSED_REQUEST = 499


def request_context_middleware() -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        request_id = accept_request_id(request.headers.get("X-Request-ID"))
        request[REQUEST_ID] = request_id
        request_token = request_id_var.set(request_id)
        user_token = user_id_var.set(None)
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:  # redirects raised by overrides
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = CLIENT_CLOSED_REQUEST
            raise
        finally:
            elapsed = time.perf_counter() - started
            match = request.get(MATCH)
            route = match.route if match is not None else UNMATCHED_ROUTE
            request.app[METRICS].observe_request(request.method, route, status, elapsed)
            log.info(
                "request",
                extra={
                    "method": request.method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "request_id": request_id,
                },
            )
            user_id_var.reset(user_token)
            request_id_var.reset(request_token)

    return middleware


async def echo_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every response carries the request's id."""
    request_id = request.get(REQUEST_ID)
    if request_id is not None:
        response.headers["X-Request-ID"] = request_id
