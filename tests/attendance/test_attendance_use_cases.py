"""Attendance and webhook use cases against fakes: the report, exports, the live view, reconciliation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from attendance_svc import domain, errors
from attendance_svc.use_cases import Attendance, LiveSessions, ZoomWebhooks
from tests.attendance.fakes import (
    FakeFeed,
    FakeLti,
    FakeReconciliation,
    FakeRecorder,
    FakeStore,
    FakeZoom,
    caller,
    rows_named,
    stored_session,
)

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
AFTER = T0 + timedelta(hours=3)
STAFF = caller("Instructor")
LEARNER = caller("Learner", user_id="u-ada")
ROSTER = [domain.RosterMember("u-ada", "Ada Lovelace", "ada@x.edu"), domain.RosterMember("u-bo", "Bo Brown", "")]


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def event(kind: str, minute: float, meeting_id: str, who: domain.ParticipantIds | None = None) -> domain.ZoomEvent:
    return domain.ZoomEvent(kind, meeting_id, "u1", at(minute), who)


class Setup:
    def __init__(self, now: datetime = AFTER) -> None:
        self.store = FakeStore()
        self.feed = FakeFeed()
        self.reconciliation = FakeReconciliation(domain.ReconcileOutcome(intervals_added=2))
        self.naps: list[float] = []
        lti = FakeLti({"c1": ROSTER})
        sessions = LiveSessions(uow=self.store.units(), zoom=FakeZoom(), lti=lti, clock=now.timestamp)

        async def nap(seconds: float) -> None:
            self.naps.append(seconds)

        self.attendance = Attendance(
            sessions=sessions,
            uow=self.store.units(),
            lti=lti,
            feed=self.feed,
            reconciliation=self.reconciliation,
            watch_interval_seconds=2.0,
            clock=now.timestamp,
            sleep=nap,
        )
        self.session = stored_session(self.store, T0, T0 + timedelta(hours=1))
        self.meeting = self.session.zoom_meeting_id

    def happened(self, *events: tuple[str, float, domain.ParticipantIds | None]) -> None:
        self.store.events.setdefault(self.meeting, []).extend(event(k, m, self.meeting, who) for k, m, who in events)


ADA_BY_LINK = domain.ParticipantIds(connection_id="1", name="ada's ipad", registrant_id="R1")


async def test_the_report_matches_the_stored_events_to_the_roster_by_registrant_id() -> None:
    setup = Setup()
    setup.store.join_links[(setup.session.id, "u-ada")] = domain.JoinLink(setup.session.id, "u-ada", "R1", "j", T0)
    setup.happened(
        (domain.MEETING_STARTED, 0, None),
        (domain.PARTICIPANT_JOINED, 0, ADA_BY_LINK),
        (domain.PARTICIPANT_LEFT, 60, ADA_BY_LINK),
        (domain.MEETING_ENDED, 60, None),
    )
    read = await setup.attendance.report(STAFF, str(setup.session.id))
    assert rows_named(read.report.rows) == ["Ada Lovelace", "Bo Brown"]
    ada, bo = read.report.rows
    assert ada.matched_by is domain.MatchedBy.REGISTRANT and ada.status is domain.Status.PRESENT
    assert bo.matched_by is domain.MatchedBy.ROSTER and bo.status is domain.Status.ABSENT
    assert read.generated_at == AFTER


async def test_attendance_is_for_the_courses_staff_only() -> None:
    setup = Setup()
    with pytest.raises(errors.NotCourseStaff):
        await setup.attendance.report(LEARNER, str(setup.session.id))
    with pytest.raises(errors.SessionNotFound):
        await setup.attendance.report(caller("Instructor", organization_id="org2"), str(setup.session.id))


async def test_an_export_format_other_than_csv_or_json_is_refused_before_anything_is_read() -> None:
    setup = Setup()
    with pytest.raises(errors.InvalidExportFormat, match="format 'xlsx' is not offered"):
        await setup.attendance.export(STAFF, str(setup.session.id), "xlsx")
    assert setup.store.units_opened == 0


async def test_an_export_is_csv_unless_json_is_asked_for_and_named_after_its_session() -> None:
    setup = Setup()
    export = await setup.attendance.export(STAFF, str(setup.session.id), "")
    assert (export.format, export.filename) == ("csv", f"attendance-{setup.session.id}.csv")
    assert (await setup.attendance.export(STAFF, str(setup.session.id), "JSON")).format == "json"


async def test_the_live_view_sends_every_row_then_only_changed_rows_and_the_joins_and_leaves() -> None:
    setup = Setup(now=at(30))
    setup.happened((domain.MEETING_STARTED, 0, None))
    watching = setup.attendance.watch(STAFF, str(setup.session.id))
    first = await anext(watching)
    assert rows_named(first.rows) == ["Ada Lovelace", "Bo Brown"] and first.changes == []
    assert first.status is domain.SessionStatus.LIVE and setup.feed.watching == [setup.meeting]

    bo = domain.ParticipantIds(connection_id="2", name="Bo Brown")
    setup.happened((domain.PARTICIPANT_JOINED, 10, bo))
    notice = domain.PresenceNotice(domain.JOINED, "Bo Brown", "", at(10))
    setup.feed.batches.append([notice, domain.PresenceNotice(domain.MEETING_STARTED)])
    second = await anext(watching)
    assert rows_named(second.rows) == ["Bo Brown"] and second.rows[0].matched_by is domain.MatchedBy.NAME
    assert second.changes == [notice] and second.report.live_participants == 1
    assert setup.naps == [2.0], "a burst of notices is one update, after the watch interval"

    setup.happened((domain.PARTICIPANT_LEFT, 30, bo), (domain.MEETING_ENDED, 30, None))
    setup.feed.batches.append([domain.PresenceNotice(domain.MEETING_ENDED)])
    last = await anext(watching)
    assert last.status is domain.SessionStatus.ENDED and last.changes == []
    with pytest.raises(StopAsyncIteration):
        await anext(watching)
    assert setup.feed.closed == [setup.meeting]


async def test_the_live_view_of_a_cancelled_session_is_one_message() -> None:
    setup = Setup()
    cancelled = stored_session(setup.store, T0, T0 + timedelta(hours=1), cancelled=True)
    updates = [u async for u in setup.attendance.watch(STAFF, str(cancelled.id))]
    assert [u.status for u in updates] == [domain.SessionStatus.CANCELLED]


async def test_reconciling_answers_with_the_report_it_completed() -> None:
    setup = Setup()
    reconciled = await setup.attendance.reconcile(STAFF, str(setup.session.id))
    assert setup.reconciliation.reconciled == [setup.session.id]
    assert reconciled.outcome.intervals_added == 2 and rows_named(reconciled.report.rows) == [
        "Ada Lovelace",
        "Bo Brown",
    ]


# ---- webhooks ----------------------------------------------------------------------------------

SECRET = "whsec"
SENT = 1_772_460_000


def webhooks(recorder: FakeRecorder) -> ZoomWebhooks:
    return ZoomWebhooks(recorder=recorder, secret=SECRET, max_skew_seconds=300, clock=lambda: SENT + 10)


def signed(document: dict[str, object]) -> tuple[bytes, str, str]:
    body = json.dumps(document).encode()
    return body, domain.webhook_signature(SECRET, str(SENT), body), str(SENT)


async def test_a_webhook_is_stored_once_and_its_second_delivery_is_a_duplicate() -> None:
    recorder = FakeRecorder()
    body, signature, timestamp = signed(
        {"event": domain.MEETING_STARTED, "event_ts": SENT * 1000, "payload": {"object": {"id": 1, "uuid": "u=="}}}
    )
    first = await webhooks(recorder).record(body, signature=signature, timestamp=timestamp)
    again = await webhooks(recorder).record(body, signature=signature, timestamp=timestamp)
    assert (first.duplicate, again.duplicate) == (False, True) and len(recorder.keys) == 1


async def test_zoom_validating_the_endpoint_gets_its_token_back_signed_and_nothing_is_stored() -> None:
    recorder = FakeRecorder()
    body, signature, timestamp = signed({"event": domain.URL_VALIDATION, "payload": {"plainToken": "abc"}})
    answer = await webhooks(recorder).record(body, signature=signature, timestamp=timestamp)
    assert (answer.plain_token, answer.encrypted_token) == ("abc", domain.url_validation_token(SECRET, "abc"))
    assert recorder.keys == set()


async def test_a_webhook_signed_with_another_secret_stores_nothing() -> None:
    recorder = FakeRecorder()
    body, _, timestamp = signed({"event": domain.MEETING_STARTED, "payload": {}})
    with pytest.raises(errors.InvalidZoomSignature):
        await webhooks(recorder).record(
            body, signature=domain.webhook_signature("other", timestamp, body), timestamp=timestamp
        )
    assert recorder.keys == set()
