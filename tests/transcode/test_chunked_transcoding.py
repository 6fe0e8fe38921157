"""Chunked transcoding (issue 17): a long source encoded in chunks by every free worker, joined once.

Each test stores a real source, starts the job through transcode_svc's gRPC API as
upload_svc does, and runs real RQ workers with a low chunk threshold (5 s) and 4-second
chunks of 1-second segments, so a 12-second source is three chunks. What the tests read
is what a player gets: the playlists and segments in the bucket, probed with ffprobe, and
the chunk table where the workers coordinate.
"""

from __future__ import annotations

import difflib
import itertools
import json
import re
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from media.transcode.v1 import transcode_pb2
from tests.transcode.conftest import TranscodeRig
from tests.transcode.sources import make_source
from tests.transcode.test_transcode_jobs import (
    CANCELLED,
    FAILED,
    FINAL,
    RUNNING,
    SUCCEEDED,
    get,
    kill_machine,
    start,
    start_truncated,
    wait_until,
)

CHUNKED = {"TRANSCODE_CHUNK_THRESHOLD_SECONDS": "5", "TRANSCODE_CHUNK_SECONDS": "4"}
RUNGS = ("360p", "480p")
FRAME = 0.04
"""One frame of the 25 fps test sources, in seconds."""
AAC_FRAME = 1024 / 48000
"""One AAC frame at 48 kHz, in seconds."""


def download(rig: TranscodeRig, video_id: str, into: Path) -> Path:
    """Every output of the video, as files under ``into`` (the bucket's layout)."""
    for key in rig.output_keys(video_id):
        target = into / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(rig.read(f"hls/{video_id}/{key}"))
    return into


def packet_times(playlist: Path, stream: str) -> list[float]:
    """Presentation times (s) of every packet of ``stream`` (``v`` or ``a``) over the whole playlist, sorted.

    The playlist's segments are read as one MPEG-TS stream, in its order, as a player
    appends them (FFmpeg 5.1's HLS demuxer, given the playlist, mistimes the packet after
    the first of an audio-only rendition).
    """
    joined = playlist.with_suffix(".joined.ts")
    with joined.open("wb") as sink:
        for line in playlist.read_text().splitlines():
            if line and not line.startswith("#"):
                sink.write((playlist.parent / line).read_bytes())
    report = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            stream,
            "-show_entries",
            "packet=pts_time",
            "-of",
            "json",
            str(joined),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return sorted(float(packet["pts_time"]) for packet in json.loads(report.stdout)["packets"])


def extinf_total(playlist: Path) -> float:
    return sum(float(line[8:].rstrip(",")) for line in playlist.read_text().splitlines() if line.startswith("#EXTINF:"))


def decoded_audio(media: Path, seconds: float) -> bytes:
    """The first ``seconds`` of the media's audio, decoded to 16-bit stereo PCM at 48 kHz."""
    return subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(media),
            "-map",
            "0:a:0",
            "-t",
            f"{seconds}",
            "-f",
            "s16le",
            "-ac",
            "2",
            "-ar",
            "48000",
            "-",
        ],
        check=True,
        capture_output=True,
    ).stdout


PCM_OUT = ("-f", "s16le", "-ac", "2", "-ar", "48000", "-")


def chunk_rows(rig: TranscodeRig, job_id: str) -> list[tuple[int, str, int, str, float]]:
    """(index, state, attempts, worker, encode_seconds) of the job's chunks, in order."""
    url = rig.infra.settings.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT chunk_index, state, attempts, worker, encode_seconds FROM transcode.chunks"
            " WHERE job_id = %s ORDER BY chunk_index",
            (uuid.UUID(job_id),),
        ).fetchall()
    return [(int(a), str(b), int(c), str(d), float(e)) for a, b, c, d, e in rows]


def run_to_the_end(stub: Any, rig: TranscodeRig, source: Path, timeout: float = 120) -> tuple[str, str]:
    video_id, job_id = start(stub, rig, source)
    job = wait_until(stub, rig, job_id, lambda j: j.status in FINAL, timeout=timeout)
    assert job.status == SUCCEEDED, job.error_reason
    return video_id, job_id


@pytest.fixture
def twelve_seconds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_source(tmp_path_factory.mktemp("src") / "in.mp4", size="854x480", seconds=12, rate=25)


@pytest.fixture
def chunked_twelve_seconds(stub: Any, rig: TranscodeRig, tmp_path: Path, twelve_seconds: Path) -> tuple[str, Path]:
    """The 12-second source transcoded in three chunks by one worker: (job id, its outputs as files)."""
    rig.start_worker(**CHUNKED)
    video_id, job_id = run_to_the_end(stub, rig, twelve_seconds)
    return job_id, download(rig, video_id, tmp_path / "out")


