"""How long attendance reports take, as attendance_svc's /metrics shows an operator."""

from __future__ import annotations

import asyncio

from tests.attendance.conftest import Course
from tests.support.metrics import Scrape, scrape


def attendance_metrics(course: Course) -> Scrape:
    return scrape(f"http://127.0.0.1:{course.stack.env['ATTENDANCE_SVC_METRICS_PORT']}/metrics")


async def test_every_report_read_json_or_csv_is_timed_in_the_report_latency_histogram(course: Course) -> None:
    session = await course.schedule()
    before = await asyncio.to_thread(attendance_metrics, course)
    await course.attendance(session["session_id"])
    csv = await course.api(
        "GET", f"/api/v1/live-sessions/{session['session_id']}/attendance?format=csv", course.instructor
    )
    assert csv.status == 200, csv.text
    after = await asyncio.to_thread(attendance_metrics, course)
    count = "media_attendance_report_seconds_count"
    assert after.value(count) - before.value(count) == 2
    took = after.value("media_attendance_report_seconds_sum") - before.value("media_attendance_report_seconds_sum")
    assert 0 < took < 10
