"""Uploading lectures from the library page with Uppy, in Chromium inside the LMS's iframe."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from playwright.async_api import BrowserContext, Request, Route, expect

from tests.web.conftest import INSTRUCTOR_ROLE, Course, WebStack, open_tool

READY_TIMEOUT_MS = 120_000


def _part_number(request: Request) -> int | None:
    """The part a PUT to the object store carries, or None for any other request."""
    if request.method != "PUT":
        return None
    numbers = parse_qs(urlsplit(request.url).query).get("partNumber")
    return int(numbers[0]) if numbers else None


async def test_an_instructor_picks_a_clip_with_the_keyboard_and_sees_it_uploaded_and_become_ready(
    context: BrowserContext, course: Course, small_video: bytes, tmp_path: Path
) -> None:
    name = f"clip_{uuid.uuid4().hex[:6]}"
    clip = tmp_path / f"{name}.mp4"
    clip.write_bytes(small_video)
    page = await context.new_page()
    frame = await open_tool(page, course, user=course.instructor_id, roles=[INSTRUCTOR_ROLE])

    async with page.expect_file_chooser() as chooser:
        await frame.get_by_role("button", name="Choose videos").press("Enter")
    await (await chooser.value).set_files(str(clip))
    row = frame.locator(".upload-item", has_text=f"{name}.mp4")
    await expect(row.locator(".upload-state")).to_contain_text("Uploaded", timeout=READY_TIMEOUT_MS)
    await expect(row.get_by_role("progressbar", name=f"Upload of {name}.mp4")).to_have_attribute("value", "100")

    card = frame.locator(".video", has=frame.locator(".video-title", has_text=name.replace("_", " ")))
    await expect(card.locator(".badge.status")).to_have_text("Ready", timeout=READY_TIMEOUT_MS)
    await expect(frame.locator("#library-status")).to_contain_text("ready")


async def test_a_multipart_upload_interrupted_by_a_reload_resumes_from_the_stored_parts_and_retries_a_failed_part(
    context: BrowserContext, course: Course, large_video: bytes, tmp_path: Path
) -> None:
    name = f"long_{uuid.uuid4().hex[:6]}"
    path = tmp_path / f"{name}.mp4"
    path.write_bytes(large_video)
    page = await context.new_page()
    frame = await open_tool(page, course, user=course.instructor_id, roles=[INSTRUCTOR_ROLE])

    first_frame = frame
    held: list[int] = []

    failed_once: list[int] = []

    async def hold_later_parts(route: Route) -> None:
        number = _part_number(route.request)
        if route.request.frame == first_frame and number not in (None, 1):
            held.append(number or 0)  # left hanging: the reload interrupts it
            return
        if route.request.frame != first_frame and number == 3 and not failed_once:
            failed_once.append(number)  # the store fails part 3 once after the reload: it is retried
            await route.fulfill(status=503, headers={"Access-Control-Allow-Origin": "*"}, body="SlowDown")
            return
        await route.continue_()

    await page.route(re.compile(r"partNumber=\d+"), hold_later_parts)
    await frame.locator("#upload-input").set_input_files(str(path))
    row = frame.locator(".upload-item", has_text=f"{name}.mp4")
    await expect(row).to_have_attribute("data-upload-id", re.compile(".+"))
    upload_id = await row.get_attribute("data-upload-id")
    stored: list[int] = []
    for _ in range(300):
        reply = await course.api.call("GET", f"/api/v1/media/uploads/{upload_id}/parts", course.instructor)
        stored = [part["part_number"] for part in reply.body.get("parts", [])]
        if stored and len(held) == 2:
            break
        await page.wait_for_timeout(100)
    assert stored == [1], stored
    assert sorted(held) == [2, 3], "parts 2 and 3 were in flight with part 1"

    frame = await open_tool(page, course, user=course.instructor_id, roles=[INSTRUCTOR_ROLE])
    assert frame != first_frame
    sent_after_reload: list[int] = []

    def count_part(request: Request) -> None:
        number = _part_number(request)
        if number is not None:
            sent_after_reload.append(number)

    page.on("request", count_part)
    pending = frame.locator("[data-status=VIDEO_STATUS_PENDING_UPLOAD] .video-title", has_text=name.replace("_", " "))
    await expect(pending).to_be_visible()
    await frame.locator("#upload-input").set_input_files(str(path))
    row = frame.locator(".upload-item", has_text=f"{name}.mp4")
    await expect(row).to_have_attribute("data-upload-id", upload_id or "")
    await expect(row.locator(".upload-state")).to_contain_text("Uploaded", timeout=READY_TIMEOUT_MS)

    # Page-level request events were seen to miss the resumed frame's part 3 under load (1 run in
    # 4 on 2 busy cores); the route's own refusal of part 3 (failed_once) and the completed
    # upload are what prove the retry.
    assert 1 not in sent_after_reload, "part 1 is not sent again"
    assert failed_once == [3], "part 3 was refused once after the reload, and the upload still completed"
    upload = await course.api.call("GET", f"/api/v1/media/uploads/{upload_id}", course.instructor)
    assert upload.body["status"] != "VIDEO_STATUS_PENDING_UPLOAD", upload.body


async def test_a_dropped_file_the_api_refuses_is_shown_in_words_next_to_it_and_the_page_may_reach_only_the_store(
    context: BrowserContext, course: Course, web_stack: WebStack
) -> None:
    page = await context.new_page()
    async with page.expect_response(re.compile(r"/lti/launch$")) as launched:
        frame = await open_tool(page, course, user=course.instructor_id, roles=[INSTRUCTOR_ROLE])
    policy = (await launched.value).headers["content-security-policy"]
    store = urlsplit(web_stack.stack.infra.settings.s3_public_endpoint_url or "")
    assert f"connect-src 'self' {store.scheme}://{store.netloc};" in policy

    dropped = await frame.evaluate_handle(
        """() => {
          const data = new DataTransfer();
          data.items.add(new File(["not a video"], "notes.txt", { type: "text/plain" }));
          return data;
        }"""
    )
    await frame.locator("#upload-zone").dispatch_event("drop", {"dataTransfer": dropped})
    row = frame.locator(".upload-item", has_text="notes.txt")
    await expect(row.locator(".error-text")).to_have_text(
        re.compile(r"^Not uploaded: .*'notes\.txt' does not end in a video extension: use one of .*\.mp4")
    )
    await expect(row).to_have_attribute("data-state", "failed")
