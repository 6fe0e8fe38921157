"""Prometheus metrics of the edge, in a registry of its own per app.

Labels use the route *template* (``/v1/echo/{id}``), never the raw path, so the
number of series stays bounded whatever URLs clients send. A registry per app (not
the process-global one) lets tests build several apps in one process.

Several edge processes on one port (EDGE_PROCESSES > 1, SO_REUSEPORT): a scrape of
/metrics reaches whichever process the kernel picks, so per-process counters would jump
back and forth between scrapes. Each process therefore writes its values to files in
``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode, chosen when the
library is imported, so the variable is set by whoever starts the processes:
devstack/supervisord.py for ``make run``) and /metrics, in any process, adds up every
process's files. Chosen over a metrics port per process because the edge's one address
stays the one scrape target, as it is with a single process; the per-process CPU and
memory gauges are left out in that mode (they would describe one random process).
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST
UNMATCHED_ROUTE = "unmatched"
"""The route label of requests no template matched (404/405)."""

_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
WEBHOOK_REFUSALS = ("ZOOM_EVENT_TOO_LARGE", "ZOOM_SIGNATURE_MISSING", "ZOOM_SIGNATURE_INVALID", "ZOOM_TIMESTAMP_STALE")
"""Why the edge turns a Zoom webhook away before any backend call (attendance_svc's reasons, where it has them)."""
MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    """The directory the edge processes share their metrics through, when several serve one port."""
    return os.environ.get(MULTIPROCESS_DIR_VARIABLE) or None


class EdgeMetrics:
    """The counters and histograms the edge updates, and their text exposition."""

    def __init__(self, *, with_process_metrics: bool = False) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._shared_dir = multiprocess_dir()
        if with_process_metrics and self._shared_dir is None:
            ProcessCollector(registry=self.registry)
        self._by_request: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        """The labelled children of one (method, route, status), looked up once: routes are templates,
        so this stays as small as the metrics' own label sets."""
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
        children = self._by_request.get((label, route, status))
        if children is None:
            children = (self.requests.labels(label, route, str(status)), self.duration.labels(label, route))
            self._by_request[(label, route, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_backend_call(self, service: str, method: str, code: str) -> None:
        self.backend_calls.labels(service, method, code).inc()

    def observe_webhook_received(self) -> None:
        self.webhooks_received.inc()

    def observe_webhook_refused(self, reason: str) -> None:
        self.webhooks_refused.labels(reason if reason in WEBHOOK_REFUSALS else "OTHER").inc()

    def render(self) -> bytes:
        """This process's registry, or, with several edge processes, every process's values added up."""
        if self._shared_dir is None:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=self._shared_dir)  # type: ignore[no-untyped-call]  # untyped upstream
        return generate_latest(merged)
