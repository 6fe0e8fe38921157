"""The live sessions tab after an LTI launch, in Chromium, inside the LMS's iframe.

Zoom is the stand-in of the web stack (tests/web/conftest.py): meetings are created on it,
and it simulates a meeting by delivering correctly signed webhooks to the edge, which the
page follows over the attendance event stream.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Frame, Page, expect

from tests.web.conftest import (
    BLOCK_STORAGE,
    INSTRUCTOR_ROLE,
    LEARNER_ROLE,
    STEP_SECONDS,
    Course,
    WebStack,
    course_with_zoom,
    open_tool,
    session_token_of,
)

TIME_ZONE = "Asia/Kolkata"
"""The viewer's time zone in these specs: UTC+05:30, so a wrong conversion cannot pass unnoticed."""


@pytest.fixture(scope="module")
async def live_course(web_stack: WebStack) -> AsyncIterator[Course]:
    """A course whose LTI registration holds Zoom credentials (the account is ZOOM_ACCOUNT_ID)."""
    async with course_with_zoom(web_stack) as course:
        yield course


@pytest.fixture
async def viewer(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A browser profile in India's time zone, every frame without storage."""
    created = await browser.new_context(viewport={"width": 1100, "height": 900}, timezone_id=TIME_ZONE, locale="en-GB")
    await created.add_init_script(BLOCK_STORAGE)
    created.set_default_timeout(STEP_SECONDS * 1000)
    try:
        yield created
    finally:
        await created.close()


async def schedule(course: Course, *, name: str, starts_in: timedelta, minutes: int = 60) -> dict[str, Any]:
    """A session scheduled through the API as the course's instructor."""
    start = datetime.now(UTC).replace(microsecond=0) + starts_in
    body = {
        "session_name": name,
        "scheduled_start": start.isoformat().replace("+00:00", "Z"),
        "scheduled_end": (start + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
        "zoom_host_id": "host@example.edu",
        "lti_config_id": course.ready_video["config_id"],
    }
    reply = await course.api.call("POST", "/api/v1/live-sessions", course.instructor, body)
    assert reply.status == 200, reply.body
    session: dict[str, Any] = reply.body["session"]
    return session


async def open_live_tab(page: Page, course: Course, *, user: str, roles: list[str]) -> Frame:
    frame = await open_tool(page, course, user=user, roles=roles)
    await frame.get_by_role("tab", name="Live sessions").click()
    await expect(frame.locator("#live-loading")).to_be_hidden()
    return frame


def person(name: str, connection: str, email: str) -> dict[str, str]:
    return {"name": name, "connection_id": connection, "email": email, "participant_uuid": f"p-{connection}"}


async def test_an_instructor_schedules_a_session_in_their_own_time_zone_and_gets_its_start_link(
    viewer: BrowserContext, live_course: Course, web_stack: WebStack
) -> None:
    page = await viewer.new_page()
    frame = await open_tool(page, live_course, user=live_course.instructor_id, roles=[INSTRUCTOR_ROLE])
    tab = frame.get_by_role("tab", name="Live sessions")
    await tab.focus()
    await page.keyboard.press("ArrowLeft")  # arrow keys move between the tabs and select them
    await expect(frame.get_by_role("tab", name="Lectures")).to_have_attribute("aria-selected", "true")
    await page.keyboard.press("ArrowRight")
    await expect(tab).to_have_attribute("aria-selected", "true")
    await expect(frame.locator("#live-loading")).to_be_hidden()
    await expect(frame.locator("#live-empty")).to_contain_text("No live sessions yet")
    # Chromium's ICU names the zone by its older alias.
    zone = re.compile(r"Times are in your time zone \(Asia/(Kolkata|Calcutta)\)\.")
    await expect(frame.locator("#live-zone")).to_have_text(zone)

    form = frame.locator("#live-schedule")
    await form.get_by_label("Topic").fill("Week 4: recursion")
    await form.get_by_label("Starts").fill("2030-03-04T09:30")
    await form.get_by_label("Duration (minutes)").fill("90")
    await expect(form.get_by_label("Zoom host")).to_have_value("ada@example.edu")  # the launch's email
    await form.get_by_role("button", name="Schedule on Zoom").click()

    card = frame.locator(".live-session", has_text="Week 4: recursion")
    await expect(card.locator(".badge.live-state")).to_have_text("Upcoming")
    await expect(card.locator(".live-when")).to_contain_text("09:30")
    await expect(frame.locator("#live-status")).to_contain_text("“Week 4: recursion” is scheduled for")
    await expect(frame.locator("#live-empty")).to_be_hidden()
    start = card.get_by_role("button", name="Start the meeting (host)")
    await expect(start).to_have_attribute("href", re.compile(re.escape(web_stack.zoom.base) + r"/s/\d+\?zak="))

    listed = await live_course.api.call("GET", "/api/v1/live-sessions", live_course.instructor)
    (stored,) = [s for s in listed.body["sessions"] if s["session_name"] == "Week 4: recursion"]
    assert stored["scheduled_start"] == "2030-03-04T04:00:00Z", "09:30 in Kolkata is 04:00 UTC"
    assert stored["scheduled_end"] == "2030-03-04T05:30:00Z"
    meeting = web_stack.zoom.meetings[stored["zoom_meeting_id"]]
    assert meeting.host_id == "ada@example.edu" and meeting.topic == "Week 4: recursion"

    await card.get_by_role("button", name="Cancel session").click()
    dialog = frame.get_by_role("dialog")
    await expect(dialog).to_contain_text("Cancel “Week 4: recursion”?")
    await dialog.get_by_role("button", name="Keep it").click()
    await expect(card).to_be_visible()
    await card.get_by_role("button", name="Cancel session").click()
    await dialog.get_by_role("button", name="Cancel the session").click()
    await expect(card).to_have_count(0)
    cancelled = "“Week 4: recursion” is cancelled and its Zoom meeting deleted."
    await expect(frame.locator("#live-status")).to_have_text(cancelled)
    assert stored["zoom_meeting_id"] not in web_stack.zoom.meetings


async def test_zoom_webhooks_fill_the_live_attendance_table_and_the_report_downloads_as_matching_csv_and_json(
    viewer: BrowserContext, live_course: Course, web_stack: WebStack, tmp_path: Path
) -> None:
    session = await schedule(live_course, name="Week 5: trees", starts_in=timedelta(minutes=-41))
    zoom, meeting_id = web_stack.zoom, session["zoom_meeting_id"]
    page = await viewer.new_page()
    frame = await open_live_tab(page, live_course, user=live_course.instructor_id, roles=[INSTRUCTOR_ROLE])
    card = frame.locator(f"#live-{session['session_id']}")
    await expect(card.locator(".badge.live-state")).to_have_text("Upcoming")
    # A session about to start is followed at once: the stream's first snapshot says so.
    await expect(card.locator(".attendance-live")).to_have_text(
        "The meeting has not started: joins will appear here as they happen."
    )
    await frame.evaluate("window.notReloaded = true")

    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=40)
    ada = person("Ada Lovelace", "1", "ada@example.edu")
    bob = person("Bob Babbage", "2", "bob@example.edu")
    cat = person("Cat Somerville", "3", "cat@example.edu")
    assert await zoom.emit(meeting_id, "meeting.started", at=t0) == 204
    assert await zoom.emit(meeting_id, "meeting.participant_joined", participant=ada, at=t0) == 204
    await expect(card.locator(".badge.live-state")).to_have_text("Running now")
    ada_row = card.locator("tbody tr", has_text="Ada Lovelace")
    await expect(ada_row.locator(".attendance-state")).to_have_text("In the meeting")
    await expect(card.locator(".presence-log")).to_contain_text("Ada Lovelace joined at")

    await zoom.emit(meeting_id, "meeting.participant_joined", participant=cat, at=t0 + timedelta(minutes=1))
    await zoom.emit(meeting_id, "meeting.participant_left", participant=cat, at=t0 + timedelta(minutes=5))
    await zoom.emit(meeting_id, "meeting.participant_joined", participant=bob, at=t0 + timedelta(minutes=7))
    cat_row = card.locator("tbody tr", has_text="Cat Somerville")
    await expect(cat_row.locator(".attendance-state")).to_have_text("Left")
    await expect(card.locator("tbody tr", has_text="Bob Babbage").locator(".attendance-state")).to_have_text(
        "In the meeting"
    )
    await expect(card.locator(".attendance-live")).to_have_text("2 in the meeting now · 3 joined so far")
    await expect(card.locator(".presence-log")).to_contain_text("Cat Somerville left at")
    assert await frame.evaluate("window.notReloaded") is True, "the rows came without a reload"

    end = t0 + timedelta(minutes=40)
    await zoom.emit(meeting_id, "meeting.participant_left", participant=ada, at=end)
    await zoom.emit(meeting_id, "meeting.participant_left", participant=bob, at=end)
    await zoom.emit(meeting_id, "meeting.ended", at=end)
    await expect(card.locator(".badge.live-state")).to_have_text("Ended")
    await expect(card.locator(".attendance-heading")).to_have_text("Attendance report")
    await expect(ada_row.locator(".attendance-state")).to_have_text("Present")
    await expect(card.locator("tbody tr", has_text="Bob Babbage").locator(".attendance-state")).to_have_text("Late")
    await expect(cat_row.locator(".attendance-state")).to_have_text("Absent")
    await expect(ada_row.locator("td").nth(3)).not_to_be_empty()  # when Ada left
    await expect(card.locator(".attendance-live")).to_have_text("1 present · 1 late · 1 absent")
    await expect(card.get_by_role("button", name="Start the meeting (host)")).to_have_count(0)

    async with page.expect_download() as csv_download:
        await card.get_by_role("button", name="Download CSV").click()
    async with page.expect_download() as json_download:
        await card.get_by_role("button", name="Download JSON").click()
    csv_file, json_file = await csv_download.value, await json_download.value
    assert csv_file.suggested_filename.endswith(".csv") and json_file.suggested_filename.endswith(".json")
    await csv_file.save_as(tmp_path / "attendance.csv")
    await json_file.save_as(tmp_path / "attendance.json")
    csv_rows = list(csv.DictReader(io.StringIO((tmp_path / "attendance.csv").read_text())))
    json_rows = json.loads((tmp_path / "attendance.json").read_text())["rows"]
    assert [r["participant_name"] for r in csv_rows] == [r["participant_name"] for r in json_rows]
    assert len(csv_rows) == 3
    for from_csv, from_json in zip(csv_rows, json_rows, strict=True):
        assert from_csv["email"] == from_json["email"]
        assert int(from_csv["attended_seconds"]) == from_json["attended_seconds"]
        assert int(from_csv["join_count"]) == from_json["join_count"]
        assert from_csv["status"] == from_json["status"].removeprefix("ATTENDANCE_STATUS_").lower()
    await expect(frame.locator("#live-status")).to_contain_text(f"Saved {json_file.suggested_filename}.")

    # Later, on a fresh page, the ended session's report opens on request.
    later = await open_live_tab(
        await viewer.new_page(), live_course, user=live_course.instructor_id, roles=[INSTRUCTOR_ROLE]
    )
    card = later.locator(f"#live-{session['session_id']}")
    await expect(card.locator(".badge.live-state")).to_have_text("Ended")
    await expect(card.locator(".attendance")).to_be_hidden()
    toggle = card.get_by_role("button", name="Attendance")
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    await expect(card.locator("tbody tr", has_text="Bob Babbage").locator(".attendance-state")).to_have_text("Late")
    await expect(card.get_by_role("button", name="Download CSV")).to_be_visible()


async def test_a_learner_sees_upcoming_and_running_sessions_with_their_own_join_link_and_no_instructor_control(
    viewer: BrowserContext, live_course: Course, web_stack: WebStack
) -> None:
    upcoming = await schedule(live_course, name="Week 6: graphs", starts_in=timedelta(days=1))
    running = await schedule(live_course, name="Week 6: office hours", starts_in=timedelta(minutes=-5))
    ended = await schedule(live_course, name="Week 1: welcome", starts_in=timedelta(days=-7))
    cancelled = await schedule(live_course, name="Week 6: cancelled", starts_in=timedelta(days=2))
    zoom = web_stack.zoom
    await zoom.emit(running["zoom_meeting_id"], "meeting.started", at=datetime.now(UTC) - timedelta(minutes=5))
    await zoom.emit(ended["zoom_meeting_id"], "meeting.started", at=datetime.now(UTC) - timedelta(days=7))
    await zoom.emit(ended["zoom_meeting_id"], "meeting.ended", at=datetime.now(UTC) - timedelta(days=7, minutes=-50))
    cancelled_meeting = cancelled["zoom_meeting_id"]
    gone = await live_course.api.call(
        "DELETE", f"/api/v1/live-sessions/{cancelled['session_id']}", live_course.instructor
    )
    assert gone.status == 200, gone.body

    learner = f"learner-{uuid.uuid4().hex[:6]}"
    page = await viewer.new_page()
    frame = await open_live_tab(page, live_course, user=learner, roles=[LEARNER_ROLE])

    for session, state in ((upcoming, "Upcoming"), (running, "Running now")):
        card = frame.locator(f"#live-{session['session_id']}")
        await expect(card.locator(".badge.live-state")).to_have_text(state)
        join = card.get_by_role("button", name="Join the session")
        pattern = re.escape(f"{zoom.base}/w/{session['zoom_meeting_id']}") + r"\?tk="
        await expect(join).to_have_attribute("href", re.compile(pattern))
        (registrant,) = zoom.meetings[session["zoom_meeting_id"]].registrants.values()
        assert await join.get_attribute("href") == registrant["join_url"], "the learner's own registrant link"
    order = await frame.locator(".live-title").all_text_contents()
    assert order == ["Week 6: office hours", "Week 6: graphs"], "running first, then upcoming; not ended or cancelled"
    assert cancelled_meeting not in zoom.meetings

    await page.set_viewport_size({"width": 375, "height": 800})  # a phone: nothing wider than the screen
    await expect(frame.get_by_role("button", name="Join the session").first).to_be_in_viewport()
    assert await frame.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")

    await expect(frame.locator("#live-schedule")).to_have_count(0)
    for control in ("Schedule on Zoom", "Start the meeting (host)", "Attendance", "Cancel session"):
        await expect(frame.get_by_role("button", name=control)).to_have_count(0)
    html = await frame.content()
    assert running["start_url"] not in html and "zak=" not in html, "no host link reaches a learner"

    token = await session_token_of(frame)
    body = {
        "session_name": "Learner's own",
        "scheduled_start": "2030-01-01T10:00:00Z",
        "scheduled_end": "2030-01-01T11:00:00Z",
        "zoom_host_id": "ada@example.edu",
        "lti_config_id": live_course.ready_video["config_id"],
    }
    async with live_course.api.session.post(
        f"{live_course.api.base_url}/api/v1/live-sessions", json=body, headers={"Authorization": f"Bearer {token}"}
    ) as refused:
        assert refused.status == 403, "the API refuses a learner scheduling, whatever the page shows"
    async with live_course.api.session.get(
        f"{live_course.api.base_url}/api/v1/live-sessions/{running['session_id']}/attendance",
        headers={"Authorization": f"Bearer {token}"},
    ) as refused:
        assert refused.status == 403, "nor may a learner read attendance"


async def test_an_api_refusal_is_shown_in_words_next_to_the_form_field_or_button_that_caused_it(
    viewer: BrowserContext, course: Course, web_stack: WebStack
) -> None:
    meetings = len(web_stack.zoom.meetings)
    page = await viewer.new_page()
    frame = await open_live_tab(page, course, user=course.instructor_id, roles=[INSTRUCTOR_ROLE])
    form = frame.locator("#live-schedule")
    await form.get_by_label("Topic").fill("Office hours")
    await form.get_by_label("Duration (minutes)").fill("2000")
    await form.get_by_role("button", name="Schedule on Zoom").click()
    duration = form.get_by_label("Duration (minutes)")
    await expect(frame.locator("#live-duration-error")).to_have_text("a session lasts at most 24 hours")
    await expect(duration).to_have_attribute("aria-invalid", "true")
    await expect(duration).to_be_focused()
    await expect(frame.locator("#live-form-error")).to_be_hidden()

    await duration.fill("60")
    await form.get_by_role("button", name="Schedule on Zoom").click()
    # This course's registration has no Zoom credentials: the API's own words, under the button.
    general = frame.locator("#live-form-error")
    await expect(general).to_contain_text(
        "Not scheduled: the registration has no Zoom credentials: an administrator sets them"
    )
    await expect(general).to_contain_text("/zoom-credentials")
    await expect(frame.locator("#live-duration-error")).to_be_hidden()
    await expect(duration).not_to_have_attribute("aria-invalid", "true")
    await expect(frame.locator("#live-empty")).to_be_visible()
    assert len(web_stack.zoom.meetings) == meetings, "nothing was created on Zoom"


async def test_a_launch_whose_locale_is_spanish_shows_the_live_sessions_in_spanish(
    viewer: BrowserContext, live_course: Course
) -> None:
    await schedule(live_course, name="Semana 7: pilas", starts_in=timedelta(days=3))
    page = await viewer.new_page()
    frame = await open_tool(page, live_course, user=live_course.instructor_id, roles=[INSTRUCTOR_ROLE], locale="es-ES")
    await frame.get_by_role("tab", name="Sesiones en directo").click()
    await expect(frame.get_by_role("heading", name="Programar una sesión en directo")).to_be_visible()
    await expect(frame.get_by_label("Tema")).to_be_visible()
    await expect(frame.get_by_role("button", name="Programar en Zoom")).to_be_visible()
    card = frame.locator(".live-session", has_text="Semana 7: pilas")
    await expect(card.locator(".badge.live-state")).to_have_text("Próxima")
    await expect(card.locator(".live-length")).to_have_text(re.compile(r"^Duración "))
    await expect(card.get_by_role("button", name="Cancelar sesión")).to_be_visible()
