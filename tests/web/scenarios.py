"""Every page a person can reach, as a list of scenarios: how to get there, and what to check there.

One list (:data:`SCENARIOS`) serves the accessibility spec (axe-core on each page, at
desktop and phone width) and ``make screenshots`` (a PNG of each page at both widths into
docs/screenshots/): a new page is added here once and is both checked and pictured.

A scenario's ``reach`` drives a fresh browser page to the state worth looking at and returns
the frame that holds the tool: the LMS's iframe for a launch (the tool as people see it),
the page's main frame for pages opened at the top level (registration, errors).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from playwright.async_api import Frame, Page, ViewportSize, expect

from service_kit.auth import ADMINISTRATOR, issue_session_token
from tests.lti.platform import INSTRUCTOR_ROLE, LEARNER_ROLE, TestPlatform
from tests.web.conftest import Course, WebStack, course_with_zoom, open_tool

READY_TIMEOUT_MS = 120_000
PLAYED_HALF_A_SECOND = """v => new Promise((done) => {
  const check = () => (v.currentTime > 0.5 ? done() : setTimeout(check, 50));
  check();
})"""


@dataclass(frozen=True)
class Visit:
    """What a scenario may use: the browser page, the running stack, the course, a clip, a scratch folder."""

    page: Page
    stack: WebStack
    course: Course
    clip: bytes
    scratch: Path
    cleanup: AsyncExitStack


@dataclass(frozen=True)
class Scenario:
    """One page in one state. ``name`` is the screenshots' file stem (``<name>-desktop.png``)."""

    name: str
    shows: str
    reach: Callable[[Visit], Awaitable[Frame]]


@dataclass(frozen=True)
class Width:
    name: str
    viewport: ViewportSize


WIDTHS = (
    Width("desktop", ViewportSize(width=1280, height=900)),
    Width("phone", ViewportSize(width=375, height=812)),
)
"""A laptop, and the narrowest common phone (the issue's 375 px)."""


async def _library_as_instructor(visit: Visit) -> Frame:
    frame = await open_tool(visit.page, visit.course, user=visit.course.instructor_id, roles=[INSTRUCTOR_ROLE])
    await expect(frame.locator(f"#video-{visit.course.ready_video['video_id']}")).to_be_visible()
    await expect(frame.locator("#upload-choose")).to_be_enabled()
    return frame


async def _publish_while_visiting(visit: Visit) -> str:
    """Publish the course's ready video, and unpublish it when the visit ends (other specs expect it unpublished)."""
    course = visit.course
    video_id = str(course.ready_video["video_id"])
    path = f"/api/v1/media/videos/{video_id}?update_mask=published"
    await course.api.call("PATCH", path, course.instructor, {"published": True})

    async def unpublish() -> None:
        await course.api.call("PATCH", path, course.instructor, {"published": False})

    visit.cleanup.push_async_callback(unpublish)
    return video_id


async def _library_as_learner(visit: Visit) -> Frame:
    course = visit.course
    video_id = await _publish_while_visiting(visit)
    frame = await open_tool(visit.page, course, user=f"learner-{uuid.uuid4().hex[:6]}", roles=[LEARNER_ROLE])
    await expect(frame.locator(f"#video-{video_id}")).to_be_visible()
    return frame


async def _upload_finished(visit: Visit) -> Frame:
    frame = await _library_as_instructor(visit)
    clip = visit.scratch / "week_2_derivatives.mp4"
    clip.write_bytes(visit.clip)
    await frame.locator("#upload-input").set_input_files(str(clip))
    row = frame.locator(".upload-item", has_text=clip.name)
    await expect(row.locator(".upload-state")).to_contain_text("Uploaded", timeout=READY_TIMEOUT_MS)
    await expect(frame.locator(".video-title", has_text="week 2 derivatives").first).to_be_visible()
    return frame


async def _player_open(visit: Visit) -> Frame:
    frame = await _library_as_instructor(visit)
    await frame.locator(f"#video-{visit.course.ready_video['video_id']}").get_by_role("button", name="Play").click()
    player = frame.locator("#player")
    await expect(player).to_have_attribute("data-state", "ready")
    await player.locator("video").evaluate(PLAYED_HALF_A_SECOND)
    await player.locator("video").evaluate("v => v.pause()")
    return frame


async def _live_sessions_as_instructor(visit: Visit) -> Frame:
    """The Live sessions tab of a course whose registration holds Zoom credentials, one session scheduled."""
    course = await visit.cleanup.enter_async_context(course_with_zoom(visit.stack))
    frame = await open_tool(visit.page, course, user=course.instructor_id, roles=[INSTRUCTOR_ROLE])
    await frame.get_by_role("tab", name="Live sessions").click()
    await expect(frame.locator("#live-loading")).to_be_hidden()
    form = frame.locator("#live-schedule")
    await form.get_by_label("Topic").fill("Office hours: week 4")
    await form.get_by_label("Starts").fill("2030-03-04T09:30")
    await form.get_by_label("Duration (minutes)").fill("60")
    await form.get_by_role("button", name="Schedule on Zoom").click()
    await expect(frame.locator("#live-status")).to_contain_text("“Office hours: week 4” is scheduled for")
    return frame