def test_a_long_source_becomes_one_timeline_per_rung_with_its_audio_encoded_once(
    rig: TranscodeRig, chunked_twelve_seconds: tuple[str, Path]
) -> None:
    job_id, out = chunked_twelve_seconds

    assert [(index, state) for index, state, *_ in chunk_rows(rig, job_id)] == [(0, "done"), (1, "done"), (2, "done")]
    master = (out / "master.m3u8").read_text()
    assert '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio"' in master and 'URI="audio/index.m3u8"' in master
    assert master.count('AUDIO="audio"') == 2 and master.count('CODECS="avc1.') == 2 and "mp4a.40.2" in master
    for rung in RUNGS:
        playlist = out / rung / "index.m3u8"
        text = playlist.read_text()
        assert "#EXT-X-DISCONTINUITY" not in text and text.rstrip().endswith("#EXT-X-ENDLIST")
        assert [line for line in text.splitlines() if line.startswith("seg_")] == [f"seg_{n:05d}.ts" for n in range(12)]
        assert abs(extinf_total(playlist) - 12.0) <= FRAME, "segment durations sum to the source's duration"
        times = packet_times(playlist, "v")
        assert len(times) == 300, "every frame of the source, once"
        steps = {round(later - earlier, 4) for earlier, later in itertools.pairwise(times)}
        assert steps == {FRAME}, f"{rung}: a timestamp jump between chunks: {steps}"
        assert not packet_times(playlist, "a"), "video rungs carry no audio of their own"

    audio = out / "audio" / "index.m3u8"
    assert abs(extinf_total(audio) - 12.0) <= FRAME
    audio_times = packet_times(audio, "a")
    audio_steps = [later - earlier for earlier, later in itertools.pairwise(audio_times)]
    assert all(abs(step - AAC_FRAME) < 1e-5 for step in audio_steps), "no gap and no overlap in the audio"
    first_video = packet_times(out / "480p" / "index.m3u8", "v")[0]
    assert abs(audio_times[1] - first_video) < FRAME, "audio and video start together (after AAC's priming frame)"


def test_audio_across_the_joins_is_sample_for_sample_a_single_pass_encode(
    tmp_path: Path, twelve_seconds: Path, chunked_twelve_seconds: tuple[str, Path]
) -> None:
    _, out = chunked_twelve_seconds
    single_pass = tmp_path / "single.m4a"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(twelve_seconds),
            "-map",
            "0:a:0",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-ac",
            "2",
            str(single_pass),
        ],
        check=True,
    )
    chunked = decoded_audio(out / "audio" / "index.m3u8", 12)
    reference = decoded_audio(single_pass, 12)
    bytes_per_second = 48000 * 2 * 2
    for join in (4.0, 8.0):  # the chunks' boundaries
        # 50 ms either side of each join; MPEG-TS carries no encoder-delay trim, so the
        # chunked audio starts with AAC's 1024 priming samples the MP4's edit list hides.
        offset = 1024 * 4
        at = int((join - 0.05) * bytes_per_second)
        window = int(0.1 * bytes_per_second)
        assert chunked[at + offset : at + offset + window] == reference[at : at + window], f"audio differs at {join} s"


def test_two_workers_share_the_chunks_and_publish_what_one_worker_does(
    stub: Any, rig: TranscodeRig, tmp_path: Path
) -> None:
    source = make_source(tmp_path / "in.mp4", size="854x480", seconds=24, rate=25)
    rig.start_worker(**CHUNKED)
    alone_video, alone_job = run_to_the_end(stub, rig, source)
    rig.start_worker(**CHUNKED)
    shared_video, shared_job = run_to_the_end(stub, rig, source)

    workers = {worker for _, _, _, worker, _ in chunk_rows(rig, shared_job)}
    assert len(workers) == 2, f"both workers encoded chunks: {chunk_rows(rig, shared_job)}"
    assert len({worker for _, _, _, worker, _ in chunk_rows(rig, alone_job)}) == 1
    assert rig.output_keys(shared_video) == rig.output_keys(alone_video)
    for key in rig.output_keys(alone_video):
        alone_bytes, shared_bytes = rig.read(f"hls/{alone_video}/{key}"), rig.read(f"hls/{shared_video}/{key}")
        if key.endswith("index.m3u8") or key.startswith("audio/"):
            assert shared_bytes == alone_bytes, f"{key} differs: {_difference(alone_bytes, shared_bytes)}"
        elif key == "master.m3u8":
            # x264's multithreaded rate control is not repeatable to the bit, one worker or two
            # (nor is a single pass): the measured bandwidths may differ, nothing else.
            assert _without_bandwidths(shared_bytes) == _without_bandwidths(alone_bytes)
    alone, shared = download(rig, alone_video, tmp_path / "alone"), download(rig, shared_video, tmp_path / "shared")
    for rung in RUNGS:
        assert packet_times(shared / rung / "index.m3u8", "v") == packet_times(alone / rung / "index.m3u8", "v")


def _difference(alone: bytes, shared: bytes) -> str:
    if alone.startswith(b"#EXTM3U") and shared.startswith(b"#EXTM3U"):
        return "\n".join(difflib.unified_diff(alone.decode().splitlines(), shared.decode().splitlines(), lineterm=""))
    return f"{len(alone)} bytes alone, {len(shared)} shared"


def _without_bandwidths(master: bytes) -> str:
    return re.sub(r"BANDWIDTH=[0-9]+", "BANDWIDTH=?", master.decode())


