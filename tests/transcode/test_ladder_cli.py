"""`python -m transcode_svc.ladder SOURCE OUTDIR` on real lavfi sources with real FFmpeg."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.transcode.sources import (
    make_audio_only,
    make_hdr,
    make_interlaced,
    make_recorded_webm,
    make_source,
    truncate,
)
from transcode_svc.domain import parse_variant_playlist

REPO = Path(__file__).resolve().parents[2]
FAST = {"TRANSCODE_PRESET": "ultrafast", "HLS_SEGMENT_SECONDS": "1"}


def run_cli(source: Path, outdir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **FAST, "MEDIA_DOTENV": "/nonexistent/.env"}
    return subprocess.run(
        [sys.executable, "-m", "transcode_svc.ladder", str(source), str(outdir)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def video_stream(path: Path) -> dict[str, Any]:
    """ffprobe's report on the first video stream of a file."""
    report = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-select_streams", "v:0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    stream: dict[str, Any] = json.loads(report.stdout)["streams"][0]
    return stream


def stream_facts(path: Path) -> dict[str, object]:
    report = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    streams = json.loads(report.stdout)["streams"]
    video = next(s for s in streams if s["codec_type"] == "video")
    return {"size": (video["width"], video["height"]), "audio": any(s["codec_type"] == "audio" for s in streams)}


def renditions(outdir: Path) -> list[str]:
    return [line.split("/")[0] for line in (outdir / "master.m3u8").read_text().splitlines() if line.endswith(".m3u8")]


