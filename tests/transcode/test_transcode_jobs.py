"""Transcode jobs end to end: transcode_svc, RQ workers running FFmpeg, Redis, PostgreSQL, SeaweedFS."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from redis import Redis

from media.transcode.v1 import transcode_pb2
from tests.transcode.conftest import TranscodeRig
from tests.transcode.sources import make_hdr, make_interlaced, make_source, truncate
from tests.transcode.test_ladder_cli import interlaced_frames, video_stream
from transcode_svc.ladder import probe_file

SUCCEEDED = transcode_pb2.TRANSCODE_JOB_STATUS_SUCCEEDED
FAILED = transcode_pb2.TRANSCODE_JOB_STATUS_FAILED
CANCELLED = transcode_pb2.TRANSCODE_JOB_STATUS_CANCELLED
RUNNING = transcode_pb2.TRANSCODE_JOB_STATUS_RUNNING
FINAL = {SUCCEEDED, FAILED, CANCELLED}


def start(stub: Any, rig: TranscodeRig, source: Path) -> tuple[str, str]:
    """Store the source and StartTranscode as upload_svc does; returns (video_id, job_id)."""
    video_id, key = rig.put_source(source)
    facts = probe_file(str(source))
    probe = transcode_pb2.ProbeFacts(**dataclasses.asdict(facts))
    reply = stub.StartTranscode(
        transcode_pb2.StartTranscodeRequest(
            video_id=video_id, organization_id=rig.organization_id, source_key=key, probe=probe
        ),
        metadata=rig.metadata(),
        timeout=10,
    )
    return video_id, reply.job.job_id


def get(stub: Any, rig: TranscodeRig, job_id: str) -> Any:
    return stub.GetTranscodeJob(
        transcode_pb2.GetTranscodeJobRequest(job_id=job_id), metadata=rig.metadata(), timeout=10
    ).job


def wait_until(stub: Any, rig: TranscodeRig, job_id: str, done: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = get(stub, rig, job_id)
        if done(job):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job did not get there in {timeout} s: {job}")


def kill_machine(worker_pid: int) -> None:
    """SIGKILL a worker as a dying machine would: the worker, its work horse and FFmpeg.

    RQ's horse starts its own session (so a signal to the worker spares it); its
    process group holds FFmpeg. Both groups die at once.
    """
    horses = [
        int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit() and _parent_of(entry) == worker_pid
    ]
    os.killpg(worker_pid, signal.SIGKILL)
    for horse in horses:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(horse, signal.SIGKILL)


def _parent_of(proc_entry: Path) -> int:
    try:
        return int((proc_entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def test_a_job_publishes_every_rung_and_streams_progress_up_to_100(
    stub: Any, rig: TranscodeRig, tmp_path: Path
) -> None:
    video_id, job_id = start(stub, rig, make_source(tmp_path / "in.mp4", size="960x540", seconds=4))
    rig.start_worker()
    snapshots = [
        item.job
        for item in stub.WatchTranscodeJob(
            transcode_pb2.WatchTranscodeJobRequest(job_id=job_id), metadata=rig.metadata(), timeout=90
        )
    ]
    percents = [job.progress_percent for job in snapshots]
    assert percents == sorted(percents) and percents[-1] == 100
    final = snapshots[-1]
    assert final.status == SUCCEEDED and final.playable and final.attempts == 1
    assert [(r.name, r.width, r.height) for r in final.renditions] == [("360p", 640, 360), ("480p", 854, 480)]
    segments = [f"{rung}/seg_{n:05d}.ts" for rung in ("360p", "480p") for n in range(4)]
    assert rig.output_keys(video_id) == sorted(
        ["master.m3u8", "poster.jpg", "360p/index.m3u8", "480p/index.m3u8", *segments]
    )
    master = rig.read(f"hls/{video_id}/master.m3u8").decode()
    assert "AVERAGE-BANDWIDTH=" in master and "RESOLUTION=854x480" in master and "FRAME-RATE=25.000" in master
    variant = rig.read(f"hls/{video_id}/480p/index.m3u8").decode()
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in variant and variant.rstrip().endswith("#EXT-X-ENDLIST")
    video = stub.GetVideoTranscode(
        transcode_pb2.GetVideoTranscodeRequest(video_id=video_id), metadata=rig.metadata(), timeout=10
    )
    assert video.job.job_id == job_id and [r.name for r in video.renditions] == ["360p", "480p"]


def test_a_video_is_playable_from_event_playlists_while_it_is_still_encoding(
    stub: Any, rig: TranscodeRig, tmp_path: Path
) -> None:
    video_id, job_id = start(stub, rig, make_source(tmp_path / "in.mp4", size="640x360", seconds=30))
    rig.start_worker()
    watch = stub.WatchTranscodeJob(
        transcode_pb2.WatchTranscodeJobRequest(job_id=job_id), metadata=rig.metadata(), timeout=120
    )
    first_playable = next(item.job for item in watch if item.job.playable)
    variant = rig.read(f"hls/{video_id}/360p/index.m3u8").decode()
    master = rig.read(f"hls/{video_id}/master.m3u8").decode()
    watch.cancel()

    assert first_playable.status == RUNNING and first_playable.progress_percent < 100
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in variant and "#EXT-X-ENDLIST" not in variant
    assert "#EXT-X-START:TIME-OFFSET=0" in variant.splitlines(), "players start at 0, not at the live edge"
    assert "seg_00000.ts" in variant and "360p/index.m3u8" in master
    finished = wait_until(stub, rig, job_id, lambda job: job.status in FINAL, timeout=120)
    assert finished.status == SUCCEEDED
    assert "#EXT-X-START" not in rig.read(f"hls/{video_id}/360p/index.m3u8").decode()


def test_a_clip_shorter_than_half_a_second_is_published_with_a_target_duration_of_one(
    stub: Any, rig: TranscodeRig, tmp_path: Path
) -> None:
    video_id, job_id = start(stub, rig, make_source(tmp_path / "in.mp4", size="320x240", seconds=0.32))
    rig.start_worker()
    assert wait_until(stub, rig, job_id, lambda job: job.status in FINAL).status == SUCCEEDED
    variant = rig.read(f"hls/{video_id}/240p/index.m3u8").decode()
    assert "#EXT-X-TARGETDURATION:1" in variant.splitlines() and variant.rstrip().endswith("#EXT-X-ENDLIST")


def test_starting_a_video_twice_gives_the_same_job(stub: Any, rig: TranscodeRig, tmp_path: Path) -> None:
    source = make_source(tmp_path / "in.mp4", size="320x240", seconds=1)
    video_id, job_id = start(stub, rig, source)
    again = stub.StartTranscode(
        transcode_pb2.StartTranscodeRequest(
            video_id=video_id,
            organization_id=rig.organization_id,
            source_key=f"uploads/{rig.organization_id}/{video_id}/source",
            probe=transcode_pb2.ProbeFacts(duration_seconds=1, width=320, height=240),
        ),
        timeout=10,
    )
    assert again.job.job_id == job_id


def test_a_start_without_probe_facts_is_refused_with_the_field_named(stub: Any, rig: TranscodeRig) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.StartTranscode(
            transcode_pb2.StartTranscodeRequest(video_id="v", organization_id=rig.organization_id, source_key="k"),
            timeout=10,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "probe" in (caught.value.details() or "")


def start_truncated(stub: Any, rig: TranscodeRig, tmp_path: Path, seconds: float) -> tuple[str, str]:
    """A 320x240 source cut short after it was probed (its MP4 index lost); returns (video_id, job_id)."""
    source = truncate(make_source(tmp_path / "in.mp4", size="320x240", seconds=seconds))
    video_id, key = rig.put_source(source)
    facts = transcode_pb2.ProbeFacts(duration_seconds=seconds, width=320, height=240, frame_rate=25, has_audio=True)
    reply = stub.StartTranscode(
        transcode_pb2.StartTranscodeRequest(
            video_id=video_id, organization_id=rig.organization_id, source_key=key, probe=facts
        ),
        metadata=rig.metadata(),
        timeout=10,
    )
    return video_id, reply.job.job_id


def test_a_truncated_source_ends_failed_with_ffmpegs_reason(stub: Any, rig: TranscodeRig, tmp_path: Path) -> None:
    video_id, job_id = start_truncated(stub, rig, tmp_path, 2)
    rig.start_worker()
    job = wait_until(stub, rig, job_id, lambda j: j.status in FINAL)
    assert job.status == FAILED
    assert "moov atom not found" in job.error_reason
    assert rig.output_keys(video_id) == []


def test_a_cancelled_job_stops_ffmpeg_and_leaves_no_outputs(stub: Any, rig: TranscodeRig, tmp_path: Path) -> None:
    video_id, job_id = start(stub, rig, make_source(tmp_path / "in.mp4", size="1280x720", seconds=30))
    rig.start_worker()
    wait_until(stub, rig, job_id, lambda j: j.status == RUNNING and j.progress_percent > 0)
    cancelled = stub.CancelTranscodeJob(
        transcode_pb2.CancelTranscodeJobRequest(job_id=job_id), metadata=rig.metadata(), timeout=10
    ).job
    assert cancelled.status == CANCELLED
    assert rig.outputs_left_after(video_id, 20) == []
    assert get(stub, rig, job_id).status == CANCELLED


def test_a_worker_killed_mid_job_is_replaced_and_the_outputs_equal_an_uninterrupted_run(
    stub: Any, rig: TranscodeRig, tmp_path: Path
) -> None:
    # Two rungs and 24 s: killed after its first segments, well before its end (a third of the
    # 40 s 720p source this test once used, for the same proof).
    source = make_source(tmp_path / "in.mp4", size="854x480", seconds=24)
    doomed = rig.start_worker()
    video_id, job_id = start(stub, rig, source)
    wait_until(stub, rig, job_id, lambda j: j.playable and j.progress_percent >= 5)
    kill_machine(doomed.pid)
    doomed.wait()
    # As a worker killed while cleaning the registries leaves it (RQ's lock lasts 15 minutes).
    Redis.from_url(rig.infra.settings.redis_url).set("rq:clean_registries:transcode", 1, ex=899)
    rig.start_worker()
    job = wait_until(stub, rig, job_id, lambda j: j.status in FINAL, timeout=90)
    assert job.status == SUCCEEDED and job.attempts == 2

    reference_video, reference_job = start(stub, rig, source)
    reference = wait_until(stub, rig, reference_job, lambda j: j.status in FINAL, timeout=90)
    assert reference.status == SUCCEEDED and reference.attempts == 1
    assert rig.output_keys(video_id) == rig.output_keys(reference_video)
    for rung in ("360p", "480p"):
        retried = rig.read(f"hls/{video_id}/{rung}/index.m3u8")
        assert retried == rig.read(f"hls/{reference_video}/{rung}/index.m3u8")


def test_a_source_with_non_square_pixels_is_published_as_16_by_9_renditions(
    stub: Any, rig: TranscodeRig, tmp_path: Path
) -> None:
    source = make_source(tmp_path / "in.mp4", size="720x576", seconds=1, audio=False, pixel_aspect="64:45")
    video_id, job_id = start(stub, rig, source)
    rig.start_worker()
    job = wait_until(stub, rig, job_id, lambda j: j.status in FINAL)
    assert job.status == SUCCEEDED, job.error_reason
    assert [(r.name, r.width, r.height) for r in job.renditions] == [("360p", 640, 360), ("480p", 854, 480)]
    master = rig.read(f"hls/{video_id}/master.m3u8").decode()
    assert "RESOLUTION=640x360" in master and "RESOLUTION=854x480" in master


def test_an_interlaced_source_is_deinterlaced_by_the_job(stub: Any, rig: TranscodeRig, tmp_path: Path) -> None:
    video_id, job_id = start(stub, rig, make_interlaced(tmp_path / "in.mp4", size="640x480", seconds=1))
    rig.start_worker()
    job = wait_until(stub, rig, job_id, lambda j: j.status in FINAL)
    assert job.status == SUCCEEDED, job.error_reason
    segment = tmp_path / "480p.ts"
    segment.write_bytes(rig.read(f"hls/{video_id}/480p/seg_00000.ts"))
    assert video_stream(segment)["field_order"] == "progressive"
    combed, progressive = interlaced_frames(segment)
    assert progressive > 3 * combed, (combed, progressive)


def test_an_hdr_phone_video_is_published_as_sdr_bt709_renditions(stub: Any, rig: TranscodeRig, tmp_path: Path) -> None:
    video_id, job_id = start(stub, rig, make_hdr(tmp_path / "in.mov", transfer="arib-std-b67", seconds=1))
    rig.start_worker()
    job = wait_until(stub, rig, job_id, lambda j: j.status in FINAL)
    assert job.status == SUCCEEDED, job.error_reason
    segment = tmp_path / "360p.ts"
    segment.write_bytes(rig.read(f"hls/{video_id}/360p/seg_00000.ts"))
    stream = video_stream(segment)
    assert (stream["pix_fmt"], stream["color_transfer"], stream["color_primaries"]) == ("yuv420p", "bt709", "bt709")
    assert "poster.jpg" in rig.output_keys(video_id)
