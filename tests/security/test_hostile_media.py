"""Hostile media, the whole corpus in one place: each file ends refused or failed with a reason.

Every file is made here, in the test's own directory, from FFmpeg's generators and a few
byte edits (no binary is committed): zero bytes, a truncated MP4, an MP4 whose ``moov``
box was removed, a text file named ``.mp4``, sound without a picture, a PNG renamed
``.mp4``, a video of one frame, a picture declared 16000x16000 (a decompression bomb:
each decoded frame would be 384 MB), and an MP4 whose header declares ten hours in 20 kB.

Each goes the way a browser sends it: declared through the edge, POSTed to SeaweedFS
with the presigned form, completed (upload_svc probes it over a presigned GET). The
answer names what is wrong in words the uploader can act on, the bytes are deleted,
and upload_svc is left with no ffprobe running. Files that reach the transcoder with
facts that lie (a probe that passed on another copy) end FAILED with FFmpeg's reason,
the worker alive, its temporary directory empty and no FFmpeg left behind.

A store that stalls mid-answer (bytes served, then nothing) must not hang the probe:
a proxy in front of SeaweedFS serves the presigned GET's first bytes and then waits
forever; complete answers 503 within PROBE_TIMEOUT_SECONDS and the upload stays open.
The worker's two FFmpeg runs meet a stalled source too: the ladder is stopped at its
timeout, the poster at TRANSCODE_POSTER_TIMEOUT_SECONDS (its timeout used to escape
the poster's thread as ``subprocess.TimeoutExpired``).

Existing tests cover single cases in depth (tests/upload/test_probe_rules.py,
test_media_types.py, test_single_upload.py; tests/transcode/test_failure_blame.py,
test_transcode_jobs.py); this suite is the list.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from aiohttp import web

from devstack import free_port
from media.transcode.v1 import transcode_pb2
from service_kit.settings import load_transcode_settings
from tests.support.processes import Process, Stack, spawn, start_deadline, wait_for_grpc_health, wait_for_http
from tests.transcode.conftest import TranscodeRig, children_of, rig, stub, transcode_service
from tests.transcode.sources import make_audio_only, make_source, truncate
from tests.upload.conftest import Api, api, s3
from transcode_svc import domain as ladder_domain
from transcode_svc import ladder

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["api", "rig", "s3", "stub", "transcode_service"]  # fixtures shared with tests/upload and tests/transcode

FFMPEG = ("ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y")
BOMB_SIDE = 16000
"""Under FFmpeg's own limit (about 16383 on a side for a square picture), so ffprobe reports it."""


def _ffmpeg(*args: str) -> None:
    subprocess.run([*FFMPEG, *args], check=True, timeout=60)


def _clip(path: Path, *output: str, size: str = "64x64", seconds: float = 1.0) -> Path:
    _ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25", "-t", str(seconds), *output, str(path))
    return path


