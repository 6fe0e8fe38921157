"""The player in Chromium: hls.js playing the course's videos from the library page."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
import uuid
from datetime import datetime
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Frame, Response, expect

from service_kit.object_store import s3_client
from tests.playback.conftest import make_demuxed_ladder, publish_hls
from tests.web.conftest import (
    HLS_TOKEN_TTL_SECONDS,
    INSTRUCTOR_ROLE,
    LEARNER,
    LEARNER_ROLE,
    Course,
    WebStack,
    open_tool,
    upload_ready,
)

LONG_SECONDS = 40
"""Longer than the player's buffer (20 s) plus an access token's life, so it must fetch segments with a later token."""


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A 40-second clip, small and quick to transcode."""
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-y",
            "-f", "lavfi", "-i", "testsrc=size=160x120:rate=15",
            "-f", "lavfi", "-i", f"sine=frequency=330:duration={LONG_SECONDS}",
            "-t", str(LONG_SECONDS), "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", str(path),
        ],
        check=True,
        timeout=120,
    )  # fmt: skip
    return path.read_bytes()


@pytest.fixture(scope="module")
async def long_video(course: Course, long_clip: bytes) -> dict[str, Any]:
    """The long clip, uploaded by the course's instructor and ready."""
    return await upload_ready(course, long_clip, "long_lecture.mp4")


