"""The attendance report stage by stage: bounds, identity, intervals, status, summary.

test_attendance_rules.py specifies the whole report; these pin each stage on its own,
so a change to one rule shows where it lands.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from attendance_svc import domain

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
SCHEDULE = domain.Schedule(T0, T0 + timedelta(minutes=60), min_share=0.75, grace_minutes=5)


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def ev(event: str, minute: float, who: domain.ParticipantIds | None = None, uuid: str = "u1") -> domain.ZoomEvent:
    return domain.ZoomEvent(event, "m1", uuid, at(minute), who)


def p(name: str, conn: str = "", **ids: str) -> domain.ParticipantIds:
    return domain.ParticipantIds(connection_id=conn, name=name, **ids)


def joined(minute: float, who: domain.ParticipantIds, uuid: str = "u1") -> domain.ZoomEvent:
    return ev(domain.PARTICIPANT_JOINED, minute, who, uuid)


def left(minute: float, who: domain.ParticipantIds, uuid: str = "u1") -> domain.ZoomEvent:
    return ev(domain.PARTICIPANT_LEFT, minute, who, uuid)


def bounds_of(*events: domain.ZoomEvent) -> domain.MeetingBounds:
    return domain.meeting_bounds(events)


# ---- bounds ------------------------------------------------------------------------------------


def test_the_meeting_starts_at_its_first_start_or_at_an_earlier_join() -> None:
    ada = p("Ada", "1")
    assert bounds_of(ev(domain.MEETING_STARTED, 2), joined(5, ada)).start == at(2)
    assert bounds_of(ev(domain.MEETING_STARTED, 2), joined(1, ada)).start == at(1)
    assert bounds_of(joined(3, ada)).start == at(3)
    assert bounds_of().start is None


def test_a_meeting_has_ended_only_once_every_started_instance_has() -> None:
    first = [ev(domain.MEETING_STARTED, 0, uuid="a"), ev(domain.MEETING_ENDED, 30, uuid="a")]
    second_running = [*first, ev(domain.MEETING_STARTED, 40, uuid="b")]
    assert bounds_of(*first).end == at(30)
    assert bounds_of(*second_running).end is None
    assert bounds_of(*second_running, ev(domain.MEETING_ENDED, 70, uuid="b")).end == at(70)
    assert bounds_of(*second_running).is_running("b") and not bounds_of(*second_running).is_running("a")


def test_people_coming_and_going_with_no_start_or_end_known_make_a_live_meeting() -> None:
    bounds = bounds_of(joined(0, p("Ada", "1")))
    assert bounds.end is None and bounds.starts == {} and bounds.ends == {}


def test_waiting_room_events_and_participantless_events_move_no_bounds() -> None:
    bounds = bounds_of(ev(domain.WAITING_ROOM_JBH, 0, p("Ada", "1")), ev(domain.PARTICIPANT_JOINED, 1))
    assert bounds.start is None and bounds.end is None


def test_the_judged_window_is_the_meeting_clipped_to_its_schedule() -> None:
    late_and_long = bounds_of(ev(domain.MEETING_STARTED, 20), ev(domain.MEETING_ENDED, 75))
    window = domain.judged_window(late_and_long, SCHEDULE, now=at(200))
    assert (window.start, window.end, window.seconds) == (at(20), at(60), 40 * 60)


def test_a_meeting_not_over_yet_is_judged_until_now() -> None:
    running = bounds_of(ev(domain.MEETING_STARTED, 0))
    assert domain.judged_window(running, SCHEDULE, now=at(25)) == domain.Window(at(0), at(25))


def test_a_meeting_held_wholly_after_its_schedule_is_judged_against_itself() -> None:
    afterwards = bounds_of(ev(domain.MEETING_STARTED, 90), ev(domain.MEETING_ENDED, 120))
    assert domain.judged_window(afterwards, SCHEDULE, now=at(200)) == domain.Window(at(90), at(120))


def test_a_meeting_that_never_started_is_judged_against_its_schedule() -> None:
    window = domain.judged_window(bounds_of(), SCHEDULE, now=at(200))
    assert window == domain.Window(at(0), at(60))


# ---- identity ----------------------------------------------------------------------------------


def test_a_name_is_an_identifier_only_when_nothing_stronger_is_known() -> None:
    assert domain.identifiers("u1", p("José Núñez", "9")) == ["name:jose nunez", "connection:u1:9"]
    assert domain.identifiers("u1", p("Ada", "", email="ADA@x.edu", registrant_id="R1")) == [
        "email:ada@x.edu",
        "registrant:R1",
    ]
    assert domain.identifiers("u1", p("")) == []


def test_ids_seen_together_on_one_event_make_one_person_across_devices() -> None:
    laptop = p("Ada", "1", zoom_user_id="zu1", email="ada@x.edu")
    phone = p("Ada phone", "2", email="ada@x.edu")
    [first, second] = domain.channels([joined(0, laptop), joined(5, phone)])
    assert first.person == second.person


def test_a_leave_that_names_only_the_connection_belongs_to_its_join() -> None:
    [channel] = domain.channels([joined(0, p("Ada", "1", email="ada@x.edu")), left(30, p("", "1"))])
    assert [e.event for e in channel.events] == [domain.PARTICIPANT_JOINED, domain.PARTICIPANT_LEFT]


def test_a_breakout_room_is_its_own_channel_of_the_same_person() -> None:
    bo = p("Bo", "7", email="bo@x.edu")
    main, breakout = domain.channels([joined(0, bo), ev(domain.BREAKOUT_JOINED, 10, bo), left(10, bo)])
    assert main.person == breakout.person
    assert [e.event for e in breakout.events] == [domain.BREAKOUT_JOINED]


def test_a_channel_lists_its_events_as_they_happened_with_a_join_before_a_leave_at_one_instant() -> None:
    cy = p("Cy", "3")
    [channel] = domain.channels([left(10, cy), joined(10, cy), joined(0, cy)])
    assert [(e.occurred_at, e.event) for e in channel.events] == [
        (at(0), domain.PARTICIPANT_JOINED),
        (at(10), domain.PARTICIPANT_JOINED),
        (at(10), domain.PARTICIPANT_LEFT),
    ]


def test_participants_without_any_identifier_and_non_presence_events_are_left_out() -> None:
    nobody = p("", "")
    assert domain.channels([joined(0, nobody), ev(domain.WAITING_ROOM_JBH, 0, p("Ada", "1"))]) == []


def test_seen_as_counts_names_and_remembers_when_each_was_first_used() -> None:
    ada = p("Ada", "1", email="ada@x.edu")
    renamed = p("Ada L.", "1", email="ada@x.edu")
    [seen] = domain.seen_as(domain.channels([joined(0, ada), left(10, renamed), joined(20, ada)])).values()
    assert seen.names == {"Ada": 2, "Ada L.": 1}
    assert seen.first_seen == {"Ada": at(0), "Ada L.": at(10)}
    assert seen.emails == {"ada@x.edu": 3}


def test_a_registrant_id_matches_even_a_learner_the_roster_does_not_list() -> None:
    seen = domain.SeenAs(registrant_ids={"R9"})
    match = domain.RosterIndex([], {"R9": "u-late-enrolled"}).match(seen)
    assert match == domain.Match(domain.RosterMember("u-late-enrolled", "", ""), domain.MatchedBy.REGISTRANT)


def test_a_name_two_roster_members_share_matches_nobody() -> None:
    roster = [domain.RosterMember("a", "Sam Lee", ""), domain.RosterMember("b", "Sam Lee", "")]
    seen = domain.SeenAs()
    seen.names["sam lee"] += 1
    assert domain.RosterIndex(roster, {}).match(seen) == domain.Match(None, domain.MatchedBy.NONE)


def test_zoom_people_matched_to_one_learner_are_one_attendee_shown_with_the_strongest_match() -> None:
    member = domain.RosterMember("u1", "Rae", "rae@x.edu")
    by_email = domain.SeenAs()
    by_email.emails["rae@x.edu"] += 1
    by_link = domain.SeenAs(registrant_ids={"R1"})
    guest = domain.SeenAs()
    [rae, other] = domain.attendees({"p1": by_email, "p2": by_link, "p3": guest}, [member], {"R1": "u1"})
    assert rae.people == ["p1", "p2"] and rae.match == domain.Match(member, domain.MatchedBy.REGISTRANT)
    assert other.people == ["p3"] and other.match.member is None


# ---- intervals ---------------------------------------------------------------------------------

MEETING = bounds_of(ev(domain.MEETING_STARTED, 0), ev(domain.MEETING_ENDED, 60))


def test_a_second_join_while_present_does_not_reopen_the_channel_but_counts_as_a_join() -> None:
    dee = p("Dee", "4")
    [channel] = domain.channels([joined(0, dee), joined(10, dee), left(30, dee)])
    presence = domain.channel_presence(channel, MEETING, SCHEDULE, now=at(200))
    assert presence.intervals == [(at(0), at(30))] and presence.join_count == 2 and presence.last_leave == at(30)


def test_breakout_time_counts_but_is_not_a_join() -> None:
    fay = p("Fay", "6")
    [channel] = domain.channels([ev(domain.BREAKOUT_JOINED, 10, fay), ev(domain.BREAKOUT_LEFT, 20, fay)])
    presence = domain.channel_presence(channel, MEETING, SCHEDULE, now=at(200))
    assert presence.intervals == [(at(10), at(20))] and presence.join_count == 0


def test_being_put_back_into_the_waiting_room_closes_presence() -> None:
    fay = p("Fay", "6")
    [channel] = domain.channels([joined(0, fay), ev(domain.WAITING_ROOM_ENTERED, 15, fay)])
    assert domain.channel_presence(channel, MEETING, SCHEDULE, now=at(200)).intervals == [(at(0), at(15))]


@pytest.mark.parametrize(
    ("events", "now", "closed", "closes_at"),
    [
        ([ev(domain.MEETING_STARTED, 0), ev(domain.MEETING_ENDED, 50)], 200, domain.Closed.AT_MEETING_END, 50),
        ([ev(domain.MEETING_STARTED, 0)], 200, domain.Closed.STILL_PRESENT, 200),
        ([], 30, domain.Closed.STILL_PRESENT, 30),
        ([], 200, domain.Closed.ESTIMATED, 60),
        ([ev(domain.MEETING_STARTED, 0), ev(domain.MEETING_ENDED, 5)], 200, domain.Closed.ESTIMATED, 60),
    ],
    ids=["instance ended", "instance running", "schedule not over", "nothing known", "ended before the join"],
)
def test_a_join_without_a_leave_closes_on_the_best_grounds_known(
    events: list[domain.ZoomEvent], now: int, closed: domain.Closed, closes_at: int
) -> None:
    assert domain.close_open_join(at(10), "u1", bounds_of(*events), SCHEDULE, at(now)) == (at(closes_at), closed)


def test_an_open_join_still_present_has_no_last_leave_and_an_estimated_one_is_marked() -> None:
    cy = p("Cy", "3")
    [channel] = domain.channels([joined(10, cy)])
    running = domain.channel_presence(channel, bounds_of(ev(domain.MEETING_STARTED, 0)), SCHEDULE, now=at(30))
    assert running.present_now and running.last_leave is None and not running.estimated
    unknown = domain.channel_presence(channel, bounds_of(), SCHEDULE, now=at(200))
    assert unknown.estimated and unknown.last_leave == at(60) and not unknown.present_now


def test_a_persons_channels_add_up() -> None:
    ada_laptop = p("Ada", "1", email="ada@x.edu")
    ada_phone = p("Ada", "2", email="ada@x.edu")
    person_channels = domain.channels([joined(0, ada_laptop), left(20, ada_laptop), joined(10, ada_phone)])
    [presence] = domain.presence_of_people(person_channels, MEETING, SCHEDULE, now=at(200)).values()
    assert presence.intervals == [(at(0), at(20)), (at(10), at(60))]
    assert presence.join_count == 2 and presence.last_leave == at(60)


def test_merged_intervals_count_overlapping_devices_once() -> None:
    merged = domain.merge_intervals([(at(10), at(30)), (at(0), at(15)), (at(30), at(40)), (at(50), at(50))])
    assert merged == [(at(0), at(40))]
    assert domain.seconds_within(merged, at(20), at(60)) == 20 * 60


# ---- status ------------------------------------------------------------------------------------

WINDOW = domain.Window(at(0), at(60))


def test_time_before_the_meeting_started_is_not_attended() -> None:
    early = domain.Presence(intervals=[(at(-10), at(20)), (at(-20), at(-5))])
    started_at_0 = bounds_of(ev(domain.MEETING_STARTED, 0))
    assert domain.attended_intervals([early], started_at_0) == [(at(0), at(20))]


def test_the_share_is_capped_at_one_and_is_zero_for_an_empty_window() -> None:
    assert domain.attended_share([(at(-30), at(90))], WINDOW) == 1.0
    assert domain.attended_share([(at(0), at(30))], WINDOW) == 0.5
    assert domain.attended_share([(at(0), at(30))], domain.Window(at(10), at(10))) == 0.0


@pytest.mark.parametrize(
    ("share", "first_join", "status"),
    [
        (1.0, None, domain.Status.ABSENT),
        (0.74, 0, domain.Status.ABSENT),
        (0.75 - 1e-12, 0, domain.Status.PRESENT),
        (0.9, 5, domain.Status.PRESENT),
        (0.9, 5.1, domain.Status.LATE),
    ],
    ids=["never there", "below the share", "the share up to float noise", "within the grace", "after the grace"],
)
def test_status_is_absent_below_the_share_late_after_the_grace_else_present(
    share: float, first_join: float | None, status: domain.Status
) -> None:
    first = at(first_join) if first_join is not None else None
    assert domain.attendance_status(share, first, WINDOW, SCHEDULE) is status


def test_the_display_name_is_the_one_used_most_and_on_a_tie_the_one_joined_with_first() -> None:
    phone, laptop = domain.SeenAs(), domain.SeenAs()
    phone.names.update({"Ada's phone": 1})
    phone.first_seen["Ada's phone"] = at(1)
    laptop.names.update({"Ada": 1})
    laptop.first_seen["Ada"] = at(5)
    assert domain.display_name([phone, laptop]) == "Ada's phone"
    laptop.names.update({"Ada": 1})
    assert domain.display_name([phone, laptop]) == "Ada"
    assert domain.display_name([domain.SeenAs()]) == ""


def test_a_matched_attendee_shows_the_rosters_name_and_email() -> None:
    member = domain.RosterMember("u1", "Rae Registered", "rae@x.edu")
    seen = domain.SeenAs(registrant_ids={"R1"})
    seen.names["rae's ipad"] += 1
    attendee = domain.Attendee(["p1"], domain.Match(member, domain.MatchedBy.REGISTRANT))
    presence = domain.Presence(intervals=[(at(0), at(60))], join_count=1, last_leave=at(60))
    row = domain.attendee_row(attendee, {"p1": seen}, {"p1": presence}, MEETING, WINDOW, SCHEDULE)
    assert (row.name, row.email, row.user_id) == ("Rae Registered", "rae@x.edu", "u1")
    assert row.status is domain.Status.PRESENT and row.matched_by is domain.MatchedBy.REGISTRANT
    assert (row.attended_seconds, row.attended_share, row.first_join, row.last_leave) == (3600, 1.0, at(0), at(60))


def test_roster_learners_nobody_matched_are_listed_absent_once() -> None:
    roster = [
        domain.RosterMember("u1", "Ab Sent", "ab@x.edu"),
        domain.RosterMember("u1", "Ab Sent", "ab@x.edu"),
        domain.RosterMember("u2", "Here", ""),
        domain.RosterMember("t1", "Tea Cher", "", is_learner=False),
    ]
    here = domain.Row("Here", "", "u2", at(0), at(60), 3600, 1.0, 1, domain.Status.PRESENT, domain.MatchedBy.NAME)
    [absent] = domain.absent_learner_rows(roster, [here])
    assert (absent.user_id, absent.status, absent.matched_by) == ("u1", domain.Status.ABSENT, domain.MatchedBy.ROSTER)


# ---- summary -----------------------------------------------------------------------------------


def row(name: str, seconds: int, status: domain.Status, *, joins: int = 1, now: bool = False) -> domain.Row:
    shown = domain.Row(name, "", "", None, None, seconds, 0.0, joins, status, domain.MatchedBy.NONE, present_now=now)
    shown.intervals = [(at(0), at(seconds / 60))] if seconds else []
    return shown


def test_rows_are_ordered_by_name_as_people_read_it() -> None:
    report = domain.summarize([row("zoe", 60, domain.Status.ABSENT), row("Émile", 60, domain.Status.ABSENT)], MEETING)
    assert [r.name for r in report.rows] == ["Émile", "zoe"]


def test_participants_and_their_average_count_only_people_who_joined() -> None:
    rows = [
        row("a", 3600, domain.Status.PRESENT),
        row("b", 1200, domain.Status.LATE, now=True),
        row("c", 0, domain.Status.ABSENT, joins=0),
    ]
    report = domain.summarize(rows, MEETING)
    assert (report.participants, report.average_attended_seconds) == (2, 2400)
    assert (report.present_count, report.late_count, report.absent_count, report.live_participants) == (1, 1, 1, 1)
    assert (report.meeting_start, report.meeting_end, report.peak_concurrent) == (at(0), at(60), 2)


def test_the_peak_frees_a_seat_before_it_is_taken_at_the_same_instant() -> None:
    assert domain.peak_concurrent([[(at(0), at(30))], [(at(30), at(60))]]) == 1
    assert domain.peak_concurrent([[(at(0), at(31))], [(at(30), at(60))], []]) == 2
