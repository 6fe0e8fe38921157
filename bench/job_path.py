"""A client of the running transcode_svc, as the benchmarks of the job path use it.

bench/transcode_job.py (time to playable, stage by stage) and bench/transcode_chunked.py
(time to ready with one and two workers, issue 17) both store a source where upload_svc
would, call ``StartTranscode`` and read ``GetTranscodeJob`` every 100 ms until the job
ends; this module is that shared path, so both measure the same thing the same way.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import grpc

from media.transcode.v1 import transcode_pb2, transcode_pb2_grpc
from service_kit import ffprobe
from service_kit.auth import INSTRUCTOR, issue_session_token
from service_kit.object_store import s3_client
from service_kit.settings import load_settings
from transcode_svc.ladder import probe_file

ORGANIZATION = "bench-org"
POLL_SECONDS = 0.1
STARTUP_SECONDS = 60.0
"""How long transcode_svc and a fresh worker get to serve the warm-up job."""
SUCCEEDED = transcode_pb2.TRANSCODE_JOB_STATUS_SUCCEEDED
FINAL = {SUCCEEDED, transcode_pb2.TRANSCODE_JOB_STATUS_FAILED, transcode_pb2.TRANSCODE_JOB_STATUS_CANCELLED}


@dataclasses.dataclass(frozen=True)
class TimedJob:
    """One job through the real path: its ids and its timings (seconds, keys as in :meth:`JobPath.time_job`)."""

    job_id: str
    video_id: str
    timings: dict[str, float]


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

    def time_job(self, source: Path, deadline_seconds: float, worker_log: Path | None = None) -> TimedJob:
        """Store the source as upload_svc would, start the job, and time it to playable and ready.

        Timings: ``probe_s`` (ffprobe over a presigned GET, as upload_svc on complete),
        ``start_rpc_s``, ``playable_s`` and ``ready_s`` from just before StartTranscode,
        ``playable_after_complete_s`` (probe plus playable) and ``queued_s`` (the job's
        row to its start, from the row's own times). With ``worker_log``, the worker's
        stages of this job are read from it too (:func:`worker_stages`). Raises
        RuntimeError when the job ends other than SUCCEEDED, TimeoutError past the deadline.
        """
        video_id = str(uuid.uuid4())
        key = f"uploads/{ORGANIZATION}/{video_id}/source"
        self.s3.upload_file(str(source), self.bucket, key)
        facts = probe_file(str(source))
        url = self.s3.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=600)
        probe_started = time.perf_counter()
        ffprobe.probe(url, timeout_seconds=60)  # what upload_svc does on complete, over a presigned GET
        probe_seconds = time.perf_counter() - probe_started
        probe = transcode_pb2.ProbeFacts(**dataclasses.asdict(facts))
        request = transcode_pb2.StartTranscodeRequest(
            video_id=video_id, organization_id=ORGANIZATION, source_key=key, probe=probe
        )
        started = time.perf_counter()
        job_id = self.stub.StartTranscode(request, metadata=self.metadata, timeout=10).job.job_id
        start_seconds = time.perf_counter() - started
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
                playable = playable if playable is not None else now
                timed = {
                    "probe_s": round(probe_seconds, 3),
                    "start_rpc_s": round(start_seconds, 3),
                    "playable_s": round(playable, 2),
                    "playable_after_complete_s": round(probe_seconds + playable, 2),
                    "ready_s": round(now, 2),
                    "queued_s": round(queued.total_seconds(), 2),
                }
                stages = worker_stages(worker_log, video_id) if worker_log is not None else {}
                return TimedJob(job_id=job_id, video_id=video_id, timings=timed | stages)
            time.sleep(POLL_SECONDS)
        raise TimeoutError(f"the job did not finish within {deadline_seconds:.0f} s")

    def close(self) -> None:
        self.channel.close()


def worker_stages(worker_log: Path, video_id: str) -> dict[str, float]:
    """The worker's timings of one job, from its JSON log lines (bench/transcode_job.py's docstring)."""
    lines = []
    for raw in worker_log.read_text(errors="replace").splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if isinstance(line, dict) and line.get("video_id") == video_id:
            lines.append(line)
    first = [line for line in lines if line.get("msg") == "first segment published"]

    def since_created(message: str) -> float:
        return float(next(line["since_created_seconds"] for line in lines if line.get("msg") == message))

    return {
        "horse_s": since_created("transcode started"),
        "ffmpeg_s": since_created("ffmpeg started"),
        "first_segment_lowest_s": min(float(line["seen_seconds"]) for line in first),
        "first_segment_highest_s": max(float(line["seen_seconds"]) for line in first),
        "first_upload_s": max(float(line["upload_seconds"]) for line in first),
        "playable_worker_s": since_created("transcode playable"),
    }


def retry_until_served(attempt: Callable[[], object]) -> None:
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
