"""Live-session rules as plain calls: status, updates, what Zoom is told, registrants, the live view, CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from attendance_svc import domain, errors

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
PLAN = domain.SessionPlan("Week 1", T0, T0 + timedelta(hours=1), 0.75, 5)


@pytest.mark.parametrize(
    ("cancelled", "started", "ended", "status"),
    [
        (False, False, False, domain.SessionStatus.SCHEDULED),
        (False, True, False, domain.SessionStatus.LIVE),
        (False, True, True, domain.SessionStatus.ENDED),
        (False, False, True, domain.SessionStatus.ENDED),
        (True, True, False, domain.SessionStatus.CANCELLED),
        (True, True, True, domain.SessionStatus.CANCELLED),
    ],
)
def test_a_session_is_cancelled_over_ended_over_live_over_scheduled(
    cancelled: bool, started: bool, ended: bool, status: domain.SessionStatus
) -> None:
    assert domain.session_status(cancelled=cancelled, started=started, ended=ended) is status


def test_an_update_changes_the_fields_its_mask_names_or_without_a_mask_those_it_carries() -> None:
    assert domain.fields_to_change(["late_grace_minutes"], {"session_name"}) == ["late_grace_minutes"]
    assert domain.fields_to_change([], {"session_name", "scheduled_end"}) == ["scheduled_end", "session_name"]


def test_an_update_naming_fields_outside_the_plan_lists_them_and_the_allowed_ones() -> None:
    with pytest.raises(errors.InvalidSession) as raised:
        domain.fields_to_change(["zoom_host_id", "course_id", "session_name"], set())
    assert raised.value.message == (
        "update_mask: course_id, zoom_host_id cannot be changed; allowed: late_grace_minutes, min_attendance_share,"
        " scheduled_end, scheduled_start, session_name"
    )


def test_the_edited_plan_takes_only_the_named_fields() -> None:
    given = domain.SessionPlan("Renamed", T0 + timedelta(days=1), T0, 0.1, 1)
    assert domain.edited_plan(PLAN, given, ["session_name"]) == domain.SessionPlan(
        "Renamed", T0, T0 + timedelta(hours=1), 0.75, 5
    )


def test_zoom_hears_of_a_new_name_or_new_times_but_never_of_thresholds() -> None:
    thresholds = domain.SessionPlan("Week 1", T0, T0 + timedelta(hours=1), 0.5, 10)
    assert domain.meeting_change(PLAN, thresholds) is None
    renamed = domain.SessionPlan("Week 1b", T0, T0 + timedelta(hours=1), 0.75, 5)
    assert domain.meeting_change(PLAN, renamed) == domain.MeetingChange(topic="Week 1b")
    longer = domain.SessionPlan("Week 1", T0, T0 + timedelta(hours=2), 0.75, 5)
    assert domain.meeting_change(PLAN, longer) == domain.MeetingChange(times=(T0, T0 + timedelta(hours=2)))


def test_a_registrant_is_named_as_the_roster_names_them_or_gets_a_reserved_address() -> None:
    roster = [domain.RosterMember("u1", "Ada King Lovelace", "ada@x.edu"), domain.RosterMember("u2", "", "")]
    assert domain.registrant_for("u1", roster, "org1") == domain.Registrant("ada@x.edu", "Ada", "King Lovelace")
    nameless = domain.registrant_for("u2", roster, "org1")
    assert (nameless.first_name, nameless.last_name) == ("u2", "")
    assert nameless.email == domain.placeholder_email("org1", "u2") != domain.placeholder_email("org2", "u2")
    assert nameless.email.startswith("learner-") and nameless.email.endswith("@registrants.invalid")


def row(name: str, seconds: int, *, user_id: str = "", email: str = "") -> domain.Row:
    return domain.Row(name, email, user_id, T0, None, seconds, 0.5, 1, domain.Status.ABSENT, domain.MatchedBy.NONE)


def test_the_live_view_sends_rows_that_are_new_or_show_something_else() -> None:
    before = domain.rows_by_key([row("Ada", 60, user_id="u1"), row("Guest", 60)])
    same_but_intervals = row("Ada", 60, user_id="u1")
    same_but_intervals.intervals = [(T0, T0 + timedelta(minutes=1))]
    after = domain.rows_by_key([same_but_intervals, row("Guest", 120), row("Bo", 0, email="bo@x.edu")])
    assert [r.name for r in domain.changed_rows(before, after)] == ["Guest", "Bo"]


def test_the_live_view_tells_rows_apart_by_user_id_else_by_name_and_email() -> None:
    keys = domain.rows_by_key([row("Ada", 1, user_id="u1"), row("Ada", 2, user_id="u2"), row("Sam", 3), row("Sam", 4)])
    assert [(r.user_id, r.attended_seconds) for r in keys.values()] == [("u1", 1), ("u2", 2), ("", 4)]


@pytest.mark.parametrize(("count", "chunks"), [(0, 1), (1, 1), (200, 1), (201, 2), (450, 3)])
def test_csv_streams_in_chunks_of_two_hundred_rows_that_join_into_one_document(count: int, chunks: int) -> None:
    rows = [row(f"P{i:03}", i) for i in range(count)]
    parts = list(domain.csv_chunks(rows))
    assert len(parts) == chunks and all(parts)
    records = list(csv.reader(io.StringIO(b"".join(parts).decode())))
    assert records[0] == list(domain.CSV_COLUMNS) and [r[0] for r in records[1:]] == [r.name for r in rows]
    assert b"".join(parts).count(b"\r\n") == count + 1