def _boxes(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(type, start, end) of each top-level ISO BMFF box."""
    at = 0
    while at + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        end = len(data) if size == 0 else at + size
        yield kind, at, end
        at = end


def zero_bytes(tmp: Path) -> bytes:
    return b""


def text_named_mp4(tmp: Path) -> bytes:
    return b"Week 3 notes: bring the lab sheet.\n" * 40


def truncated_mp4(tmp: Path) -> bytes:
    """The first half of an MP4 whose index (``moov``) is written last, as an interrupted copy leaves it."""
    return truncate(make_source(tmp / "whole.mp4", size="160x120", seconds=2)).read_bytes()


def mp4_without_moov(tmp: Path) -> bytes:
    """A fast-start MP4 (index first) with its ``moov`` box cut out: the media is there, the index is not."""
    data = _clip(tmp / "faststart.mp4", "-c:v", "libx264", "-preset", "ultrafast", "-movflags", "+faststart")
    raw = data.read_bytes()
    kept = b"".join(raw[start:end] for kind, start, end in _boxes(raw) if kind != b"moov")
    assert len(kept) < len(raw) and b"moov" not in kept[:64]
    return kept


def audio_only(tmp: Path) -> bytes:
    return make_audio_only(tmp / "tone.m4a").read_bytes()


def png_named_mp4(tmp: Path) -> bytes:
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1", str(tmp / "slide.png"))
    return (tmp / "slide.png").read_bytes()


def one_frame_video(tmp: Path) -> bytes:
    return _clip(tmp / "one.mp4", "-frames:v", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p").read_bytes()


def huge_declared_picture(tmp: Path) -> bytes:
    """A 64x64 MJPEG clip whose sample entry, track header and every JPEG frame header say 16000x16000."""
    raw = bytearray(
        _clip(tmp / "small.mp4", "-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "-movflags", "+faststart").read_bytes()
    )
    entry = raw.find(b"mp4v", raw.find(b"stsd"))
    struct.pack_into(">HH", raw, entry + 4 + 6 + 2 + 16, BOMB_SIDE, BOMB_SIDE)
    track = raw.find(b"tkhd")
    struct.pack_into(">II", raw, track + 4 + 4 + 4 * 5 + 8 + 8 + 36, BOMB_SIDE << 16, BOMB_SIDE << 16)
    at = raw.find(b"\xff\xc0")
    while at >= 0:  # SOF0: marker, length, precision, then height and width
        struct.pack_into(">HH", raw, at + 5, BOMB_SIDE, BOMB_SIDE)
        at = raw.find(b"\xff\xc0", at + 2)
    return bytes(raw)


def ten_hours_declared(tmp: Path) -> bytes:
    """One second of video whose movie and media headers declare ten hours (timescale x 36000)."""
    raw = bytearray(
        _clip(tmp / "short.mp4", "-c:v", "libx264", "-preset", "ultrafast", "-movflags", "+faststart").read_bytes()
    )
    for box in (b"mvhd", b"mdhd"):
        at = raw.find(box)
        assert raw[at + 4] == 0, "version 0 header expected"
        timescale = struct.unpack(">I", raw[at + 16 : at + 20])[0]
        struct.pack_into(">I", raw, at + 20, timescale * 36_000)
    return bytes(raw)


@dataclass(frozen=True)
class HostileFile:
    filename: str
    make: Callable[[Path], bytes]
    reason: tuple[str, ...]
    """Words the refusal must hold, each of them."""
    refused_when_declared: bool = False


UPLOADS = {
    "zero-bytes": HostileFile("empty.mp4", zero_bytes, ("the file is empty",), refused_when_declared=True),
    "text-file-named-mp4": HostileFile("notes.mp4", text_named_mp4, ("could not be read as a video",)),
    "truncated-mp4": HostileFile(
        "Lecture_01.mp4", truncated_mp4, ("could not be read as a video", "upload a video file")
    ),
    "mp4-without-moov": HostileFile("Lecture_02.mp4", mp4_without_moov, ("could not be read as a video",)),
    "audio-only": HostileFile("podcast.mp4", audio_only, ("no video stream", "upload a video file")),
    "png-renamed-mp4": HostileFile("slide.mp4", png_named_mp4, ("a single still picture, not a video",)),
    "one-frame-video": HostileFile("frame.mp4", one_frame_video, ("a single still picture, not a video",)),
    "picture-16000x16000": HostileFile(
        "bomb.mp4", huge_declared_picture, ("16000x16000", "larger than 8192 pixels on a side", "4K")
    ),
    "ten-hours-declared-in-20-kb": HostileFile(
        "marathon.mp4", ten_hours_declared, ("declares 10 h 0 min", "lasts 1.0 s", "export the video again")
    ),
}


def process_names(pids: list[int]) -> list[str]:
    names = []
    for pid in pids:
        with contextlib.suppress(OSError):
            names.append(Path(f"/proc/{pid}/comm").read_text().strip())
    return names


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (a worker's horses have their own session, so not its group)."""
    found, frontier = [], [pid]
    while frontier:
        children = children_of(frontier.pop())
        found += children
        frontier += children
    return found


def media_tools_under(pid: int) -> list[str]:
    return [name for name in process_names(descendants(pid)) if name in {"ffmpeg", "ffprobe"}]


@pytest.mark.parametrize("case", list(UPLOADS.values()), ids=list(UPLOADS))
async def test_a_hostile_upload_is_refused_with_a_reason_and_leaves_nothing_behind(
    api: Api, s3: S3Client, stack: Stack, tmp_path: Path, case: HostileFile
) -> None:
    body = case.make(tmp_path)
    instructor = api.caller()
    created = await api.create_upload(instructor, filename=case.filename, size=len(body))
    if case.refused_when_declared:
        assert created.status == 400, created.body
        assert all(words in created.error_message for words in case.reason), created.error_message
        return
    assert created.status == 200, created.body
    assert (await api.post_form(created.body, body)).status == 204
    upload_id, key = created.body["upload_id"], str(created.body["fields"]["key"])

    started = time.monotonic()
    refused = await api.call("POST", f"/api/v1/media/uploads/{upload_id}/complete", instructor, {})

    assert time.monotonic() - started < 20
    assert refused.status == 400, refused.body
    assert all(words in refused.error_message for words in case.reason), refused.error_message
    assert "X-Amz" not in refused.error_message and "http" not in refused.error_message
    shown = (await api.call("GET", f"/api/v1/media/uploads/{upload_id}", instructor)).body
    assert (shown["status"], shown["error_reason"]) == ("VIDEO_STATUS_FAILED", refused.error_message)
    assert s3.list_objects_v2(Bucket="media-test", Prefix=key).get("KeyCount") == 0
    upload_svc = stack.processes["upload"]
    assert upload_svc.popen.poll() is None
    assert media_tools_under(upload_svc.popen.pid) == []


def lying_facts(width: int = 160, height: int = 120, seconds: float = 2.0) -> Any:
    """Facts as a probe of the intact file gave them: the worker must not trust them to succeed."""
    return transcode_pb2.ProbeFacts(
        duration_seconds=seconds, width=width, height=height, frame_rate=25, video_codec="h264", has_audio=False
    )


TRANSCODES = {
    "truncated-mp4": (truncated_mp4, "moov atom not found"),
    "mp4-without-moov": (mp4_without_moov, "moov atom not found"),
    "text-file-named-mp4": (text_named_mp4, "Invalid data found when processing input"),
    "audio-only": (audio_only, "matches no streams"),
}


@pytest.mark.parametrize("case", list(TRANSCODES.values()), ids=list(TRANSCODES))
def test_a_hostile_source_that_reaches_the_worker_fails_with_ffmpegs_reason_and_leaves_nothing_behind(
    stub: Any, rig: TranscodeRig, tmp_path: Path, case: tuple[Callable[[Path], bytes], str]
) -> None:
    make, reason = case
    source = tmp_path / "source"
    source.write_bytes(make(tmp_path))
    video_id, key = rig.put_source(source)
    scratch = tmp_path / "worker-tmp"
    scratch.mkdir()
    worker = rig.start_worker(TMPDIR=str(scratch))
    reply = stub.StartTranscode(
        transcode_pb2.StartTranscodeRequest(
            video_id=video_id, organization_id=rig.organization_id, source_key=key, probe=lying_facts()
        ),
        metadata=rig.metadata(),
        timeout=10,
    )
    request = transcode_pb2.GetTranscodeJobRequest(job_id=reply.job.job_id)
    deadline = time.monotonic() + 60
    job = stub.GetTranscodeJob(request, metadata=rig.metadata(), timeout=10).job
    while job.status not in {transcode_pb2.TRANSCODE_JOB_STATUS_FAILED, transcode_pb2.TRANSCODE_JOB_STATUS_SUCCEEDED}:
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
        job = stub.GetTranscodeJob(request, metadata=rig.metadata(), timeout=10).job

    assert job.status == transcode_pb2.TRANSCODE_JOB_STATUS_FAILED
    assert reason in job.error_reason, job.error_reason
    assert job.attempts == 1  # FFmpeg's verdict on a source the store serves is final, not retried
    assert rig.output_keys(video_id) == []
    settle = time.monotonic() + 10  # the work horse finishes its clean-up after the row is written
    while (list(scratch.iterdir()) or media_tools_under(worker.pid)) and time.monotonic() < settle:
        time.sleep(0.2)
    assert list(scratch.iterdir()) == []
    assert media_tools_under(worker.pid) == []
    assert worker.poll() is None, "the worker died"


class StallingStore:
    """SeaweedFS behind a proxy that stalls presigned GETs (ffprobe's reads) after their first bytes.

    Everything else (the service's own signed calls: HEAD, DELETE...) is passed through
    with its Host header, which the signature covers.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.stalled = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._session = aiohttp.ClientSession(auto_decompress=False)
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        async with self._session.request(
            request.method,
            self.upstream + request.path_qs,
            headers=request.headers,
            data=body or None,
            allow_redirects=False,
        ) as answer:
            payload = await answer.read()
            headers = {k: v for k, v in answer.headers.items() if k.lower() not in {"transfer-encoding", "connection"}}
        if request.method == "GET" and "X-Amz-Signature" in request.query and answer.status in {200, 206}:
            self.stalled += 1
            response = web.StreamResponse(status=answer.status, headers=headers)
            await response.prepare(request)
            await response.write(payload[:64])
            await asyncio.sleep(3600)  # never finishes; cancelled when the client gives up
            return response
        response = web.StreamResponse(status=answer.status, headers=headers)
        await response.prepare(request)
        if request.method != "HEAD":
            await response.write(payload)
        await response.write_eof()
        return response


PROBE_TIMEOUT = 2


@pytest.fixture
async def stalling_edge(stack: Stack) -> AsyncIterator[tuple[str, Process, StallingStore]]:
    """An upload_svc whose object store stalls ffprobe's reads, with PROBE_TIMEOUT_SECONDS=2, and an edge."""
    infra = stack.infra
    assert infra.settings.s3_endpoint_url is not None
    store = StallingStore(infra.settings.s3_endpoint_url)
    await store.start()
    port, edge_port = free_port(), free_port()
    env = {
        "UPLOAD_SVC_PORT": str(port),
        "UPLOAD_SVC_ADDR": f"127.0.0.1:{port}",
        "UPLOAD_SVC_METRICS_PORT": str(free_port()),
        "S3_ENDPOINT_URL": store.url,
        "PROBE_TIMEOUT_SECONDS": str(PROBE_TIMEOUT),
    }
    upload = spawn("upload-stalling-store", "upload_svc", infra, env)
    edge: Process | None = None
    try:
        await asyncio.to_thread(wait_for_grpc_health, upload, env["UPLOAD_SVC_ADDR"], start_deadline())
        edge = spawn("edge-stalling-store", "edge", infra, {**env, "EDGE_PORT": str(edge_port)})
        url = f"http://127.0.0.1:{edge_port}"
        await asyncio.to_thread(wait_for_http, edge, f"{url}/health", start_deadline())
        yield url, upload, store
    finally:
        if edge is not None:
            await asyncio.to_thread(edge.stop)
        await asyncio.to_thread(upload.stop)
        await store.stop()


async def test_a_store_that_stalls_mid_file_times_the_probe_out_and_leaves_the_upload_open(
    stack: Stack, stalling_edge: tuple[str, Process, StallingStore], tmp_path: Path
) -> None:
    url, upload_svc, store = stalling_edge
    body = _clip(tmp_path / "lecture.mp4", "-c:v", "libx264", "-preset", "ultrafast").read_bytes()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        api = Api(session, url, stack.infra.settings.jwt_secret_key)
        instructor = api.caller()
        created = await api.create_upload(instructor, size=len(body))
        assert created.status == 200, created.body
        assert (await api.post_form(created.body, body)).status == 204
        upload_id = created.body["upload_id"]

        started = time.monotonic()
        refused = await api.call("POST", f"/api/v1/media/uploads/{upload_id}/complete", instructor, {})
        took = time.monotonic() - started

        assert store.stalled >= 1  # ffprobe really met the stalled read
        assert refused.status == 503, refused.body
        assert f"probing the file took longer than {PROBE_TIMEOUT} s: try completing again" in refused.error_message
        assert took < PROBE_TIMEOUT + 8, took
        shown = (await api.call("GET", f"/api/v1/media/uploads/{upload_id}", instructor)).body
        assert shown["status"] == "VIDEO_STATUS_PENDING_UPLOAD"  # open: completing again once the store answers
    assert media_tools_under(upload_svc.popen.pid) == []
    assert upload_svc.popen.poll() is None


@pytest.fixture
def stalled_source(tmp_path: Path) -> Iterator[str]:
    """A URL that answers 200 with an MP4's first bytes and then sends nothing, forever (until the test ends)."""
    body = _clip(tmp_path / "clip.mp4", "-c:v", "libx264", "-preset", "ultrafast").read_bytes()
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        held = []
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            connection.recv(65536)
            head = f"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: {len(body)}\r\n\r\n"
            connection.sendall(head.encode() + body[:64])
            held.append(connection)
        for connection in held:
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/bucket/uploads/source"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_the_ladders_ffmpeg_on_a_stalled_source_is_stopped_at_its_limit(stalled_source: str, tmp_path: Path) -> None:
    probe = ladder_domain.ProbeFacts(duration_seconds=1, width=64, height=64, frame_rate=25)
    plans = ladder_domain.plan_renditions(probe)
    ladder.prepare_outdir(tmp_path / "out", plans)
    command = ladder.build_command(
        stalled_source, tmp_path / "out", plans, has_audio=False, options=ladder.LadderOptions(preset="ultrafast")
    )
    started = time.monotonic()
    with pytest.raises(ladder.LadderTimedOut, match="longer than its limit of 2 s"):
        ladder.run_command(command, timeout_seconds=2)
    assert time.monotonic() - started < 2 + ladder.STOP_GRACE_SECONDS + 2
    assert media_tools_under(os.getpid()) == []


def test_the_posters_ffmpeg_on_a_stalled_source_is_stopped_at_its_setting(stalled_source: str, tmp_path: Path) -> None:
    plans = ladder_domain.plan_renditions(ladder_domain.ProbeFacts(duration_seconds=1, width=64, height=64))
    started = time.monotonic()
    with pytest.raises(ladder.LadderTimedOut, match="poster's FFmpeg ran longer than 1 s"):
        ladder.make_poster(stalled_source, tmp_path, plans, 1.0, timeout_seconds=1)
    assert time.monotonic() - started < 5
    assert media_tools_under(os.getpid()) == []
    assert load_transcode_settings({}).poster_timeout_seconds == ladder.POSTER_TIMEOUT_SECONDS == 120
    assert load_transcode_settings({"TRANSCODE_POSTER_TIMEOUT_SECONDS": "7.5"}).poster_timeout_seconds == 7.5
