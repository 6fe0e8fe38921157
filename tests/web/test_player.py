"""The player in Chromium: hls.js playing the course's videos from the library page."""

from __future__ import annotations

import asyncio
import time
import uuid

from playwright.async_api import BrowserContext, Frame, expect

from tests.web.conftest import INSTRUCTOR_ROLE, LEARNER_ROLE, Course, open_tool


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
