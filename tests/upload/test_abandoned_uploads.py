"""The scheduled clean-up: abandoned uploads are aborted and their videos removed.

The sweep runs as RQ runs it: enqueued on the upload queue and executed by a burst
worker process over the real Redis, PostgreSQL and SeaweedFS.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from redis import Redis
from rq import Queue
from rq.job import Job

from tests.support.processes import REPO_ROOT, Stack
from tests.upload.conftest import SMALL_PART, Api
from upload_svc.jobs import UPLOAD_QUEUE, schedule_next_sweep, sweep_uploads

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
