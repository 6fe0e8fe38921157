"""The pages in a real browser: Debian's Chromium driven by Playwright, launched from a test LMS.

The whole stack runs as in ``make run`` (every service, the edge, a transcode worker), with
LTI_ENCRYPTION_KEYS set, and the tool's public address on ``localhost`` while the LMS lives
on ``127.0.0.1``: two sites, so the tool's frame inside the LMS's course page is
third-party for the browser, and its cookies are the third-party cookies that LMS frames
lose. The browser context also refuses the frame any storage (``localStorage``,
``sessionStorage``, ``indexedDB`` throw), as a privacy-strict browser would.

Zoom is ``devstack.zoom_standin`` (as in tests/seed): attendance_svc reaches it through its
base URL settings, with ``ZOOM_ACCOUNT_ID`` set as the dev stack sets it, and it delivers
correctly signed webhooks to the edge when a spec simulates a meeting.

Playwright never downloads a browser here: it starts ``/usr/bin/chromium``
(scripts/bootstrap.sh installs Debian's package).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, BrowserContext, Frame, Page, async_playwright

from devstack import free_port
from devstack.zoom_standin import ZoomStandIn
from service_kit.auth import ADMINISTRATOR, INSTRUCTOR, LEARNER, issue_session_token
from service_kit.settings import SERVICE_NAMES, load_settings
from tests.conftest import NO_DOTENV
from tests.lti.platform import INSTRUCTOR_ROLE, LEARNER_ROLE, TestPlatform
from tests.support.callers import Caller
from tests.support.processes import Infra, Stack, spawn, start_stack
from tests.support.settings import LTI_ENCRYPTION_KEY
from tests.transcode.conftest import TEST_TRANSCODE_ENV
from tests.upload.conftest import (  # noqa: F401 - fixtures reused here
    SMALL_PART,
    SMALL_THRESHOLD,
    Api,
    large_video,
    media_dir,
    small_video,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ENCRYPTION_KEY = LTI_ENCRYPTION_KEY
BLOCK_STORAGE = """
for (const name of ["localStorage", "sessionStorage", "indexedDB"]) {
  Object.defineProperty(window, name, {
    get() { throw new DOMException("storage is blocked in this frame", "SecurityError"); },
  });
}
"""
"""Runs in every frame before its scripts: the page must not need storage at all."""
STEP_SECONDS = 15.0
HLS_TOKEN_TTL_SECONDS = 12
"""Short, so the player's specs see its access token expire and be replaced while it plays."""
ZOOM_ACCOUNT = "web-zoom-account"


@dataclass
class Course:
    """One course in one organization, launched from the test LMS, with its people and videos."""

    platform: TestPlatform
    organization_id: str
    api: Api
    secret: str
    instructor_id: str
    ready_video: dict[str, Any]

    @property
    def course_id(self) -> str:
        return self.platform.context_id

    def caller(self, user_id: str, *roles: str) -> Caller:
        token = issue_session_token(
            self.secret,
            user_id=user_id,
            organization_id=self.organization_id,
            course_id=self.course_id,
            roles=list(roles),
            ttl_seconds=600,
        )
        return Caller(user_id, self.organization_id, self.course_id, token)

    @property
    def instructor(self) -> Caller:
        return self.caller(self.instructor_id, INSTRUCTOR)


@dataclass
class WebStack:
    stack: Stack
    tool_url: str
    zoom: ZoomStandIn


@pytest.fixture(scope="package")
async def web_stack(infra: Infra) -> AsyncIterator[WebStack]:
    zoom = await ZoomStandIn(webhook_secret=infra.settings.zoom_webhook_secret).start()
    try:
        with ExitStack() as exits:
            for attempt in range(1, START_ATTEMPTS + 1):
                web_infra, tool_url = _web_infra(infra, zoom)
                try:
                    stack = exits.enter_context(start_stack(web_infra))
                    break
                except RuntimeError as error:
                    # A port free_port() chose was taken before the process bound it: choose again.
                    if "Address already in use" not in str(error) or attempt == START_ATTEMPTS:
                        raise
            worker = spawn("transcode-worker-web", "transcode_svc.worker", web_infra)
            try:
                yield WebStack(stack, tool_url, zoom)
            finally:
                worker.stop()
    finally:
        await zoom.stop()


START_ATTEMPTS = 3


def _web_infra(infra: Infra, zoom: ZoomStandIn) -> tuple[Infra, str]:
    """The web stack's settings on freshly chosen ports, and the tool's public URL."""
    edge_port = free_port()
    tool_url = f"http://localhost:{edge_port}"
    env = {
        **infra.env,
        **TEST_TRANSCODE_ENV,
        "EDGE_PORT": str(edge_port),
        "PUBLIC_BASE_URL": tool_url,
        "LTI_ENCRYPTION_KEYS": f"current:{ENCRYPTION_KEY}",
        # Multipart from 6 MiB in 5 MiB parts, so the page's multipart path runs on a small file.
        "MULTIPART_THRESHOLD": str(SMALL_THRESHOLD),
        "MULTIPART_PART_SIZE": str(SMALL_PART),
        "HLS_TOKEN_TTL": str(HLS_TOKEN_TTL_SECONDS),
        "ZOOM_API_BASE_URL": f"{zoom.base}/v2",
        "ZOOM_OAUTH_BASE_URL": zoom.base,
        "ZOOM_ACCOUNT_ID": ZOOM_ACCOUNT,
        "ATTENDANCE_WATCH_INTERVAL_SECONDS": "0.2",
    }
    for name in SERVICE_NAMES:
        env[f"{name.upper()}_SVC_PORT"] = str(free_port())
        env[f"{name.upper()}_SVC_METRICS_PORT"] = str(free_port())
        env.pop(f"{name.upper()}_SVC_ADDR", None)
    zoom.webhook_url = f"http://127.0.0.1:{edge_port}/api/v1/webhooks/zoom"
    state = infra.state_dir / "web"
    state.mkdir(exist_ok=True)
    return replace(infra, env=env, settings=load_settings(env, dotenv_path=NO_DOTENV), state_dir=state), tool_url


