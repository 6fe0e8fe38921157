"""How far behind the RQ queues are, read from Redis when Prometheus scrapes.

A collector, not a polling loop: the numbers are as fresh as the scrape and cost
nothing between scrapes. The services that fill a queue serve it (transcode_svc the
``transcode`` queue, upload_svc the ``upload`` queue), not the workers: when every
worker is gone, which is when a queue backs up, the gauge is still there. Several
replicas of a service report the same values; alert rules take ``max by (queue)``.

Reads are a handful of O(1) Redis commands per queue (LLEN, ZCARD, LRANGE of the
head, HGET of one job), run in prometheus_client's HTTP thread, never on an event
loop, and never RQ's registry ``count`` (which cleans the registry as a side effect).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import redis
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from rq import Queue
from rq.job import Job
from rq.utils import utcparse

if TYPE_CHECKING:
    Connection = redis.Redis[bytes]
else:
    Connection = redis.Redis

log = logging.getLogger(__name__)

STATES = ("queued", "started", "scheduled", "failed")
"""``queued``: waiting for a worker; ``started``: running; ``scheduled``: waiting for a time
(retries with back-off, the upload sweep); ``failed``: kept in RQ's failed registry."""
HEAD_LOOKAHEAD = 10
"""Queued ids looked at for the oldest job: a cancelled or expired job leaves its id behind."""
READ_TIMEOUT_SECONDS = 2.0

JOBS_NAME = "media_queue_jobs"
JOBS_HELP = "RQ jobs of the queue by state, read from Redis at scrape time."
AGE_NAME = "media_queue_oldest_job_age_seconds"
AGE_HELP = "Seconds the job at the head of the queue (the next to run) has waited since it was enqueued; 0 when empty."


class QueueCollector(Collector):
    """``media_queue_jobs{queue,state}`` and ``media_queue_oldest_job_age_seconds{queue}``.

    If Redis does not answer, both families come without samples (and a warning is
    logged): an absent series is honest, a zero would say the queue is empty.
    """

    def __init__(self, redis_url: str, queues: Sequence[str]) -> None:
        self._connection: Connection = redis.Redis.from_url(
            redis_url, socket_timeout=READ_TIMEOUT_SECONDS, socket_connect_timeout=READ_TIMEOUT_SECONDS
        )
        self._queues = tuple(queues)

    def describe(self) -> Iterable[Metric]:
        return [
            GaugeMetricFamily(JOBS_NAME, JOBS_HELP, labels=["queue", "state"]),
            GaugeMetricFamily(AGE_NAME, AGE_HELP, labels=["queue"]),
        ]

    def collect(self) -> Iterator[Metric]:
        jobs, age = self.describe()
        assert isinstance(jobs, GaugeMetricFamily) and isinstance(age, GaugeMetricFamily)
        try:
            readings = [(name, *self._read(name)) for name in self._queues]
        except redis.RedisError as exc:
            log.warning("queue metrics not read", extra={"error": str(exc)[:300]})
            readings = []
        for name, counts, oldest_age in readings:
            for state, count in zip(STATES, counts, strict=True):
                jobs.add_metric([name, state], count)
            age.add_metric([name], oldest_age)
        yield jobs
        yield age

    def _read(self, name: str) -> tuple[list[int], float]:
        queue = Queue(name, connection=self._connection)
        with self._connection.pipeline(transaction=False) as pipe:
            pipe.llen(queue.key)
            for registry in (queue.started_job_registry, queue.scheduled_job_registry, queue.failed_job_registry):
                pipe.zcard(registry.key)
            pipe.lrange(queue.key, 0, HEAD_LOOKAHEAD - 1)
            *counts, head = pipe.execute()
        with self._connection.pipeline(transaction=False) as pipe:
            for job_id in head:
                pipe.hget(Job.key_for(job_id.decode()), "enqueued_at")
            stamps = pipe.execute()
        now = time.time()
        enqueued = next((utcparse(stamp.decode()) for stamp in stamps if stamp), None)
        return [int(count) for count in counts], max(0.0, now - enqueued.timestamp()) if enqueued else 0.0
