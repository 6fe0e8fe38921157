"""The tool page's "API tokens" section, in Chromium inside the LMS's iframe."""

from __future__ import annotations

import uuid

from playwright.async_api import BrowserContext, expect

from tests.web.conftest import INSTRUCTOR_ROLE, LEARNER_ROLE, Course, open_tool


async def status_with(course: Course, bearer: str) -> int:
    """The status the course's video listing answers a client holding ``bearer``."""
    async with course.api.session.get(
        f"{course.api.base_url}/api/v1/media/videos", headers={"Authorization": f"Bearer {bearer}"}
    ) as reply:
        return reply.status


async def test_an_instructor_creates_a_token_sees_it_once_and_revokes_it(
    context: BrowserContext, course: Course
) -> None:
    page = await context.new_page()
    frame = await open_tool(page, course, user=course.instructor_id, roles=[INSTRUCTOR_ROLE])
    section = frame.locator("#api-tokens")
    await expect(section.get_by_role("heading", name="API tokens")).to_be_visible()

    await section.get_by_role("button", name="Create token").click()
    await expect(section.locator("#token-name-error")).to_have_text("Give the token a name that says where it is used.")

    name = f"Lecture PC {uuid.uuid4().hex[:4]}"
    await section.get_by_label("Token name").fill(name)
    await section.get_by_label("Expires after").select_option("30")
    await section.get_by_role("button", name="Create token").click()
    secret_field = section.get_by_label("Your new token")
    await expect(secret_field).to_be_focused()
    secret = await secret_field.input_value()
    assert secret.startswith("mdt_")
    await expect(section.locator("#tokens-status")).to_have_text(f"Token {name} created.")
    row = section.locator("li.token", has_text=name)
    await expect(row.locator(".token-used")).to_have_text("never used")
    assert secret not in (await section.locator("#tokens-list").inner_text())

    assert await status_with(course, secret) == 200

    await section.get_by_role("button", name="I have copied it").click()
    await expect(section.locator("#token-created")).to_be_hidden()
    assert await frame.locator("#token-secret").input_value() == ""

    await row.get_by_role("button", name=f"Revoke token {name}").click()
    await expect(section.locator("#tokens-status")).to_have_text(f"Token {name} revoked.")
    await expect(section.locator("li.token", has_text=name)).to_have_count(0)
    assert await status_with(course, secret) == 401


async def test_a_learner_sees_no_api_tokens_section(context: BrowserContext, course: Course) -> None:
    page = await context.new_page()
    frame = await open_tool(page, course, user=f"learner-{uuid.uuid4().hex[:6]}", roles=[LEARNER_ROLE])
    await expect(frame.locator("#library-heading")).to_be_visible()
    await expect(frame.locator("#api-tokens")).to_have_count(0)


async def test_the_section_is_usable_at_phone_width_and_in_spanish(context: BrowserContext, course: Course) -> None:
    page = await context.new_page()
    await page.set_viewport_size({"width": 375, "height": 800})
    frame = await open_tool(page, course, user=course.instructor_id, roles=[INSTRUCTOR_ROLE], locale="es-MX")
    section = frame.locator("#api-tokens")
    await expect(section.get_by_role("heading", name="Tokens de API")).to_be_visible()
    name = f"PC de grabación del aula magna {uuid.uuid4().hex[:4]}"
    await section.get_by_label("Nombre del token").fill(name)
    create = section.get_by_role("button", name="Crear token")
    await create.focus()
    await expect(create).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(section.locator("#tokens-status")).to_have_text(f"Token {name} creado.")
    revoke = section.get_by_role("button", name=f"Revocar el token {name}")
    width = await frame.evaluate("document.documentElement.clientWidth")
    for control in (create, section.get_by_label("Su nuevo token"), revoke):
        box = await control.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 1
    assert await section.evaluate("el => el.scrollWidth <= el.clientWidth + 1")