@pytest.fixture(scope="package")
async def course(web_stack: WebStack, small_video: bytes) -> AsyncIterator[Course]:  # noqa: F811
    """A registered LMS, and one ready video its instructor uploaded through the API."""
    platform = await TestPlatform(web_stack.tool_url).start()
    organization = f"org-{uuid.uuid4().hex[:8]}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        secret = web_stack.stack.infra.settings.jwt_secret_key
        api = Api(session, web_stack.stack.edge_url, secret)
        admin = issue_session_token(
            secret, user_id="admin", organization_id=organization, course_id=None, roles=[ADMINISTRATOR],
            ttl_seconds=600,
        )  # fmt: skip
        async with session.post(
            f"{api.base_url}/api/v1/lti/config",
            json=platform.registration_body(organization_id=organization),
            headers={"Authorization": f"Bearer {admin}"},
        ) as reply:
            assert reply.status == 200, await reply.text()
        course = Course(platform, organization, api, secret, f"instructor-{uuid.uuid4().hex[:6]}", {})
        course.ready_video = await upload_ready(course, small_video, "lecture_01.mp4")
        try:
            yield course
        finally:
            await platform.stop()


@asynccontextmanager
async def course_with_zoom(web_stack: WebStack) -> AsyncIterator[Course]:
    """A new organization whose LMS registration holds Zoom credentials, so its staff can schedule live sessions.

    Its ``ready_video`` holds only ``config_id`` (the registration), which scheduling names.
    """
    platform = await TestPlatform(web_stack.tool_url).start()
    organization = f"org-{uuid.uuid4().hex[:8]}"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            secret = web_stack.stack.infra.settings.jwt_secret_key
            api = Api(session, web_stack.stack.edge_url, secret)
            admin = issue_session_token(
                secret, user_id="admin", organization_id=organization, course_id=None, roles=[ADMINISTRATOR],
                ttl_seconds=600,
            )  # fmt: skip
            body = platform.registration_body(
                organization_id=organization, zoom_api_key="web-zoom-client", zoom_api_secret="web-zoom-secret"
            )
            async with session.post(
                f"{api.base_url}/api/v1/lti/config", json=body, headers={"Authorization": f"Bearer {admin}"}
            ) as reply:
                assert reply.status == 200, await reply.text()
                config_id = (await reply.json())["config"]["config_id"]
            course = Course(platform, organization, api, secret, f"instructor-{uuid.uuid4().hex[:6]}", {})
            course.ready_video = {"config_id": config_id}
            yield course
    finally:
        await platform.stop()


async def upload_ready(course: Course, body: bytes, filename: str) -> dict[str, Any]:
    """Upload ``body`` through the API as the course's instructor and wait until it is ready."""
    api, instructor = course.api, course.instructor
    created = (await api.create_upload(instructor, filename=filename, size=len(body))).body
    assert (await api.post_form(created, body)).status == 204
    completed = await api.call("POST", f"/api/v1/media/uploads/{created['upload_id']}/complete", instructor, {})
    assert completed.status == 200, completed.body
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        upload = (await api.call("GET", f"/api/v1/media/uploads/{created['upload_id']}", instructor)).body
        if upload["status"] == "VIDEO_STATUS_READY":
            video = await api.call("GET", f"/api/v1/media/videos/{created['video_id']}", instructor)
            return dict(video.body["video"])
        assert upload["status"] not in ("VIDEO_STATUS_FAILED", "VIDEO_STATUS_CANCELLED"), upload
        await asyncio.sleep(0.3)
    raise AssertionError(f"the upload did not become ready: {upload}")


@pytest.fixture(scope="package")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile per test, every frame without storage; a phone-sized one is made by tests."""
    created = await browser.new_context(viewport={"width": 1100, "height": 900})
    await created.add_init_script(BLOCK_STORAGE)
    created.set_default_timeout(STEP_SECONDS * 1000)
    try:
        yield created
    finally:
        await created.close()


async def open_tool(page: Page, course: Course, *, user: str, roles: list[str], locale: str = "") -> Frame:
    """Open the LMS's course page and wait for the tool's frame to show its library."""
    await page.goto(course.platform.course_page_url(user=user, roles=roles, locale=locale))
    frame_element = await page.wait_for_selector("iframe#tool")
    assert frame_element is not None
    frame = await frame_element.content_frame()
    assert frame is not None
    await frame.wait_for_url("**/lti/launch")
    await frame.wait_for_selector("#library-loading", state="hidden")
    return frame


async def session_token_of(frame: Frame) -> str:
    data = json.loads(await frame.locator("#lti-session").text_content() or "{}")
    return str(data["session_token"])


__all__ = [
    "INSTRUCTOR_ROLE",
    "LEARNER",
    "LEARNER_ROLE",
    "Course",
    "WebStack",
    "open_tool",
    "session_token_of",
    "upload_ready",
]
