"""Short opening segments: a video is playable after the first 2 s of every rung, not 6.

The grid's rules by plain calls, then the ladder's real FFmpeg output read back with
ffprobe: the opening segments are no longer than their setting, the rest as long as
HLS_SEGMENT_SECONDS, every rung cuts at the same instants (the grid's, each segment
starting on a keyframe), and every playlist's target duration covers its segments
from the first version published while encoding to the VOD one, in the job too.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from service_kit.settings import load_transcode_settings
from tests.transcode.conftest import TranscodeRig
from tests.transcode.sources import make_source
from tests.transcode.test_transcode_jobs import FINAL, SUCCEEDED, start, wait_until
from transcode_svc.domain import (
    SegmentGrid,
    event_playlist,
    finalize_variant_playlist,
    parse_variant_playlist,
    plan_renditions,
)
from transcode_svc.ladder import LadderOptions, build_command, finish_outputs, prepare_outdir, probe_file, run_command

FRAME_RATE = 25
FRAME = 1 / FRAME_RATE
OPTIONS = LadderOptions(preset="ultrafast", segment_seconds=3, opening_segment_seconds=1, opening_segments=2)
"""Scaled down from the defaults (3 x 2 s, then 6 s) to keep FFmpeg's work small: 2 x 1 s, then 3 s."""
SOURCE_SECONDS = 10.0
EXPECTED_DURATIONS = [1.0, 1.0, 3.0, 3.0, 2.0]
"""Boundaries at 0, 1, 2, 5 and 8 s of a 10-second source."""


def test_the_default_grid_opens_with_three_2_second_segments_then_keeps_the_6_second_grid() -> None:
    grid = SegmentGrid()
    assert grid.boundaries(20) == [0, 2, 4, 6, 12, 18]
    assert grid.opening_span == 6 and grid.target_duration == 6
    assert grid.keyframe_expression() == "expr:if(lte(n_forced,3),gte(t,n_forced*2),gte(t,6+(n_forced-3)*6))"


@pytest.mark.parametrize("grid", [SegmentGrid(6, 2, 0), SegmentGrid(2, 2, 3), SegmentGrid(1, 2, 3)])
def test_no_opening_segments_or_ones_not_shorter_than_the_rest_give_one_plain_grid(grid: SegmentGrid) -> None:
    assert not grid.opens_short
    assert grid.boundaries(3 * grid.seconds) == [0, grid.seconds, 2 * grid.seconds]
    assert grid.keyframe_expression() == f"expr:gte(t,n_forced*{grid.seconds:g})"


def test_the_opening_segments_are_settings_read_with_the_segment_length() -> None:
    settings = load_transcode_settings(
        {"HLS_SEGMENT_SECONDS": "4", "HLS_OPENING_SEGMENT_SECONDS": "1.5", "HLS_OPENING_SEGMENTS": "2"},
        dotenv_path=Path("/nonexistent/.env"),
    )
    assert (settings.segment_seconds, settings.opening_segment_seconds, settings.opening_segments) == (4, 1.5, 2)
    defaults = load_transcode_settings({}, dotenv_path=Path("/nonexistent/.env"))
    assert (defaults.opening_segment_seconds, defaults.opening_segments) == (2, 3)


def test_a_playlist_holding_only_opening_segments_already_declares_the_target_of_the_whole_grid() -> None:
    # RFC 8216 6.2.1: the target duration of a media playlist does not change as it grows.
    opening_only = (
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:EVENT\n"
        "#EXTINF:2.000000,\nseg_00000.ts\n"
    )
    grid = SegmentGrid()
    assert "#EXT-X-TARGETDURATION:6\n" in event_playlist(opening_only, grid.target_duration)
    vod = finalize_variant_playlist(opening_only + "#EXT-X-ENDLIST\n", grid.target_duration)
    assert "#EXT-X-TARGETDURATION:6\n" in vod


