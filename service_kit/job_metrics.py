"""Metrics of RQ jobs, kept in Redis so that what a forked work horse counts outlives it.

RQ runs every job in a *work horse*, a process forked from the worker that exits when
the job ends: a prometheus_client counter incremented there dies with it. So job code
records through :class:`JobCounter` and :class:`JobHistogram`, which add to one Redis
hash per worker process (one ``MULTI`` per observation, so a scrape never sees half of
one), and the worker's metrics server reads that hash when Prometheus scrapes
(:class:`JobMetricsCollector`). The worker itself records the same way (RQ runs the
failure callback of an abandoned job in the worker, not in a horse).

Why not prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``): it keeps
files per process id and never merges a dead process's files, and RQ forks once per
job, so the directory, and the work of every scrape, grows with every job a worker
has run (a sweep every 15 minutes alone is 35,000 horses a year). It also needs a
directory per worker, wiped at start, and the variable set before prometheus_client is
imported. One hash per worker is bounded by the number of series, survives a horse
killed with SIGKILL, and needs no disk.

A worker's series start at zero with the worker (its RQ name is new at every start),
which Prometheus reads as an ordinary counter reset. The hash is deleted when the worker
stops, and otherwise expires a week after its last write or read.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import redis
from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector, start_http_server
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from service_kit.settings import Settings

if TYPE_CHECKING:
    Connection = redis.Redis[bytes]
else:
    Connection = redis.Redis

log = logging.getLogger(__name__)

KEY_PREFIX = "media:metrics:"
KEY_TTL_SECONDS = 7 * 24 * 3600
"""A hash nobody writes or reads for a week belongs to a worker that died without cleaning up."""
READ_TIMEOUT_SECONDS = 2.0
"""A scrape waits this long for Redis at most, so a stalled Redis cannot hold Prometheus's request."""


def _field(sample: str, labels: Iterable[tuple[str, str]]) -> str:
    """One hash field per sample, readable in redis-cli: ``["media_x_total", [["outcome", "failed"]]]``."""
    return json.dumps([sample, [list(pair) for pair in labels]], separators=(",", ":"))


def _le(bound: float) -> str:
    """A bucket's ``le`` label as prometheus_client writes it: ``0.5``, ``10.0``, ``+Inf``."""
    return "+Inf" if math.isinf(bound) else repr(float(bound))


def _label_pairs(labelnames: Sequence[str], labels: Mapping[str, str]) -> list[tuple[str, str]]:
    if set(labels) != set(labelnames):
        raise ValueError(f"labels {sorted(labels)} given, {sorted(labelnames)} declared")
    return [(name, labels[name]) for name in labelnames]


@dataclass(frozen=True)
class JobCounter:
    """A counter that job code increments; exposed as ``<name>_total`` by the worker."""

    name: str
    """Without ``_total``, as prometheus_client's Counter takes it."""
    documentation: str
    labelnames: tuple[str, ...] = ()
    known: tuple[tuple[str, ...], ...] = ()
    """Label values shown as 0 before their first increment, so rate() and alerts see them from the start."""

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if amount < 0:
            raise ValueError("counters only go up")
        _record({_field(f"{self.name}_total", _label_pairs(self.labelnames, labels)): amount})

    def describe(self) -> Metric:
        return CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)

    def family(self, values: Mapping[str, float]) -> Metric:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        seen: set[tuple[str, ...]] = set()
        for field, value in values.items():
            sample, pairs = json.loads(field)
            if sample == f"{self.name}_total":
                labelvalues = tuple(str(v) for _, v in pairs)
                seen.add(labelvalues)
                family.add_metric(labelvalues, value)
        for labelvalues in self.known if self.labelnames else ((),):
            if labelvalues not in seen:
                family.add_metric(labelvalues, 0.0)
        return family


@dataclass(frozen=True)
class JobHistogram:
    """A histogram that job code observes into; cumulative buckets, as Prometheus exposes them."""

    name: str
    documentation: str
    buckets: tuple[float, ...]
    labelnames: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if list(self.buckets) != sorted(self.buckets) or any(math.isinf(b) for b in self.buckets):
            raise ValueError("buckets are finite and ascending; +Inf is added")

    def observe(self, value: float, **labels: str) -> None:
        pairs = _label_pairs(self.labelnames, labels)
        increments = {
            _field(f"{self.name}_bucket", [*pairs, ("le", _le(bound))]): 1.0
            for bound in (*self.buckets, math.inf)
            if value <= bound
        }
        increments[_field(f"{self.name}_sum", pairs)] = value
        _record(increments)

    def describe(self) -> Metric:
        return HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)

    def family(self, values: Mapping[str, float]) -> Metric:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        bounds = [_le(bound) for bound in (*self.buckets, math.inf)]
        buckets: dict[tuple[str, ...], dict[str, float]] = {}
        sums: dict[tuple[str, ...], float] = {}
        for field, value in values.items():
            sample, pairs = json.loads(field)
            labels = dict(pairs)
            labelvalues = tuple(str(labels[name]) for name in self.labelnames)
            if sample == f"{self.name}_bucket":
                buckets.setdefault(labelvalues, {})[labels["le"]] = value
            elif sample == f"{self.name}_sum":
                sums[labelvalues] = value
        if not self.labelnames:
            buckets.setdefault((), {})
        for labelvalues, counts in buckets.items():
            family.add_metric(
                list(labelvalues), [(le, counts.get(le, 0.0)) for le in bounds], sums.get(labelvalues, 0.0)
            )
        return family


