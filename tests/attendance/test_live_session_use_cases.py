"""Live-session use cases against fakes of the store, Zoom and lti_svc: no server, no database.

The clean-up paths live here: a session whose row cannot be stored has its Zoom meeting
deleted again, and a meeting Zoom cannot create leaves nothing stored.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from attendance_svc import domain, errors
from attendance_svc.use_cases import LiveSessions, NewLiveSession
from tests.attendance.fakes import FakeLti, FakeStore, FakeZoom, caller, stored_session

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
NOW = T0 - timedelta(days=1)
STAFF = caller("Instructor")
LEARNER = caller("Learner", user_id="u-ada")
OTHER_ORG = caller("Instructor", organization_id="org2")


def new_session(**fields: object) -> NewLiveSession:
    values: dict[str, object] = {
        "course_id": "",
        "session_name": "Week 1",
        "scheduled_start": T0,
        "scheduled_end": T0 + timedelta(minutes=90),
        "zoom_host_id": "host@x.edu",
        "lti_config_id": "cfg1",
        "min_attendance_share": 0.0,
        "late_grace_minutes": 0,
    }
    values.update(fields)
    return NewLiveSession(**values)  # type: ignore[arg-type]


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def zoom() -> FakeZoom:
    return FakeZoom()


@pytest.fixture
def lti() -> FakeLti:
    return FakeLti({"c1": [domain.RosterMember("u-ada", "Ada Lovelace", "ada@x.edu")]})


@pytest.fixture
def sessions(store: FakeStore, zoom: FakeZoom, lti: FakeLti) -> LiveSessions:
    return LiveSessions(uow=store.units(), zoom=zoom, lti=lti, clock=NOW.timestamp)


def plan(session: domain.LiveSession, **changes: Any) -> domain.SessionPlan:
    return dataclasses.replace(session.plan, **changes)


# ---- scheduling, and its clean-up --------------------------------------------------------------


async def test_scheduling_creates_the_zoom_meeting_then_stores_the_session_with_its_links(
    sessions: LiveSessions, store: FakeStore, zoom: FakeZoom
) -> None:
    session = await sessions.create(STAFF, new_session())
    assert zoom.meetings == {session.zoom_meeting_id: "Week 1"}
    assert store.sessions == {session.id: session} and store.commits == 1
    assert (session.course_id, session.created_by, session.created_at) == ("c1", "u-staff", NOW)
    assert session.join_url.startswith("https://zoom.test/j/") and session.start_url.startswith("https://zoom.test/s/")
    assert (session.min_attendance_share, session.late_grace_minutes) == (0.75, 5)


async def test_when_the_session_cannot_be_stored_its_zoom_meeting_is_deleted_again(
    sessions: LiveSessions, store: FakeStore, zoom: FakeZoom
) -> None:
    store.refuse_commits = True
    with pytest.raises(errors.StoreUnavailable) as raised:
        await sessions.create(STAFF, new_session())
    assert raised.value.message == "the session could not be stored; nothing was scheduled: try again"
    assert store.sessions == {} and zoom.meetings == {}
    assert len(zoom.deleted) == 1


async def test_when_deleting_that_meeting_fails_too_the_caller_still_hears_nothing_was_scheduled(
    sessions: LiveSessions, store: FakeStore, zoom: FakeZoom
) -> None:
    store.refuse_commits = True
    zoom.fail_delete = errors.ZoomUnavailable("Zoom answered 503 (deleting the meeting): try again later")
    with pytest.raises(errors.StoreUnavailable):
        await sessions.create(STAFF, new_session())
    assert store.sessions == {} and len(zoom.meetings) == 1


async def test_when_zoom_cannot_create_the_meeting_nothing_is_stored(
    sessions: LiveSessions, store: FakeStore, zoom: FakeZoom
) -> None:
    zoom.fail_create = errors.ZoomRefused("Zoom refused creating the meeting (404): User does not exist")
    with pytest.raises(errors.ZoomRefused):
        await sessions.create(STAFF, new_session())
    assert store.sessions == {} and store.units_opened == 0 and zoom.deleted == []


async def test_an_invalid_session_is_refused_before_lti_svc_or_zoom_is_asked(
    sessions: LiveSessions, zoom: FakeZoom, lti: FakeLti
) -> None:
    with pytest.raises(errors.InvalidSession) as raised:
        await sessions.create(STAFF, new_session(scheduled_end=T0 - timedelta(minutes=1), zoom_host_id=" "))
    assert [v.field for v in raised.value.violations] == ["scheduled_end", "zoom_host_id"]
    assert lti.credential_requests == [] and zoom.meetings == {}


async def test_a_learner_cannot_schedule_and_nothing_is_asked_of_zoom(sessions: LiveSessions, zoom: FakeZoom) -> None:
    with pytest.raises(errors.NotCourseStaff):
        await sessions.create(LEARNER, new_session())
    assert zoom.meetings == {}


async def test_a_session_outside_any_course_must_name_its_course(sessions: LiveSessions) -> None:
    with pytest.raises(errors.InvalidSession, match="course_id is required"):
        await sessions.create(caller("Administrator", course_id=None), new_session())


async def test_a_registration_lti_svc_does_not_know_is_refused_naming_lti_config_id(
    sessions: LiveSessions, zoom: FakeZoom
) -> None:
    with pytest.raises(errors.InvalidSession) as raised:
        await sessions.create(STAFF, new_session(lti_config_id="cfg-unknown"))
    assert raised.value.message == "lti_config_id: no such LTI registration: cfg-unknown"
    assert zoom.meetings == {}


# ---- reading and listing -----------------------------------------------------------------------


async def test_another_organizations_session_answers_exactly_like_a_missing_one(
    sessions: LiveSessions, store: FakeStore
) -> None:
    session = stored_session(store, T0, T0 + timedelta(hours=1))
    for session_id in (str(session.id), "not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        with pytest.raises(errors.SessionNotFound, match="no such live session: check the session_id"):
            await sessions.get(OTHER_ORG, session_id)


async def test_a_member_reads_a_session_as_a_learner_and_staff_as_staff(
    sessions: LiveSessions, store: FakeStore
) -> None:
    session = stored_session(store, T0, T0 + timedelta(hours=1))
    store.meeting_states[session.zoom_meeting_id] = domain.MeetingState(T0, None, False)
    as_learner = await sessions.get(LEARNER, str(session.id))
    assert not as_learner.staff and as_learner.status is domain.SessionStatus.LIVE
    assert (await sessions.get(STAFF, str(session.id))).staff
    with pytest.raises(errors.NotCourseMember):
        await sessions.get(caller("Learner", course_id="c2"), str(session.id))


async def test_a_course_is_listed_in_scheduled_order_a_page_at_a_time(sessions: LiveSessions, store: FakeStore) -> None:
    starts = [T0 + timedelta(days=d) for d in (2, 0, 1)]
    for start in starts:
        stored_session(store, start, start + timedelta(hours=1))
    stored_session(store, T0, T0 + timedelta(hours=1), course_id="c2")
    first = await sessions.of_course(LEARNER, "", 2, "")
    assert [v.session.scheduled_start for v in first.views] == sorted(starts)[:2] and first.next_page_token
    rest = await sessions.of_course(LEARNER, "c1", 2, first.next_page_token)
    assert [v.session.scheduled_start for v in rest.views] == sorted(starts)[2:] and rest.next_page_token == ""


async def test_a_listing_refuses_a_negative_page_size_and_a_token_it_did_not_issue(sessions: LiveSessions) -> None:
    with pytest.raises(errors.InvalidSession, match="page_size must not be negative"):
        await sessions.of_course(LEARNER, "c1", -1, "")
    with pytest.raises(errors.InvalidPageToken):
        await sessions.of_course(LEARNER, "c1", 10, "bogus")


# ---- changing and cancelling -------------------------------------------------------------------


async def test_renaming_and_moving_tells_zoom_then_stores_the_new_plan(
    sessions: LiveSessions, store: FakeStore, zoom: FakeZoom
) -> None:
    session = stored_session(store, T0, T0 + timedelta(hours=1))
    moved = T0 + timedelta(minutes=30)
    given = plan(session, session_name="Week 1 (moved)", scheduled_start=moved, scheduled_end=T0 + timedelta(days=9))
    view = await sessions.update(STAFF, str(session.id), given, mask=[], present={"session_name", "scheduled_start"})
    assert zoom.changes == [
        (session.zoom_meeting_id, domain.MeetingChange("Week 1 (moved)", (moved, T0 + timedelta(hours=1))))
    ]
    assert view.session == store.sessions[session.id] and view.session.updated_at == NOW
    assert (view.session.session_name, view.session.scheduled_start) == ("Week 1 (moved)", moved)
    assert view.session.scheduled_end == T0 + timedelta(hours=1), "not given, not masked: unchanged"


async def test_changing_only_the_thresholds_asks_nothing_of_zoom(
    sessions: LiveSessions, store: FakeStore, zoom: FakeZoom
) -> None:
    session = stored_session(store, T0, T0 + timedelta(hours=1))
    given = plan(session, min_attendance_share=0.5, late_grace_minutes=10)
    view = await sessions.update(STAFF, str(session.id), given, mask=["min_attendance_share"], present=set())
    assert zoom.changes == [] and (view.session.min_attendance_share, view.session.late_grace_minutes) == (0.5, 5)


async def test_an_update_naming_a_field_outside_the_plan_changes_nothing(
    sessions: LiveSessions, store: FakeStore, zoom: FakeZoom
) -> None:
    session = stored_session(store, T0, T0 + timedelta(hours=1))
    with pytest.raises(errors.InvalidSession, match="update_mask: zoom_host_id cannot be changed"):
        await sessions.update(STAFF, str(session.id), session.plan, mask=["zoom_host_id"], present=set())
    with pytest.raises(errors.InvalidSession, match="nothing to change"):
        await sessions.update(STAFF, str(session.id), session.plan, mask=[], present=set())
    assert zoom.changes == [] and store.commits == 0


async def test_when_zoom_refuses_the_new_times_the_stored_plan_stays_as_it_was(
    sessions: LiveSessions, store: FakeStore, zoom: FakeZoom
) -> None:
    session = stored_session(store, T0, T0 + timedelta(hours=1))
    zoom.fail_update = errors.ZoomRefused("Zoom refused updating the meeting (404): Meeting does not exist")
    later = plan(session, scheduled_start=T0 + timedelta(days=1), scheduled_end=T0 + timedelta(days=1, hours=1))
    with pytest.raises(errors.ZoomRefused):
        await sessions.update(STAFF, str(session.id), later, mask=["scheduled_start", "scheduled_end"], present=set())
    assert store.sessions[session.id] == session


async def test_a_cancelled_session_cannot_be_changed(sessions: LiveSessions, store: FakeStore) -> None:
    session = stored_session(store, T0, T0 + timedelta(hours=1), cancelled=True)
    with pytest.raises(errors.SessionCancelled):
        await sessions.update(STAFF, str(session.id), session.plan, mask=["session_name"], present=set())


async def test_cancelling_deletes_the_meeting_then_marks_the_session_and_a_second_cancel_does_nothing(
    sessions: LiveSessions, store: FakeStore, zoom: FakeZoom
) -> None:
    session = stored_session(store, T0, T0 + timedelta(hours=1))
    await sessions.cancel(STAFF, str(session.id))
    await sessions.cancel(STAFF, str(session.id))
    assert zoom.deleted == [session.zoom_meeting_id]
    assert store.sessions[session.id].cancelled and store.sessions[session.id].updated_at == NOW


async def test_when_zoom_cannot_delete_the_meeting_the_session_stays_scheduled(
    sessions: LiveSessions, store: FakeStore, zoom: FakeZoom
) -> None:
    session = stored_session(store, T0, T0 + timedelta(hours=1))
    zoom.fail_delete = errors.ZoomUnavailable("Zoom did not answer (deleting the meeting): TimeoutError")
    with pytest.raises(errors.ZoomUnavailable):
        await sessions.cancel(STAFF, str(session.id))
    assert not store.sessions[session.id].cancelled


async def test_only_staff_cancel(sessions: LiveSessions, store: FakeStore, zoom: FakeZoom) -> None:
    session = stored_session(store, T0, T0 + timedelta(hours=1))
    with pytest.raises(errors.NotCourseStaff):
        await sessions.cancel(LEARNER, str(session.id))
    assert zoom.deleted == []


# ---- join links --------------------------------------------------------------------------------


async def test_a_learner_is_registered_with_zoom_once_and_gets_the_same_link_after(
    sessions: LiveSessions, store: FakeStore, zoom: FakeZoom
) -> None:
    session = stored_session(store, T0, T0 + timedelta(hours=1))
    first = await sessions.join_link(LEARNER, str(session.id), "")
    again = await sessions.join_link(LEARNER, str(session.id), "u-ada")
    assert first == again and first.user_id == "u-ada" and first.created_at == NOW
    assert zoom.registrants == [(session.zoom_meeting_id, domain.Registrant("ada@x.edu", "Ada", "Lovelace"))]


async def test_a_learner_may_not_register_someone_else_but_staff_may(
    sessions: LiveSessions, store: FakeStore, zoom: FakeZoom
) -> None:
    session = stored_session(store, T0, T0 + timedelta(hours=1))
    with pytest.raises(errors.NotCourseStaff):
        await sessions.join_link(LEARNER, str(session.id), "u-bo")
    link = await sessions.join_link(STAFF, str(session.id), "u-bo")
    assert link.user_id == "u-bo"
    [(_, registrant)] = zoom.registrants
    assert registrant.first_name == "u-bo" and registrant.email.endswith("@registrants.invalid")


async def test_a_cancelled_session_has_no_meeting_to_join(sessions: LiveSessions, store: FakeStore) -> None:
    session = stored_session(store, T0, T0 + timedelta(hours=1), cancelled=True)
    with pytest.raises(errors.SessionCancelled):
        await sessions.join_link(LEARNER, str(session.id), "")
