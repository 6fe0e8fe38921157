"""What RQ jobs count, served by their worker: through Redis, so it outlives the forked work horse.

A job's counts must survive the process that made them (RQ's work horse exits with its
job) and must never fail the job; a scrape while Redis is down must not read as zeros.
Each test uses its own hash key, over the real Redis.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from devstack import free_port
from service_kit.job_metrics import JobCounter, JobHistogram, JobMetricsCollector, JobMetricsStore, record_into
from tests.support.metrics import Scrape
from tests.support.processes import REPO_ROOT, Infra

RUNS = JobCounter("media_test_runs", "Runs.", ("outcome",), known=(("ok",), ("failed",)))
SECONDS = JobHistogram("media_test_seconds", "Seconds.", buckets=(0.5, 4.0))


@pytest.fixture
def store(infra: Infra) -> Iterator[JobMetricsStore]:
    made = JobMetricsStore.for_worker(infra.settings.redis_url, "test_worker", uuid.uuid4().hex)
    record_into(made)
    try:
        yield made
    finally:
        record_into(None)
        made.delete()


def exposition(collector: JobMetricsCollector) -> Scrape:
    registry = CollectorRegistry()
    registry.register(collector)
    return Scrape(generate_latest(registry).decode())


def test_what_a_forked_child_counts_is_served_after_the_child_has_exited(store: JobMetricsStore) -> None:
    child = os.fork()
    if child == 0:  # the work horse: count, then vanish as RQ's horse does
        RUNS.inc(outcome="ok")
        SECONDS.observe(2.0)
        os._exit(0)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    served = exposition(JobMetricsCollector(store, [RUNS, SECONDS]))
    assert served.value("media_test_runs_total", outcome="ok") == 1
    assert served.value("media_test_seconds_count") == 1


def test_known_label_values_read_zero_before_their_first_count(store: JobMetricsStore) -> None:
    served = exposition(JobMetricsCollector(store, [RUNS, SECONDS]))
    assert 'media_test_runs_total{outcome="failed"} 0.0' in served.text
    assert served.value("media_test_seconds_bucket", le="+Inf") == 0


def test_a_histogram_has_cumulative_buckets_a_sum_and_a_count(store: JobMetricsStore) -> None:
    for value in (0.3, 3.0, 100.0):
        SECONDS.observe(value)
    served = exposition(JobMetricsCollector(store, [SECONDS]))
    assert served.value("media_test_seconds_bucket", le="0.5") == 1
    assert served.value("media_test_seconds_bucket", le="4.0") == 2
    assert served.value("media_test_seconds_bucket", le="+Inf") == 3
    assert served.value("media_test_seconds_count") == 3
    assert served.value("media_test_seconds_sum") == pytest.approx(103.3)


def test_a_label_the_metric_does_not_declare_is_a_programming_error(store: JobMetricsStore) -> None:
    with pytest.raises(ValueError, match="declared"):
        RUNS.inc(result="ok")


def test_with_redis_down_a_job_still_runs_and_a_scrape_shows_no_samples_rather_than_zeros() -> None:
    gone = JobMetricsStore.for_worker(f"redis://127.0.0.1:{free_port()}/0", "test_worker", "nobody")
    record_into(gone)
    try:
        RUNS.inc(outcome="ok")  # logged, not raised: metrics never fail a job
        served = exposition(JobMetricsCollector(gone, [RUNS]))
    finally:
        record_into(None)
    assert "# TYPE media_test_runs_total counter" in served.text
    assert "media_test_runs_total{" not in served.text


def test_a_worker_whose_metrics_port_is_taken_stops_with_one_line_naming_the_setting(infra: Infra) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        result = subprocess.run(
            [sys.executable, "-m", "upload_svc.worker"],
            cwd=REPO_ROOT,
            env={**os.environ, **infra.env, "UPLOAD_WORKER_METRICS_PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        holder.close()
    assert result.returncode == 2
    assert f"configuration error: UPLOAD_WORKER_METRICS_PORT={port}: cannot listen on" in result.stderr
    assert "Traceback" not in result.stderr
