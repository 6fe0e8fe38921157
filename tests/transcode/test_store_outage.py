"""An unreachable object store is waited out, not blamed on the source; a bad source still fails with its reason."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from devstack import free_port
from devstack.seaweed import Seaweed, start_seaweed
from devstack.seaweed import s3_client as seaweed_client
from media.transcode.v1 import transcode_pb2
from tests.support.processes import Infra
from tests.transcode.conftest import TranscodeRig
from tests.transcode.sources import make_source
from tests.transcode.test_transcode_jobs import FAILED, FINAL, RUNNING, SUCCEEDED, get, wait_until
from transcode_svc import adapters, jobs
from transcode_svc.ladder import probe_file

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

OUTAGE_SECONDS = 12.0
"""Longer than the old behaviour took to spend every attempt (TRANSCODE_RETRY_INTERVALS=0 in these tests)."""


@dataclass
class PrivateStore:
    """A SeaweedFS of this test alone, which it may stop and start again (same port, same data)."""

    state: Path
    access_key: str
    secret_key: str
    bucket: str
    port: int
    seaweed: Seaweed | None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> S3Client:
        return seaweed_client(self.endpoint_url, self.access_key, self.secret_key)

    def stop(self) -> None:
        if self.seaweed is not None:
            self.seaweed.stop()
            self.seaweed = None

    def start(self) -> None:
        self.seaweed = start_seaweed(
            self.state, access_key=self.access_key, secret_key=self.secret_key, bucket=self.bucket, s3_port=self.port
        )

    def worker_env(self) -> dict[str, str]:
        url = self.endpoint_url
        return {"S3_ENDPOINT_URL": url, "S3_PUBLIC_ENDPOINT_URL": url, "S3_BUCKET": self.bucket}


@pytest.fixture
def private_store(infra: Infra, tmp_path: Path) -> Iterator[PrivateStore]:
    keys = infra.settings.aws_access_key_id, infra.settings.aws_secret_access_key
    store = PrivateStore(tmp_path / "store", *keys, bucket="media-outage", port=free_port(), seaweed=None)
    store.start()
    try:
        yield store
    finally:
        store.stop()


def start_from(stub: Any, rig: TranscodeRig, store: PrivateStore, source: Path) -> tuple[str, str]:
    """Put the source in the private store and StartTranscode for it; returns (video_id, job_id)."""
    video_id = str(uuid.uuid4())
    key = f"uploads/{rig.organization_id}/{video_id}/source"
    store.client().upload_file(str(source), store.bucket, key)
    probe = transcode_pb2.ProbeFacts(**dataclasses.asdict(probe_file(str(source))))
    reply = stub.StartTranscode(
        transcode_pb2.StartTranscodeRequest(
            video_id=video_id, organization_id=rig.organization_id, source_key=key, probe=probe
        ),
        metadata=rig.metadata(),
        timeout=10,
    )
    return video_id, reply.job.job_id


def test_a_store_stopped_mid_job_is_waited_for_and_the_job_completes_when_it_is_back(
    stub: Any, rig: TranscodeRig, private_store: PrivateStore, tmp_path: Path
) -> None:
    video_id, job_id = start_from(
        stub, rig, private_store, make_source(tmp_path / "in.mp4", size="640x360", seconds=30)
    )
    rig.start_worker(**private_store.worker_env())
    wait_until(stub, rig, job_id, lambda j: j.status == RUNNING and j.progress_percent >= 5)

    private_store.stop()
    seen = set()
    until = time.monotonic() + OUTAGE_SECONDS
    while time.monotonic() < until:
        seen.add(get(stub, rig, job_id).status)
        time.sleep(0.5)
    assert seen == {RUNNING}, "the job must wait for the store, neither fail nor finish without it"

    private_store.start()
    job = wait_until(stub, rig, job_id, lambda j: j.status in FINAL, timeout=120)
    assert job.status == SUCCEEDED, job.error_reason
    listed = private_store.client().list_objects_v2(Bucket=private_store.bucket, Prefix=f"hls/{video_id}/")
    keys = {item["Key"] for item in listed.get("Contents", []) if "Key" in item}
    assert f"hls/{video_id}/master.m3u8" in keys


def test_a_source_deleted_after_its_upload_fails_the_job_with_that_reason(
    stub: Any, rig: TranscodeRig, tmp_path: Path
) -> None:
    source = make_source(tmp_path / "in.mp4", seconds=1)
    video_id, key = rig.put_source(source)
    rig.s3.delete_object(Bucket=rig.bucket, Key=key)
    reply = stub.StartTranscode(
        transcode_pb2.StartTranscodeRequest(
            video_id=video_id,
            organization_id=rig.organization_id,
            source_key=key,
            probe=transcode_pb2.ProbeFacts(**dataclasses.asdict(probe_file(str(source)))),
        ),
        metadata=rig.metadata(),
        timeout=10,
    )
    rig.start_worker()
    job = wait_until(stub, rig, reply.job.job_id, lambda j: j.status in FINAL)
    assert job.status == FAILED
    assert job.error_reason == "the source is no longer in the object store"
    assert rig.output_keys(video_id) == []


def test_a_store_nobody_answers_for_is_unreachable_not_a_missing_source(infra: Infra) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    outputs = adapters.OutputStore(dataclasses.replace(infra.settings, s3_endpoint_url=closed))
    assert not outputs.reachable()
    with pytest.raises(adapters.StoreUnavailable):
        outputs.confirm_source("uploads/org/video/source")
    started = time.monotonic()
    assert not jobs.wait_for_store(outputs, until=started + 2.5)
    assert time.monotonic() - started < 2.5


def test_a_store_that_answers_is_reachable_and_a_missing_key_is_a_missing_source(infra: Infra) -> None:
    outputs = adapters.OutputStore(infra.settings)
    assert outputs.reachable()
    with pytest.raises(adapters.SourceMissing):
        outputs.confirm_source(f"uploads/org/{uuid.uuid4()}/source")
