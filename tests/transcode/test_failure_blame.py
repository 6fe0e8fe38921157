"""FFmpeg's words tell a source it could not fetch from a source that is not media (real FFmpeg runs)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from devstack import free_port
from transcode_svc.domain import failure_reason, is_network_failure
from transcode_svc.ladder import input_arguments


def ffmpeg_reason(source: str) -> str:
    """FFmpeg's failure on ``source``, in the words a job records."""
    done = subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", *input_arguments(source), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    return failure_reason(done.stderr)


def test_a_source_url_nobody_answers_is_a_network_failure() -> None:
    reason = ffmpeg_reason(f"http://127.0.0.1:{free_port()}/bucket/uploads/source")
    assert is_network_failure(reason), reason


def test_a_text_file_named_mp4_is_not_a_network_failure(tmp_path: Path) -> None:
    source = tmp_path / "lecture.mp4"
    source.write_text("this is not a video\n" * 50)
    reason = ffmpeg_reason(str(source))
    assert not is_network_failure(reason), reason
