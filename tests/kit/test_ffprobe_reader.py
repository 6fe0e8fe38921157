"""The one ffprobe reader (service_kit.ffprobe), as a specification.

First what real ffprobe says about real clips made here with FFmpeg (a phone's
rotation, non-square pixels, interlaced fields, HDR, a browser's WebM without a
duration, sound without a picture), one row per kind of file; then the rotation rule
against what FFmpeg itself does when it decodes; then the reading rules row by row on
hand-written reports, including the cases where upload_svc's and transcode_svc's
former readers disagreed.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pytest

from media.transcode.v1 import transcode_pb2
from service_kit import ffprobe
from tests.transcode.sources import (
    display_matrix,
    make_audio_only,
    make_hdr,
    make_interlaced,
    make_recorded_webm,
    make_source,
    with_display_matrix,
)
from transcode_svc import domain as transcode_domain

MP4 = "mov,mp4,m4a,3gp,3g2,mj2"


@dataclass(frozen=True)
class Clip:
    """A file FFmpeg makes, and what the reader must say about it (the fields named; others unchecked)."""

    make: Callable[[Path], Path]
    facts: dict[str, object]
    has_video: bool = True
    format_name: str = MP4


def phone(counter_clockwise: float) -> Callable[[Path], Path]:
    """A landscape-coded clip whose display matrix turns it, as a phone's does."""
    return lambda path: with_display_matrix(make_source(path, seconds=1, audio=False), counter_clockwise)


CLIPS = {
    "an H.264 and AAC MP4": Clip(
        lambda path: make_source(path, seconds=2),
        {
            "duration_seconds": 2.0,
            "width": 320,
            "height": 240,
            "rotation": 0,
            "frame_rate": 25.0,
            "video_codec": "h264",
            "audio_codec": "aac",
            "has_audio": True,
            "sample_aspect_ratio": "",
            "field_order": "progressive",
            "pixel_format": "yuv420p",
            "color_transfer": "",
        },
    ),
    "an NTSC-rate clip": Clip(
        lambda path: make_source(path, seconds=1, rate="30000/1001", audio=False),
        {"frame_rate": 29.97, "has_audio": False, "audio_codec": ""},
    ),
    "a phone video held upright": Clip(phone(-90), {"rotation": 90, "width": 320, "height": 240}),
    "a phone video held upright the other way": Clip(phone(90), {"rotation": 270}),
    "a phone video upside down": Clip(phone(180), {"rotation": 180}),
    "a matrix 0.3 degrees short of a quarter turn (ffprobe prints -89)": Clip(phone(-89.7), {"rotation": 90}),
    "a matrix 0.6 degrees short of a quarter turn (ffprobe prints -89 too)": Clip(phone(-89.4), {"rotation": 0}),
    "a 16:9 DVD picture coded 720x576 with non-square pixels": Clip(
        lambda path: make_source(path, size="720x576", seconds=1, audio=False, pixel_aspect="64:45"),
        {"width": 720, "height": 576, "sample_aspect_ratio": "64:45"},
    ),
    "an interlaced camcorder clip": Clip(
        lambda path: make_interlaced(path, size="640x480", seconds=1), {"field_order": "tt"}
    ),
    "an HDR phone video (HEVC 10-bit HLG)": Clip(
        lambda path: make_hdr(path.with_suffix(".mov")),
        {
            "video_codec": "hevc",
            "pixel_format": "yuv420p10le",
            "color_transfer": "arib-std-b67",
            "color_primaries": "bt2020",
            "color_space": "bt2020nc",
        },
    ),
    "an HDR10 video (PQ)": Clip(
        lambda path: make_hdr(path.with_suffix(".mov"), transfer="smpte2084"), {"color_transfer": "smpte2084"}
    ),
    "a browser's WebM recording without a duration": Clip(
        lambda path: make_recorded_webm(path.with_suffix(".webm"), seconds=2),
        {"duration_seconds": 2.0, "video_codec": "vp8", "audio_codec": "opus", "width": 320, "height": 240},
        format_name="matroska,webm",
    ),
    "sound without a picture": Clip(
        lambda path: make_audio_only(path.with_suffix(".m4a")),
        {"duration_seconds": 1.0, "audio_codec": "aac", "has_audio": True, "width": 0, "height": 0, "video_codec": ""},
        has_video=False,
    ),
    "an MP3 with its album cover": Clip(
        lambda path: make_audio_only(path.with_suffix(".mp3"), cover=True),
        {"audio_codec": "mp3", "video_codec": "", "width": 0},
        has_video=False,
        format_name="mp3",
    ),
}


