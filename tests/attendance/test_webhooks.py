"""Zoom's webhook through the edge: signatures, replays, duplicates, durability, the report."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.attendance.conftest import Course, person, signed_headers

WEBHOOK = "/api/v1/webhooks/zoom"


def _join(
    meeting: dict[str, Any], who: dict[str, str], at: datetime, event: str = "meeting.participant_joined"
) -> bytes:
    field = "leave_time" if "left" in event else "join_time"
    participant = {
        "user_id": who["connection_id"],
        "user_name": who["name"],
        "id": who.get("zoom_user_id", ""),
        "email": who.get("email", ""),
        "registrant_id": who.get("registrant_id", ""),
        field: at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    body = {
        "event": event,
        "event_ts": int(time.time() * 1000),
        "payload": {
            "account_id": "acct",
            "object": {
                "id": meeting["zoom_meeting_id"],
                "uuid": meeting["zoom_meeting_uuid"],
                "topic": "t",
                "participant": participant,
            },
        },
    }
    return json.dumps(body).encode()


async def _post(course: Course, body: bytes, headers: dict[str, str]) -> int:
    async with course.http.post(course.stack.edge_url + WEBHOOK, data=body, headers=headers) as reply:
        await reply.read()
        return reply.status


async def test_zoom_validating_the_endpoint_gets_the_token_back_encrypted_with_the_secret(course: Course) -> None:
    import hashlib
    import hmac

    body = json.dumps({"event": "endpoint.url_validation", "event_ts": 1, "payload": {"plainToken": "qgg8vlvZ"}})
    secret = course.stack.webhook_secret
    reply = await course.api("POST", WEBHOOK, data=body.encode(), headers=signed_headers(secret, body.encode()))
    assert reply.status == 200, reply.text
    expected = hmac.new(secret.encode(), b"qgg8vlvZ", hashlib.sha256).hexdigest()
    assert reply.json == {"plainToken": "qgg8vlvZ", "encryptedToken": expected}


async def test_a_webhook_signed_with_another_secret_is_refused_and_not_stored(course: Course) -> None:
    session = await course.schedule()
    now = datetime.now(UTC)
    body = _join(session, person("Mallory", connection="m1"), now)
    status = await _post(course, body, signed_headers("not-the-secret-" + "x" * 20, body))
    assert status == 401
    missing = await _post(course, body, {"Content-Type": "application/json"})
    assert missing == 401
    assert (await course.attendance(session["session_id"]))["rows"] == []


async def test_a_replayed_webhook_with_an_old_timestamp_is_refused_even_when_correctly_signed(course: Course) -> None:
    session = await course.schedule()
    body = _join(session, person("Eve", connection="e1"), datetime.now(UTC))
    old = int(time.time()) - 6 * 60
    assert await _post(course, body, signed_headers(course.stack.webhook_secret, body, timestamp=old)) == 401
    future = int(time.time()) + 6 * 60
    assert await _post(course, body, signed_headers(course.stack.webhook_secret, body, timestamp=future)) == 401
    assert await _post(course, body, signed_headers(course.stack.webhook_secret, body)) == 204
    report = await course.attendance(session["session_id"])
    assert [r["participant_name"] for r in report["rows"]] == ["Eve"]


async def test_a_body_that_is_not_a_zoom_event_is_a_400_with_a_message(course: Course) -> None:
    body = b"not json at all"
    reply = await course.api("POST", WEBHOOK, data=body, headers=signed_headers(course.stack.webhook_secret, body))
    assert reply.status == 400
    assert "not JSON" in reply.json["error"]["message"]


async def test_duplicate_deliveries_are_acknowledged_every_time_and_counted_once(course: Course) -> None:
    session = await course.schedule()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    ada = person("Ada Lovelace", connection="c1", email="ada@example.edu")
    joined = _join(session, ada, start)
    left = _join(session, ada, start + timedelta(minutes=20), "meeting.participant_left")
    statuses = await asyncio.gather(
        *[_post(course, b, signed_headers(course.stack.webhook_secret, b)) for b in [joined, left] * 5]
    )
    assert set(statuses) == {204}
    [row] = (await course.attendance(session["session_id"]))["rows"]
    assert row["join_count"] == 1
    assert row["attended_seconds"] == 20 * 60


async def test_a_simulated_lecture_gives_the_report_and_the_csv_reads_back_as_the_json(course: Course) -> None:
    session = await course.schedule(starts_in=timedelta(minutes=-70), minutes=60, min_attendance_share=0.5)
    zoom, meeting_id = course.stack.zoom, session["zoom_meeting_id"]
    t0 = datetime.fromisoformat(session["scheduled_start"].replace("Z", "+00:00"))
    ada_laptop = person("Ada Lovelace", connection="1", email="ada@example.edu", zoom_user_id="zu-ada")
    ada_phone = person("Ada (phone)", connection="2", email="ada@example.edu")
    grace = person("Grace Hopper", connection="3", email="grace@example.edu")
    guest = person("Guest 42", connection="4")
    plan: list[tuple[str, dict[str, str] | None, int]] = [
        ("meeting.started", None, 0),
        ("meeting.participant_joined", ada_laptop, 0),
        ("meeting.participant_joined", ada_phone, 10),
        ("meeting.participant_left", ada_laptop, 40),
        ("meeting.participant_left", ada_phone, 50),
        ("meeting.participant_joined", grace, 20),
        ("meeting.participant_joined", guest, 1),
        ("meeting.participant_left", guest, 5),
        ("meeting.participant_joined", guest, 30),
        ("meeting.participant_left", guest, 35),
        ("meeting.ended", None, 60),
    ]
    # Delivered out of order: the report places each event by its own time.
    for event, who, minute in reversed(plan):
        status = await zoom.emit(meeting_id, event, participant=who, at=t0 + timedelta(minutes=minute))
        assert status == 204
    report = await course.attendance(session["session_id"])
    rows = {r["participant_name"]: r for r in report["rows"]}
    assert set(rows) == {"Ada Lovelace", "Grace Hopper", "Guest 42"}
    ada = rows["Ada Lovelace"]
    assert ada["attended_seconds"] == 50 * 60 and ada["join_count"] == 2
    assert ada["status"] == "ATTENDANCE_STATUS_PRESENT" and ada["matched_by"] == "PARTICIPANT_MATCH_NONE"
    assert rows["Grace Hopper"]["last_leave"] == (t0 + timedelta(minutes=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert rows["Grace Hopper"]["estimated"] is False
    assert rows["Grace Hopper"]["status"] == "ATTENDANCE_STATUS_LATE"
    assert rows["Guest 42"]["attended_seconds"] == 9 * 60 and rows["Guest 42"]["join_count"] == 2
    assert rows["Guest 42"]["status"] == "ATTENDANCE_STATUS_ABSENT"
    summary = report["summary"]
    assert summary["participants"] == 3 and summary["peak_concurrent"] == 3
    assert summary["present_count"] == 1 and summary["late_count"] == 1 and summary["absent_count"] == 1

    by_query = await course.api(
        "GET", f"/api/v1/live-sessions/{session['session_id']}/attendance?format=csv", course.instructor
    )
    by_accept = await course.api(
        "GET",
        f"/api/v1/live-sessions/{session['session_id']}/attendance",
        course.instructor,
        headers={"Accept": "text/csv"},
    )
    assert by_query.status == 200 and by_query.headers["Content-Type"].startswith("text/csv")
    assert by_query.text == by_accept.text
    records = list(csv.DictReader(io.StringIO(by_query.text)))
    assert [r["participant_name"] for r in records] == [r["participant_name"] for r in report["rows"]]
    for record, row in zip(records, report["rows"], strict=True):
        assert record["email"] == row["email"]
        assert record["first_join"] == row["first_join"] and record["last_leave"] == row["last_leave"]
        assert int(record["attended_seconds"]) == row["attended_seconds"]
        assert float(record["attended_share"]) == round(row["attended_share"], 4)
        assert int(record["join_count"]) == row["join_count"]
        assert "ATTENDANCE_STATUS_" + record["status"].upper() == row["status"]

    export = await course.api(
        "GET", f"/api/v1/live-sessions/{session['session_id']}/attendance:export?format=json", course.instructor
    )
    assert export.status == 200
    assert export.headers["Content-Disposition"] == f'attachment; filename="attendance-{session["session_id"]}.json"'
    assert [r["participant_name"] for r in export.json["rows"]] == [r["participant_name"] for r in report["rows"]]
    bad = await course.api(
        "GET", f"/api/v1/live-sessions/{session['session_id']}/attendance?format=xlsx", course.instructor
    )
    assert bad.status == 400 and "csv or json" in bad.text


async def test_attendance_svc_restarted_in_the_middle_of_a_stream_loses_no_event(course: Course) -> None:
    """Zoom redelivers what was not acknowledged: the edge answers 5xx while the service is down."""
    session = await course.schedule()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=50)
    bodies = [
        _join(
            session,
            person(f"Learner {i:03d}", connection=f"c{i}", email=f"l{i}@example.edu"),
            start + timedelta(seconds=i),
        )
        for i in range(120)
    ]
    acknowledged: set[int] = set()
    refused = 0
    some_stored = asyncio.Event()

    async def sender(indexes: list[int]) -> None:
        nonlocal refused
        for index in indexes:
            while index not in acknowledged:
                body = bodies[index]
                status = await _post(course, body, signed_headers(course.stack.webhook_secret, body))
                if status in (200, 204):
                    acknowledged.add(index)
                    if len(acknowledged) >= 30:
                        some_stored.set()
                else:
                    assert status >= 500, status
                    refused += 1
                    await asyncio.sleep(0.2)  # Zoom waits minutes; the test compresses time

    async def restart() -> None:
        await some_stored.wait()
        await asyncio.to_thread(course.stack.stop_attendance)
        await asyncio.sleep(0.5)
        await asyncio.to_thread(course.stack.start_attendance)

    await asyncio.gather(restart(), *[sender(list(range(k, 120, 8))) for k in range(8)])
    assert refused > 0
    report = await course.attendance(session["session_id"])
    assert len(report["rows"]) == 120
    assert all(r["join_count"] == 1 for r in report["rows"])