@pytest.fixture(scope="module")
def ladder_output(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """Two rungs (360p, 480p) of a 10-second 25 fps source, as the job makes them, finished as VOD."""
    scratch = tmp_path_factory.mktemp("opening")
    source = make_source(scratch / "in.mp4", size="960x540", seconds=SOURCE_SECONDS, rate=FRAME_RATE)
    plans = plan_renditions(probe_file(str(source)))
    outdir = scratch / "out"
    prepare_outdir(outdir, plans)
    run_command(build_command(str(source), outdir, plans, has_audio=True, options=OPTIONS), timeout_seconds=120)
    finish_outputs(outdir, plans, OPTIONS.grid.target_duration)
    return outdir, [plan.name for plan in plans]


def segment_starts(rung_dir: Path) -> list[float]:
    """The time of the first video frame of each segment of a rung, and that it is a keyframe."""
    starts = []
    for segment in parse_variant_playlist((rung_dir / "index.m3u8").read_text()).segments:
        first_packet = ["-read_intervals", "%+#1", "-show_entries", "packet=pts_time,flags", "-of", "json"]
        report = subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "v:0", *first_packet, str(rung_dir / segment.uri)],
            capture_output=True,
            text=True,
            check=True,
        )
        first = json.loads(report.stdout)["packets"][0]
        assert first["flags"].startswith("K"), f"{segment.uri} does not begin on a keyframe"
        starts.append(float(first["pts_time"]))
    return starts


def test_the_first_segments_are_no_longer_than_the_opening_and_the_rest_as_long_as_the_grid(
    ladder_output: tuple[Path, list[str]],
) -> None:
    outdir, rungs = ladder_output
    assert rungs == ["360p", "480p"]
    for rung in rungs:
        durations = [s.duration for s in parse_variant_playlist((outdir / rung / "index.m3u8").read_text()).segments]
        assert durations == pytest.approx(EXPECTED_DURATIONS, abs=FRAME)
        opening, rest = durations[: OPTIONS.opening_segments], durations[OPTIONS.opening_segments :]
        assert all(duration <= OPTIONS.opening_segment_seconds + FRAME / 2 for duration in opening)
        assert all(duration == pytest.approx(OPTIONS.segment_seconds, abs=FRAME) for duration in rest[:-1])


def test_every_rung_begins_its_segments_on_keyframes_at_the_grids_instants(
    ladder_output: tuple[Path, list[str]],
) -> None:
    outdir, rungs = ladder_output
    starts = {rung: segment_starts(outdir / rung) for rung in rungs}
    assert starts["360p"] == starts["480p"]
    offset = starts["360p"][0]  # MPEG-TS timestamps begin at FFmpeg's muxing offset, not 0
    assert [start - offset for start in starts["360p"]] == pytest.approx(
        OPTIONS.grid.boundaries(SOURCE_SECONDS), abs=FRAME / 2
    )


def test_every_playlist_declares_a_target_duration_covering_each_segment(
    ladder_output: tuple[Path, list[str]],
) -> None:
    outdir, rungs = ladder_output
    for rung in rungs:
        text = (outdir / rung / "index.m3u8").read_text()
        declared = int(next(line for line in text.splitlines() if line.startswith("#EXT-X-TARGETDURATION:"))[22:])
        assert declared == OPTIONS.grid.target_duration == 3
        assert all(round(segment.duration) <= declared for segment in parse_variant_playlist(text).segments)


def test_a_job_publishes_opening_segments_under_the_grids_target_duration(
    stub: Any, rig: TranscodeRig, tmp_path: Path
) -> None:
    # 4 s on a grid of 2 x 1 s then 3 s: segments of 1, 1 and 2 s, of which FFmpeg would
    # declare a target of 2; the playlists say 3 from their first version to the VOD one.
    video_id, job_id = start(stub, rig, make_source(tmp_path / "in.mp4", size="960x540", seconds=4, rate=FRAME_RATE))
    rig.start_worker(HLS_SEGMENT_SECONDS="3", HLS_OPENING_SEGMENT_SECONDS="1", HLS_OPENING_SEGMENTS="2")
    assert wait_until(stub, rig, job_id, lambda job: job.status in FINAL, timeout=90).status == SUCCEEDED
    for rung in ("360p", "480p"):
        variant = rig.read(f"hls/{video_id}/{rung}/index.m3u8").decode()
        durations = [segment.duration for segment in parse_variant_playlist(variant).segments]
        assert durations == pytest.approx([1.0, 1.0, 2.0], abs=FRAME)
        assert "#EXT-X-TARGETDURATION:3" in variant.splitlines() and variant.rstrip().endswith("#EXT-X-ENDLIST")
