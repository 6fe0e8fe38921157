"""The scheduled clean-up: abandoned uploads are aborted and their videos removed.

The sweep runs as RQ runs it: enqueued on the upload queue and executed by a burst
worker process over the real Redis, PostgreSQL and SeaweedFS.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
from redis import Redis
from rq import Queue
from rq.job import Job

from devstack import free_port
from tests.support.processes import REPO_ROOT, Stack, spawn, wait_for_grpc_health, wait_for_http
from tests.upload.conftest import SMALL_PART, Api
from upload_svc.jobs import (
    UPLOAD_QUEUE,
    hand_off_uploads,
    schedule_next_hand_off,
    schedule_next_sweep,
    sweep_uploads,
)
from upload_svc.worker import UploadWorker

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def run_burst_worker(stack: Stack) -> None:
    rq = Path(sys.executable).parent / "rq"
    subprocess.run(
        [str(rq), "worker", "--burst", "--url", stack.infra.settings.redis_url, UPLOAD_QUEUE],
        cwd=REPO_ROOT,
        env={**os.environ, **stack.infra.env},
        check=True,
        timeout=120,
        capture_output=True,
    )


async def test_pending_uploads_past_their_time_to_live_are_removed(
    stack: Stack, api: Api, multipart_api: Api, small_video: bytes, large_video: bytes, s3: S3Client
) -> None:
    instructor = api.caller()
    single = (await api.create_upload(instructor, size=len(small_video))).body
    await api.post_form(single, small_video)  # sent, never completed
    multipart = (await multipart_api.create_upload(instructor, size=len(large_video))).body
    parts = await multipart_api.call(
        "POST", f"/api/v1/media/uploads/{multipart['upload_id']}/parts", instructor, {"part_numbers": [1]}
    )
    await multipart_api.put_bytes(parts.body["parts"][0]["url"], large_video[:SMALL_PART])
    finished = (await api.create_upload(instructor, size=len(small_video))).body
    await api.post_form(finished, small_video)
    await api.call("POST", f"/api/v1/media/uploads/{finished['upload_id']}/complete", instructor, {})
    orphan = s3.create_multipart_upload(Bucket="media-test", Key="uploads/nobody/orphan/source")

    queue = Queue(UPLOAD_QUEUE, connection=Redis.from_url(stack.infra.settings.redis_url))
    job = queue.enqueue(sweep_uploads, 0)
    run_burst_worker(stack)

    job = Job.fetch(job.id, connection=queue.connection)
    assert job.is_finished, job.latest_result()
    result = job.return_value()
    assert result is not None
    assert result["removed_videos"] >= 2
    assert result["aborted_orphans"] >= 1
    for created in (single, multipart):
        gone = await api.call("GET", f"/api/v1/media/uploads/{created['upload_id']}", instructor)
        assert gone.status == 404
    open_uploads = {u["UploadId"] for u in s3.list_multipart_uploads(Bucket="media-test").get("Uploads", [])}
    assert orphan["UploadId"] not in open_uploads
    assert s3.list_objects_v2(Bucket="media-test", Prefix=single["fields"]["key"]).get("KeyCount") == 0
    kept = await api.call("GET", f"/api/v1/media/uploads/{finished['upload_id']}", instructor)
    assert kept.body["status"] == "VIDEO_STATUS_QUEUED"


async def test_a_fresh_pending_upload_survives_the_sweep(stack: Stack, api: Api) -> None:
    instructor = api.caller()
    created = (await api.create_upload(instructor, size=1000)).body
    queue = Queue(UPLOAD_QUEUE, connection=Redis.from_url(stack.infra.settings.redis_url))
    queue.enqueue(sweep_uploads)  # the default time to live: a day
    run_burst_worker(stack)
    kept = await api.call("GET", f"/api/v1/media/uploads/{created['upload_id']}", instructor)
    assert kept.body["status"] == "VIDEO_STATUS_PENDING_UPLOAD"


def test_every_worker_schedules_the_same_next_sweep_once(stack: Stack) -> None:
    queue = Queue(f"{UPLOAD_QUEUE}-schedule-test", connection=Redis.from_url(stack.infra.settings.redis_url))
    now = datetime(2030, 1, 1, 0, 7, tzinfo=UTC)
    first = schedule_next_sweep(queue, now)
    second = schedule_next_sweep(queue, now)
    assert first == second
    registry = queue.scheduled_job_registry
    assert registry.get_job_ids() == [first]
    assert registry.get_scheduled_time(first) == datetime(2030, 1, 1, 0, 15, tzinfo=UTC)
    registry.remove(first, delete_job=True)


def test_every_worker_schedules_the_same_next_hand_off_once_on_a_short_grid(stack: Stack) -> None:
    queue = Queue(f"{UPLOAD_QUEUE}-hand-off-test", connection=Redis.from_url(stack.infra.settings.redis_url))
    now = datetime(2030, 1, 1, 0, 7, 10, tzinfo=UTC)
    first = schedule_next_hand_off(queue, now)
    assert schedule_next_hand_off(queue, now) == first
    registry = queue.scheduled_job_registry
    assert registry.get_job_ids() == [first]
    assert registry.get_scheduled_time(first) == datetime(2030, 1, 1, 0, 7, 30, tzinfo=UTC)
    registry.remove(first, delete_job=True)


async def test_an_upload_completed_while_transcode_svc_was_away_is_handed_off_by_the_next_hand_off(
    stack: Stack, small_video: bytes
) -> None:
    """Completed through an upload_svc whose transcode_svc does not answer: 200, and it waits as uploaded.

    The hand-off job, run as RQ runs it against the stack's live transcode_svc, queues it
    without waiting for the quarter-hourly sweep.
    """
    infra = stack.infra
    port, edge_port, nowhere = free_port(), free_port(), free_port()
    upload_env = {
        "UPLOAD_SVC_PORT": str(port),
        "UPLOAD_SVC_ADDR": f"127.0.0.1:{port}",
        "UPLOAD_SVC_METRICS_PORT": str(free_port()),
        "TRANSCODE_SVC_ADDR": f"127.0.0.1:{nowhere}",
    }
    upload = spawn("upload-no-transcode", "upload_svc", infra, upload_env)
    edge = None
    try:
        wait_for_grpc_health(upload, f"127.0.0.1:{port}", time.monotonic() + 60)
        # The edge itself reaches the live transcode_svc; only its upload_svc does not.
        edge_env = {"UPLOAD_SVC_ADDR": upload_env["UPLOAD_SVC_ADDR"], "EDGE_PORT": str(edge_port)}
        edge = spawn("edge-no-transcode", "edge", infra, edge_env)
        wait_for_http(edge, f"http://127.0.0.1:{edge_port}/health", time.monotonic() + 60)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            away = Api(session, f"http://127.0.0.1:{edge_port}", infra.settings.jwt_secret_key)
            instructor = away.caller()
            created = (await away.create_upload(instructor, size=len(small_video))).body
            assert (await away.post_form(created, small_video)).status == 204
            completed = await away.call(
                "POST", f"/api/v1/media/uploads/{created['upload_id']}/complete", instructor, {}
            )
            assert completed.status == 200, completed.body
            assert completed.body["status"] == "VIDEO_STATUS_UPLOADED"
            assert not completed.body.get("transcode_job_id")

            queue = Queue(UPLOAD_QUEUE, connection=Redis.from_url(infra.settings.redis_url))
            job = queue.enqueue(hand_off_uploads)
            run_burst_worker(stack)
            # At least this one (a video another test left waiting may be handed off with it).
            assert (Job.fetch(job.id, connection=queue.connection).return_value() or {}).get("handed_off", 0) >= 1

            live = Api(session, stack.edge_url, infra.settings.jwt_secret_key)
            status = await live.call("GET", f"/api/v1/media/uploads/{created['upload_id']}", instructor)
            assert status.body["status"] == "VIDEO_STATUS_QUEUED", status.body
    finally:
        if edge is not None:
            edge.stop()
        upload.stop()


def test_a_worker_puts_back_the_periodic_chains_a_redis_restart_dropped(stack: Stack) -> None:
    connection = Redis.from_url(stack.infra.settings.redis_url)
    queue = Queue(f"{UPLOAD_QUEUE}-chains-test", connection=connection)
    worker = UploadWorker([queue], connection=connection)
    registry = queue.scheduled_job_registry
    assert registry.get_job_ids() == []  # as after a restart without persistence
    worker.run_maintenance_tasks()
    kinds = sorted(job_id.rsplit("-", 1)[0] for job_id in registry.get_job_ids())
    assert kinds == ["upload-hand-off", "upload-sweep"]
    for job_id in registry.get_job_ids():
        registry.remove(job_id, delete_job=True)
