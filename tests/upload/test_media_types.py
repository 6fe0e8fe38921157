"""The media types browsers and operating systems really send, through the edge to SeaweedFS and ffprobe.

The extension decides whether an upload is accepted, the bytes whether it is video: the
type a browser reports is kept as it will POST it, and an empty one becomes the
extension's type.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.transcode.sources import make_hdr
from tests.upload.conftest import Api

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

QUEUED = "VIDEO_STATUS_QUEUED"


def clip(path: Path, *output: str, video: bool = True, size: str = "160x120") -> bytes:
    """A one-second clip of ``size`` (or a tone, without ``video``) written with the given output options."""
    inputs = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=10"] if video else []
    inputs += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000"]
    subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, "-t", "1", *output, str(path)], check=True, timeout=60)
    return path.read_bytes()


async def upload_and_complete(
    api: Api, filename: str, content_type: str, body: bytes, file_type: str
) -> tuple[dict[str, Any], dict[str, Any], int]:
    """Declare, POST the form as given (the file part typed as the browser would), complete."""
    instructor = api.caller()
    created = await api.create_upload(instructor, filename=filename, content_type=content_type, size=len(body))
    assert created.status == 200, created.body
    sent = await api.post_form(created.body, body, file_type=file_type)
    assert sent.status == 204, sent.body
    completed = await api.call("POST", f"/api/v1/media/uploads/{created.body['upload_id']}/complete", instructor, {})
    return created.body, completed.body, completed.status


@pytest.mark.parametrize(
    ("filename", "content_type", "output", "codec"),
    [
        ("Week 2.avi", "video/avi", ("-c:v", "mpeg4", "-c:a", "mp3"), "mpeg4"),
        ("Week 2.mov", "video/mov", ("-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"), "h264"),
        ("Week 2.mkv", "video/x-matroska", ("-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"), "h264"),
    ],
)
async def test_a_video_declared_with_the_type_its_browser_reports_is_uploaded_and_probed(
    api: Api, tmp_path: Path, filename: str, content_type: str, output: tuple[str, ...], codec: str
) -> None:
    body = clip(tmp_path / filename.replace(" ", "_"), *output)

    created, completed, status = await upload_and_complete(api, filename, content_type, body, file_type=content_type)

    assert created["fields"]["Content-Type"] == content_type
    assert status == 200, completed
    assert completed["status"] == QUEUED
    assert completed["probe"]["video_codec"] == codec
    assert (completed["probe"]["width"], completed["probe"]["height"]) == (160, 120)


async def test_an_mkv_the_browser_gives_no_type_is_stored_as_matroska_and_probed(
    api: Api, tmp_path: Path, s3: S3Client
) -> None:
    body = clip(tmp_path / "lecture.mkv", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac")

    created, completed, status = await upload_and_complete(
        api, "lecture.mkv", "", body, file_type="application/octet-stream"
    )

    assert created["fields"]["Content-Type"] == "video/x-matroska"
    assert status == 200, completed
    assert completed["status"] == QUEUED
    assert completed["probe"]["duration_seconds"] == pytest.approx(1.0, abs=0.1)
    head = s3.head_object(Bucket="media-test", Key=str(created["fields"]["key"]))
    assert head["ContentType"] == "video/x-matroska"


async def test_sound_without_a_picture_named_mkv_is_refused_for_what_it_is(
    api: Api, tmp_path: Path, s3: S3Client
) -> None:
    body = clip(tmp_path / "recording.mkv", "-c:a", "libopus", video=False)

    created, refused, status = await upload_and_complete(
        api, "recording.mkv", "", body, file_type="application/octet-stream"
    )

    assert status == 400
    assert "no video stream" in refused["error"]["message"]
    key = str(created["fields"]["key"])
    assert s3.list_objects_v2(Bucket="media-test", Prefix=key).get("KeyCount") == 0


async def test_a_dvd_clip_without_a_type_is_probed_with_its_pixel_shape_and_field_order(
    api: Api, tmp_path: Path
) -> None:
    dvd = ["-c:v", "mpeg2video", "-flags", "+ildct+ilme", "-top", "1", "-aspect", "16:9", "-c:a", "mp2", "-f", "vob"]
    body = clip(tmp_path / "VTS_01_1.VOB", *dvd, size="720x576")

    created, completed, status = await upload_and_complete(
        api, "VTS_01_1.VOB", "", body, file_type="application/octet-stream"
    )

    assert status == 200, completed
    probe = completed["probe"]
    assert (probe["video_codec"], probe["width"], probe["height"]) == ("mpeg2video", 720, 576)
    assert (probe["sample_aspect_ratio"], probe["field_order"]) == ("64:45", "tt")
    assert created["fields"]["Content-Type"] == "video/mpeg"


async def test_an_hdr_phone_video_is_probed_with_its_10_bit_pixels_and_hlg_colours(api: Api, tmp_path: Path) -> None:
    body = make_hdr(tmp_path / "IMG_0042.MOV", transfer="arib-std-b67", size="320x180", seconds=0.5).read_bytes()

    _, completed, status = await upload_and_complete(
        api, "IMG_0042.MOV", "video/quicktime", body, file_type="video/quicktime"
    )

    assert status == 200, completed
    probe = completed["probe"]
    assert (probe["video_codec"], probe["pixel_format"], probe["field_order"]) == ("hevc", "yuv420p10le", "progressive")
    assert (probe["color_transfer"], probe["color_primaries"], probe["color_space"]) == (
        "arib-std-b67",
        "bt2020",
        "bt2020nc",
    )