def test_a_chunk_whose_worker_is_killed_is_encoded_again_by_another(
    stub: Any, rig: TranscodeRig, tmp_path: Path
) -> None:
    source = make_source(tmp_path / "in.mp4", size="854x480", seconds=40, rate=25)
    coordinator = rig.start_worker(**CHUNKED)
    video_id, job_id = start(stub, rig, source)
    wait_until(stub, rig, job_id, lambda j: j.status == RUNNING and j.playable)
    doomed = rig.start_worker(**CHUNKED)
    deadline = time.monotonic() + 60
    held_by_doomed: list[int] = []
    while not held_by_doomed and time.monotonic() < deadline:
        rows = chunk_rows(rig, job_id)
        holders = {worker for _, state, _, worker, _ in rows if state == "running"}
        coordinator_holder = next((w for index, _, _, w, _ in rows if index == 0), "")
        held_by_doomed = [i for i, state, _, w, _ in rows if state == "running" and w != coordinator_holder]
        if not held_by_doomed:
            time.sleep(0.1)
    assert held_by_doomed, f"the second worker never took a chunk: {rows} {holders}"
    kill_machine(doomed.pid)
    doomed.wait()

    job = wait_until(stub, rig, job_id, lambda j: j.status in FINAL, timeout=180)
    assert job.status == SUCCEEDED, job.error_reason
    assert coordinator.poll() is None
    rows = chunk_rows(rig, job_id)
    redone = [row for row in rows if row[0] in held_by_doomed]
    assert all(state == "done" and attempts >= 2 for _, state, attempts, _, _ in redone), rows
    out = download(rig, video_id, tmp_path / "out")
    for rung in RUNGS:
        times = packet_times(out / rung / "index.m3u8", "v")
        assert len(times) == 1000 and {round(b - a, 4) for a, b in itertools.pairwise(times)} == {FRAME}


def test_a_chunked_video_is_playable_from_its_first_chunk_while_the_rest_encode(
    stub: Any, rig: TranscodeRig, tmp_path: Path
) -> None:
    source = make_source(tmp_path / "in.mp4", size="854x480", seconds=40, rate=25)
    rig.start_worker(**CHUNKED)
    video_id, job_id = start(stub, rig, source)
    watch = stub.WatchTranscodeJob(
        transcode_pb2.WatchTranscodeJobRequest(job_id=job_id), metadata=rig.metadata(), timeout=120
    )
    first_playable = next(item.job for item in watch if item.job.playable)
    master = rig.read(f"hls/{video_id}/master.m3u8").decode()
    variant = rig.read(f"hls/{video_id}/360p/index.m3u8").decode()
    audio = rig.read(f"hls/{video_id}/audio/index.m3u8").decode()
    watch.cancel()

    assert first_playable.status == RUNNING and first_playable.progress_percent < 100
    assert 'URI="audio/index.m3u8"' in master
    for playlist in (variant, audio):
        assert "#EXT-X-PLAYLIST-TYPE:EVENT" in playlist and "#EXT-X-ENDLIST" not in playlist
        assert "#EXT-X-START:TIME-OFFSET=0" in playlist.splitlines()
        listed = [line for line in playlist.splitlines() if line.startswith("seg_")]
        assert listed == [f"seg_{n:05d}.ts" for n in range(len(listed))], "a prefix, from the first segment"
    finished = wait_until(stub, rig, job_id, lambda j: j.status in FINAL, timeout=120)
    assert finished.status == SUCCEEDED
    assert "#EXT-X-ENDLIST" in rig.read(f"hls/{video_id}/360p/index.m3u8").decode()


def test_a_cancelled_chunked_job_stops_every_worker_and_leaves_no_outputs(
    stub: Any, rig: TranscodeRig, tmp_path: Path
) -> None:
    source = make_source(tmp_path / "in.mp4", size="1280x720", seconds=40, rate=25)
    rig.start_worker(**CHUNKED)
    rig.start_worker(**CHUNKED)
    video_id, job_id = start(stub, rig, source)
    wait_until(stub, rig, job_id, lambda j: j.status == RUNNING and j.playable)
    stub.CancelTranscodeJob(transcode_pb2.CancelTranscodeJobRequest(job_id=job_id), metadata=rig.metadata(), timeout=10)
    assert rig.outputs_left_after(video_id, 30) == []
    time.sleep(2)  # long enough for a straggling upload to show
    assert rig.output_keys(video_id) == []
    assert get(stub, rig, job_id).status == CANCELLED


def test_a_chunked_source_ffmpeg_cannot_read_fails_with_its_reason_and_no_outputs(
    stub: Any, rig: TranscodeRig, tmp_path: Path
) -> None:
    video_id, job_id = start_truncated(stub, rig, tmp_path, 12)
    rig.start_worker(**CHUNKED)
    job = wait_until(stub, rig, job_id, lambda j: j.status in FINAL)
    assert job.status == FAILED
    assert "moov atom not found" in job.error_reason
    assert rig.output_keys(video_id) == []