async def _api_tokens(visit: Visit) -> Frame:
    """The API tokens section with a token just made: its secret shown once, ready to copy."""
    frame = await _library_as_instructor(visit)
    form = frame.locator("#token-form")
    await form.get_by_label("Token name").fill("Lecture-capture PC")
    await form.get_by_role("button", name="Create token").click()
    await expect(frame.locator("#token-created")).to_be_visible()
    await frame.locator("#api-tokens").scroll_into_view_if_needed()
    return frame


async def _framed(visit: Visit, url: str) -> Frame:
    """The LMS page at ``url`` and the tool's frame in it, once its launch has landed."""
    await visit.page.goto(url)
    element = await visit.page.wait_for_selector("iframe#tool")
    assert element is not None
    frame = await element.content_frame()
    assert frame is not None
    await frame.wait_for_url("**/lti/launch")
    return frame


async def _deep_linking_picker(visit: Visit) -> Frame:
    """The LMS's "add content" launch (LtiDeepLinkingRequest): the picker of videos and live sessions."""
    course = visit.course
    url = course.platform.course_page_url(
        user=course.instructor_id, roles=[INSTRUCTOR_ROLE], message_type="LtiDeepLinkingRequest"
    )
    frame = await _framed(visit, url)
    await expect(frame.locator("#picker")).to_be_visible()
    await expect(frame.locator(".pick-card").first).to_be_visible()
    return frame


async def _placed_video(visit: Visit) -> Frame:
    """A learner opening a link the picker placed in the course: that video's player, on its own."""
    course = visit.course
    video_id = await _publish_while_visiting(visit)
    url = course.platform.course_page_url(
        user=f"learner-{uuid.uuid4().hex[:6]}", roles=[LEARNER_ROLE], custom={"video_id": video_id}
    )
    frame = await _framed(visit, url)
    await expect(frame.locator("#player")).to_have_attribute("data-state", "ready")
    await frame.locator("#player video").evaluate("v => v.pause()")
    return frame


async def _error_page(visit: Visit) -> Frame:
    """A registration URL opened without the LMS's parameters: the error page, in words."""
    await visit.page.goto(f"{visit.stack.tool_url}/lti/register")
    await expect(visit.page.locator("main")).to_contain_text("openid_configuration")
    return visit.page.main_frame


async def _registered(visit: Visit) -> Frame:
    """LTI Dynamic Registration from a new LMS: the page that reports it (the LMS then closes its window)."""
    course = visit.course
    platform = await TestPlatform(visit.stack.tool_url).start()
    visit.cleanup.push_async_callback(platform.stop)
    admin = issue_session_token(
        course.secret, user_id="admin", organization_id=course.organization_id, course_id=None,
        roles=[ADMINISTRATOR], ttl_seconds=600,
    )  # fmt: skip
    async with course.api.session.post(
        f"{course.api.base_url}/api/v1/lti/registration-invitations",
        json={},
        headers={"Authorization": f"Bearer {admin}"},
    ) as reply:
        assert reply.status == 200, await reply.text()
        url = (await reply.json())["registration_url"]
    query = {
        "openid_configuration": f"{platform.base}/.well-known/openid-configuration",
        "registration_token": platform.registration_token,
    }
    await visit.page.goto(f"{url}&{urlencode(query)}" if "?" in url else f"{url}?{urlencode(query)}")
    await expect(visit.page.locator("main")).to_contain_text(platform.client_id)
    return visit.page.main_frame


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "library-instructor", "an instructor's library after a launch, with the upload area", _library_as_instructor
    ),
    Scenario("upload-finished", "a clip uploaded from the page, its progress at 100", _upload_finished),
    Scenario("player", "the player open on a ready video", _player_open),
    Scenario("library-learner", "a learner's library: published videos only", _library_as_learner),
    Scenario(
        "live-sessions", "the Live sessions tab: schedule on Zoom, start and join links", _live_sessions_as_instructor
    ),
    Scenario("api-tokens", "an instructor's personal API tokens, a new one shown once", _api_tokens),
    Scenario("deep-linking-picker", "the picker an LMS opens to place a video or live session", _deep_linking_picker),
    Scenario("placed-video", "a video placed in the course by deep linking, opened by a learner", _placed_video),
    Scenario("registered", "the page LTI Dynamic Registration ends on", _registered),
    Scenario("error", "the error page, saying what went wrong and what to do", _error_page),
)
"""Every page, in the order a reader of docs/screenshots/ meets them. Add new pages here."""
