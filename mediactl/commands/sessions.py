"""``mediactl sessions ...`` and ``mediactl attendance``: live Zoom sessions and who attended."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from mediactl.client import pages
from mediactl.commands.common import CourseOption, JsonOption, LimitOption, example, signed_in
from mediactl.output import Column, fields, print_json, say, short_status, table

API = "/api/v1/live-sessions"
SessionArgument = Annotated[
    str, typer.Argument(help="The session's id (see `mediactl sessions list`).", show_default=False)
]

COLUMNS: list[Column] = [
    ("ID", lambda s: s.get("session_id")),
    ("Name", lambda s: s.get("session_name")),
    ("Status", lambda s: short_status(s.get("status"))),
    ("Starts", lambda s: s.get("scheduled_start")),
    ("Ends", lambda s: s.get("scheduled_end")),
]
DETAIL: list[Column] = [
    *COLUMNS,
    ("Course", lambda s: s.get("course_id")),
    ("Zoom meeting", lambda s: s.get("zoom_meeting_id")),
    ("Join URL", lambda s: s.get("join_url")),
    ("Present from", lambda s: f"{float(s.get('min_attendance_share') or 0):.0%} of the session"),
    ("Late after", lambda s: f"{int(s.get('late_grace_minutes') or 0)} min"),
    ("Started", lambda s: s.get("started_at")),
    ("Ended", lambda s: s.get("ended_at")),
]
ROWS: list[Column] = [
    ("Name", lambda r: r.get("participant_name")),
    ("Email", lambda r: r.get("email")),
    ("Status", lambda r: short_status(r.get("status"))),
    ("Minutes", lambda r: f"{int(r.get('attended_seconds') or 0) / 60:.0f}"),
    ("Share", lambda r: f"{float(r.get('attended_share') or 0):.0%}"),
    ("Joins", lambda r: int(r.get("join_count") or 0)),
    ("First join", lambda r: r.get("first_join")),
    ("Last leave", lambda r: r.get("last_leave")),
]

sessions = typer.Typer(help="Create and look at live (Zoom) sessions.", no_args_is_help=True)


def session_path(session_id: str, tail: str = "") -> str:
    return f"{API}/{quote(session_id, safe='')}{tail}"


def moment(text: str) -> datetime:
    """An ISO 8601 time; without a zone it is local time."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as error:
        raise typer.BadParameter(f"{text!r} is not a time like 2026-03-02T14:00 or 2026-03-02T14:00+01:00") from error
    return parsed if parsed.tzinfo else parsed.astimezone()


def zulu(value: datetime) -> str:
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@sessions.command(
    "create",
    epilog=example(
        "mediactl sessions create --name 'Week 3: recursion' --start 2026-03-02T14:00 --minutes 90 "
        "--zoom-host host@example.edu --lti-config 6c1d..."
    ),
)
def create(
    name: Annotated[str, typer.Option("--name", help="What learners see.", show_default=False)],
    start: Annotated[str, typer.Option("--start", help="Scheduled start, ISO 8601 (local time without a zone).")],
    zoom_host: Annotated[str, typer.Option("--zoom-host", help="The Zoom user (email) who hosts the meeting.")],
    lti_config: Annotated[str, typer.Option("--lti-config", help="The LTI registration holding the Zoom account.")],
    minutes: Annotated[int, typer.Option("--minutes", min=1, help="Length, when --end is not given.")] = 60,
    end: Annotated[str, typer.Option("--end", help="Scheduled end, ISO 8601.", show_default=False)] = "",
    course: CourseOption = "",
    min_share: Annotated[
        float, typer.Option("--min-share", min=0, max=1, help="Share of the session that counts as present (0-1).")
    ] = 0.0,
    late_grace: Annotated[int, typer.Option("--late-grace", min=0, help="Minutes after the start before 'late'.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Schedule a live session: the Zoom meeting is created with it."""
    starts = moment(start)
    ends = moment(end) if end else starts + timedelta(minutes=minutes)
    body: dict[str, Any] = {
        "session_name": name,
        "scheduled_start": zulu(starts),
        "scheduled_end": zulu(ends),
        "zoom_host_id": zoom_host,
        "lti_config_id": lti_config,
        "course_id": course,
    }
    if min_share:
        body["min_attendance_share"] = min_share
    if late_grace:
        body["late_grace_minutes"] = late_grace
    with signed_in() as api:
        created: dict[str, Any] = api.call("POST", API, body=body)["session"]
    if as_json:
        print_json(created)
    else:
        say(f"Created session {created.get('session_id')}: “{created.get('session_name')}”.")
        if created.get("join_url"):
            say(f"Join URL: {created['join_url']}")


@sessions.command("list", epilog=example("mediactl sessions list", "mediactl sessions list --json"))
def list_sessions(course: CourseOption = "", limit: LimitOption = 100, as_json: JsonOption = False) -> None:
    """List a course's live sessions."""
    with signed_in() as api:
        found = pages(api, API, "sessions", {"course_id": course}, limit)
    if as_json:
        print_json(found)
    else:
        table(found, COLUMNS, title="Live sessions")


@sessions.command("show", epilog=example("mediactl sessions show 8e41..."))
def show(session: SessionArgument, as_json: JsonOption = False) -> None:
    """Show one live session, with its join URL."""
    with signed_in() as api:
        found: dict[str, Any] = api.call("GET", session_path(session))["session"]
    if as_json:
        print_json(found)
    else:
        fields(found, DETAIL)


def attendance(
    session: SessionArgument,
    as_csv: Annotated[bool, typer.Option("--csv", help="The registrar's CSV export instead of a table.")] = False,
    as_json: JsonOption = False,
    out: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.", dir_okay=False)
    ] = None,
) -> None:
    """Who attended a live session: a table, or CSV/JSON for other systems."""
    if as_csv and as_json:
        raise typer.BadParameter("choose one of --csv and --json", param_hint="--csv/--json")
    if out is not None and not (as_csv or as_json):
        raise typer.BadParameter("-o needs --csv or --json", param_hint="--output")
    with signed_in() as api:
        if as_csv:
            data = api.download(session_path(session, "/attendance:export"), query={"format": "csv"})
        else:
            report: dict[str, Any] = api.call("GET", session_path(session, "/attendance"))
    if as_csv:
        write(data, out)
        return
    if as_json:
        write((json.dumps(report, indent=2, sort_keys=True) + "\n").encode(), out)
        return
    rows = report.get("rows") or []
    table(rows, ROWS, title=f"Attendance of {session}")
    summary = report.get("summary") or {}
    say(
        f"{int(summary.get('participants') or 0)} participants: {int(summary.get('present_count') or 0)} present, "
        f"{int(summary.get('late_count') or 0)} late, {int(summary.get('absent_count') or 0)} absent."
    )


def write(data: bytes, out: Path | None) -> None:
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        out.write_bytes(data)
        say(f"Wrote {out}.")


def register(app: typer.Typer) -> None:
    app.add_typer(sessions, name="sessions")
    app.command(
        "attendance", epilog=example("mediactl attendance 8e41...", "mediactl attendance 8e41... --csv -o week3.csv")
    )(attendance)
