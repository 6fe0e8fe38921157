"""Jobs Redis forgot (a restart without its data) are queued again from PostgreSQL, once, and complete."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis import Redis
from rq import Queue

from service_kit.db import create_engine, session_factory
from service_kit.settings import Settings
from tests.transcode.conftest import TranscodeRig
from tests.transcode.sources import make_source
from tests.transcode.test_transcode_jobs import FINAL, SUCCEEDED, kill_machine, start, wait_until
from transcode_svc import adapters, reconcile
from transcode_svc.domain import RqState


def sweep_now(settings: Settings) -> list[str]:
    """One sweep as transcode_svc runs it, without the quiet period (the job was queued a moment ago)."""

    async def once() -> list[str]:
        engine = create_engine(settings.database_url)
        try:
            connection: Redis[bytes] = Redis.from_url(settings.redis_url)
            return await reconcile.sweep(session_factory(engine), connection, settings, quiet=0)
        finally:
            await engine.dispose()

    return asyncio.run(once())


def sighting(settings: Settings, job_id: str) -> RqState:
    return reconcile.observe(Redis.from_url(settings.redis_url), job_id, datetime.now(UTC)).state


def test_a_queued_job_lost_with_redis_is_queued_again_once_and_completes(
    stub: Any, rig: TranscodeRig, tmp_path: Path
) -> None:
    settings = rig.infra.settings
    redis = Redis.from_url(settings.redis_url)
    _, job_id = start(stub, rig, make_source(tmp_path / "in.mp4", seconds=2))
    assert sighting(settings, job_id) is RqState.WAITING

    redis.flushdb()  # what a Redis restarted without RDB or AOF keeps
    assert sighting(settings, job_id) is RqState.MISSING

    assert job_id in sweep_now(settings)
    assert sighting(settings, job_id) is RqState.WAITING
    # Sweeps at once (two replicas) and again later: the job is in the queue once.
    racing = [threading.Thread(target=sweep_now, args=(settings,)) for _ in range(2)]
    for thread in racing:
        thread.start()
    for thread in racing:
        thread.join()
    assert job_id not in sweep_now(settings)
    queued = Queue(adapters.TRANSCODE_QUEUE, connection=redis).get_job_ids()
    assert queued.count(adapters.rq_job_id(job_id)) == 1

    rig.start_worker()
    job = wait_until(stub, rig, job_id, lambda j: j.status in FINAL, timeout=60)
    assert job.status == SUCCEEDED and job.attempts == 1


def test_a_job_running_when_redis_lost_its_data_is_picked_up_by_transcode_svcs_own_sweep(
    stub: Any, rig: TranscodeRig, tmp_path: Path
) -> None:
    """The worker dies with Redis's data (the worker exits on the lost connection; its horse
    here is killed too); nothing but transcode_svc's periodic sweep knows the job is live."""
    doomed = rig.start_worker()
    _, job_id = start(stub, rig, make_source(tmp_path / "in.mp4", size="640x360", seconds=30))
    wait_until(stub, rig, job_id, lambda j: j.progress_percent >= 5)
    kill_machine(doomed.pid)
    doomed.wait()
    Redis.from_url(rig.infra.settings.redis_url).flushdb()

    rig.start_worker()
    # The quiet period (15 s: the row must stop changing) plus a sweep interval, then the run.
    job = wait_until(stub, rig, job_id, lambda j: j.status in FINAL, timeout=120)
    assert job.status == SUCCEEDED and job.attempts == 2


def test_a_job_whose_worker_died_with_no_worker_left_to_notice_is_queued_again_and_completes(
    stub: Any, rig: TranscodeRig, tmp_path: Path
) -> None:
    """RQ keeps a dead worker's job as started until some worker cleans the registries; with
    none left, the sweep takes it (its execution's hash, which RQ's own delete needs, has expired)."""
    settings = rig.infra.settings
    doomed = rig.start_worker()
    _, job_id = start(stub, rig, make_source(tmp_path / "in.mp4", size="640x360", seconds=30))
    wait_until(stub, rig, job_id, lambda j: j.progress_percent >= 5)
    kill_machine(doomed.pid)
    doomed.wait()
    deadline = time.monotonic() + 30
    while sighting(settings, job_id) is not RqState.ABANDONED and time.monotonic() < deadline:
        time.sleep(0.5)
    assert sighting(settings, job_id) is RqState.ABANDONED

    sweep_now(settings)  # transcode_svc's own sweep may have taken it first: either way, queued once
    assert sighting(settings, job_id) is RqState.WAITING
    queued = Queue(adapters.TRANSCODE_QUEUE, connection=Redis.from_url(settings.redis_url)).get_job_ids()
    assert queued.count(adapters.rq_job_id(job_id)) == 1

    rig.start_worker()
    job = wait_until(stub, rig, job_id, lambda j: j.status in FINAL, timeout=120)
    assert job.status == SUCCEEDED and job.attempts == 2
