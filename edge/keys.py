"""Typed keys of what the app and each request carry (aiohttp's AppKey / RequestKey).

One module so that the gateway, the operational handlers and hand-written overrides
reach the same objects without importing each other.
"""

from __future__ import annotations

from aiohttp import web

from edge.backends import Backends
from edge.health import HealthChecker
from edge.marshalers import Offer, RouteKey
from edge.metrics import EdgeMetrics
from edge.operations import RouteMatch
from service_kit.settings import AttendanceSettings, PlaybackSettings, Settings

SETTINGS = web.AppKey("settings", Settings)
PLAYBACK_SETTINGS = web.AppKey("playback_settings", PlaybackSettings)
"""Segment delivery and token lifetimes: what the pages' Content-Security-Policy lets the player reach."""
ATTENDANCE_SETTINGS = web.AppKey("attendance_settings", AttendanceSettings)
"""The webhook's replay window, checked before any backend call."""
BACKENDS = web.AppKey("backends", Backends)
"""Open channels; present from startup (cleanup_ctx) to shutdown."""
METRICS = web.AppKey("metrics", EdgeMetrics)
HEALTH = web.AppKey("health", HealthChecker)
ENCODINGS = web.AppKey("encodings", dict[RouteKey, Offer])
"""Each RPC route's encodings (:mod:`edge.marshalers`), compiled at startup."""
OPENAPI_DOCUMENT = web.AppKey("openapi_document", bytes)
"""/openapi.json, serialized once at startup."""

REQUEST_ID = web.RequestKey("request_id", str)
MATCH = web.RequestKey("match", RouteMatch)
"""The route that serves the request: template label, path variables, and the RPC if any."""
