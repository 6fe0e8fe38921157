"""The pipeline's own metrics, scraped from every running process after real traffic.

One journey drives the running stack as its users would: an upload refused at create,
one refused at complete, one that waits in the queue and is transcoded by a real
worker, a truncated source that FFmpeg refuses, a sweep in the upload worker, and
Zoom webhooks through the edge (stored, duplicate, refused at the edge and refused by
attendance_svc). Every process's /metrics is scraped before and after; the tests read
what an operator would see on a dashboard, and promtool checks each exposition.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from redis import Redis
from rq import Queue
from rq.job import Job

from devstack import free_port
from devstack.zoom_standin import sign
from media.transcode.v1 import transcode_pb2, transcode_pb2_grpc
from service_kit.object_store import s3_client
from tests.support.callers import Caller
from tests.support.metrics import Scrape, promtool, scrape
from tests.support.processes import Process, Stack, spawn
from tests.transcode.conftest import TEST_TRANSCODE_ENV
from tests.transcode.sources import make_source, truncate
from tests.upload.conftest import Api
from transcode_svc.adapters import TRANSCODE_QUEUE
from transcode_svc.ladder import probe_file
from upload_svc.jobs import UPLOAD_QUEUE, sweep_uploads

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("upload", "transcode", "playback", "lti", "attendance")
WORKERS = ("transcode_worker", "upload_worker")
PROCESSES = ("edge", *SERVICES, *WORKERS)
WORKER_PROCESSES = (
    ("transcode_worker", "transcode_svc.worker", "TRANSCODE_WORKER_METRICS_PORT"),
    ("upload_worker", "upload_svc.worker", "UPLOAD_WORKER_METRICS_PORT"),
)
WEBHOOK = "/api/v1/webhooks/zoom"


@dataclass
class Journey:
    """What every process served before and after the traffic, and the moments in between."""

    urls: dict[str, str]
    before: dict[str, Scrape] = field(default_factory=dict)
    after: dict[str, Scrape] = field(default_factory=dict)
    waiting: list[Scrape] = field(default_factory=list)
    """transcode_svc's /metrics twice, 1.5 s apart, while the good upload's job waited for a worker."""
    sweep: dict[str, int] = field(default_factory=dict)

    def delta(self, process: str, sample: str, **labels: str) -> float:
        return self.after[process].value(sample, **labels) - self.before[process].value(sample, **labels)


def forget_queue(connection: Redis[bytes], name: str) -> None:
    """Empty a queue and its registries, so the depth and counts read here are this journey's.

    The test Redis outlives a run; earlier runs may have left jobs behind.
    """
    queue = Queue(name, connection=connection)
    registries = (queue.started_job_registry, queue.scheduled_job_registry, queue.failed_job_registry)
    connection.delete(queue.key, *(registry.key for registry in registries))


async def until(check: Any, what: str, within: float = 120) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = await asyncio.to_thread(check)
        if found:
            return found
        await asyncio.sleep(0.3)
    raise AssertionError(f"{what}: not within {within} s")


def signed(secret: str, body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    return {"x-zm-request-timestamp": stamp, "x-zm-signature": sign(secret, stamp, body)}


def joined(meeting_uuid: str) -> bytes:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    participant = {"user_id": "conn-1", "user_name": "Ada", "email": "ada@example.edu", "join_time": now}
    return json.dumps(
        {
            "event": "meeting.participant_joined",
            "event_ts": int(time.time() * 1000),
            "payload": {"object": {"id": "8500001", "uuid": meeting_uuid, "participant": participant}},
        }
    ).encode()


async def upload(api: Api, caller: Caller, body: bytes) -> dict[str, Any]:
    created = await api.create_upload(caller, size=len(body))
    assert created.status == 200, created.body
    assert (await api.post_form(created.body, body)).status == 204
    return dict(created.body)


def start_failing_transcode(stack: Stack, caller: Caller, tmp: Path) -> str:
    """A truncated source handed to transcode_svc as upload_svc would: FFmpeg will refuse it."""
    source = make_source(tmp / "whole.mp4", size="320x240", seconds=2)
    facts = probe_file(str(source))
    truncate(source)
    video_id = str(uuid.uuid4())
    key = f"uploads/{caller.organization_id}/{video_id}/source"
    s3_client(stack.infra.settings).upload_file(str(source), stack.infra.settings.s3_bucket, key)
    with grpc.insecure_channel(stack.address("transcode")) as channel:
        reply = transcode_pb2_grpc.TranscodeServiceStub(channel).StartTranscode(
            transcode_pb2.StartTranscodeRequest(
                video_id=video_id,
                organization_id=caller.organization_id,
                source_key=key,
                probe=transcode_pb2.ProbeFacts(**dataclasses.asdict(facts)),
            ),
            metadata=(("authorization", f"Bearer {caller.token}"),),
            timeout=10,
        )
    return str(reply.job.job_id)


def transcode_status(stack: Stack, caller: Caller, job_id: str) -> int:
    with grpc.insecure_channel(stack.address("transcode")) as channel:
        return int(
            transcode_pb2_grpc.TranscodeServiceStub(channel)
            .GetTranscodeJob(
                transcode_pb2.GetTranscodeJobRequest(job_id=job_id),
                metadata=(("authorization", f"Bearer {caller.token}"),),
                timeout=10,
            )
            .job.status
        )


@pytest.fixture(scope="module")
async def journey(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Journey]:
    settings = stack.infra.settings
    connection: Redis[bytes] = Redis.from_url(settings.redis_url)
    for name in (TRANSCODE_QUEUE, UPLOAD_QUEUE):
        forget_queue(connection, name)
    worker_ports = {name: free_port() for name in WORKERS}
    urls = {"edge": f"{stack.edge_url}/metrics"}
    urls |= {name: f"http://127.0.0.1:{settings.endpoint(name).metrics_port}/metrics" for name in SERVICES}
    urls |= {name: f"http://127.0.0.1:{port}/metrics" for name, port in worker_ports.items()}
    trip = Journey(urls)
    trip.before = {name: scrape(url) for name, url in urls.items() if name not in WORKERS}
    workers: list[Process] = []
    tmp = tmp_path_factory.mktemp("journey")
    video = make_source(tmp / "lecture.mp4", size="320x240", seconds=2).read_bytes()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
            api = Api(http, stack.edge_url, settings.jwt_secret_key)
            instructor = api.caller()

            refused = await api.create_upload(instructor, filename="notes.txt", content_type="text/plain", size=10)
            assert refused.status == 400, refused.body
            junk = await upload(api, instructor, b"these are lecture notes, not a video" * 40)
            path = f"/api/v1/media/uploads/{junk['upload_id']}/complete"
            rejected = await api.call("POST", path, instructor, {})
            assert rejected.status == 400 and "UPLOAD_REJECTED" in json.dumps(rejected.body), rejected.body

            good = await upload(api, instructor, video)
            completed = await api.call("POST", f"/api/v1/media/uploads/{good['upload_id']}/complete", instructor, {})
            assert completed.status == 200, completed.body
            trip.waiting.append(scrape(urls["transcode"]))
            await asyncio.sleep(1.5)
            trip.waiting.append(scrape(urls["transcode"]))

            for name, module, setting in WORKER_PROCESSES:
                env = {**TEST_TRANSCODE_ENV, setting: str(worker_ports[name])}
                workers.append(spawn(f"{name}-metrics", module, stack.infra, env))

            async def ready() -> bool:
                reply = await api.call("GET", f"/api/v1/media/uploads/{good['upload_id']}", instructor)
                return bool(reply.body["status"] == "VIDEO_STATUS_READY")

            deadline = time.monotonic() + 120
            while not await ready():
                assert time.monotonic() < deadline, "the good upload never became ready"
                assert all(w.popen.poll() is None for w in workers), [w.log_text() for w in workers]
                await asyncio.sleep(0.3)

            failing = await asyncio.to_thread(start_failing_transcode, stack, instructor, tmp)
            failed = transcode_pb2.TRANSCODE_JOB_STATUS_FAILED
            await until(lambda: transcode_status(stack, instructor, failing) == failed, "the truncated source failing")

            queue = Queue(UPLOAD_QUEUE, connection=connection)
            sweep = queue.enqueue(sweep_uploads)
            await until(lambda: Job.fetch(sweep.id, connection=connection).is_finished, "the sweep finishing")
            trip.sweep = dict(Job.fetch(sweep.id, connection=connection).return_value() or {})

            secret = settings.zoom_webhook_secret
            body = joined(f"meeting-{uuid.uuid4().hex}==")
            answers = []
            for payload, headers in (
                (body, signed(secret, body)),
                (body, signed(secret, body)),
                (body, {}),
                (body, signed("another-secret-entirely-" + "x" * 16, body)),
                (b"{not json", signed(secret, b"{not json")),
            ):
                async with http.post(stack.edge_url + WEBHOOK, data=payload, headers=headers) as reply:
                    answers.append(reply.status)
            assert answers == [204, 204, 401, 401, 400], answers

        # The worker records after the database: wait until the last count has landed.
        await until(
            lambda: scrape(urls["transcode_worker"]).value("media_transcode_jobs_finished_total", outcome="failed"),
            "the failed job counted",
        )
        trip.after = {name: scrape(url) for name, url in urls.items()}
        yield trip
    finally:
        for worker in workers:
            worker.stop()
        connection.close()


@pytest.mark.parametrize("process", PROCESSES)
def test_every_process_serves_metrics_that_promtool_accepts(journey: Journey, process: str) -> None:
    checked = promtool("check", "metrics", stdin=journey.after[process].text)
    assert checked.returncode == 0 and not checked.stdout and not checked.stderr, checked.stdout + checked.stderr


def test_every_pipeline_metric_a_process_serves_is_listed_in_the_metrics_page(journey: Journey) -> None:
    page = (REPO_ROOT / "docs" / "METRICS.md").read_text()
    served = {
        name
        for scrape in journey.after.values()
        for name in scrape.families()
        if name.startswith("media_") and not name.endswith("_created")  # prometheus_client's start times
    }
    assert len(served) >= 20, served
    assert sorted(name for name in served if f"`{name}" not in page) == []


def test_a_declared_file_that_is_no_video_is_refused_at_create_and_counted_with_its_reason(journey: Journey) -> None:
    assert journey.delta("upload", "media_uploads_refused_total", stage="create", reason="INVALID_UPLOAD") == 1


def test_a_stored_file_that_is_no_video_is_refused_at_complete_and_counted_with_its_reason(journey: Journey) -> None:
    assert journey.delta("upload", "media_uploads_refused_total", stage="complete", reason="UPLOAD_REJECTED") == 1


def test_uploads_are_counted_when_created_and_when_completed(journey: Journey) -> None:
    assert journey.delta("upload", "media_uploads_created_total", method="post") == 2
    assert journey.delta("upload", "media_uploads_completed_total", method="post") == 1


def test_a_job_waiting_for_a_worker_shows_in_the_queue_depth_and_its_wait_grows(journey: Journey) -> None:
    first, second = journey.waiting
    assert first.value("media_queue_jobs", queue="transcode", state="queued") == 1
    assert second.value("media_queue_oldest_job_age_seconds", queue="transcode") >= (
        first.value("media_queue_oldest_job_age_seconds", queue="transcode") + 1
    )
    after = journey.after["transcode"]
    assert after.value("media_queue_jobs", queue="transcode", state="queued") == 0
    assert after.value("media_queue_oldest_job_age_seconds", queue="transcode") == 0


def test_the_upload_service_reports_its_own_queue(journey: Journey) -> None:
    after = journey.after["upload"]
    assert after.value("media_queue_jobs", queue="upload", state="queued") == 0
    assert after.value("media_queue_jobs", queue="upload", state="scheduled") >= 1  # the next sweep's slot


def test_a_transcode_run_in_a_work_horse_is_counted_by_its_worker(journey: Journey) -> None:
    worker = journey.after["transcode_worker"]
    assert worker.value("media_transcode_jobs_finished_total", outcome="succeeded") == 1
    assert worker.value("media_transcode_attempts_total") == 2
    assert worker.value("media_transcode_speed_ratio_count") == 1
    assert worker.value("media_transcode_speed_ratio_sum") > 0
    assert worker.value("media_transcode_time_to_playable_seconds_count") == 1
    assert worker.value("media_transcode_time_to_ready_seconds_count") == 1
    playable = worker.value("media_transcode_time_to_playable_seconds_sum")
    assert worker.value("media_transcode_time_to_ready_seconds_sum") >= playable >= 1.5  # it waited in the queue


def test_a_source_ffmpeg_refuses_is_counted_failed_with_its_reason(journey: Journey) -> None:
    worker = journey.after["transcode_worker"]
    assert worker.value("media_transcode_jobs_finished_total", outcome="failed") == 1
    assert worker.value("media_transcode_jobs_failed_total", reason="FFMPEG_FAILED") == 1
    assert worker.value("media_transcode_jobs_failed_total", reason="ATTEMPTS_EXHAUSTED") == 0


def test_a_sweep_in_the_upload_worker_counts_what_it_reports(journey: Journey) -> None:
    worker = journey.after["upload_worker"]
    assert worker.value("media_upload_sweeps_total") >= 1
    assert worker.value("media_uploads_abandoned_total") >= journey.sweep["removed_videos"]


def test_webhooks_are_counted_where_they_are_stored_and_where_they_are_refused(journey: Journey) -> None:
    assert journey.delta("edge", "media_edge_zoom_webhooks_received_total") == 5
    assert journey.delta("edge", "media_edge_zoom_webhooks_refused_total", reason="ZOOM_SIGNATURE_MISSING") == 1
    assert journey.delta("edge", "media_edge_zoom_webhooks_refused_total", reason="ZOOM_SIGNATURE_INVALID") == 1
    assert journey.delta("attendance", "media_zoom_webhooks_received_total") == 3
    joined_event = "meeting.participant_joined"
    assert journey.delta("attendance", "media_zoom_webhooks_stored_total", event=joined_event) == 1
    assert journey.delta("attendance", "media_zoom_webhooks_duplicate_total", event=joined_event) == 1
    assert journey.delta("attendance", "media_zoom_webhooks_refused_total", reason="ZOOM_EVENT_MALFORMED") == 1
