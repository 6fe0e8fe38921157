"""The attendance rules as plain calls: signatures, event identity, intervals, statuses, matching."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from attendance_svc import domain, errors

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
SCHEDULE = domain.Schedule(T0, T0 + timedelta(minutes=60), min_share=0.75, grace_minutes=5)
AFTER = T0 + timedelta(hours=3)


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def ev(event: str, minute: float, who: domain.ParticipantIds | None = None, uuid: str = "u1") -> domain.ZoomEvent:
    return domain.ZoomEvent(event, "m1", uuid, at(minute), who)


def p(name: str, conn: str, **ids: str) -> domain.ParticipantIds:
    return domain.ParticipantIds(connection_id=conn, name=name, **ids)


MEETING = [ev(domain.MEETING_STARTED, 0), ev(domain.MEETING_ENDED, 60)]


def test_a_signature_made_with_the_secret_passes_and_any_other_is_refused() -> None:
    body = b'{"event":"meeting.started"}'
    good = domain.webhook_signature("s3cret", "1700000000", body)
    domain.verify_webhook(
        "s3cret", signature=good, timestamp="1700000000", raw_body=body, now=1700000010, max_skew_seconds=300
    )
    with pytest.raises(errors.InvalidZoomSignature):
        domain.verify_webhook(
            "s3cret", signature=good, timestamp="1700000000", raw_body=body + b" ", now=1700000010, max_skew_seconds=300
        )
    with pytest.raises(errors.StaleZoomTimestamp):
        domain.verify_webhook(
            "s3cret", signature=good, timestamp="1700000000", raw_body=body, now=1700000301, max_skew_seconds=300
        )
    with pytest.raises(errors.MissingZoomSignature):
        domain.verify_webhook("s3cret", signature="", timestamp="1", raw_body=body, now=1, max_skew_seconds=300)


def test_two_devices_of_one_person_count_once_with_their_time_merged() -> None:
    laptop = p("Ada", "1", zoom_user_id="zu1", email="ada@x.edu")
    phone = p("Ada phone", "2", email="ADA@x.edu")
    events = [*MEETING, ev(domain.PARTICIPANT_JOINED, 0, laptop), ev(domain.PARTICIPANT_JOINED, 10, phone)]
    events += [ev(domain.PARTICIPANT_LEFT, 40, laptop), ev(domain.PARTICIPANT_LEFT, 50, phone)]
    report = domain.compute_attendance(events, SCHEDULE, now=AFTER)
    [row] = report.rows
    assert row.attended_seconds == 50 * 60 and row.join_count == 2
    assert report.peak_concurrent == 1


def test_rejoins_add_up_and_the_order_of_arrival_does_not_matter() -> None:
    bo = p("Bo", "7", email="bo@x.edu")
    events = [*MEETING]
    for start, end in ((0, 20), (25, 40), (45, 60)):
        events += [ev(domain.PARTICIPANT_JOINED, start, bo), ev(domain.PARTICIPANT_LEFT, end, bo)]
    shuffled = list(events)
    random.Random(3).shuffle(shuffled)
    for order in (events, list(reversed(events)), shuffled):
        [row] = domain.compute_attendance(order, SCHEDULE, now=AFTER).rows
        assert (row.attended_seconds, row.join_count) == (50 * 60, 3)
        assert row.status is domain.Status.PRESENT


def test_a_join_without_a_leave_is_closed_at_the_meeting_end() -> None:
    cy = p("Cy", "3")
    [row] = domain.compute_attendance([*MEETING, ev(domain.PARTICIPANT_JOINED, 10, cy)], SCHEDULE, now=AFTER).rows
    assert row.attended_seconds == 50 * 60 and row.last_leave == at(60) and not row.estimated


def test_without_a_meeting_end_an_open_join_closes_at_the_scheduled_end_and_is_marked_estimated() -> None:
    cy = p("Cy", "3")
    events = [ev(domain.PARTICIPANT_JOINED, 10, cy)]
    [row] = domain.compute_attendance(events, SCHEDULE, now=AFTER).rows
    assert row.estimated and row.last_leave == at(60) and row.attended_seconds == 50 * 60


def test_while_the_meeting_runs_an_open_join_counts_until_now_and_has_no_last_leave() -> None:
    cy = p("Cy", "3")
    report = domain.compute_attendance([MEETING[0], ev(domain.PARTICIPANT_JOINED, 0, cy)], SCHEDULE, now=at(30))
    [row] = report.rows
    assert row.last_leave is None and row.attended_seconds == 30 * 60 and report.live_participants == 1


@pytest.mark.parametrize(
    ("join", "leave", "status"),
    [
        (0, 60, domain.Status.PRESENT),
        (5, 60, domain.Status.PRESENT),
        (6, 60, domain.Status.LATE),
        (0, 44, domain.Status.ABSENT),
    ],
)
def test_status_follows_the_share_and_the_grace_minutes(join: int, leave: int, status: domain.Status) -> None:
    dee = p("Dee", "4")
    events = [*MEETING, ev(domain.PARTICIPANT_JOINED, join, dee), ev(domain.PARTICIPANT_LEFT, leave, dee)]
    [row] = domain.compute_attendance(events, SCHEDULE, now=AFTER).rows
    assert row.status is status


def test_the_share_is_of_the_meeting_clipped_to_the_schedule() -> None:
    """A meeting that starts 20 minutes late is 40 minutes long for everyone's share."""
    eve = p("Eve", "5")
    events = [ev(domain.MEETING_STARTED, 20), ev(domain.MEETING_ENDED, 75)]
    events += [ev(domain.PARTICIPANT_JOINED, 20, eve), ev(domain.PARTICIPANT_LEFT, 50, eve)]
    [row] = domain.compute_attendance(events, SCHEDULE, now=AFTER).rows
    assert row.attended_share == 0.75 and row.status is domain.Status.PRESENT


