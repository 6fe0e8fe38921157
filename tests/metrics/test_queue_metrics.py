"""Queue depth and the head job's wait, read from Redis at the moment of the scrape.

The gauges must say what Redis holds when Prometheus asks, and never turn a Redis
outage into zeros (an empty queue). Each test uses a queue of its own on the real Redis.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from redis import Redis
from rq import Queue

from devstack import free_port
from service_kit.queue_metrics import QueueCollector
from tests.support.metrics import Scrape
from tests.support.processes import Infra


def exposition(collector: QueueCollector) -> Scrape:
    registry = CollectorRegistry()
    registry.register(collector)
    return Scrape(generate_latest(registry).decode())


@pytest.fixture
def queue(infra: Infra) -> Iterator[Queue]:
    connection: Redis[bytes] = Redis.from_url(infra.settings.redis_url)
    made = Queue(f"metrics-test-{uuid.uuid4().hex[:8]}", connection=connection)
    try:
        yield made
    finally:
        registries = (made.started_job_registry, made.scheduled_job_registry, made.failed_job_registry)
        for job_id in [*made.get_job_ids(), *made.scheduled_job_registry.get_job_ids(cleanup=False)]:
            connection.delete(f"rq:job:{job_id}")
        connection.delete(made.key, *(registry.key for registry in registries))
        connection.close()


def test_queue_depth_and_the_head_jobs_wait_are_read_at_scrape_time(infra: Infra, queue: Queue) -> None:
    collector = QueueCollector(infra.settings.redis_url, [queue.name])
    empty = exposition(collector)
    assert empty.value("media_queue_jobs", queue=queue.name, state="queued") == 0
    assert empty.value("media_queue_oldest_job_age_seconds", queue=queue.name) == 0

    queue.enqueue("builtins.print", "first")
    queue.enqueue("builtins.print", "second")
    queue.enqueue_in(timedelta(hours=1), "builtins.print", "later")
    time.sleep(1.1)
    served = exposition(collector)
    assert served.value("media_queue_jobs", queue=queue.name, state="queued") == 2
    assert served.value("media_queue_jobs", queue=queue.name, state="scheduled") == 1
    assert 1.0 <= served.value("media_queue_oldest_job_age_seconds", queue=queue.name) < 30


def test_with_redis_down_the_queue_gauges_are_absent_not_zero() -> None:
    served = exposition(QueueCollector(f"redis://127.0.0.1:{free_port()}/0", ["transcode"]))
    assert "# TYPE media_queue_jobs gauge" in served.text
    assert "media_queue_jobs{" not in served.text
