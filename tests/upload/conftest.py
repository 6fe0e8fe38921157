"""What the upload tests share: callers with session tokens, an HTTP client, real media files.

Uploads go through the real edge (the session ``stack``) and real SeaweedFS. Multipart
tests use a second upload_svc and edge over the same infrastructure, with
MULTIPART_THRESHOLD at 6 MiB and 5 MiB parts, so a real multipart upload takes
a 14 MiB file rather than one above the 100 MiB default.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from devstack import free_port
from service_kit.auth import INSTRUCTOR
from service_kit.object_store import s3_client
from tests.support.callers import Caller, learner_of, mint_caller
from tests.support.processes import (
    Infra,
    Stack,
    spawn,
    start_deadline,
    wait_for_grpc_health,
    wait_for_http,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MIB = 1024 * 1024
SMALL_THRESHOLD = 6 * MIB
SMALL_PART = 5 * MIB


@dataclass(frozen=True)
class Reply:
    """An HTTP answer as a browser sees it."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def error_message(self) -> str:
        return str(self.body["error"]["message"]) if isinstance(self.body, dict) and "error" in self.body else ""


class Api:
    """The edge's JSON API, called as a browser would."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, secret: str) -> None:
        self.session = session
        self.base_url = base_url
        self._secret = secret

    def caller(
        self,
        *,
        roles: tuple[str, ...] = (INSTRUCTOR,),
        organization_id: str | None = None,
        course_id: str | None = None,
    ) -> Caller:
        return mint_caller(self._secret, roles=roles, organization_id=organization_id, course_id=course_id)

    def learner_of(self, instructor: Caller) -> Caller:
        return learner_of(self._secret, instructor)

    async def call(self, method: str, path: str, caller: Caller | None, body: Any = None) -> Reply:
        headers = {"Authorization": f"Bearer {caller.token}"} if caller else {}
        async with self.session.request(method, self.base_url + path, json=body, headers=headers) as response:
            text = await response.text()
            parsed = json.loads(text) if text else None
            return Reply(response.status, parsed, dict(response.headers))

    async def create_upload(
        self, caller: Caller, *, filename: str = "Lecture_01.mp4", content_type: str = "video/mp4", size: int
    ) -> Reply:
        return await self.call(
            "POST",
            "/api/v1/media/presigned-upload",
            caller,
            {"filename": filename, "content_type": content_type, "file_size": size},
        )

    async def post_form(
        self, created: dict[str, Any], body: bytes, *, content_type: str | None = None, file_type: str | None = None
    ) -> Reply:
        """Send the file with the presigned POST form, as a browser form would.

        ``content_type`` replaces the Content-Type field; ``file_type`` is the type of the
        file part (a browser's File.type, application/octet-stream when it has none).
        """
        form = aiohttp.FormData()
        for name, value in created["fields"].items():
            form.add_field(name, content_type if content_type and name == "Content-Type" else value)
        form.add_field("file", body, filename="upload.bin", content_type=file_type or content_type or "video/mp4")
        async with self.session.post(created["url"], data=form) as response:
            return Reply(response.status, await response.text(), dict(response.headers))

    async def put_bytes(self, url: str, body: bytes) -> Reply:
        async with self.session.put(url, data=body) as response:
            return Reply(response.status, await response.text(), dict(response.headers))


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=120)


@pytest.fixture(scope="session")
def small_video(media_dir: Path) -> bytes:
    """A 2-second 320x240 test pattern at 25 fps with a 440 Hz tone (H.264 + AAC)."""
    path = media_dir / "small.mp4"
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
        "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", str(path),
    )  # fmt: skip
    return path.read_bytes()


@pytest.fixture(scope="session")
def large_video(media_dir: Path) -> bytes:
    """About 14 MiB of real, silent video (lossless noise does not compress): three 5 MiB-planned parts."""
    path = media_dir / "large.mp4"
    _ffmpeg(
        "-f", "lavfi", "-i", "nullsrc=s=640x360:r=25,geq=lum='random(1)*255':cb=128:cr=128",
        "-frames:v", "40", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p", str(path),
    )  # fmt: skip
    data = path.read_bytes()
    assert 2 * SMALL_PART < len(data) <= 3 * SMALL_PART, len(data)
    return data


@pytest.fixture(scope="session")
def s3(infra: Infra) -> S3Client:
    """The bucket as an operator sees it, to check what object storage really holds."""
    return s3_client(infra.settings)


@pytest.fixture(scope="session")
def small_parts_edge(stack: Stack) -> Iterator[str]:
    """A second upload_svc (6 MiB threshold, 5 MiB parts) and an edge in front of it; yields its URL."""
    infra = stack.infra
    port, metrics_port, edge_port = free_port(), free_port(), free_port()
    upload_env = {
        "UPLOAD_SVC_PORT": str(port),
        "UPLOAD_SVC_ADDR": f"127.0.0.1:{port}",
        "UPLOAD_SVC_METRICS_PORT": str(metrics_port),
        "MULTIPART_THRESHOLD": str(SMALL_THRESHOLD),
        "MULTIPART_PART_SIZE": str(SMALL_PART),
    }
    upload = spawn("upload-small-parts", "upload_svc", infra, upload_env)
    edge = None
    try:
        wait_for_grpc_health(upload, f"127.0.0.1:{port}", deadline=start_deadline())
        edge = spawn("edge-small-parts", "edge", infra, {**upload_env, "EDGE_PORT": str(edge_port)})
        url = f"http://127.0.0.1:{edge_port}"
        wait_for_http(edge, f"{url}/health", deadline=start_deadline())
        yield url
    finally:
        if edge is not None:
            edge.stop()
        upload.stop()


@pytest.fixture
async def api(stack: Stack) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        yield Api(session, stack.edge_url, stack.infra.settings.jwt_secret_key)


@pytest.fixture
async def multipart_api(stack: Stack, small_parts_edge: str) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        yield Api(session, small_parts_edge, stack.infra.settings.jwt_secret_key)