def test_a_landscape_source_gets_a_playable_vod_ladder_with_poster(tmp_path: Path) -> None:
    source = make_source(tmp_path / "in.mp4", size="640x360", seconds=3)
    result = run_cli(source, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    assert renditions(out) == ["360p"]
    playlist = (out / "360p" / "index.m3u8").read_text()
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in playlist and playlist.rstrip().endswith("#EXT-X-ENDLIST")
    segments = parse_variant_playlist(playlist).segments
    assert [s.uri for s in segments] == ["seg_00000.ts", "seg_00001.ts", "seg_00002.ts"]
    assert stream_facts(out / "360p" / "seg_00000.ts") == {"size": (640, 360), "audio": True}
    assert (out / "poster.jpg").read_bytes()[:2] == b"\xff\xd8"
    assert "realtime" in result.stdout


def test_every_rung_cuts_its_segments_at_the_same_instants(tmp_path: Path) -> None:
    source = make_source(tmp_path / "in.mp4", size="960x540", seconds=3)
    assert run_cli(source, tmp_path / "out").returncode == 0
    low = parse_variant_playlist((tmp_path / "out/360p/index.m3u8").read_text()).segments
    high = parse_variant_playlist((tmp_path / "out/480p/index.m3u8").read_text()).segments
    assert renditions(tmp_path / "out") == ["360p", "480p"]
    assert [s.duration for s in low] == [s.duration for s in high]


def test_a_portrait_source_stays_portrait(tmp_path: Path) -> None:
    source = make_source(tmp_path / "in.mp4", size="360x640", seconds=1)
    assert run_cli(source, tmp_path / "out").returncode == 0
    assert stream_facts(tmp_path / "out/360p/seg_00000.ts")["size"] == (360, 640)


def test_a_rotated_source_is_encoded_as_it_is_displayed(tmp_path: Path) -> None:
    source = make_source(tmp_path / "in.mp4", size="640x360", seconds=1, rotate=90)
    assert run_cli(source, tmp_path / "out").returncode == 0
    assert stream_facts(tmp_path / "out/360p/seg_00000.ts")["size"] == (360, 640)


def test_a_16_by_9_picture_coded_with_non_square_pixels_gives_16_by_9_rungs_of_square_pixels(tmp_path: Path) -> None:
    source = make_source(tmp_path / "in.mp4", size="720x576", seconds=1, audio=False, pixel_aspect="64:45")
    assert video_stream(source)["display_aspect_ratio"] == "16:9"
    result = run_cli(source, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert renditions(tmp_path / "out") == ["360p", "480p"]
    for rung, size in (("360p", (640, 360)), ("480p", (854, 480))):
        stream = video_stream(tmp_path / "out" / rung / "seg_00000.ts")
        assert (stream["width"], stream["height"]) == size
        assert stream["sample_aspect_ratio"] == "1:1"
    assert "RESOLUTION=854x480" in (tmp_path / "out/master.m3u8").read_text()


def interlaced_frames(path: Path) -> tuple[int, int]:
    """(interlaced, progressive) frames as FFmpeg's idet filter judges the picture itself."""
    report = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-i", str(path), "-vf", "idet", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    line = next(line for line in report.splitlines() if "Multi frame detection" in line)
    counts = dict(re.findall(r"(TFF|BFF|Progressive):\s*([0-9]+)", line))
    return int(counts["TFF"]) + int(counts["BFF"]), int(counts["Progressive"])


def test_an_interlaced_source_is_deinterlaced_into_progressive_rungs(tmp_path: Path) -> None:
    source = make_interlaced(tmp_path / "in.mp4", size="640x480", seconds=1)
    assert video_stream(source)["field_order"] == "tt"
    combed, _ = interlaced_frames(source)
    assert combed >= 20, "the source itself combs"
    result = run_cli(source, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    rung = tmp_path / "out/480p/seg_00000.ts"
    assert (video_stream(rung)["width"], video_stream(rung)["field_order"]) == (640, "progressive")
    combed, progressive = interlaced_frames(rung)
    assert progressive > 3 * combed, (combed, progressive)


@pytest.mark.parametrize("transfer", ["arib-std-b67", "smpte2084"])
def test_an_hdr_phone_video_is_tone_mapped_to_8_bit_sdr_bt709(tmp_path: Path, transfer: str) -> None:
    source = make_hdr(tmp_path / "in.mov", transfer=transfer, size="640x360", seconds=1)
    assert (video_stream(source)["pix_fmt"], video_stream(source)["color_transfer"]) == ("yuv420p10le", transfer)
    result = run_cli(source, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    stream = video_stream(tmp_path / "out/360p/seg_00000.ts")
    assert (stream["codec_name"], stream["pix_fmt"]) == ("h264", "yuv420p")
    assert (stream["color_transfer"], stream["color_primaries"], stream["color_space"]) == ("bt709",) * 3
    assert stream.get("color_range") == "tv"
    assert (tmp_path / "out/poster.jpg").stat().st_size > 0
    assert "VIDEO-RANGE" not in (tmp_path / "out/master.m3u8").read_text(), "SDR is the default range"


def test_a_browser_recording_without_a_declared_duration_is_transcoded_whole(tmp_path: Path) -> None:
    source = make_recorded_webm(tmp_path / "in.webm", size="320x240", seconds=2)
    result = run_cli(source, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    segments = parse_variant_playlist((tmp_path / "out/240p/index.m3u8").read_text()).segments
    assert sum(s.duration for s in segments) == pytest.approx(2.0, abs=0.1)
    assert "2.0 s of video" in result.stdout


def test_a_source_without_audio_gives_video_only_renditions(tmp_path: Path) -> None:
    source = make_source(tmp_path / "in.mp4", size="320x240", seconds=1, audio=False)
    assert run_cli(source, tmp_path / "out").returncode == 0
    assert stream_facts(tmp_path / "out/240p/seg_00000.ts") == {"size": (320, 240), "audio": False}
    assert "mp4a" not in (tmp_path / "out/master.m3u8").read_text()


def test_an_odd_sized_source_is_encoded_at_even_dimensions(tmp_path: Path) -> None:
    source = make_source(tmp_path / "in.mp4", size="321x239", seconds=1)
    result = run_cli(source, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert stream_facts(tmp_path / "out/238p/seg_00000.ts")["size"] == (320, 238)


def test_a_third_of_a_second_clip_gives_one_segment_a_target_duration_of_one_and_a_poster(tmp_path: Path) -> None:
    source = make_source(tmp_path / "in.mp4", size="320x240", seconds=0.32)
    result = run_cli(source, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    playlist = (tmp_path / "out/240p/index.m3u8").read_text()
    assert len(parse_variant_playlist(playlist).segments) == 1
    assert "#EXT-X-TARGETDURATION:1\n" in playlist
    assert (tmp_path / "out/poster.jpg").stat().st_size > 0


def test_a_truncated_file_fails_with_ffmpegs_reason_in_words(tmp_path: Path) -> None:
    source = truncate(make_source(tmp_path / "in.mp4", size="320x240", seconds=2))
    result = run_cli(source, tmp_path / "out")
    assert result.returncode == 1
    assert "moov atom not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_sound_with_an_album_cover_is_refused_for_having_no_video_stream(tmp_path: Path) -> None:
    source = make_audio_only(tmp_path / "song.mp3", cover=True)
    result = run_cli(source, tmp_path / "out")
    assert result.returncode == 1
    assert "the source has no video stream" in result.stderr
