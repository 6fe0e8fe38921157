"""Handlers of the operational routes: GET /health, /metrics and /openapi.json."""

from __future__ import annotations

from aiohttp import web

from edge.errors import JSON_CONTENT_TYPE
from edge.keys import BACKENDS, HEALTH, METRICS, OPENAPI_DOCUMENT
from edge.metrics import METRICS_CONTENT_TYPE
from edge.transcode import dumps


async def health(request: web.Request) -> web.StreamResponse:
    """200 with every component up, 503 ("degraded") naming what is down."""
    healthy, body = await request.app[HEALTH].check(request.app[BACKENDS])
    return web.Response(
        status=200 if healthy else 503,
        body=dumps(body),
        headers={"Content-Type": JSON_CONTENT_TYPE, "Cache-Control": "no-store"},
    )


async def metrics(request: web.Request) -> web.StreamResponse:
    """Prometheus text exposition of the edge's registry."""
    return web.Response(body=request.app[METRICS].render(), headers={"Content-Type": METRICS_CONTENT_TYPE})


async def openapi(request: web.Request) -> web.StreamResponse:
    """The OpenAPI 3.1 document, built and serialized at startup."""
    return web.Response(body=request.app[OPENAPI_DOCUMENT], headers={"Content-Type": JSON_CONTENT_TYPE})


OPERATIONAL_ROUTES = (
    ("GET", "/health", health),
    ("GET", "/metrics", metrics),
    ("GET", "/openapi.json", openapi),
)