def test_waiting_room_time_does_not_count_and_breakout_room_time_does() -> None:
    fay = p("Fay", "6")
    events = [*MEETING, ev(domain.WAITING_ROOM_JBH, 0, fay), ev(domain.PARTICIPANT_JOINED, 10, fay)]
    events += [
        ev(domain.PARTICIPANT_LEFT, 30, fay),
        ev(domain.BREAKOUT_JOINED, 30, fay),
        ev(domain.BREAKOUT_LEFT, 50, fay),
    ]
    events += [ev(domain.PARTICIPANT_JOINED, 50, fay), ev(domain.WAITING_ROOM_ENTERED, 55, fay)]
    [row] = domain.compute_attendance(events, SCHEDULE, now=AFTER).rows
    assert row.attended_seconds == 45 * 60 and row.join_count == 2


def test_roster_matching_is_exact_by_registrant_then_email_then_a_unique_name() -> None:
    roster = [
        domain.RosterMember("u-reg", "Rae Registered", "rae@x.edu"),
        domain.RosterMember("u-mail", "Mo Mail", "mo@x.edu"),
        domain.RosterMember("u-name", "José Núñez", ""),
        domain.RosterMember("u-twin1", "Sam Lee", ""),
        domain.RosterMember("u-twin2", "Sam Lee", ""),
        domain.RosterMember("u-absent", "Ab Sent", "ab@x.edu"),
        domain.RosterMember("u-teacher", "Tea Cher", "t@x.edu", is_learner=False),
    ]
    people = [
        p("rae's ipad", "1", registrant_id="R1"),
        p("Mo", "2", email="MO@x.edu"),
        p("jose  nunez", "3"),
        p("Sam Lee", "4"),
    ]
    events = [*MEETING]
    for who in people:
        events += [ev(domain.PARTICIPANT_JOINED, 0, who), ev(domain.PARTICIPANT_LEFT, 60, who)]
    report = domain.compute_attendance(events, SCHEDULE, roster=roster, registrants={"R1": "u-reg"}, now=AFTER)
    by_user = {r.user_id: r for r in report.rows}
    assert by_user["u-reg"].matched_by is domain.MatchedBy.REGISTRANT and by_user["u-reg"].name == "Rae Registered"
    assert by_user["u-mail"].matched_by is domain.MatchedBy.EMAIL
    assert by_user["u-name"].matched_by is domain.MatchedBy.NAME
    guest = by_user[""]
    assert guest.name == "Sam Lee" and guest.matched_by is domain.MatchedBy.NONE
    assert (
        by_user["u-absent"].status is domain.Status.ABSENT and by_user["u-absent"].matched_by is domain.MatchedBy.ROSTER
    )
    assert "u-teacher" not in by_user and "u-twin1" in by_user
    assert report.participants == 4


def test_a_join_from_a_webhook_and_from_the_report_have_the_same_key() -> None:
    body = json.dumps(
        {
            "event": domain.PARTICIPANT_JOINED,
            "event_ts": 1772460000000,
            "payload": {
                "object": {
                    "id": 85012345678,
                    "uuid": "abc==",
                    "participant": {
                        "user_id": "16778240",
                        "user_name": "Ada",
                        "id": "zu1",
                        "join_time": "2026-03-02T14:00:05Z",
                    },
                }
            },
        }
    ).encode()
    from_webhook = domain.event_to_store(domain.parse_notification(body), body)
    record = {
        "id": "zu1",
        "user_id": "16778240",
        "name": "Ada",
        "join_time": "2026-03-02T14:00:05Z",
        "leave_time": "2026-03-02T14:30:00Z",
    }
    from_report = domain.events_from_report("85012345678", "abc==", [record], received_at=T0)
    assert from_webhook.key == from_report[0].key and from_webhook.meeting_id == "85012345678"
    retry = json.loads(body)
    retry["event_ts"] += 300_000  # Zoom's retry five minutes later
    again = json.dumps(retry).encode()
    assert domain.event_to_store(domain.parse_notification(again), again).key == from_webhook.key


def test_meeting_uuids_with_slashes_are_double_encoded_for_the_report() -> None:
    assert domain.report_path_uuid("4444AAAiAAAAAiAiAiiAii==") == "4444AAAiAAAAAiAiAiiAii%3D%3D"
    assert domain.report_path_uuid("/abc==") == "%252Fabc%253D%253D"
    assert domain.report_path_uuid("ab//c=") == "ab%252F%252Fc%253D"


def test_a_session_that_ends_before_it_starts_names_the_field() -> None:
    with pytest.raises(errors.InvalidSession) as raised:
        domain.validate_session(
            session_name="x",
            scheduled_start=at(60),
            scheduled_end=at(0),
            zoom_host_id="h",
            lti_config_id="c",
            min_attendance_share=0.75,
            late_grace_minutes=5,
        )
    assert [v.field for v in raised.value.violations] == ["scheduled_end"]
