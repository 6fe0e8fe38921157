"""Live sessions and their attendance from the command line, over a Zoom stand-in."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.attendance.conftest import Course, person
from tests.cli.conftest import Cli


def cli_for(course: Course, tmp_path: Path) -> Cli:
    home = tmp_path / "home"
    home.mkdir()
    return Cli(home, course.stack.edge_url, course.instructor)


async def test_an_instructor_schedules_a_session_then_lists_and_shows_it(course: Course, tmp_path: Path) -> None:
    cli = cli_for(course, tmp_path)
    start = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)

    created = await cli.run_async(
        "sessions", "create", "--name", "Week 3: recursion", "--start", start.isoformat(), "--minutes", "90",
        "--zoom-host", "host@example.edu", "--lti-config", course.config_id, "--json",
    )  # fmt: skip

    assert created.code == 0, created.err
    session = json.loads(created.out)
    assert session["session_name"] == "Week 3: recursion"
    assert session["scheduled_start"] == start.isoformat().replace("+00:00", "Z")
    assert session["scheduled_end"] == (start + timedelta(minutes=90)).isoformat().replace("+00:00", "Z")
    assert session["join_url"]

    listed = await cli.run_async("sessions", "list")
    assert listed.code == 0, listed.err
    heading, *rows = listed.out.splitlines()
    assert heading.split("\t") == ["ID", "Name", "Status", "Starts", "Ends"]
    assert [row.split("\t")[:3] for row in rows] == [[session["session_id"], "Week 3: recursion", "scheduled"]]
    assert [s["session_id"] for s in json.loads((await cli.run_async("sessions", "list", "--json")).out)] == [
        session["session_id"]
    ]

    shown = await cli.run_async("sessions", "show", session["session_id"])
    assert shown.code == 0, shown.err
    assert f"Join URL: {session['join_url']}" in shown.out.splitlines()

    missing = await cli.run_async("sessions", "show", "no-such-session")
    assert missing.code == 2 and missing.err.startswith("mediactl: Refused by the server (HTTP 4")


async def test_attendance_is_a_table_for_people_and_csv_or_json_for_the_registrar(
    course: Course, tmp_path: Path
) -> None:
    cli = cli_for(course, tmp_path)
    session = await course.schedule(starts_in=timedelta(minutes=-70), minutes=60)
    start = datetime.fromisoformat(session["scheduled_start"].replace("Z", "+00:00"))
    ada = person("Ada Lovelace", connection="1", email="ada@example.edu")
    zoom, meeting = course.stack.zoom, session["zoom_meeting_id"]
    await zoom.emit(meeting, "meeting.started", at=start)
    await zoom.emit(meeting, "meeting.participant_joined", participant=ada, at=start)
    await zoom.emit(meeting, "meeting.participant_left", participant=ada, at=start + timedelta(minutes=55))
    await zoom.emit(meeting, "meeting.ended", at=start + timedelta(minutes=60))

    shown = await cli.run_async("attendance", session["session_id"])
    assert shown.code == 0, shown.err
    heading, row, summary = shown.out.splitlines()
    assert heading.split("\t")[:6] == ["Name", "Email", "Status", "Minutes", "Share", "Joins"]
    assert row.split("\t")[:6] == ["Ada Lovelace", "ada@example.edu", "present", "55", "92%", "1"]
    assert summary == "1 participants: 1 present, 0 late, 0 absent."

    exported = await cli.run_async("attendance", session["session_id"], "--csv")
    assert exported.code == 0, exported.err
    records = list(csv.reader(io.StringIO(exported.out)))
    assert any("Ada Lovelace" in record for record in records[1:])

    target = tmp_path / "week3.json"
    saved = await cli.run_async("attendance", session["session_id"], "--json", "-o", str(target))
    assert saved.code == 0 and saved.out.strip() == f"Wrote {target}."
    report = json.loads(target.read_text())
    assert [r["participant_name"] for r in report["rows"]] == ["Ada Lovelace"]

    both = await cli.run_async("attendance", session["session_id"], "--csv", "--json")
    assert both.code == 1 and "choose one of --csv and --json" in both.err
