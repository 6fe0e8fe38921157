"""Time to playable and to ready through the real job path: the queue, a worker and S3.

bench/transcode.py times the ladder on local files; a user waits on more than that. Here
the source sits in SeaweedFS, ``StartTranscode`` goes to a running transcode_svc, an RQ
worker (``python -m transcode_svc.worker``) picks the job up, FFmpeg reads the source
over a presigned URL and the worker uploads segments while it encodes. The clock starts
just before StartTranscode and reads ``GetTranscodeJob`` every 100 ms, as a client
would: playable is the first reply with ``playable`` set (the master playlist is in the
bucket, which is checked), ready the first with SUCCEEDED.

The issue's target: the first playable segment within 10 s of the job starting,
whatever the source's length. Sources: 1 minute and 10 minutes, 1080p30 H.264 at about
8 Mbit/s with AAC, veryfast (the 10-minute one makes this bench last about 15 minutes;
BENCH_TRANSCODE_SHORT=1 leaves it out).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

from bench._support import RESULTS_DIR, spawned, table, write_result
from bench.stack import environment, infrastructure, service_ports
from bench.transcode import make_source
from media.transcode.v1 import transcode_pb2, transcode_pb2_grpc
from service_kit.auth import INSTRUCTOR, issue_session_token
from service_kit.object_store import s3_client
from service_kit.settings import load_settings
from transcode_svc.ladder import probe_file

NAME = "transcode_job"
ORGANIZATION = "bench-org"
POLL_SECONDS = 0.1
STARTUP_SECONDS = 60.0
TARGET_PLAYABLE_SECONDS = 10.0
SUCCEEDED = transcode_pb2.TRANSCODE_JOB_STATUS_SUCCEEDED
FINAL = {SUCCEEDED, transcode_pb2.TRANSCODE_JOB_STATUS_FAILED, transcode_pb2.TRANSCODE_JOB_STATUS_CANCELLED}


class JobPath:
    """A caller of the running transcode_svc, with the bucket the worker reads and writes."""

    def __init__(self, env: dict[str, str]) -> None:
        settings = load_settings(env, dotenv_path=Path("/nonexistent/.env"))
        self.s3 = s3_client(settings)
        self.bucket = settings.s3_bucket
        self.channel = grpc.insecure_channel(env["TRANSCODE_SVC_ADDR"])
        self.stub = transcode_pb2_grpc.TranscodeServiceStub(self.channel)
        token = issue_session_token(
            env["JWT_SECRET_KEY"],
            user_id="bench-instructor",
            organization_id=ORGANIZATION,
            course_id="bench-course",
            roles=[INSTRUCTOR],
            ttl_seconds=7200,
        )
        self.metadata = (("authorization", f"Bearer {token}"),)

    def time_job(self, source: Path, deadline_seconds: float) -> dict[str, float]:
        """Store the source as upload_svc would, start the job, and time it to playable and ready."""
        video_id = str(uuid.uuid4())
        key = f"uploads/{ORGANIZATION}/{video_id}/source"
        self.s3.upload_file(str(source), self.bucket, key)
        facts = probe_file(str(source))
        probe = transcode_pb2.ProbeFacts(**dataclasses.asdict(facts))
        request = transcode_pb2.StartTranscodeRequest(
            video_id=video_id, organization_id=ORGANIZATION, source_key=key, probe=probe
        )
        started = time.perf_counter()
        job_id = self.stub.StartTranscode(request, metadata=self.metadata, timeout=10).job.job_id
        playable: float | None = None
        while time.perf_counter() - started < deadline_seconds:
            job = self.stub.GetTranscodeJob(
                transcode_pb2.GetTranscodeJobRequest(job_id=job_id), metadata=self.metadata, timeout=10
            ).job
            now = time.perf_counter() - started
            if playable is None and job.playable:
                playable = now
                self.s3.head_object(Bucket=self.bucket, Key=f"hls/{video_id}/master.m3u8")
            if job.status in FINAL:
                if job.status != SUCCEEDED:
                    raise RuntimeError(f"the job ended {transcode_pb2.TranscodeJobStatus.Name(job.status)}")
                queued = job.started_at.ToDatetime() - job.created_at.ToDatetime()
                return {
                    "playable_s": round(playable if playable is not None else now, 2),
                    "ready_s": round(now, 2),
                    "queued_s": round(queued.total_seconds(), 2),
                }
            time.sleep(POLL_SECONDS)
        raise TimeoutError(f"the job did not finish within {deadline_seconds:.0f} s")

    def close(self) -> None:
        self.channel.close()


def main() -> dict[str, Any]:
    logs = RESULTS_DIR / "logs"
    lengths = [60] if os.environ.get("BENCH_TRANSCODE_SHORT") else [60, 600]
    result: dict[str, Any] = {"benchmark": NAME, "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench-transcode-job-") as scratch_name:
        scratch = Path(scratch_name)
        with infrastructure(scratch, schemas=["transcode"], redis_db=12, object_store=True) as env:
            service_ports(env, "transcode_svc")
            env["TRANSCODE_PRESET"] = os.environ.get("TRANSCODE_PRESET", "veryfast")
            result["preset"] = env["TRANSCODE_PRESET"]
            with (
                environment(env),
                spawned([sys.executable, "-m", "transcode_svc"], logs / "transcode_svc.log"),
                spawned([sys.executable, "-m", "transcode_svc.worker"], logs / "transcode_worker.log"),
            ):
                path = JobPath(env)
                try:
                    warm_up = scratch / "warm_up.mp4"
                    make_source(warm_up, 2)
                    _retry_until_served(lambda: path.time_job(warm_up, STARTUP_SECONDS))
                    for seconds in lengths:
                        source = scratch / f"source_{seconds}.mp4"
                        make_source(source, seconds, preset="faster" if seconds <= 60 else "superfast")
                        result[f"source_{seconds}s"] = path.time_job(source, deadline_seconds=seconds * 20 + 120)
                        source.unlink()
                finally:
                    path.close()
    timed = {seconds: result[f"source_{seconds}s"] for seconds in lengths}
    rows = [[f"{s} s", str(t["queued_s"]), str(t["playable_s"]), str(t["ready_s"])] for s, t in timed.items()]
    print(table(["source", "queued s", "playable s", "ready s"], rows))
    print(
        f"through transcode_svc, an RQ worker and SeaweedFS ({result['preset']}); "
        f"target: playable within {TARGET_PLAYABLE_SECONDS:.0f} s whatever the length"
    )
    write_result(NAME, result)
    return result


def _retry_until_served(attempt: Callable[[], object]) -> None:
    """transcode_svc and the worker need a moment after spawning: the warm-up job waits for both."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            attempt()
            return
        except grpc.RpcError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


if __name__ == "__main__":
    main()
