"""A course's videos from the command line: upload to ready, then list, show, play, publish, rename, delete."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from tests.cli.conftest import Cli
from tests.support.callers import mint_caller
from tests.support.processes import Process, Stack


def test_an_uploaded_video_is_followed_to_ready_then_managed_and_played(
    cli: Cli, small_file: Path, worker: Process
) -> None:
    sent = cli.run("upload", str(small_file), "--title", "Week 1: introduction", "--json")

    assert sent.code == 0, sent.err
    [video] = json.loads(sent.out)
    video_id = video["video_id"]
    assert video["status"] == "VIDEO_STATUS_READY" and video["title"] == "Week 1: introduction"
    assert f"Week 1 intro.mp4: uploaded as video {video_id}" in sent.err.splitlines()
    assert "Week 1 intro.mp4: ready" in sent.err.splitlines()

    listed = cli.run("videos", "list")
    assert listed.code == 0, listed.err
    heading, *rows = listed.out.splitlines()
    assert heading.split("\t") == ["ID", "Title", "Status", "Published", "Duration", "Created"]
    assert [row.split("\t")[:5] for row in rows] == [[video_id, "Week 1: introduction", "ready", "no", "0:02"]]

    assert cli.run("videos", "rename", video_id, "Week 1: what the course is").code == 0
    published = cli.run("videos", "publish", video_id)
    assert published.out.strip() == f"Published “Week 1: what the course is” ({video_id})."
    shown = json.loads(cli.run("videos", "show", video_id, "--json").out)
    assert (shown["title"], shown["published"]) == ("Week 1: what the course is", True)
    assert cli.run("videos", "unpublish", video_id).code == 0
    assert "Published: no" in cli.run("videos", "show", video_id).out.splitlines()

    played = cli.run("play", video_id)
    assert played.code == 0, played.err
    url = played.out.strip()
    assert url.startswith(f"{cli.url}/api/v1/media/hls/{video_id}/master.m3u8?token=")
    with urllib.request.urlopen(url, timeout=30) as playlist:
        assert playlist.read().decode().startswith("#EXTM3U")

    refused = cli.run("videos", "delete", video_id, stdin="n\n")
    assert refused.code == 130 and cli.run("videos", "show", video_id).code == 0
    assert cli.run("videos", "delete", video_id, "--yes").out.strip() == f"Deleted {video_id}."
    gone = cli.run("videos", "show", video_id)
    assert gone.code == 2 and "(HTTP 404)" in gone.err
    assert json.loads(cli.run("videos", "list", "--json").out) == []


def test_someone_else_s_video_is_refused_with_the_server_s_words(cli: Cli, small_file: Path, stack: Stack) -> None:
    sent = cli.run("upload", str(small_file), "--no-wait", "--json")
    assert sent.code == 0, sent.err
    [video] = json.loads(sent.out)
    assert video["video_id"] and "transcoding" not in sent.err

    stranger = mint_caller(stack.infra.settings.jwt_secret_key).token
    refused = cli.run("videos", "rename", video["video_id"], "Mine now", MEDIA_TOKEN=stranger)

    assert refused.code == 2
    [line] = refused.err.splitlines()
    assert line.startswith("mediactl: Refused by the server (HTTP 40")
    assert "Mine now" not in cli.run("videos", "show", video["video_id"]).out
