"""What makes a probed file a video, from ffprobe's JSON report, as plain calls."""

from __future__ import annotations

from typing import Any

import pytest

from upload_svc import domain, errors

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


def test_a_video_with_sound_gives_every_fact() -> None:
    facts = domain.facts_from_ffprobe(report(VIDEO_STREAM, AUDIO_STREAM))
    assert facts == domain.ProbeFacts(
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
    facts = domain.facts_from_ffprobe(report(VIDEO_STREAM))
    assert (facts.has_audio, facts.audio_codec) == (False, "")


def test_an_audio_file_is_refused_for_having_no_video_stream() -> None:
    with pytest.raises(errors.UploadRejected, match="no video stream"):
        domain.facts_from_ffprobe(report(AUDIO_STREAM))


def test_cover_art_is_not_a_video_stream() -> None:
    cover = {**VIDEO_STREAM, "codec_name": "mjpeg", "disposition": {"attached_pic": 1}}
    with pytest.raises(errors.UploadRejected, match="no video stream"):
        domain.facts_from_ffprobe(report(AUDIO_STREAM, cover))


@pytest.mark.parametrize("duration", [None, "0.000000", "N/A"])
def test_a_video_of_zero_duration_is_refused(duration: str | None) -> None:
    with pytest.raises(errors.UploadRejected, match="zero duration"):
        domain.facts_from_ffprobe(report(VIDEO_STREAM, duration=duration))


def test_the_stream_duration_serves_when_the_container_has_none() -> None:
    facts = domain.facts_from_ffprobe(report({**VIDEO_STREAM, "duration": "3.2"}, duration=None))
    assert facts.duration_seconds == 3.2


def test_a_video_stream_without_picture_size_is_refused() -> None:
    with pytest.raises(errors.UploadRejected, match="picture size"):
        domain.facts_from_ffprobe(report({**VIDEO_STREAM, "width": 0}))


@pytest.mark.parametrize(
    ("stream_extra", "rotation"),
    [
        ({"side_data_list": [{"side_data_type": "Display Matrix", "rotation": -90}]}, 90),
        ({"side_data_list": [{"side_data_type": "Display Matrix", "rotation": 90}]}, 270),
        ({"side_data_list": [{"side_data_type": "Display Matrix", "rotation": 180}]}, 180),
        ({"tags": {"rotate": "90"}}, 90),
        ({}, 0),
    ],
)
def test_rotation_is_reported_clockwise(stream_extra: dict[str, Any], rotation: int) -> None:
    assert domain.facts_from_ffprobe(report({**VIDEO_STREAM, **stream_extra})).rotation == rotation


def test_an_unknown_average_frame_rate_falls_back_to_the_base_rate() -> None:
    facts = domain.facts_from_ffprobe(report({**VIDEO_STREAM, "avg_frame_rate": "0/0", "r_frame_rate": "25/1"}))
    assert facts.frame_rate == 25.0


def test_an_unreadable_file_says_so_with_ffprobes_reason() -> None:
    error = domain.unreadable("Invalid data found when processing input")
    assert "could not be read as a video (Invalid data found when processing input)" in error.message


@pytest.mark.parametrize(
    ("reported", "kept"), [("64:45", "64:45"), ("128:90", "64:45"), ("1:1", ""), ("0:1", ""), ("N/A", ""), (None, "")]
)
def test_the_pixel_shape_is_kept_in_lowest_terms_and_only_when_not_square(reported: str | None, kept: str) -> None:
    stream = {**VIDEO_STREAM, "sample_aspect_ratio": reported} if reported else VIDEO_STREAM
    assert domain.facts_from_ffprobe(report(stream)).sample_aspect_ratio == kept


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
    facts = domain.facts_from_ffprobe(report(hdr_phone))
    assert (facts.pixel_format, facts.field_order) == ("yuv420p10le", "progressive")
    assert (facts.color_transfer, facts.color_primaries, facts.color_space) == ("arib-std-b67", "bt2020", "bt2020nc")


def test_unknown_field_order_and_colour_are_empty() -> None:
    stream = {**VIDEO_STREAM, "field_order": "unknown", "color_transfer": "unknown", "color_space": "reserved"}
    facts = domain.facts_from_ffprobe(report(stream))
    assert (facts.field_order, facts.color_transfer, facts.color_space) == ("", "", "")


# ---- durations the container does not declare ------------------------------------------------


def test_a_video_without_a_declared_duration_needs_measuring_and_takes_the_measured_one() -> None:
    recorded = report(VIDEO_STREAM, AUDIO_STREAM, duration=None)
    assert domain.needs_measured_duration(recorded)
    assert domain.facts_from_ffprobe(recorded, measured_duration=61.48).duration_seconds == 61.48


def test_a_declared_duration_is_never_measured_and_wins_over_a_measured_one() -> None:
    declared = report(VIDEO_STREAM, duration="12.5")
    assert not domain.needs_measured_duration(declared)
    assert domain.facts_from_ffprobe(declared, measured_duration=99.0).duration_seconds == 12.5


def test_a_file_without_video_is_not_measured_but_refused() -> None:
    assert not domain.needs_measured_duration(report(AUDIO_STREAM, duration=None))


def test_a_measured_duration_of_zero_is_refused_as_zero_duration() -> None:
    with pytest.raises(errors.UploadRejected, match="zero duration"):
        domain.facts_from_ffprobe(report(VIDEO_STREAM, duration=None), measured_duration=0.0)


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
    assert domain.duration_from_packets(packets) == 2.014
    assert domain.duration_from_packets(packets, start=1.0) == 1.014
    assert domain.duration_from_packets("N/A,N/A\n") == 0.0


def test_a_negative_start_counts_as_zero_and_the_start_comes_from_the_format() -> None:
    assert domain.start_seconds({"format": {"start_time": "-0.007000"}}) == 0.0
    assert domain.start_seconds({"format": {"start_time": "1.400000"}}) == 1.4
    assert domain.is_matroska({"format": {"format_name": "matroska,webm"}})
    assert not domain.is_matroska({"format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2"}})


def test_a_matroska_header_and_its_last_clusters_join_at_cluster_boundaries() -> None:
    cluster = domain.MATROSKA_CLUSTER_ID
    head = b"\x1a\x45\xdf\xa3header" + cluster + b"first cluster"
    tail = b"end of a block" + cluster + b"last cluster"
    assert domain.matroska_header(head) == b"\x1a\x45\xdf\xa3header"
    assert domain.matroska_clusters(tail) == cluster + b"last cluster"
    assert domain.matroska_header(b"\x1a\x45\xdf\xa3header only") is None
    assert domain.matroska_clusters(b"inside one long cluster") is None