@pytest.mark.parametrize("name", CLIPS)
def test_what_ffprobe_says_about_a_real_clip_reads_as_its_facts(name: str, tmp_path: Path) -> None:
    clip = CLIPS[name]
    report = ffprobe.probe(str(clip.make(tmp_path / "clip.mp4")))
    read = {key: getattr(report.facts, key) for key in clip.facts}
    expected = {
        key: pytest.approx(value, abs=0.05) if key == "duration_seconds" else value for key, value in clip.facts.items()
    }
    assert read == expected
    assert (report.has_video, report.format_name) == (clip.has_video, clip.format_name)


def test_a_recording_without_a_declared_duration_is_measured_from_the_end_of_its_last_packet(tmp_path: Path) -> None:
    source = str(make_recorded_webm(tmp_path / "recording.webm", seconds=2))
    declared = ffprobe.parse_report(subprocess.run(ffprobe.report_command(source), capture_output=True).stdout)
    assert (declared.facts.duration_seconds, declared.needs_measured_duration, declared.is_matroska) == (0, True, True)
    packets = subprocess.run(ffprobe.packets_command(source), capture_output=True, text=True).stdout
    assert declared.with_packets(packets).facts.duration_seconds == pytest.approx(2.0, abs=0.05)


def test_a_file_ffprobe_cannot_read_fails_with_ffprobes_reason(tmp_path: Path) -> None:
    (tmp_path / "notes.mp4").write_text("not a video")
    with pytest.raises(ffprobe.ProbeFailed, match="Invalid data found"):
        ffprobe.probe(str(tmp_path / "notes.mp4"))


# ---- rotation: what FFmpeg does ------------------------------------------------------------


def decoded_size(source: Path, tmp_path: Path) -> tuple[int, int]:
    """Width and height of the first frame the ``ffmpeg`` command decodes (autorotation on, its default)."""
    frame = tmp_path / "frame.png"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(source), "-frames:v", "1", str(frame)], check=True
    )
    facts = ffprobe.probe(str(frame)).facts
    return facts.width, facts.height


@pytest.mark.parametrize(
    ("counter_clockwise", "rotation"),
    [(-90, 90), (90, 270), (180, 180), (-89.7, 90), (89.7, 270), (-89.4, 0), (60, 0)],
)
def test_the_rotation_read_is_the_turn_ffmpeg_gives_the_frames_it_decodes(
    counter_clockwise: float, rotation: int, tmp_path: Path
) -> None:
    source = phone(counter_clockwise)(tmp_path / "clip.mp4")
    assert ffprobe.probe(str(source)).facts.rotation == rotation
    turned = rotation in (90, 270)
    assert decoded_size(source, tmp_path) == ((240, 320) if turned else (320, 240))


# ---- rotation: the rule, row by row --------------------------------------------------------


def matrix_text(counter_clockwise: float) -> str:
    """A display matrix as ffprobe prints it: three rows of three, each after its offset."""
    values = display_matrix(counter_clockwise)
    rows = (values[0:3], values[3:6], values[6:9])
    return "\n" + "".join(f"{i:08x}: " + "".join(f" {v:11d}" for v in row) + "\n" for i, row in enumerate(rows))


def side_data(rotation: float, matrix: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"side_data_type": "Display Matrix", "rotation": rotation}
    if matrix is not None:
        entry["displaymatrix"] = matrix
    return {"side_data_list": [entry]}