@pytest.fixture(scope="module")
async def demuxed_video(
    course: Course, web_stack: WebStack, small_video: bytes, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """A ready video whose stored HLS output is then replaced by issue 17's demuxed layout.

    The catalog entry is made by a real upload and transcode (so the library lists it
    and the catalog calls it ready); its files under ``hls/{video_id}/`` become a
    6-second ladder of video-only rungs and one ``audio/`` rendition, made by FFmpeg.
    """
    return await demuxed(course, web_stack, small_video, tmp_path_factory, seconds=6)


@pytest.fixture(scope="module")
async def long_demuxed_video(
    course: Course, web_stack: WebStack, small_video: bytes, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """As :func:`demuxed_video`, 40 seconds long: longer than the buffer plus a token's life."""
    return await demuxed(course, web_stack, small_video, tmp_path_factory, seconds=LONG_SECONDS)


async def demuxed(
    course: Course, web_stack: WebStack, source: bytes, tmp_path_factory: pytest.TempPathFactory, *, seconds: int
) -> dict[str, Any]:
    """Upload ``source`` until ready, then store a ``seconds``-long demuxed ladder in place of its HLS output."""
    video = await upload_ready(course, source, f"demuxed_lecture_{seconds}s.mp4")
    ladder = await asyncio.to_thread(make_demuxed_ladder, tmp_path_factory.mktemp("demuxed"), seconds)
    settings = web_stack.stack.infra.settings
    publish_hls(s3_client(settings), settings.s3_bucket, str(video["video_id"]), ladder.files)
    return video


async def play(frame: Frame, video_id: str) -> None:
    """Click the video's Play button and wait until the player's video has advanced a second."""
    await frame.locator(f"#video-{video_id}").get_by_role("button", name="Play").click()
    player = frame.get_by_role("dialog")
    await expect(player).to_be_visible()
    await played_past(frame, 1.0)


async def played_past(frame: Frame, seconds: float, within: float = 20.0) -> float:
    """Wait until the player's video has reached ``seconds`` (polled: the CSP forbids eval)."""
    deadline = time.monotonic() + within
    video = frame.locator("#player video")
    while True:
        now = float(await video.evaluate("v => v.currentTime"))
        if now > seconds:
            return now
        assert await frame.locator("#player").get_attribute("data-fatal-error") is None, "hls.js failed"
        assert time.monotonic() < deadline, f"the video stayed at {now:.1f} s"
        await asyncio.sleep(0.2)


async def test_an_instructor_plays_a_ready_video_from_the_library_and_its_time_advances(
    context: BrowserContext, course: Course
) -> None:
    page = await context.new_page()
    frame = await open_tool(page, course, user=course.instructor_id, roles=[INSTRUCTOR_ROLE])
    video_id = course.ready_video["video_id"]

    async with page.expect_response(f"**/api/v1/media/hls/{video_id}/access-token") as token:
        await play(frame, video_id)
    assert (await token.value).ok
    dialog = frame.locator("#player")
    await expect(dialog).to_have_attribute("data-state", "ready")
    assert await dialog.get_attribute("data-fatal-error") is None
    await expect(dialog.locator(".player-error")).to_be_hidden()

    await dialog.get_by_role("button", name="Close player").click()
    await expect(dialog).to_be_hidden()
    await expect(frame.locator(f"#video-{video_id}").get_by_role("button", name="Play")).to_be_focused()


async def test_a_learner_plays_a_published_video(context: BrowserContext, course: Course) -> None:
    video_id = course.ready_video["video_id"]
    await course.api.call(
        "PATCH", f"/api/v1/media/videos/{video_id}?update_mask=published", course.instructor, {"published": True}
    )
    page = await context.new_page()
    frame = await open_tool(page, course, user=f"learner-{uuid.uuid4().hex[:6]}", roles=[LEARNER_ROLE])

    await play(frame, video_id)
    assert await frame.locator("#player").get_attribute("data-fatal-error") is None


async def test_a_demuxed_video_plays_with_its_one_audio_track_and_no_hls_error(
    context: BrowserContext, course: Course, demuxed_video: dict[str, Any]
) -> None:
    page = await context.new_page()
    frame = await open_tool(page, course, user=course.instructor_id, roles=[INSTRUCTOR_ROLE])
    video_id = demuxed_video["video_id"]
    fetched: list[Response] = []
    page.on("response", lambda response: fetched.append(response) if f"/{video_id}/" in response.url else None)

    await play(frame, video_id)
    reached = await played_past(frame, 2.5)

    dialog = frame.locator("#player")
    assert reached > 2.5, "past the first segments of both the video and the audio rendition"
    await expect(dialog).to_have_attribute("data-audio-tracks", "1")
    assert await dialog.get_attribute("data-fatal-error") is None
    # hls.js also reports buffer bookkeeping it recovers from itself (mediaError:bufferSeekOverHole
    # on a muxed video; mediaError:bufferAppendNoProgress on the first audio fragment here, its
    # buffer then covering the fragment): those are not ours. Nothing refused, unreadable or lost is.
    errors = (await dialog.get_attribute("data-errors") or "").split()
    assert not [e for e in errors if not e.startswith("mediaError:buffer")], errors
    decoded = int(await dialog.locator("video").evaluate("v => v.webkitAudioDecodedByteCount"))
    assert decoded > 0, "the audio rendition's sound was decoded"
    audio = [r for r in fetched if "/audio/" in r.url]
    assert any("/audio/index.m3u8?token=" in r.url and r.ok for r in audio), [r.url for r in fetched]
    assert any(re.search(r"/audio/seg_[0-9]{5}\.ts\?", r.url) and r.ok for r in audio), [r.url for r in audio]
    assert all(r.ok for r in fetched), [(r.status, r.url) for r in fetched if not r.ok]


async def test_playback_continues_past_the_first_access_tokens_expiry_with_fresh_tokens_and_segment_urls(
    context: BrowserContext, course: Course, long_video: dict[str, Any]
) -> None:
    page = await context.new_page()
    frame = await open_tool(page, course, user=course.instructor_id, roles=[INSTRUCTOR_ROLE])
    video_id = long_video["video_id"]
    tokens: list[str] = []
    segments: list[tuple[float, Response]] = []

    async def seen(response: Response) -> None:
        if response.url.endswith("/access-token"):
            tokens.append(str((await response.json())["token"]))
        elif ".ts?" in response.url or ".m4s?" in response.url:
            segments.append((time.time(), response))

    page.on("response", seen)
    await play(frame, video_id)
    first_expiry = (await frame.locator("#player").get_attribute("data-token-expires")) or ""
    assert first_expiry

    reached = await played_past(frame, LONG_SECONDS - 3, within=LONG_SECONDS + 20)

    assert reached > HLS_TOKEN_TTL_SECONDS + 20, "played beyond what the first token and the buffer covered"
    assert len(set(tokens)) >= 3, f"the player asked for fresh tokens as each neared its end: {len(tokens)}"
    expiry = datetime.fromisoformat(first_expiry).timestamp()
    late = [response for at, response in segments if at > expiry]
    assert late, "segments were fetched after the first token expired"
    assert all(response.ok for _, response in segments), [r.url for _, r in segments if not r.ok]


async def test_a_demuxed_lecture_plays_on_past_the_first_tokens_expiry_with_freshly_signed_audio_segments(
    context: BrowserContext, course: Course, long_demuxed_video: dict[str, Any]
) -> None:
    page = await context.new_page()
    frame = await open_tool(page, course, user=course.instructor_id, roles=[INSTRUCTOR_ROLE])
    audio_segments: list[tuple[float, Response]] = []
    page.on(
        "response",
        lambda response: audio_segments.append((time.time(), response)) if "/audio/seg_" in response.url else None,
    )
    await play(frame, long_demuxed_video["video_id"])
    first_expiry = datetime.fromisoformat(await frame.locator("#player").get_attribute("data-token-expires") or "")

    reached = await played_past(frame, LONG_SECONDS - 3, within=LONG_SECONDS + 20)

    assert reached > HLS_TOKEN_TTL_SECONDS + 20
    late = [response for at, response in audio_segments if at > first_expiry.timestamp()]
    assert late, "audio segments were fetched after the first token expired"
    assert all(response.ok for _, response in audio_segments), [r.url for _, r in audio_segments if not r.ok]
    assert await frame.locator("#player").get_attribute("data-fatal-error") is None


async def current_time(frame: Frame) -> float:
    return float(await frame.locator("#player video").evaluate("v => v.currentTime"))


async def test_the_player_offers_quality_speed_full_screen_and_keys_all_labelled(
    context: BrowserContext, course: Course, long_video: dict[str, Any]
) -> None:
    page = await context.new_page()
    frame = await open_tool(page, course, user=course.instructor_id, roles=[INSTRUCTOR_ROLE])
    await play(frame, long_video["video_id"])
    dialog = frame.locator("#player")
    video = dialog.locator("video")

    quality = dialog.get_by_label("Quality")
    options = await quality.locator("option").all_text_contents()
    assert options[0].startswith("Auto") and len(options) >= 2, options
    assert all(option.endswith("p") for option in options[1:]), options
    lowest = await quality.locator("option").last.get_attribute("value")
    await quality.select_option(lowest)
    await expect(dialog).to_have_attribute("data-level", lowest or "")

    await dialog.get_by_label("Speed").select_option(label="2\N{MULTIPLICATION SIGN}")
    assert await video.evaluate("v => v.playbackRate") == 2
    await dialog.get_by_label("Speed").select_option(label="1\N{MULTIPLICATION SIGN}")

    await video.focus()
    await page.keyboard.press("k")
    assert await video.evaluate("v => v.paused")
    await expect(dialog.get_by_role("button", name="Play", exact=True)).to_be_visible()
    await page.keyboard.press(" ")
    await expect(dialog.get_by_role("button", name="Pause")).to_be_visible()
    assert not await video.evaluate("v => v.paused")

    await page.keyboard.press("m")
    assert await video.evaluate("v => v.muted")
    await expect(dialog.get_by_role("button", name="Mute")).to_have_attribute("aria-pressed", "true")
    await page.keyboard.press("m")
    assert not await video.evaluate("v => v.muted")

    before = await current_time(frame)
    await page.keyboard.press("ArrowRight")
    assert await current_time(frame) >= before + 4
    before = await current_time(frame)
    await page.keyboard.press("ArrowLeft")
    assert await current_time(frame) <= before - 4

    await page.keyboard.press("f")
    await expect(dialog.get_by_role("button", name="Exit full screen")).to_be_visible()
    assert await frame.evaluate("() => document.fullscreenElement?.className") == "player-stage"
    await page.keyboard.press("f")
    await expect(dialog.get_by_role("button", name="Full screen")).to_be_visible()
    await played_past(frame, await current_time(frame) + 0.5)
    assert await dialog.get_attribute("data-fatal-error") is None


async def test_a_learner_who_paused_a_lecture_resumes_it_where_they_left_off_and_no_one_else_does(
    context: BrowserContext, course: Course, long_video: dict[str, Any]
) -> None:
    video_id = long_video["video_id"]
    await course.api.call(
        "PATCH", f"/api/v1/media/videos/{video_id}?update_mask=published", course.instructor, {"published": True}
    )
    learner = f"learner-{uuid.uuid4().hex[:6]}"
    page = await context.new_page()
    frame = await open_tool(page, course, user=learner, roles=[LEARNER_ROLE])
    await play(frame, video_id)
    await expect(frame.locator("#player")).to_have_attribute("data-resume-from", "0")
    await played_past(frame, 6)

    async with page.expect_response(lambda r: r.url.endswith("/progress") and r.request.method == "POST") as sent:
        await frame.locator("#player video").focus()
        await page.keyboard.press("k")
    assert (await sent.value).ok
    left_at = await current_time(frame)
    await frame.get_by_role("button", name="Close player").click()

    path = f"/api/v1/media/videos/{video_id}/progress"
    stored = (await course.api.call("GET", path, course.caller(learner, LEARNER))).body["progress"]
    assert abs(stored["position_seconds"] - left_at) < 0.5 and stored["resume_seconds"] == stored["position_seconds"]
    other = (await course.api.call("GET", path, course.caller("someone-else", LEARNER))).body["progress"]
    assert other.get("position_seconds", 0) == 0, "a position is its viewer's alone"

    await play(frame, video_id)
    resumed_from = float(await frame.locator("#player").get_attribute("data-resume-from") or 0)
    assert abs(resumed_from - left_at) < 0.5
    assert await current_time(frame) >= left_at - 1, "playback starts where the learner left off"