JobMetric = JobCounter | JobHistogram


class JobMetricsStore:
    """One worker's hash in Redis: written by the worker and its horses, read by its metrics server."""

    def __init__(self, connection: Connection, key: str) -> None:
        self._connection = connection
        self.key = key

    @classmethod
    def for_worker(cls, redis_url: str, process: str, worker_name: str) -> JobMetricsStore:
        """A store on a client of its own, with a read timeout, keyed by process and RQ worker name."""
        connection = redis.Redis.from_url(
            redis_url, socket_timeout=READ_TIMEOUT_SECONDS, socket_connect_timeout=READ_TIMEOUT_SECONDS
        )
        return cls(connection, f"{KEY_PREFIX}{process}:{worker_name}")

    def add(self, increments: Mapping[str, float]) -> None:
        """Add atomically; a Redis failure is logged, never raised: metrics must not fail a job."""
        try:
            with self._connection.pipeline(transaction=True) as pipe:
                for field, amount in increments.items():
                    pipe.hincrbyfloat(self.key, field, amount)
                pipe.expire(self.key, KEY_TTL_SECONDS)
                pipe.execute()
        except redis.RedisError as exc:
            log.warning("job metrics not recorded", extra={"error": str(exc)[:300]})

    def read(self) -> dict[str, float]:
        with self._connection.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.key)
            pipe.expire(self.key, KEY_TTL_SECONDS)
            raw, _ = pipe.execute()
        return {field.decode(): float(value) for field, value in raw.items()}

    def delete(self) -> None:
        try:
            self._connection.delete(self.key)
        except redis.RedisError as exc:
            log.warning("job metrics not removed", extra={"key": self.key, "error": str(exc)[:300]})


_store: JobMetricsStore | None = None


def record_into(store: JobMetricsStore | None) -> None:
    """Where this process (and the horses it forks, which inherit it) records job metrics.

    Unset, recording does nothing: a job run by a plain ``rq worker`` (as some tests
    do) or called in-process counts nowhere rather than failing.
    """
    global _store
    _store = store


def _record(increments: Mapping[str, float]) -> None:
    if _store is not None:
        _store.add(increments)


class JobMetricsCollector(Collector):
    """Reads a worker's hash at scrape time and exposes it as ordinary Prometheus families.

    If Redis does not answer, the families come without samples and a warning is logged:
    absent series leave a gap in the graphs, where zeros would read as a counter reset.
    """

    def __init__(self, store: JobMetricsStore, metrics: Sequence[JobMetric]) -> None:
        self._store = store
        self._metrics = tuple(metrics)

    def describe(self) -> Iterable[Metric]:
        return [metric.describe() for metric in self._metrics]

    def collect(self) -> Iterator[Metric]:
        try:
            values = self._store.read()
        except redis.RedisError as exc:
            log.warning("job metrics not read", extra={"error": str(exc)[:300]})
            yield from self.describe()
            return
        for metric in self._metrics:
            yield metric.family(values)


def start_worker_metrics(
    settings: Settings, worker: str, rq_name: str, metrics: Sequence[JobMetric]
) -> tuple[JobMetricsStore, int]:
    """What a worker's ``main`` does before it works: serve /metrics, then record into its hash.

    ``worker`` is "transcode" or "upload" (its <NAME>_WORKER_METRICS_PORT). Returns the
    store, to delete when the worker stops, and the port served (the OS's pick for 0).
    """
    store = JobMetricsStore.for_worker(settings.redis_url, f"{worker}_worker", rq_name)
    port = serve_worker_metrics(
        host=settings.grpc_bind_host,
        port=settings.worker_metrics_ports[worker],
        setting=f"{worker.upper()}_WORKER_METRICS_PORT",
        store=store,
        metrics=metrics,
    )
    record_into(store)
    return store, port


def serve_worker_metrics(
    *, host: str, port: int, setting: str, store: JobMetricsStore, metrics: Sequence[JobMetric]
) -> int:
    """Serve the worker's /metrics from a daemon thread; returns the port (the OS's pick for 0).

    The registry holds the worker process's own figures (CPU, memory, open files) and the
    job metrics. A port already taken stops the worker with one line naming ``setting``.
    """
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    registry.register(JobMetricsCollector(store, metrics))
    try:
        server, _ = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        print(
            f"configuration error: {setting}={port}: cannot listen on {host}:{port} ({exc.strerror}): "
            "give each worker on this machine its own port, or 0 for any free one",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    # A horse inherits the listening socket; closed there, a horse that outlives its
    # worker (SIGKILL) cannot keep the port from the worker that replaces it.
    os.register_at_fork(after_in_child=server.socket.close)
    return int(server.server_port)
