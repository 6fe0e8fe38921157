"""The whole path an instructor sees: upload, complete, watch progress live, then ready HLS."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from tests.support.processes import Stack, spawn
from tests.transcode.conftest import TEST_TRANSCODE_ENV
from tests.transcode.sources import make_recorded_webm
from tests.upload.conftest import Api

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


async def read_events(session: aiohttp.ClientSession, url: str, token: str) -> list[tuple[str, Any]]:
    """Read a server-sent event stream to its end: (event, data) pairs."""
    events: list[tuple[str, Any]] = []
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    async with session.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=120)) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        name = ""
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((name, json.loads(line.removeprefix("data: "))))
    return events


async def test_a_completed_upload_streams_its_progress_and_ends_ready_to_play(
    stack: Stack, api: Api, small_video: bytes, s3: S3Client
) -> None:
    worker = spawn("transcode-worker-e2e", "transcode_svc.worker", stack.infra, dict(TEST_TRANSCODE_ENV))
    try:
        instructor = api.caller()
        created = (await api.create_upload(instructor, size=len(small_video))).body
        assert (await api.post_form(created, small_video)).status == 204
        completed = await api.call("POST", f"/api/v1/media/uploads/{created['upload_id']}/complete", instructor, {})
        assert completed.status == 200, completed.body

        async with aiohttp.ClientSession() as session:
            events = await read_events(
                session, f"{stack.edge_url}/api/v1/media/uploads/{created['upload_id']}/events", instructor.token
            )
        progress = [data["job"]["progress_percent"] for name, data in events if name == "progress"]
        assert progress, events
        assert progress == sorted(progress), "progress never goes backwards"
        assert progress[-1] == 100
        assert events[-1][0] == "end"

        deadline = time.monotonic() + 30
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = (await api.call("GET", f"/api/v1/media/uploads/{created['upload_id']}", instructor)).body
            if status["status"] == "VIDEO_STATUS_READY":
                break
        assert status["status"] == "VIDEO_STATUS_READY", status
        assert status["progress"] == 100

        video_id = created["video_id"]
        listing = s3.list_objects_v2(Bucket="media-test", Prefix=f"hls/{video_id}/")
        keys = {item["Key"] for item in listing.get("Contents", [])}
        assert f"hls/{video_id}/master.m3u8" in keys
        assert f"hls/{video_id}/poster.jpg" in keys
        variant = s3.get_object(Bucket="media-test", Key=f"hls/{video_id}/240p/index.m3u8")["Body"].read().decode()
        assert "#EXT-X-ENDLIST" in variant
    finally:
        worker.stop()


async def test_a_browser_recording_without_a_duration_is_measured_transcoded_and_ready(
    stack: Stack, api: Api, s3: S3Client, tmp_path: Path
) -> None:
    recording = make_recorded_webm(tmp_path / "recording.webm", size="320x240", seconds=2).read_bytes()
    worker = spawn("transcode-worker-webm", "transcode_svc.worker", stack.infra, dict(TEST_TRANSCODE_ENV))
    try:
        instructor = api.caller()
        created = (
            await api.create_upload(
                instructor, filename="recording.webm", content_type="video/webm;codecs=vp8,opus", size=len(recording)
            )
        ).body
        assert created["fields"]["Content-Type"] == "video/webm"
        assert (await api.post_form(created, recording)).status == 204
        completed = await api.call("POST", f"/api/v1/media/uploads/{created['upload_id']}/complete", instructor, {})
        assert completed.status == 200, completed.body
        assert completed.body["probe"]["duration_seconds"] == pytest.approx(2.0, abs=0.05)

        deadline = time.monotonic() + 60
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = (await api.call("GET", f"/api/v1/media/uploads/{created['upload_id']}", instructor)).body
            if status["status"] in ("VIDEO_STATUS_READY", "VIDEO_STATUS_FAILED"):
                break
            await asyncio.sleep(0.3)
        assert status["status"] == "VIDEO_STATUS_READY", status

        key = f"hls/{created['video_id']}/240p/index.m3u8"
        variant = s3.get_object(Bucket="media-test", Key=key)["Body"].read().decode()
        durations = [
            float(line.split(":")[1].rstrip(",")) for line in variant.splitlines() if line.startswith("#EXTINF")
        ]
        assert sum(durations) == pytest.approx(2.0, abs=0.1)
    finally:
        worker.stop()


async def test_an_upload_not_yet_sent_streams_itself_then_ends(stack: Stack, api: Api) -> None:
    """Before complete there is no transcode job: upload_svc's WatchUpload says so and ends."""
    instructor = api.caller()
    created = (await api.create_upload(instructor, size=1000)).body
    async with aiohttp.ClientSession() as session:
        events = await read_events(
            session, f"{stack.edge_url}/api/v1/media/uploads/{created['upload_id']}/events", instructor.token
        )
    assert [name for name, _ in events] == ["upload", "end"]
    assert events[0][1]["status"] == "VIDEO_STATUS_PENDING_UPLOAD"
    assert events[0][1]["upload_id"] == created["upload_id"]
    assert events[1][1] == {"upload_id": created["upload_id"]}


async def test_another_organization_cannot_follow_an_upload(stack: Stack, api: Api) -> None:
    created = (await api.create_upload(api.caller(), size=1000)).body
    stranger = api.caller(organization_id="another-org")
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{stack.edge_url}/api/v1/media/uploads/{created['upload_id']}/events",
            headers={"Authorization": f"Bearer {stranger.token}"},
        ) as response,
    ):
        assert response.status == 404
        assert (await response.json())["error"]["status"] == "NOT_FOUND"
