"""Tiny test sources made with FFmpeg's lavfi generators (real files, real codecs)."""

from __future__ import annotations

import math
import struct
import subprocess
from pathlib import Path


def make_source(
    path: Path,
    *,
    size: str = "320x240",
    seconds: float = 3.0,
    rate: int | str = 25,
    audio: bool = True,
    rotate: int | None = None,
    pixel_aspect: str | None = None,
) -> Path:
    """An H.264 (+ AAC) MP4 of a test pattern.

    ``rotate`` sets display rotation metadata; ``pixel_aspect`` ("64:45") codes the
    picture with non-square pixels, as DVDs and broadcast SD do.
    """
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    command += ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}"]
    if audio:
        command += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    if pixel_aspect is not None:
        command += ["-vf", f"setsar={pixel_aspect.replace(':', '/')}"]
    command += ["-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio:
        command += ["-c:a", "aac", "-b:a", "64k"]
    plain = path.with_suffix(".plain.mp4") if rotate is not None else path
    subprocess.run([*command, str(plain)], check=True)
    if rotate is not None:
        subprocess.run(
            [
                "ffmpeg",
                "-nostdin",
                "-loglevel",
                "error",
                "-y",
                "-i",
                str(plain),
                "-c",
                "copy",
                "-metadata:s:v:0",
                f"rotate={rotate}",
                str(path),
            ],
            check=True,
        )
    return path


def truncate(path: Path, keep_fraction: float = 0.5) -> Path:
    """Cut a file short, as an interrupted copy would (the MP4 index at its end is lost)."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep_fraction)])
    return path


def make_interlaced(path: Path, *, size: str = "640x480", seconds: float = 1.0, field_order: str = "tt") -> Path:
    """H.264 coded interlaced at 25 frames (50 fields) a second, fields of distinct instants.

    A 50 fps pattern is woven two pictures to a frame, so every frame combs as a
    camcorder's would; ``+ildct+ilme`` codes it as fields and ffprobe reports
    ``field_order`` ``tt`` (or ``bb``).
    """
    weave = "interleave_top" if field_order == "tt" else "interleave_bottom"
    field = "tff" if field_order == "tt" else "bff"
    command = [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=50", "-t", str(seconds),
        "-vf", f"tinterlace=mode={weave},setfield={field}", "-c:v", "libx264", "-preset", "ultrafast",
        "-flags", "+ildct+ilme", "-field_order", field_order, "-pix_fmt", "yuv420p", str(path),
    ]  # fmt: skip
    subprocess.run(command, check=True)
    return path


def make_hdr(path: Path, *, transfer: str = "arib-std-b67", size: str = "640x360", seconds: float = 1.0) -> Path:
    """A phone-style HDR clip: HEVC Main 10 (libx265), BT.2020, HLG (``arib-std-b67``) or PQ (``smpte2084``)."""
    command = [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25", "-t", str(seconds),
        "-vf", "format=yuv420p10le", "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
        "-pix_fmt", "yuv420p10le", "-color_primaries", "bt2020", "-color_trc", transfer, "-colorspace", "bt2020nc",
        "-color_range", "tv", "-tag:v", "hvc1", str(path),
    ]  # fmt: skip
    subprocess.run(command, check=True)
    return path


def make_recorded_webm(
    path: Path, *, size: str = "320x240", seconds: float = 2.0, video_kbps: int = 300, audio: bool = True
) -> Path:
    """A WebM (VP8 + Opus) as a browser's MediaRecorder writes it: no Duration, no Cues.

    FFmpeg's WebM muxer writes to a pipe it cannot seek back into, so, like MediaRecorder,
    it never fills in the Segment's Duration (ffprobe prints ``Duration: N/A``). The
    length comes from the generators (not ``-t``, which the muxer would write up front).
    """
    command = [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
        "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration={seconds}",
    ]  # fmt: skip
    if audio:
        command += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}", "-c:a", "libopus"]
    command += ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", f"{video_kbps}k"]
    recorded = subprocess.run([*command, "-f", "webm", "pipe:1"], check=True, capture_output=True).stdout
    path.write_bytes(recorded)
    return path


def make_audio_only(path: Path, *, seconds: float = 1.0, cover: bool = False) -> Path:
    """Sound without a picture: AAC in an M4A, or an MP3 with an album cover (an attached picture) when ``cover``."""
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    command += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    if cover:
        command += ["-f", "lavfi", "-i", "color=c=red:size=64x64:duration=0.04", "-map", "0", "-map", "1"]
        command += ["-c:a", "libmp3lame", "-c:v", "mjpeg", "-disposition:v", "attached_pic"]
    else:
        command += ["-c:a", "aac", "-b:a", "64k"]
    subprocess.run([*command, str(path)], check=True)
    return path


def display_matrix(counter_clockwise_degrees: float) -> tuple[int, ...]:
    """The nine 16.16 fixed-point values of a display matrix turning the picture by this angle.

    ISO/IEC 14496-12 8.3.2: ``a b u / c d v / x y w``; a turn by θ counter-clockwise
    is a = d = cos θ, b = -sin θ, c = sin θ (w is 1.0 in 2.30 fixed point).
    """
    theta = math.radians(counter_clockwise_degrees)
    cos, sin = round(math.cos(theta) * 65536), round(math.sin(theta) * 65536)
    return (cos, -sin, 0, sin, cos, 0, 0, 0, 1 << 30)


def with_display_matrix(path: Path, counter_clockwise_degrees: float) -> Path:
    """Rewrite the display matrix of an MP4's video track (its ``tkhd`` box) in place.

    Phones write the matrix of a quarter turn, and editors or re-muxers can leave one a
    fraction of a degree off; FFmpeg 5.1's command line writes only quarter turns, so
    this is how a test gets any other angle into a real file.
    """
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    while at >= 0:
        version = data[at + 4]
        matrix = at + 4 + (52 if version == 1 else 40)
        width, height = struct.unpack(">II", data[matrix + 36 : matrix + 44])
        if width and height:
            data[matrix : matrix + 36] = struct.pack(">9i", *display_matrix(counter_clockwise_degrees))
            path.write_bytes(data)
            return path
        at = data.find(b"tkhd", at + 4)
    raise ValueError(f"{path} has no video track header")
