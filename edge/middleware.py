"""The outer middleware: request id, user context, one JSON log line and metrics per request.

It wraps the error middleware, so it sees the final status of every request,
including the error responses. The request id is accepted from the client's
``X-Request-ID`` (service_kit bounds it) or minted, put in the contextvar so every log
line of the request carries it, forwarded to backends, and echoed on the response by
an ``on_response_prepare`` hook, which also covers streamed responses whose headers
leave before the handler returns.

Access-log sampling (EDGE_ACCESS_LOG_SAMPLE=N): players poll the HLS playlists, and at
thousands of requests a second one JSON line each was the edge's largest cost after
aiohttp itself (docs/ARCHITECTURE.md, "The edge under load"). On the routes named as
sampled, one success (2xx) in N is logged, with ``"sample": N`` so a reader can scale
counts back up; every other answer (4xx, 5xx, 499) on those routes, and every answer on
every other route, is still logged. Metrics count every request whatever the sampling.
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


class AccessLogSampler:
    """Which answers get an access-log line: all but the successes of the sampled routes, 1 in ``every``.

    A counter per process, not a random draw, so exactly one success in ``every`` is kept
    and a test can count them; the processes sharing the port each keep their own.
    """

    def __init__(self, sampled_routes: frozenset[str], every: int) -> None:
        if every < 1:
            raise ValueError(f"an access-log sample is 1 in at least 1 requests, not {every}")
        self._sampled_routes = sampled_routes if every > 1 else frozenset()
        self.every = every
        self._seen = 0

    def keeps(self, route: str, status: int) -> bool:
        """Whether this answer is logged; successes of sampled routes are counted and 1 in ``every`` kept."""
        if route not in self._sampled_routes or not 200 <= status < 300:
            return True
        self._seen += 1
        if self._seen < self.every:
            return False
        self._seen = 0
        return True

    def weight(self, route: str, status: int) -> int:
        """How many answers a kept line stands for (``every`` for a sampled success, else 1)."""
        return self.every if route in self._sampled_routes and 200 <= status < 300 else 1


def request_context_middleware(
    *, sampled_routes: frozenset[str] = frozenset(), access_log_sample: int = 1
) -> Middleware:
    """The outer middleware; ``sampled_routes`` (path templates) log 1 in ``access_log_sample`` successes."""
    sampler = AccessLogSampler(sampled_routes, access_log_sample)

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
            if sampler.keeps(route, status) and log.isEnabledFor(logging.INFO):
                fields: dict[str, object] = {
                    "method": request.method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "request_id": request_id,
                }
                if (weight := sampler.weight(route, status)) > 1:
                    fields["sample"] = weight
                log.info("request", extra=fields)
            user_id_var.reset(user_token)
            request_id_var.reset(request_token)

    return middleware


async def echo_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every response carries the request's id."""
    request_id = request.get(REQUEST_ID)
    if request_id is not None:
        response.headers["X-Request-ID"] = request_id


API_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
"""Every answer: no MIME sniffing of JSON or playlists into something executable, no URL leaked onwards."""
NON_PAGE_POLICY = "default-src 'none'; frame-ancestors 'none'"
"""Answers that are not pages (JSON, playlists, CSV) may load nothing and be framed by nobody."""


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: the baseline every response carries; pages set their own, stricter, policy.

    HTML pages (web/render.py) send a Content-Security-Policy with a script nonce and the
    launching platform as their only frame ancestor; everything else gets one that allows
    nothing, so an API answer opened in a tab can neither run nor be framed.
    """
    for name, value in API_SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if "Content-Security-Policy" not in response.headers and not response.content_type.startswith("text/html"):
        response.headers["Content-Security-Policy"] = NON_PAGE_POLICY
