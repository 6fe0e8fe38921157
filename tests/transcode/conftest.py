"""Fixtures of the transcode tests: a transcode_svc process, RQ worker processes, the bucket.

Workers start in their own session (process group), so a test can SIGKILL a worker
with its work horse and FFmpeg at once, as a dying machine would.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import grpc
import pytest
from botocore.config import Config

from devstack import free_port
from media.transcode.v1 import transcode_pb2_grpc
from service_kit.auth import issue_session_token
from tests.support.processes import REPO_ROOT, Infra, Process, spawn, wait_for_grpc_health

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

TEST_TRANSCODE_ENV = {
    "TRANSCODE_PRESET": "ultrafast",
    "HLS_SEGMENT_SECONDS": "1",
    "TRANSCODE_MAX_ATTEMPTS": "3",
    "TRANSCODE_RETRY_INTERVALS": "0",
    "TRANSCODE_HEARTBEAT_SECONDS": "1",
    "TRANSCODE_MAINTENANCE_SECONDS": "2",
    "TRANSCODE_PROGRESS_FLUSH_SECONDS": "1",
    "TRANSCODE_RECONCILE_SECONDS": "2",
}


@dataclass
class TranscodeRig:
    """The running transcode_svc, a way to start workers, the bucket and a caller."""

    infra: Infra
    env: dict[str, str]
    address: str
    s3: S3Client
    bucket: str
    organization_id: str
    token: str
    start_worker: Callable[..., subprocess.Popen[bytes]]
    """``start_worker(**env)``: one more worker, the given variables (S3_ENDPOINT_URL...) over the rig's."""

    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token}"),)

    def put_source(self, path: Path) -> tuple[str, str]:
        """Store a source as upload_svc would; returns (video_id, source_key)."""
        video_id = str(uuid.uuid4())
        key = f"uploads/{self.organization_id}/{video_id}/source"
        self.s3.upload_file(str(path), self.bucket, key)
        return video_id, key

    def output_keys(self, video_id: str) -> list[str]:
        prefix = f"hls/{video_id}/"
        keys: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys += [item["Key"].removeprefix(prefix) for item in page.get("Contents", []) if "Key" in item]
        return sorted(keys)

    def outputs_left_after(self, video_id: str, seconds: float) -> list[str]:
        """The video's outputs once they are gone, or as they stand after ``seconds`` (a cancel's clean-up)."""
        deadline = time.monotonic() + seconds
        while (keys := self.output_keys(video_id)) and time.monotonic() < deadline:
            time.sleep(0.3)
        return keys

    def read(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()


@pytest.fixture(scope="session")
def transcode_service(infra: Infra) -> Iterator[tuple[Process, dict[str, str]]]:
    env = {
        **TEST_TRANSCODE_ENV,
        "TRANSCODE_SVC_PORT": str(free_port()),
        "TRANSCODE_SVC_METRICS_PORT": str(free_port()),
    }
    env["TRANSCODE_SVC_ADDR"] = f"127.0.0.1:{env['TRANSCODE_SVC_PORT']}"
    process = spawn("transcode_svc_under_test", "transcode_svc", infra, env)
    try:
        wait_for_grpc_health(process, env["TRANSCODE_SVC_ADDR"], time.monotonic() + 60)
        yield process, env
    finally:
        process.stop()


@pytest.fixture
def rig(infra: Infra, transcode_service: tuple[Process, dict[str, str]]) -> Iterator[TranscodeRig]:
    _, service_env = transcode_service
    settings = infra.settings
    s3 = boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        aws_access_key_id=settings.aws_access_key_id,
        aws_secret_access_key=settings.aws_secret_access_key,
        region_name=settings.aws_region,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    organization_id = f"org-{uuid.uuid4().hex[:8]}"
    token = issue_session_token(
        settings.jwt_secret_key,
        user_id="instructor-1",
        organization_id=organization_id,
        course_id="course-1",
        roles=["Instructor"],
        ttl_seconds=3600,
    )
    workers: list[subprocess.Popen[bytes]] = []

    def start_worker(**overrides: str) -> subprocess.Popen[bytes]:
        log = (infra.state_dir / f"worker-{len(workers)}-{uuid.uuid4().hex[:6]}.log").open("wb")
        popen = subprocess.Popen(
            [sys.executable, "-m", "transcode_svc.worker"],
            cwd=REPO_ROOT,
            env={**os.environ, **infra.env, **service_env, **overrides, "PYTHONUNBUFFERED": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        workers.append(popen)
        return popen

    yield TranscodeRig(
        infra=infra,
        env=service_env,
        address=service_env["TRANSCODE_SVC_ADDR"],
        s3=s3,
        bucket=settings.s3_bucket,
        organization_id=organization_id,
        token=token,
        start_worker=start_worker,
    )
    for popen in workers:
        if popen.poll() is None:
            horses = children_of(popen.pid)
            os.killpg(popen.pid, signal.SIGTERM)
            try:
                popen.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(popen.pid, signal.SIGKILL)
                popen.wait()
            # A work horse has its own session: a job still running (waiting for a store this
            # session is about to stop, say) would outlive the test otherwise.
            for horse in horses:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(horse, signal.SIGKILL)


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (a worker's work horses), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid:
            found.append(int(entry.name))
    return found


@pytest.fixture
def stub(rig: TranscodeRig) -> Iterator[Any]:
    channel = grpc.insecure_channel(rig.address)
    try:
        yield transcode_pb2_grpc.TranscodeServiceStub(channel)
    finally:
        channel.close()
