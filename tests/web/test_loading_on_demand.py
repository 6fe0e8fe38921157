"""A page fetches the uploader (Uppy) and the player (hls.js) only when it needs them, in Chromium."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from playwright.async_api import BrowserContext, Page, Request, Route, expect

from tests.web.conftest import INSTRUCTOR_ROLE, LEARNER_ROLE, Course, open_tool
from web.assets import STATIC_PREFIX, Assets

NETWORK_MESSAGE = "The media service could not be reached. Check your connection and try again."


def chunk_path(module: str) -> str:
    return STATIC_PREFIX + Assets.load().entries[module]


def record_requests(page: Page) -> list[str]:
    fetched: list[str] = []

    def seen(request: Request) -> None:
        fetched.append(urlsplit(request.url).path)

    page.on("request", seen)
    return fetched


@pytest.fixture
async def published(course: Course) -> AsyncIterator[str]:
    """The course's ready video, published for the test and unpublished after it (other specs expect that)."""
    video_id = str(course.ready_video["video_id"])
    path = f"/api/v1/media/videos/{video_id}?update_mask=published"
    await course.api.call("PATCH", path, course.instructor, {"published": True})
    yield video_id
    await course.api.call("PATCH", path, course.instructor, {"published": False})


async def test_a_learner_fetches_neither_the_uploader_nor_the_player_until_opening_a_video(
    context: BrowserContext, course: Course, published: str
) -> None:
    video_id = published
    page = await context.new_page()
    fetched = record_requests(page)
    frame = await open_tool(page, course, user=f"learner-{uuid.uuid4().hex[:6]}", roles=[LEARNER_ROLE])
    await expect(frame.locator(f"#video-{video_id}")).to_be_visible()
    assert chunk_path("upload.js") not in fetched and chunk_path("player.js") not in fetched

    await frame.locator(f"#video-{video_id}").get_by_role("button", name="Play").click()
    await expect(frame.locator("#player")).to_have_attribute("data-state", "ready")
    assert chunk_path("player.js") in fetched
    assert chunk_path("upload.js") not in fetched, "learners never load Uppy"


async def test_an_instructor_gets_the_uploader_and_its_button_is_enabled_once_it_is_wired(
    context: BrowserContext, course: Course
) -> None:
    page = await context.new_page()
    fetched = record_requests(page)
    frame = await open_tool(page, course, user=course.instructor_id, roles=[INSTRUCTOR_ROLE])
    await expect(frame.get_by_role("button", name="Choose videos")).to_be_enabled()
    assert chunk_path("upload.js") in fetched
    assert chunk_path("player.js") not in fetched, "the player waits for a Play click"


async def test_a_player_that_cannot_be_fetched_is_said_in_words_and_the_next_click_tries_again(
    context: BrowserContext, course: Course, published: str
) -> None:
    video_id = published
    page = await context.new_page()
    player_chunk = chunk_path("player.js")

    async def refuse(route: Route) -> None:
        await route.abort("internetdisconnected")

    await page.route(f"**{player_chunk}", refuse)
    frame = await open_tool(page, course, user=f"learner-{uuid.uuid4().hex[:6]}", roles=[LEARNER_ROLE])
    play = frame.locator(f"#video-{video_id}").get_by_role("button", name="Play")
    await play.click()
    await expect(frame.locator("#library-status")).to_have_text(NETWORK_MESSAGE)
    await expect(frame.locator("#player")).to_be_hidden()

    await page.unroute(f"**{player_chunk}", refuse)
    await play.click()
    await expect(frame.locator("#player")).to_have_attribute("data-state", "ready")


async def test_an_uploader_that_cannot_be_fetched_is_said_in_words_in_the_upload_area(
    context: BrowserContext, course: Course
) -> None:
    page = await context.new_page()

    async def refuse(route: Route) -> None:
        await route.abort("internetdisconnected")

    await page.route(f"**{chunk_path('upload.js')}", refuse)
    frame = await open_tool(page, course, user=course.instructor_id, roles=[INSTRUCTOR_ROLE])
    await expect(frame.locator("#upload-zone")).to_contain_text(NETWORK_MESSAGE)
    await expect(frame.get_by_role("button", name="Choose videos")).to_be_disabled()