@pytest.mark.parametrize(
    ("stream", "rotation"),
    [
        pytest.param(side_data(-90), 90, id="display matrix -90 (a phone held upright) is 90 clockwise"),
        pytest.param(side_data(90), 270, id="display matrix 90 is 270 clockwise"),
        pytest.param(side_data(180), 180, id="display matrix 180"),
        pytest.param(side_data(-180), 180, id="display matrix -180"),
        pytest.param(side_data(-270), 270, id="display matrix -270"),
        pytest.param(side_data(270), 90, id="display matrix 270"),
        pytest.param(side_data(360), 0, id="a whole turn is none"),
        pytest.param({"tags": {"rotate": "90"}}, 90, id="the old rotate tag is clockwise"),
        pytest.param({"tags": {"rotate": "270"}}, 270, id="rotate tag 270"),
        pytest.param({"tags": {"rotate": "-90"}}, 270, id="rotate tag -90"),
        pytest.param({**side_data(-90), "tags": {"rotate": "180"}}, 90, id="the display matrix wins over the tag"),
        pytest.param(side_data(-89.9), 90, id="-89.9 rounds to a quarter turn, not truncates to 89"),
        pytest.param(side_data(89.9), 270, id="89.9 is 270, not 271"),
        pytest.param({"tags": {"rotate": "89.9"}}, 90, id="a fractional rotate tag is read"),
        pytest.param(side_data(-89.5), 90, id="a half degree rounds away from zero, to 90"),
        pytest.param(side_data(-90.5), 0, id="and 90.5 to 91, which FFmpeg draws inside the frame"),
        pytest.param(side_data(-45), 0, id="45 degrees is drawn inside the frame"),
        pytest.param(side_data(-60), 0, id="60 degrees is drawn inside the frame"),
        pytest.param(side_data(-89, matrix_text(-89.7)), 90, id="the printed matrix wins over the truncated -89"),
        pytest.param(side_data(-89, matrix_text(-89.4)), 0, id="a matrix 89.4 degrees off is no quarter turn"),
        pytest.param(side_data(-90, "\n00000000: 0 65536 0\n"), 90, id="a matrix of fewer than nine values"),
        pytest.param(side_data(-90, "\n00000000: a b c\n" * 3), 90, id="a matrix that is not numbers"),
        pytest.param(side_data(-90, "\n" + "00000000: 0 0 0\n" * 3), 90, id="a degenerate matrix"),
        pytest.param({}, 0, id="nothing said is no rotation"),
    ],
)
def test_rotation_is_the_clockwise_quarter_turn_ffmpeg_applies(stream: dict[str, Any], rotation: int) -> None:
    assert ffprobe.display_rotation(stream) == rotation


# ---- the other reading rules, row by row ---------------------------------------------------

VIDEO_STREAM: dict[str, Any] = {
    "codec_type": "video",
    "codec_name": "h264",
    "width": 1920,
    "height": 1080,
    "avg_frame_rate": "30000/1001",
    "r_frame_rate": "30000/1001",
}
AUDIO_STREAM: dict[str, Any] = {"codec_type": "audio", "codec_name": "aac"}


def report(*streams: dict[str, Any], duration: str | None = "12.5") -> dict[str, Any]:
    return {"streams": list(streams), "format": {"duration": duration} if duration else {}}


def read(*streams: dict[str, Any], duration: str | None = "12.5") -> ffprobe.Report:
    return ffprobe.read_report(report(*streams, duration=duration))


def test_a_video_with_sound_gives_every_fact() -> None:
    assert read(VIDEO_STREAM, AUDIO_STREAM).facts == ffprobe.MediaFacts(
        duration_seconds=12.5,
        width=1920,
        height=1080,
        rotation=0,
        frame_rate=29.97,
        video_codec="h264",
        audio_codec="aac",
        has_audio=True,
    )


def test_a_silent_video_has_no_audio_codec() -> None:
    facts = read(VIDEO_STREAM).facts
    assert (facts.has_audio, facts.audio_codec) == (False, "")


def test_cover_art_is_not_a_video_stream() -> None:
    cover = {**VIDEO_STREAM, "codec_name": "mjpeg", "disposition": {"attached_pic": 1}}
    assert not read(AUDIO_STREAM, cover).has_video
    assert read(AUDIO_STREAM, cover).facts.video_codec == ""


@pytest.mark.parametrize("duration", [None, "0.000000", "N/A"])
def test_a_duration_not_declared_reads_as_zero(duration: str | None) -> None:
    assert read(VIDEO_STREAM, duration=duration).facts.duration_seconds == 0


def test_the_stream_duration_serves_when_the_container_has_none() -> None:
    assert read({**VIDEO_STREAM, "duration": "3.2"}, duration=None).facts.duration_seconds == 3.2


def test_an_unknown_average_frame_rate_falls_back_to_the_base_rate() -> None:
    assert read({**VIDEO_STREAM, "avg_frame_rate": "0/0", "r_frame_rate": "25/1"}).facts.frame_rate == 25.0


@pytest.mark.parametrize(
    ("reported", "kept"), [("64:45", "64:45"), ("128:90", "64:45"), ("1:1", ""), ("0:1", ""), ("N/A", ""), (None, "")]
)
def test_the_pixel_shape_is_kept_in_lowest_terms_and_only_when_not_square(reported: str | None, kept: str) -> None:
    stream = {**VIDEO_STREAM, "sample_aspect_ratio": reported} if reported else VIDEO_STREAM
    assert read(stream).facts.sample_aspect_ratio == kept


