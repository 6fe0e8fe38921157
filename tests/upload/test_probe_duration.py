"""Videos whose container declares no duration (browsers' MediaRecorder WebM) are measured from their packets.

upload_svc's real Prober runs real ffprobe over HTTP against a small range-serving
server that records what each request asked for, so the test sees how much of the
file a measurement reads.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from devstack import free_port
from tests.transcode.sources import make_recorded_webm
from upload_svc import errors
from upload_svc.adapters import Prober

RANGE = re.compile(r"bytes=([0-9]+)-([0-9]*)")


@dataclass
class RangeServer:
    """Serves files of one folder with HTTP range requests, as object storage does, and keeps a log."""

    url: str
    folder: Path
    reads: list[tuple[int, int | None]] = field(default_factory=list)
    """(first byte, last byte or None for "to the end") of every GET."""

    def bounded_bytes(self) -> int:
        return sum(last - first + 1 for first, last in self.reads if last is not None)

    def open_ended_reads(self) -> int:
        return sum(1 for _, last in self.reads if last is None)


@pytest.fixture
async def range_server(tmp_path: Path) -> AsyncIterator[RangeServer]:
    server = RangeServer(url="", folder=tmp_path)

    async def serve(request: web.Request) -> web.StreamResponse:
        data = (tmp_path / request.match_info["name"]).read_bytes()
        match = RANGE.fullmatch(request.headers.get("Range", "bytes=0-"))
        assert match is not None
        first = int(match[1])
        last = int(match[2]) if match[2] else None
        server.reads.append((first, last))
        end = min(len(data) - 1, last if last is not None else len(data) - 1)
        return web.Response(
            status=206,
            body=data[first : end + 1],
            headers={"Content-Range": f"bytes {first}-{end}/{len(data)}", "Accept-Ranges": "bytes"},
            content_type="video/webm",
        )

    app = web.Application()
    app.router.add_get("/{name}", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    server.url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()


def declared_duration(path: Path) -> str:
    """The Duration line ffprobe prints for the file's container."""
    report = subprocess.run(["ffprobe", "-hide_banner", str(path)], capture_output=True, text=True, check=True).stderr
    return next(line.strip() for line in report.splitlines() if line.strip().startswith("Duration:"))


async def test_a_recorded_webm_without_a_duration_is_measured_from_its_packets(
    range_server: RangeServer, tmp_path: Path
) -> None:
    source = make_recorded_webm(tmp_path / "recording.webm", seconds=2)
    assert declared_duration(source).startswith("Duration: N/A")

    facts = await Prober(60).probe(f"{range_server.url}/recording.webm", source.stat().st_size)

    assert facts.duration_seconds == pytest.approx(2.0, abs=0.05)
    assert (facts.video_codec, facts.audio_codec, facts.width, facts.height) == ("vp8", "opus", 320, 240)


async def test_a_long_recording_is_measured_from_its_header_and_its_last_clusters_only(
    range_server: RangeServer, tmp_path: Path
) -> None:
    source = make_recorded_webm(tmp_path / "lecture.webm", seconds=20, video_kbps=500, audio=False)
    size = source.stat().st_size
    prober = Prober(60, whole_scan_bytes=256 * 1024, head_bytes=64 * 1024, tail_bytes=(128 * 1024, 512 * 1024))

    facts = await prober.probe(f"{range_server.url}/lecture.webm", size)

    assert facts.duration_seconds == pytest.approx(20.0, abs=0.05)
    assert range_server.open_ended_reads() == 1, "only the format probe reads from the start on"
    assert range_server.bounded_bytes() < size // 4, (range_server.reads, size)


async def test_a_recording_too_small_for_range_reads_is_read_whole_and_measured(
    range_server: RangeServer, tmp_path: Path
) -> None:
    source = make_recorded_webm(tmp_path / "short.webm", seconds=1, audio=False)
    prober = Prober(60, whole_scan_bytes=source.stat().st_size)

    facts = await prober.probe(f"{range_server.url}/short.webm", source.stat().st_size)

    assert facts.duration_seconds == pytest.approx(1.0, abs=0.05)
    assert range_server.bounded_bytes() == 0


async def test_a_recording_cut_before_its_first_frame_is_refused_with_the_reason(
    range_server: RangeServer, tmp_path: Path
) -> None:
    source = make_recorded_webm(tmp_path / "empty.webm", seconds=1, audio=False)
    header_only = source.read_bytes()
    cut = header_only.find(b"\x1f\x43\xb6\x75")
    (tmp_path / "empty.webm").write_bytes(header_only[:cut])

    with pytest.raises(errors.UploadRejected, match="could not be read as a video"):
        await Prober(60).probe(f"{range_server.url}/empty.webm", cut)
