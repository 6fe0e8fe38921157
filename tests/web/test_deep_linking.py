"""Deep linking in Chromium: the instructor's picker, the signed response the LMS verifies, and what the link opens.

The test LMS (tests/lti/platform.py) sends an LtiDeepLinkingRequest into its iframe; the
instructor picks in the tool's page; the LMS receives the LtiDeepLinkingResponse and checks
its signature against the tool's published JWKS before it keeps the content items. A
later launch of the link the LMS made carries the item's custom parameters, as an LMS does.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from playwright.async_api import BrowserContext, Frame, Page, expect

from service_kit.auth import ADMINISTRATOR, issue_session_token
from tests.lti.platform import TestPlatform
from tests.web.conftest import (
    INSTRUCTOR_ROLE,
    LEARNER_ROLE,
    Course,
    WebStack,
    course_with_zoom,
    open_tool,
    upload_ready,
)

DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
C = "https://purl.imsglobal.org/spec/lti/claim/"
DEEP_LINKING = "LtiDeepLinkingRequest"


@pytest.fixture(scope="module")
async def linking_course(web_stack: WebStack, small_video: bytes) -> AsyncIterator[Course]:
    """A course of its own, whose registration holds Zoom credentials, with one ready, published video."""
    async with course_with_zoom(web_stack) as course:
        config_id = course.ready_video["config_id"]
        video = await upload_ready(course, small_video, "limits_and_continuity.mp4")
        published = await course.api.call(
            "PATCH",
            f"/api/v1/media/videos/{video['video_id']}?update_mask=published",
            course.instructor,
            {"published": True},
        )
        assert published.status == 200, published.body
        course.ready_video = {**published.body["video"], "config_id": config_id}
        yield course


async def schedule(course: Course, name: str, *, starts_in: timedelta) -> dict[str, Any]:
    start = datetime.now(UTC).replace(microsecond=0) + starts_in
    body = {
        "session_name": name,
        "scheduled_start": start.isoformat().replace("+00:00", "Z"),
        "scheduled_end": (start + timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
        "zoom_host_id": "host@example.edu",
        "lti_config_id": course.ready_video["config_id"],
    }
    reply = await course.api.call("POST", "/api/v1/live-sessions", course.instructor, body)
    assert reply.status == 200, reply.body
    session: dict[str, Any] = reply.body["session"]
    return session


async def tool_frame(page: Page, url: str) -> Frame:
    """Open an LMS page and return the tool's frame once its launch has landed."""
    await page.goto(url)
    element = await page.wait_for_selector("iframe#tool")
    assert element is not None
    frame = await element.content_frame()
    assert frame is not None
    await frame.wait_for_url("**/lti/launch")
    return frame


async def open_picker(page: Page, course: Course) -> Frame:
    url = course.platform.course_page_url(user=course.instructor_id, roles=[INSTRUCTOR_ROLE], message_type=DEEP_LINKING)
    frame = await tool_frame(page, url)
    await expect(frame.get_by_role("heading", name="Add to the course")).to_be_visible()
    return frame


async def received_response(platform: TestPlatform, before: int) -> dict[str, Any]:
    """The next LtiDeepLinkingResponse the LMS accepted (it verified the signature on receipt)."""
    deadline = time.monotonic() + 15
    while len(platform.received.deep_link_responses) <= before:
        assert time.monotonic() < deadline, "the LMS received no deep-linking response"
        await asyncio.sleep(0.1)
    return platform.received.deep_link_responses[before]


async def launch_link(page: Page, course: Course, item: dict[str, Any], *, user: str, roles: list[str]) -> Frame:
    """Launch the resource link the LMS made from ``item``: its custom parameters come back in the launch."""
    return await tool_frame(page, course.platform.course_page_url(user=user, roles=roles, custom=item["custom"]))


