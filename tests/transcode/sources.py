"""Tiny test sources made with FFmpeg's lavfi generators (real files, real codecs)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def make_source(
    path: Path,
    *,
    size: str = "320x240",
    seconds: float = 3.0,
    rate: int = 25,
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
