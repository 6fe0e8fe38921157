"""What makes a probed file a video, as plain calls on ffprobe's JSON report.

The report is read by the one reader (service_kit.ffprobe, specified in
tests/kit/test_ffprobe_reader.py); these are upload_svc's rules about what it read.
"""

from __future__ import annotations

from typing import Any

import pytest

from service_kit import ffprobe
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


def report(*streams: dict[str, Any], duration: str | None = "12.5") -> ffprobe.Report:
    return ffprobe.read_report({"streams": list(streams), "format": {"duration": duration} if duration else {}})


def test_a_video_with_sound_gives_every_fact() -> None:
    facts = domain.video_facts(report(VIDEO_STREAM, AUDIO_STREAM))
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


def test_a_silent_video_is_taken() -> None:
    facts = domain.video_facts(report(VIDEO_STREAM))
    assert (facts.has_audio, facts.audio_codec) == (False, "")


def test_an_audio_file_is_refused_for_having_no_video_stream() -> None:
    with pytest.raises(errors.UploadRejected, match="no video stream"):
        domain.video_facts(report(AUDIO_STREAM))


def test_cover_art_is_not_a_video_stream() -> None:
    cover = {**VIDEO_STREAM, "codec_name": "mjpeg", "disposition": {"attached_pic": 1}}
    with pytest.raises(errors.UploadRejected, match="no video stream"):
        domain.video_facts(report(AUDIO_STREAM, cover))


@pytest.mark.parametrize("duration", [None, "0.000000", "N/A"])
def test_a_video_of_zero_duration_is_refused(duration: str | None) -> None:
    with pytest.raises(errors.UploadRejected, match="zero duration"):
        domain.video_facts(report(VIDEO_STREAM, duration=duration))


def test_a_video_stream_without_picture_size_is_refused() -> None:
    with pytest.raises(errors.UploadRejected, match="picture size"):
        domain.video_facts(report({**VIDEO_STREAM, "width": 0}))


def test_an_unreadable_file_says_so_with_ffprobes_reason() -> None:
    error = domain.unreadable("Invalid data found when processing input")
    assert "could not be read as a video (Invalid data found when processing input)" in error.message


# ---- stills, bombs and lengths a header makes up (the files: tests/security/test_hostile_media.py) -----


@pytest.mark.parametrize("format_name", ["png_pipe", "jpeg_pipe", "image2"])
def test_an_image_file_is_refused_as_a_still_picture(format_name: str) -> None:
    still = ffprobe.read_report({"streams": [VIDEO_STREAM], "format": {"format_name": format_name, "duration": "0.04"}})
    with pytest.raises(errors.UploadRejected, match="single still picture"):
        domain.video_facts(still)


def test_a_video_of_one_frame_is_refused_as_a_still_picture() -> None:
    with pytest.raises(errors.UploadRejected, match="single still picture"):
        domain.video_facts(report({**VIDEO_STREAM, "nb_frames": "1"}))


def test_a_video_that_does_not_count_its_frames_is_not_called_a_still() -> None:
    assert domain.video_facts(report({**VIDEO_STREAM, "nb_frames": "N/A"})).width == 1920
    assert domain.video_facts(report({**VIDEO_STREAM, "nb_frames": "2"})).width == 1920


@pytest.mark.parametrize(("width", "height"), [(16000, 16000), (8193, 100), (100, 8193)])
def test_a_picture_over_8192_pixels_on_a_side_is_refused(width: int, height: int) -> None:
    with pytest.raises(errors.UploadRejected, match=f"{width}x{height}, larger than 8192 pixels on a side"):
        domain.video_facts(report({**VIDEO_STREAM, "width": width, "height": height}))


def test_an_8k_picture_is_taken() -> None:
    assert domain.video_facts(report({**VIDEO_STREAM, "width": 8192, "height": 4320})).width == 8192


def test_only_a_file_too_small_for_its_declared_length_is_checked_against_its_packets() -> None:
    assert domain.needs_length_check(19_000, 36_000.0)  # 4 bits a second
    assert not domain.needs_length_check(19_000, 1.0)
    assert not domain.needs_length_check(600_000, 3600.0)  # a still slide's hour at 1.3 kbit/s
    assert not domain.needs_length_check(0, 36_000.0)


def test_a_declared_length_its_packets_do_not_hold_is_refused_in_words() -> None:
    with pytest.raises(errors.UploadRejected, match=r"declares 10 h 0 min but its media lasts 1\.0 s"):
        domain.check_declared_length(36_000.0, 1.0)
    domain.check_declared_length(3600.0, 3590.0)


# ---- durations the container does not declare ------------------------------------------------


def test_a_video_without_a_declared_duration_is_taken_with_its_measured_one() -> None:
    recorded = report(VIDEO_STREAM, AUDIO_STREAM, duration=None)
    assert recorded.needs_measured_duration
    assert domain.video_facts(recorded.with_measured_duration(61.48)).duration_seconds == 61.48


def test_a_measured_duration_of_zero_is_refused_as_zero_duration() -> None:
    with pytest.raises(errors.UploadRejected, match="zero duration"):
        domain.video_facts(report(VIDEO_STREAM, duration=None).with_measured_duration(0.0))


def test_a_matroska_header_and_its_last_clusters_join_at_cluster_boundaries() -> None:
    cluster = domain.MATROSKA_CLUSTER_ID
    head = b"\x1a\x45\xdf\xa3header" + cluster + b"first cluster"
    tail = b"end of a block" + cluster + b"last cluster"
    assert domain.matroska_header(head) == b"\x1a\x45\xdf\xa3header"
    assert domain.matroska_clusters(tail) == cluster + b"last cluster"
    assert domain.matroska_header(b"\x1a\x45\xdf\xa3header only") is None
    assert domain.matroska_clusters(b"inside one long cluster") is None