def test_field_order_pixel_format_and_colour_are_reported_as_ffmpeg_names_them() -> None:
    hdr_phone = {
        **VIDEO_STREAM,
        "codec_name": "hevc",
        "pix_fmt": "yuv420p10le",
        "field_order": "progressive",
        "color_transfer": "arib-std-b67",
        "color_primaries": "bt2020",
        "color_space": "bt2020nc",
    }
    facts = read(hdr_phone).facts
    assert (facts.pixel_format, facts.field_order) == ("yuv420p10le", "progressive")
    assert (facts.color_transfer, facts.color_primaries, facts.color_space) == ("arib-std-b67", "bt2020", "bt2020nc")


def test_unknown_field_order_and_colour_are_empty() -> None:
    stream = {**VIDEO_STREAM, "field_order": "unknown", "color_transfer": "unknown", "color_space": "reserved"}
    facts = read(stream).facts
    assert (facts.field_order, facts.color_transfer, facts.color_space) == ("", "", "")


def test_a_video_without_a_declared_duration_needs_measuring_and_takes_the_measured_one() -> None:
    recorded = read(VIDEO_STREAM, AUDIO_STREAM, duration=None)
    assert recorded.needs_measured_duration
    assert recorded.with_measured_duration(61.48).facts.duration_seconds == 61.48


def test_a_declared_duration_is_never_measured_and_wins_over_a_measured_one() -> None:
    declared = read(VIDEO_STREAM, duration="12.5")
    assert not declared.needs_measured_duration
    assert declared.with_measured_duration(99.0).facts.duration_seconds == 12.5


def test_a_file_without_video_is_not_measured() -> None:
    assert not read(AUDIO_STREAM, duration=None).needs_measured_duration


def test_the_duration_from_packets_is_the_end_of_the_latest_packet_of_any_stream_after_the_start() -> None:
    packets = "\n".join(
        [
            "0.000000,0.040000",
            "-0.007000,0.020000",
            "1.960000,0.040000,side_data,",
            "1.994000,0.020000",
            "1.920000,0.040000",
            "N/A,0.040000",
            "",
        ]
    )
    assert ffprobe.duration_from_packets(packets) == 2.014
    assert ffprobe.duration_from_packets(packets, start=1.0) == 1.014
    assert ffprobe.duration_from_packets("N/A,N/A\n") == 0.0


def test_a_negative_start_counts_as_zero_and_the_start_and_container_come_from_the_format() -> None:
    assert ffprobe.read_report({"format": {"start_time": "-0.007000"}}).start_seconds == 0.0
    assert ffprobe.read_report({"format": {"start_time": "1.400000"}}).start_seconds == 1.4
    assert ffprobe.read_report({"format": {"format_name": "matroska,webm"}}).is_matroska
    assert not ffprobe.read_report({"format": {"format_name": MP4}}).is_matroska


def test_output_that_is_not_a_json_object_is_an_unreadable_report() -> None:
    for stdout in (b"Invalid data", b"[]"):
        with pytest.raises(ffprobe.UnreadableReport):
            ffprobe.parse_report(stdout)
    assert not ffprobe.parse_report(b"").has_video


# ---- the commands, and the facts' names ----------------------------------------------------


def test_a_url_is_read_with_a_network_timeout_and_a_file_or_pipe_without() -> None:
    url = "http://store:8333/bucket/source?X-Amz-Signature=abc"
    assert ffprobe.report_command(url, network_timeout_seconds=30) == [
        *("ffprobe", "-v", "error", "-rw_timeout", "30000000"),
        *("-show_format", "-show_streams", "-of", "json", url),
    ]
    assert ffprobe.packets_command("pipe:0", executable="/opt/ffprobe", network_timeout_seconds=30) == [
        *("/opt/ffprobe", "-v", "error", "-show_entries", "packet=pts_time,duration_time", "-of", "csv=p=0"),
        "pipe:0",
    ]


def test_the_facts_are_named_as_the_contracts_probe_facts_so_each_service_builds_its_own_from_them() -> None:
    names = [field.name for field in fields(ffprobe.MediaFacts)]
    assert names == list(transcode_pb2.ProbeFacts.DESCRIPTOR.fields_by_name)
    assert names == [field.name for field in fields(transcode_domain.ProbeFacts)]
