"""Live sessions against the Zoom stand-in: schedule, read, reschedule, cancel; reconcile; watch live."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from service_kit.auth import ADMINISTRATOR, INSTRUCTOR, LEARNER
from tests.attendance.conftest import Course, person


async def test_an_instructor_schedules_a_session_and_zoom_has_the_meeting(course: Course) -> None:
    session = await course.schedule(starts_in=timedelta(days=1), minutes=90)
    meeting = course.stack.zoom.meetings[session["zoom_meeting_id"]]
    assert meeting.topic == "Week 3: recursion" and meeting.duration == 90
    assert meeting.settings["approval_type"] == 0
    assert session["zoom_meeting_uuid"] == meeting.uuid
    assert session["join_url"] and session["start_url"]
    assert session["status"] == "LIVE_SESSION_STATUS_SCHEDULED"
    assert session["course_id"] == course.course_id and session["min_attendance_share"] == 0.75

    as_learner = await course.api("GET", f"/api/v1/live-sessions/{session['session_id']}", course.learner)
    assert as_learner.status == 200
    assert as_learner.json["session"]["start_url"] == "" and as_learner.json["session"]["join_url"]
    listing = await course.api("GET", "/api/v1/live-sessions", course.learner)
    assert [s["session_id"] for s in listing.json["sessions"]] == [session["session_id"]]


async def test_a_cached_zoom_token_is_reused_until_it_expires(course: Course) -> None:
    # Counted per Zoom account: background reconciliation of other tests' meetings asks too.
    requests = course.stack.zoom.oauth_requests_by_account
    await course.schedule()
    await course.schedule()
    assert requests[course.zoom_account_id] == 1


async def test_a_session_that_ends_before_it_starts_is_refused_and_nothing_is_created_at_zoom(course: Course) -> None:
    meetings = len(course.stack.zoom.meetings)
    body = {
        "session_name": "",
        "scheduled_start": "2030-01-01T10:00:00Z",
        "scheduled_end": "2030-01-01T09:00:00Z",
        "zoom_host_id": "host@example.edu",
        "lti_config_id": course.config_id,
    }
    reply = await course.api("POST", "/api/v1/live-sessions", course.instructor, body)
    assert reply.status == 400
    assert "scheduled_end: must be after scheduled_start" in reply.json["error"]["message"]
    assert "session_name" in reply.json["error"]["message"]
    assert len(course.stack.zoom.meetings) == meetings


async def test_a_learner_cannot_schedule_and_another_organizations_config_is_refused(course: Course) -> None:
    body = {
        "session_name": "x",
        "scheduled_start": "2030-01-01T10:00:00Z",
        "scheduled_end": "2030-01-01T11:00:00Z",
        "zoom_host_id": "host@example.edu",
        "lti_config_id": course.config_id,
    }
    assert (await course.api("POST", "/api/v1/live-sessions", course.learner, body)).status == 403
    other = Course(course.stack, course.http, "org-other-" + course.organization_id, "course-x")
    reply = await other.api("POST", "/api/v1/live-sessions", other.instructor, body)
    assert reply.status == 400 and "lti_config_id" in reply.json["error"]["message"]


async def test_an_unknown_zoom_host_is_a_clear_error_and_no_session_is_stored(course: Course) -> None:
    body = {
        "session_name": "x",
        "scheduled_start": "2030-01-01T10:00:00Z",
        "scheduled_end": "2030-01-01T11:00:00Z",
        "zoom_host_id": "unknown-host@example.edu",
        "lti_config_id": course.config_id,
    }
    reply = await course.api("POST", "/api/v1/live-sessions", course.instructor, body)
    assert reply.status == 400 and "User does not exist" in reply.json["error"]["message"]
    listing = await course.api("GET", "/api/v1/live-sessions", course.instructor)
    assert listing.json["sessions"] == []


async def test_rescheduling_moves_the_zoom_meeting_and_cancelling_deletes_it(course: Course) -> None:
    session = await course.schedule(starts_in=timedelta(days=2))
    sid, meeting_id = session["session_id"], session["zoom_meeting_id"]
    reply = await course.api(
        "PATCH",
        f"/api/v1/live-sessions/{sid}?update_mask=scheduled_start,scheduled_end,session_name",
        course.instructor,
        {"session_name": "Week 4", "scheduled_start": "2031-02-03T10:00:00Z", "scheduled_end": "2031-02-03T10:45:00Z"},
    )
    assert reply.status == 200, reply.text
    assert reply.json["session"]["scheduled_start"] == "2031-02-03T10:00:00Z"
    meeting = course.stack.zoom.meetings[meeting_id]
    assert (meeting.topic, meeting.start_time, meeting.duration) == ("Week 4", "2031-02-03T10:00:00Z", 45)
    refused = await course.api(
        "PATCH", f"/api/v1/live-sessions/{sid}?update_mask=zoom_meeting_id", course.instructor, {"zoom_meeting_id": "1"}
    )
    assert refused.status == 400 and "cannot be changed" in refused.text

    assert (await course.api("DELETE", f"/api/v1/live-sessions/{sid}", course.learner)).status == 403
    assert (await course.api("DELETE", f"/api/v1/live-sessions/{sid}", course.instructor)).status == 200
    assert meeting_id not in course.stack.zoom.meetings
    again = await course.api("GET", f"/api/v1/live-sessions/{sid}", course.instructor)
    assert again.json["session"]["status"] == "LIVE_SESSION_STATUS_CANCELLED"
    assert (await course.api("DELETE", f"/api/v1/live-sessions/{sid}", course.instructor)).status == 200


async def test_a_learner_gets_one_personal_join_link_and_their_joins_match_them_exactly(course: Course) -> None:
    session = await course.schedule(starts_in=timedelta(minutes=-30), minutes=20)
    sid = session["session_id"]
    learner = course.token(LEARNER, user="learner-7")
    first = await course.api("POST", f"/api/v1/live-sessions/{sid}/join-links", learner, {})
    second = await course.api("POST", f"/api/v1/live-sessions/{sid}/join-links", learner, {})
    assert first.status == 200, first.text
    assert first.json == second.json and "/w/" in first.json["join_url"]
    naming_other = await course.api(
        "POST", f"/api/v1/live-sessions/{sid}/join-links", learner, {"user_id": "learner-8"}
    )
    assert naming_other.status == 403
    start = datetime.fromisoformat(session["scheduled_start"].replace("Z", "+00:00"))
    # Zoom shows a nickname; the registrant id still says who it is.
    who = person("xX_gamer_Xx", connection="9", registrant_id=first.json["registrant_id"])
    await course.stack.zoom.emit(session["zoom_meeting_id"], "meeting.participant_joined", participant=who, at=start)
    await course.stack.zoom.emit(
        session["zoom_meeting_id"], "meeting.participant_left", participant=who, at=start + timedelta(minutes=20)
    )
    [row] = (await course.attendance(sid))["rows"]
    assert row["user_id"] == "learner-7" and row["matched_by"] == "PARTICIPANT_MATCH_REGISTRANT"
    assert row["status"] == "ATTENDANCE_STATUS_PRESENT"


async def test_reconciliation_fills_in_joins_whose_webhooks_never_arrived(course: Course) -> None:
    session = await course.schedule(starts_in=timedelta(minutes=-90), minutes=60)
    zoom, meeting_id, sid = course.stack.zoom, session["zoom_meeting_id"], session["session_id"]
    start = datetime.fromisoformat(session["scheduled_start"].replace("Z", "+00:00"))
    # A uuid that must be double-encoded in the report's path.
    instance = "/ab//cd+ef" + meeting_id[-4:] + "=="
    seen = person("Seen Webhook", connection="1", email="seen@example.edu")
    await zoom.emit(meeting_id, "meeting.started", at=start, meeting_uuid=instance)
    await zoom.emit(meeting_id, "meeting.participant_joined", participant=seen, at=start, meeting_uuid=instance)
    await zoom.emit(
        meeting_id,
        "meeting.participant_left",
        participant=seen,
        at=start + timedelta(minutes=50),
        meeting_uuid=instance,
    )
    for i in range(305):
        missed = person(f"Missed {i:03d}", connection=f"m{i}", email=f"m{i}@example.edu")
        await zoom.emit(
            meeting_id, "meeting.participant_joined", participant=missed, at=start, deliver=False, meeting_uuid=instance
        )
        await zoom.emit(
            meeting_id,
            "meeting.participant_left",
            participant=missed,
            at=start + timedelta(minutes=55),
            deliver=False,
            meeting_uuid=instance,
        )
    await zoom.emit(meeting_id, "meeting.ended", at=start + timedelta(minutes=60), meeting_uuid=instance)
    assert len((await course.attendance(sid))["rows"]) == 1

    await zoom_rate_limit(course, report_429=1, retry_after="1")
    reply = await course.api("POST", f"/api/v1/live-sessions/{sid}:reconcile", course.instructor, {})
    assert reply.status == 200, reply.text
    assert reply.json["intervals_added"] == 305 and reply.json["deferred"] is False
    report = await course.attendance(sid)
    assert len(report["rows"]) == 306
    assert all(r["join_count"] == 1 for r in report["rows"])
    again = await course.api("POST", f"/api/v1/live-sessions/{sid}:reconcile", course.instructor, {})
    assert again.json["intervals_added"] == 0


async def test_a_long_rate_limit_pauses_reconciliation_and_it_resumes_by_itself(course: Course) -> None:
    session = await course.schedule(starts_in=timedelta(minutes=-90), minutes=60)
    zoom, meeting_id, sid = course.stack.zoom, session["zoom_meeting_id"], session["session_id"]
    start = datetime.fromisoformat(session["scheduled_start"].replace("Z", "+00:00"))
    missed = person("Missed", connection="1", email="missed@example.edu")
    await zoom.emit(meeting_id, "meeting.participant_joined", participant=missed, at=start, deliver=False)
    await zoom.emit(
        meeting_id, "meeting.participant_left", participant=missed, at=start + timedelta(minutes=50), deliver=False
    )
    await zoom_rate_limit(course, report_429=1, retry_after="3", daily=True)
    reply = await course.api("POST", f"/api/v1/live-sessions/{sid}:reconcile", course.instructor, {})
    assert reply.status == 200, reply.text
    assert reply.json["deferred"] is True and reply.json["resume_at"]
    for _ in range(100):
        rows = (await course.attendance(sid))["rows"]
        if rows:
            break
        await asyncio.sleep(0.1)
    assert [r["participant_name"] for r in rows] == ["Missed"]


async def zoom_rate_limit(course: Course, **body: Any) -> None:
    async with course.http.post(f"{course.stack.zoom.base}/_standin/rate-limit", json=body) as reply:
        assert reply.status == 200


async def test_joins_and_leaves_stream_live_as_server_sent_events(course: Course) -> None:
    session = await course.schedule()
    zoom, meeting_id, sid = course.stack.zoom, session["zoom_meeting_id"], session["session_id"]
    url = f"{course.stack.edge_url}/api/v1/live-sessions/{sid}/attendance/events"
    events: list[tuple[str, Any]] = []
    first = asyncio.Event()

    async def listen() -> None:
        async with course.http.get(url, headers={"Authorization": f"Bearer {course.instructor}"}) as reply:
            assert reply.status == 200 and reply.headers["Content-Type"] == "text/event-stream"
            name = ""
            async for raw in reply.content:
                line = raw.decode().strip()
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    events.append((name, json.loads(line[6:])))
                    first.set()
                    if name == "end":
                        return

    task = asyncio.create_task(listen())
    await asyncio.wait_for(first.wait(), 10)
    assert events[0][0] == "snapshot"
    now = datetime.now(UTC).replace(microsecond=0)
    ada = person("Ada Lovelace", connection="1", email="ada@example.edu")
    await zoom.emit(meeting_id, "meeting.started", at=now - timedelta(minutes=5))
    await zoom.emit(meeting_id, "meeting.participant_joined", participant=ada, at=now - timedelta(minutes=5))
    await zoom.emit(meeting_id, "meeting.participant_left", participant=ada, at=now)
    await zoom.emit(meeting_id, "meeting.ended", at=now)
    await asyncio.wait_for(task, 10)
    names = [name for name, _ in events]
    assert "joined" in names and "left" in names and names[-1] == "end"
    joined = next(data for name, data in events if name == "joined")
    assert joined["participant_name"] == "Ada Lovelace"
    last = [data for name, data in events if name == "attendance"][-1]
    assert last["status"] == "LIVE_SESSION_STATUS_ENDED" and last["summary"]["participants"] == 1


async def test_a_quiet_event_stream_gets_keep_alive_comments_and_still_delivers_what_comes_later(
    course: Course,
) -> None:
    session = await course.schedule()
    zoom, meeting_id, sid = course.stack.zoom, session["zoom_meeting_id"], session["session_id"]
    url = f"{course.stack.edge_url}/api/v1/live-sessions/{sid}/attendance/events"
    lines: list[str] = []
    async with course.http.get(url, headers={"Authorization": f"Bearer {course.instructor}"}) as reply:
        assert reply.status == 200

        async def read_until(wanted: str) -> None:
            async for raw in reply.content:
                lines.append(raw.decode().strip())
                if lines[-1].startswith(wanted):
                    return

        await asyncio.wait_for(read_until("event: snapshot"), 10)
        # Nothing happens in the meeting for a while (the stack sends keep-alives every second).
        await asyncio.wait_for(read_until(": keep-alive"), 5)
        await asyncio.wait_for(read_until(": keep-alive"), 5)
        await zoom.emit(meeting_id, "meeting.started", at=datetime.now(UTC).replace(microsecond=0))
        await asyncio.wait_for(read_until("event: attendance"), 10)
    assert lines.count(": keep-alive") >= 2


async def test_only_course_staff_read_attendance(course: Course) -> None:
    session = await course.schedule()
    reply = await course.api("GET", f"/api/v1/live-sessions/{session['session_id']}/attendance", course.learner)
    assert reply.status == 403
    other_course = course.token(INSTRUCTOR, course="another-course")
    reply = await course.api("GET", f"/api/v1/live-sessions/{session['session_id']}/attendance", other_course)
    assert reply.status == 403


async def test_without_a_zoom_account_id_scheduling_names_the_setting_and_the_call_that_fix_it(course: Course) -> None:
    admin = course.token(ADMINISTRATOR, user="admin-1")
    cleared = await course.api(
        "PATCH",
        f"/api/v1/lti/configs/{course.config_id}?update_mask=zoom_account_id",
        admin,
        {"zoom_account_id": ""},
    )
    assert cleared.status == 200, cleared.text
    meetings = len(course.stack.zoom.meetings)
    body = {
        "session_name": "Weekly Lecture",
        "scheduled_start": "2030-01-01T10:00:00Z",
        "scheduled_end": "2030-01-01T11:00:00Z",
        "zoom_host_id": "host@example.edu",
        "lti_config_id": course.config_id,
    }
    reply = await course.api("POST", "/api/v1/live-sessions", course.instructor, body)
    assert reply.status == 400 and reply.json["error"]["status"] == "FAILED_PRECONDITION", reply.text
    assert "ZOOM_ACCOUNT_ID" in reply.json["error"]["message"]
    assert f"PUT /api/v1/lti/configs/{course.config_id}/zoom-credentials" in reply.json["error"]["message"]
    assert len(course.stack.zoom.meetings) == meetings
