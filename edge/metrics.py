"""Prometheus metrics of the edge, in a registry of its own per app.

Labels use the route *template* (``/v1/echo/{id}``), never the raw path, so the
number of series stays bounded whatever URLs clients send. A registry per app (not
the process-global one) lets tests build several apps in one process.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST
UNMATCHED_ROUTE = "unmatched"
"""The route label of requests no template matched (404/405)."""

_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
WEBHOOK_REFUSALS = ("ZOOM_EVENT_TOO_LARGE", "ZOOM_SIGNATURE_MISSING", "ZOOM_SIGNATURE_INVALID", "ZOOM_TIMESTAMP_STALE")
"""Why the edge turns a Zoom webhook away before any backend call (attendance_svc's reasons, where it has them)."""


class EdgeMetrics:
    """The counters and histograms the edge updates, and their text exposition."""

    def __init__(self, *, with_process_metrics: bool = False) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        if with_process_metrics:
            ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests answered by the edge.",
            ("method", "route", "code"),
            registry=self.registry,
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time from request to response (streams: to the end of the stream).",
            ("method", "route"),
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
        self.backend_calls = Counter(
            "backend_calls_total",
            "gRPC calls from the edge to the services, by status code.",
            ("service", "method", "code"),
            registry=self.registry,
        )
        self.webhooks_received = Counter(
            "media_edge_zoom_webhooks_received_total",
            "Zoom webhook requests the edge received (POST /api/v1/webhooks/zoom).",
            registry=self.registry,
        )
        self.webhooks_refused = Counter(
            "media_edge_zoom_webhooks_refused_total",
            "Zoom webhook requests the edge refused before calling attendance_svc, by reason.",
            ("reason",),
            registry=self.registry,
        )
        for reason in WEBHOOK_REFUSALS:
            self.webhooks_refused.labels(reason)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        label = method if method in _KNOWN_METHODS else "OTHER"
        self.requests.labels(label, route, str(status)).inc()
        self.duration.labels(label, route).observe(seconds)

    def observe_backend_call(self, service: str, method: str, code: str) -> None:
        self.backend_calls.labels(service, method, code).inc()

    def observe_webhook_received(self) -> None:
        self.webhooks_received.inc()

    def observe_webhook_refused(self, reason: str) -> None:
        self.webhooks_refused.labels(reason if reason in WEBHOOK_REFUSALS else "OTHER").inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
