"""Uploading recordings: bars a person can follow, plain lines for logs, and resuming after Ctrl-C."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time
from pathlib import Path

import httpx

from tests.cli.conftest import MEDIACTL, Cli
from tests.support.processes import Process


def run_in_terminal(cli: Cli, *args: str, seconds: float = 240) -> tuple[int, str]:
    """Run mediactl with a pseudo-terminal (120 x 40) as its stdin, stdout and stderr; all it drew."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen(
        [MEDIACTL, *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=cli.env(TERM="xterm-256color"),
        cwd=cli.home,
    )
    os.close(follower)
    drawn = bytearray()
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1)
            if not ready:
                continue
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: every process let go of the terminal
                break
            if not chunk:
                break
            drawn += chunk
        code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
        os.close(leader)
    return code, drawn.decode(errors="replace")


def test_in_a_terminal_a_person_sees_a_bar_for_the_bytes_then_one_for_transcoding(
    cli: Cli, small_file: Path, worker: Process
) -> None:
    code, drawn = run_in_terminal(cli, "upload", str(small_file), "--publish")

    assert code == 0, drawn
    assert "Week 1 intro.mp4 upload" in drawn and "Week 1 intro.mp4 transcode" in drawn
    assert "━" in drawn, "bars are drawn"
    assert "\x1b[?25l" in drawn, "the cursor is hidden while bars move"
    assert drawn.count("Week 1 intro.mp4 transcode") > 1, "the transcoding bar is redrawn as it moves"
    assert re.search(r"transcode\s.*100%", drawn)
    assert "Week 1 intro.mp4: ready" in drawn and "Week 1 intro.mp4: published" in drawn
    [video] = json.loads(cli.run("videos", "list", "--json").out)
    assert (video["status"], video["published"]) == ("VIDEO_STATUS_READY", True)


def test_piped_the_same_upload_is_plain_lines_without_bars_or_colours(cli: Cli, small_file: Path) -> None:
    sent = cli.run("upload", str(small_file), "--no-wait")

    assert sent.code == 0, sent.err
    assert "\x1b" not in sent.out + sent.err and "━" not in sent.out
    lines = sent.out.splitlines()
    assert lines[0].startswith("Week 1 intro.mp4: sending ") and lines[0].endswith("KiB")
    assert re.fullmatch(r"Week 1 intro\.mp4: uploaded as video [0-9a-f-]{36}", lines[1]), lines


def test_a_file_the_server_will_not_take_is_refused_in_its_words_with_exit_code_2(cli: Cli) -> None:
    notes = cli.home / "notes.txt"
    notes.write_text("not a lecture\n")

    refused = cli.run("upload", str(notes), "--no-wait")

    assert refused.code == 2
    [line] = refused.err.splitlines()
    assert line.startswith("mediactl: Refused by the server (HTTP 4"), line


def stored_parts(url: str, token: str, upload_id: str) -> set[int]:
    reply = httpx.get(
        f"{url}/api/v1/media/uploads/{upload_id}/parts", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    reply.raise_for_status()
    return {int(part["part_number"]) for part in reply.json().get("parts", [])}


def test_an_interrupted_multipart_upload_continues_with_only_the_parts_the_store_lacks(
    cli: Cli, large_file: Path, small_parts_edge: str
) -> None:
    cli.url = small_parts_edge  # 6 MiB threshold, 5 MiB parts: the 14 MiB file goes in 3 parts
    first = subprocess.Popen(
        [MEDIACTL, "upload", str(large_file), "--no-wait", "--jobs", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli.env(),
        cwd=cli.home,
    )
    assert first.stdout is not None
    seen = []
    for line in first.stdout:
        seen.append(line)
        if "part 1/3 sent" in line:
            first.send_signal(signal.SIGINT)  # Ctrl-C, as a person would press it
            break
    rest, err = first.communicate(timeout=60)

    assert first.returncode == 130, (seen, rest, err)
    assert err.strip() == "mediactl: Interrupted. Run the same command again: the upload continues where it stopped."
    [record] = json.loads((cli.home / "state" / "mediactl" / "uploads.json").read_text()).values()
    assert record["path"] == str(large_file) and record["size"] == large_file.stat().st_size
    before = stored_parts(cli.url, cli.token, record["upload_id"])
    assert 1 in before and before < {1, 2, 3}, before

    second = cli.run("upload", str(large_file), "--no-wait", "--json")

    assert second.code == 0, second.err
    missing = {1, 2, 3} - before
    assert "Week 2 lecture.mp4: sending" in second.err
    assert f"in {len(missing)} of 3 parts" in second.err
    assert {int(n) for n in re.findall(r"part (\d)/3 sent", second.err)} == missing
    [video] = json.loads(second.out)
    assert (video["video_id"], video["upload_id"]) == (record["video_id"], record["upload_id"])
    shown = json.loads(cli.run("videos", "show", video["video_id"], "--json").out)
    assert shown["status"] != "VIDEO_STATUS_PENDING_UPLOAD"
    assert json.loads((cli.home / "state" / "mediactl" / "uploads.json").read_text()) == {}