async def test_an_instructor_picks_a_ready_video_the_lms_verifies_the_response_and_a_learner_launch_plays_it(
    context: BrowserContext, linking_course: Course
) -> None:
    course, video = linking_course, linking_course.ready_video
    page = await context.new_page()
    frame = await open_picker(page, course)

    card = frame.locator(".pick-card", has=frame.get_by_role("radio", name=video["title"]))
    await expect(card.locator(".poster img")).to_be_visible()
    await expect(card.locator(".duration")).to_contain_text("2")
    await frame.get_by_role("button", name="Add to the course").click()
    await expect(frame.locator("#picker-error")).to_have_text("Choose a video or a live session first.")

    title = card.get_by_role("textbox", name=f"Title in the course ({video['title']})")
    await expect(title).to_be_hidden()  # asked for only once the card is chosen
    await frame.get_by_role("radio", name=video["title"]).check()
    await expect(title).to_be_visible()
    await expect(title).to_have_value(video["title"])
    await title.fill("Week 2: limits and continuity")
    before = len(course.platform.received.deep_link_responses)
    await frame.get_by_role("button", name="Add to the course").click()

    claims = await received_response(course.platform, before)
    await expect(page.frame_locator("iframe#tool").get_by_text("Content added")).to_be_visible()
    assert claims["iss"] == course.platform.client_id and claims["aud"] == course.platform.issuer
    assert claims[C + "message_type"] == "LtiDeepLinkingResponse"
    assert claims[DL + "data"] == "opaque-platform-data-42"
    [item] = claims[DL + "content_items"]
    assert item == {
        "type": "ltiResourceLink",
        "title": "Week 2: limits and continuity",
        "url": f"{course.platform.tool_base_url}/lti/launch",
        "custom": {"video_id": video["video_id"]},
    }

    learner = await context.new_page()
    someone = f"learner-{uuid.uuid4().hex[:6]}"
    player_frame = await launch_link(learner, course, item, user=someone, roles=[LEARNER_ROLE])
    player = player_frame.locator("#player")
    await expect(player.get_by_role("heading", name=video["title"])).to_be_visible()
    await expect(player).to_have_attribute("data-state", "ready")
    await expect(player_frame.get_by_role("button", name="Close player")).to_be_hidden()
    if await player.locator("video").evaluate("v => v.paused"):
        await player.get_by_role("button", name="Play", exact=True).click()  # the browser refused to autoplay
    await played_past(player_frame, 1.0)
    assert await player.get_attribute("data-fatal-error") is None


