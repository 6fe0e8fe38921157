"""The library page after an LTI launch, in Chromium, inside the LMS's iframe."""

from __future__ import annotations

import asyncio
import re
import uuid

from playwright.async_api import BrowserContext, expect

from tests.web.conftest import INSTRUCTOR_ROLE, LEARNER_ROLE, Course, open_tool, session_token_of


async def test_an_instructor_sees_the_course_videos_with_their_status_and_renames_and_publishes_one(
    context: BrowserContext, course: Course
) -> None:
    pending = (await course.api.create_upload(course.instructor, filename="draft.mp4", size=1000)).body
    page = await context.new_page()
    frame = await open_tool(page, course, user=course.instructor_id, roles=[INSTRUCTOR_ROLE])

    ready = frame.locator(f"#video-{course.ready_video['video_id']}")
    await expect(ready.locator(".video-title")).to_have_text("lecture 01")  # the file name, tidied
    await expect(ready.locator(".badge.status")).to_have_text("Ready")
    await expect(ready.locator(".uploader")).to_have_text("Uploaded by you")
    await expect(ready.locator(".duration")).to_contain_text("2")
    await expect(frame.locator(f"#video-{pending['video_id']} .badge.status")).to_have_text("Waiting for upload")
    assert await frame.evaluate("document.cookie") == "", "the tool's frame keeps no cookie"

    await ready.get_by_role("button", name="Rename").click()
    title = ready.get_by_label("New title")
    await expect(title).to_be_focused()
    await title.fill("Week 1: Limits")
    await ready.get_by_role("button", name="Save").click()
    await expect(ready.locator(".video-title")).to_have_text("Week 1: Limits")
    await expect(frame.locator("#library-status")).to_have_text("Renamed to “Week 1: Limits”.")

    await expect(ready.locator(".badge.visibility")).to_have_text("Not published")
    await ready.get_by_role("button", name="Publish").click()
    await expect(ready.locator(".badge.visibility")).to_have_text("Published")
    await expect(ready.get_by_role("button", name="Unpublish")).to_be_visible()
    await expect(frame.locator("#library-status")).to_contain_text("learners of this course can now watch it")

    stored = await course.api.call("GET", f"/api/v1/media/videos/{course.ready_video['video_id']}", course.instructor)
    assert stored.body["video"]["title"] == "Week 1: Limits" and stored.body["video"]["published"] is True


async def test_a_learner_sees_only_published_ready_videos_and_no_instructor_control(
    context: BrowserContext, course: Course
) -> None:
    video_id = course.ready_video["video_id"]
    await course.api.call(
        "PATCH", f"/api/v1/media/videos/{video_id}?update_mask=published", course.instructor, {"published": True}
    )
    hidden = (await course.api.create_upload(course.instructor, filename="unpublished.mp4", size=1000)).body
    page = await context.new_page()
    frame = await open_tool(page, course, user=f"learner-{uuid.uuid4().hex[:6]}", roles=[LEARNER_ROLE])

    await expect(frame.locator(f"#video-{video_id} .badge.status")).to_have_text("Ready")
    await expect(frame.locator(f"#video-{hidden['video_id']}")).to_have_count(0)
    for control in ("Rename", "Publish", "Unpublish", "Delete"):
        await expect(frame.get_by_role("button", name=control)).to_have_count(0)
    await expect(frame.locator(".badge.visibility")).to_have_count(0)

    token = await session_token_of(frame)
    async with course.api.session.patch(
        f"{course.api.base_url}/api/v1/media/videos/{video_id}?update_mask=published",
        json={"published": False},
        headers={"Authorization": f"Bearer {token}"},
    ) as refused:
        assert refused.status == 403, "the API refuses the learner what the page does not offer"


async def test_an_api_refusal_is_shown_in_words_next_to_the_control_that_caused_it(
    context: BrowserContext, course: Course
) -> None:
    draft = (await course.api.create_upload(course.instructor, filename="to_delete.mp4", size=1000)).body
    page = await context.new_page()
    frame = await open_tool(page, course, user=course.instructor_id, roles=[INSTRUCTOR_ROLE])
    card = frame.locator(f"#video-{draft['video_id']}")

    await card.get_by_role("button", name="Rename").click()
    await card.get_by_label("New title").fill("   ")
    await card.get_by_role("button", name="Save").click()
    await expect(card.locator(".error-text")).to_have_text("Not renamed: the title is empty: give the video a title")
    await expect(card.get_by_label("New title")).to_have_attribute("aria-invalid", "true")
    await card.get_by_role("button", name="Cancel").click()

    await card.get_by_role("button", name="Delete").click()
    dialog = frame.get_by_role("dialog")
    await expect(dialog).to_contain_text("Delete “to delete”?")
    await dialog.get_by_role("button", name="Keep it").click()
    await expect(card).to_be_visible()
    await card.get_by_role("button", name="Delete").click()
    await dialog.get_by_role("button", name="Delete for good").click()
    await expect(card).to_have_count(0)
    await expect(frame.locator("#library-status")).to_have_text("“to delete” is deleted.")
    gone = await course.api.call("GET", f"/api/v1/media/videos/{draft['video_id']}", course.instructor)
    assert gone.status == 404


async def test_a_launch_whose_locale_is_spanish_shows_the_library_in_spanish(
    context: BrowserContext, course: Course
) -> None:
    page = await context.new_page()
    frame = await open_tool(page, course, user=course.instructor_id, roles=[INSTRUCTOR_ROLE], locale="es-ES")

    assert await frame.get_attribute("html", "lang") == "es"
    await expect(frame.get_by_role("heading", name="Clases")).to_be_visible()
    ready = frame.locator(f"#video-{course.ready_video['video_id']}")
    await expect(ready.locator(".badge.status")).to_have_text("Listo")
    await expect(ready.get_by_role("button", name="Renombrar")).to_be_visible()
    await expect(ready.locator(".uploader")).to_have_text("Subido por ti")
    await expect(ready.locator(".created")).to_contain_text(re.compile(r"Añadido el \d{1,2} \w+"))


async def test_the_page_refreshes_its_session_before_it_expires_and_keeps_working(
    context: BrowserContext, course: Course
) -> None:
    await context.clock.install()
    page = await context.new_page()
    frame = await open_tool(page, course, user=course.instructor_id, roles=[INSTRUCTOR_ROLE])
    main = frame.locator("#tool")
    first_expiry = await main.get_attribute("data-session-expires")
    first_token = await session_token_of(frame)

    await asyncio.sleep(1.1)  # a real second, so the fresh token's iat and exp differ from the launch's
    async with page.expect_response("**/api/v1/sessions:refresh") as refreshed:
        await context.clock.fast_forward("50:00")
    reply = await refreshed.value
    assert reply.ok and (await reply.json())["session_token"] != first_token
    await expect(main).not_to_have_attribute("data-session-expires", first_expiry or "")

    async with page.expect_request("**/api/v1/media/videos/*") as renamed:
        ready = frame.locator(f"#video-{course.ready_video['video_id']}")
        await ready.get_by_role("button", name="Rename").click()
        await ready.get_by_label("New title").fill("Week 1: Limits, again")
        await ready.get_by_role("button", name="Save").click()
    sent = (await renamed.value).headers["authorization"]
    assert sent == f"Bearer {(await reply.json())['session_token']}", "later calls use the fresh token"
    await expect(ready.locator(".video-title")).to_have_text("Week 1: Limits, again")