async def played_past(frame: Frame, seconds: float, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    video = frame.locator("#player video")
    while (now := float(await video.evaluate("v => v.currentTime"))) <= seconds:
        assert time.monotonic() < deadline, f"the video stayed at {now:.1f} s"
        await asyncio.sleep(0.2)


async def test_an_instructor_places_a_live_session_and_its_link_gives_a_learner_their_own_join_link(
    context: BrowserContext, linking_course: Course, web_stack: WebStack
) -> None:
    course = linking_course
    session = await schedule(course, f"Office hour {uuid.uuid4().hex[:4]}", starts_in=timedelta(hours=2))
    page = await context.new_page()
    frame = await open_picker(page, course)

    live = frame.get_by_role("radio", name=session["session_name"])
    card = frame.locator(".pick-card", has=live)
    await expect(card.locator(".badge")).to_have_text("Scheduled")
    await expect(card.locator("time.starts")).to_have_attribute("datetime", session["scheduled_start"])
    await live.check()
    before = len(course.platform.received.deep_link_responses)
    await frame.get_by_role("button", name="Add to the course").click()
    [item] = (await received_response(course.platform, before))[DL + "content_items"]
    assert item["title"] == session["session_name"]
    assert item["custom"] == {"live_session_id": session["session_id"]}

    meeting = session["zoom_meeting_id"]
    learner = await context.new_page()
    someone = f"learner-{uuid.uuid4().hex[:6]}"
    learner_frame = await launch_link(learner, course, item, user=someone, roles=[LEARNER_ROLE])
    await expect(learner_frame.get_by_role("heading", name=session["session_name"])).to_be_visible()
    await expect(learner_frame.locator(".live-status")).to_have_text("Scheduled")
    join = learner_frame.get_by_role("button", name="Join the live session")
    own_link = re.compile(re.escape(f"{web_stack.zoom.base}/w/{meeting}") + r"\?tk=")
    await expect(join).to_have_attribute("href", own_link)
    assert await learner_frame.get_by_role("button", name="Start the meeting as host").count() == 0

    teacher = await context.new_page()
    teacher_frame = await launch_link(teacher, course, item, user=course.instructor_id, roles=[INSTRUCTOR_ROLE])
    start = teacher_frame.get_by_role("button", name="Start the meeting as host")
    host_link = re.compile(re.escape(f"{web_stack.zoom.base}/s/{meeting}") + r"\?zak=")
    await expect(start).to_have_attribute("href", host_link)


async def test_a_platform_that_accepts_several_items_gets_every_item_picked_in_one_response(
    context: BrowserContext, linking_course: Course
) -> None:
    course, video = linking_course, linking_course.ready_video
    session = await schedule(course, f"Review {uuid.uuid4().hex[:4]}", starts_in=timedelta(days=1))
    course.platform.accept_multiple = True
    try:
        page = await context.new_page()
        frame = await open_picker(page, course)
    finally:
        course.platform.accept_multiple = False
    await frame.get_by_role("checkbox", name=video["title"]).check()
    await frame.get_by_role("checkbox", name=session["session_name"]).check()
    await expect(frame.locator("#picker-count")).to_have_text("2 chosen")
    before = len(course.platform.received.deep_link_responses)
    await frame.get_by_role("button", name="Add to the course").click()
    items = (await received_response(course.platform, before))[DL + "content_items"]
    assert [(i["title"], i["custom"]) for i in items] == [
        (video["title"], {"video_id": video["video_id"]}),
        (session["session_name"], {"live_session_id": session["session_id"]}),
    ]


async def test_a_ready_video_shows_its_poster_in_the_library(context: BrowserContext, course: Course) -> None:
    video_id = course.ready_video["video_id"]
    stored = (await course.api.call("GET", f"/api/v1/media/videos/{video_id}", course.instructor)).body["video"]
    async with aiohttp.ClientSession() as http, http.get(stored["poster_url"]) as poster:
        assert poster.status == 200 and poster.content_type == "image/jpeg"

    page = await context.new_page()
    frame = await open_tool(page, course, user=course.instructor_id, roles=[INSTRUCTOR_ROLE])
    image = frame.locator(f"#video-{video_id} .poster img")
    await expect(image).to_be_visible()
    # Posters load lazily: other tests' videos may push this one below the fold.
    await image.scroll_into_view_if_needed()
    await expect(frame.locator(f"#video-{video_id} .poster span")).to_be_hidden()
    assert await image.evaluate("i => i.complete && i.naturalWidth > 0"), "the poster loaded"


async def test_a_course_with_nothing_to_place_says_what_to_do_first(
    context: BrowserContext, web_stack: WebStack
) -> None:
    platform = await TestPlatform(web_stack.tool_url).start()
    try:
        organization = f"org-{uuid.uuid4().hex[:8]}"
        secret = web_stack.stack.infra.settings.jwt_secret_key
        admin = issue_session_token(
            secret, user_id="admin", organization_id=organization, course_id=None, roles=[ADMINISTRATOR],
            ttl_seconds=600,
        )  # fmt: skip
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{web_stack.stack.edge_url}/api/v1/lti/config",
                json=platform.registration_body(organization_id=organization),
                headers={"Authorization": f"Bearer {admin}"},
            ) as reply,
        ):
            assert reply.status == 200, await reply.text()
        page = await context.new_page()
        url = platform.course_page_url(user="teacher-empty", roles=[INSTRUCTOR_ROLE], message_type=DEEP_LINKING)
        frame = await tool_frame(page, url)
        await expect(frame.locator("#pick-videos .empty-state")).to_contain_text("No ready videos in this course yet")
        await expect(frame.locator("#pick-live .empty-state")).to_contain_text("schedule one")
        await frame.get_by_role("button", name="Add to the course").click()
        await expect(frame.locator("#picker-error")).to_have_text("Choose a video or a live session first.")
        assert platform.received.deep_link_responses == []
    finally:
        await platform.stop()
