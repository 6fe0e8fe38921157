"""Fakes of attendance_svc's ports, so its use cases run in a test without any server.

``FakeStore`` holds the tables as dicts; each ``FakeUnitOfWork`` over it stages its
writes and applies them on ``commit``, or throws them away, as a transaction would.
Setting ``store.refuse_commits`` makes every commit fail the way a database outage
does (``StoreFailed``). Zoom and lti_svc record what they were asked and can be told
to fail once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from types import TracebackType

from attendance_svc import domain, errors
from attendance_svc.use_cases import StoreFailed
from service_kit.auth import SessionClaims
from service_kit.paging import Cursor


def caller(
    *roles: str, user_id: str = "u-staff", organization_id: str = "org1", course_id: str | None = "c1"
) -> SessionClaims:
    return SessionClaims(user_id, organization_id, course_id, frozenset(roles), issued_at=0, expires_at=2**31)


@dataclasses.dataclass
class FakeStore:
    sessions: dict[uuid.UUID, domain.LiveSession] = dataclasses.field(default_factory=dict)
    join_links: dict[tuple[uuid.UUID, str], domain.JoinLink] = dataclasses.field(default_factory=dict)
    events: dict[str, list[domain.ZoomEvent]] = dataclasses.field(default_factory=dict)
    meeting_states: dict[str, domain.MeetingState] = dataclasses.field(default_factory=dict)
    refuse_commits: bool = False
    commits: int = 0
    units_opened: int = 0

    def units(self) -> Callable[[], FakeUnitOfWork]:
        return lambda: FakeUnitOfWork(self)


class _Sessions:
    def __init__(self, work: FakeUnitOfWork) -> None:
        self._work = work
        self._store = work.store

    async def get(self, session_id: uuid.UUID) -> domain.LiveSession | None:
        return self._store.sessions.get(session_id)

    async def add(self, session: domain.LiveSession) -> None:
        self._work.stage(lambda: self._store.sessions.__setitem__(session.id, session))

    async def of_course(
        self, organization_id: str, course_id: str, *, after: Cursor | None, limit: int
    ) -> list[domain.LiveSession]:
        listed = sorted(
            (
                s
                for s in self._store.sessions.values()
                if (s.organization_id, s.course_id) == (organization_id, course_id)
            ),
            key=lambda s: (s.scheduled_start, s.id),
        )
        return [s for s in listed if after is None or (s.scheduled_start, s.id) > after][:limit]

    async def replan(self, session_id: uuid.UUID, plan: domain.SessionPlan, *, at: datetime) -> domain.LiveSession:
        updated = dataclasses.replace(self._store.sessions[session_id], **dataclasses.asdict(plan), updated_at=at)
        self._work.stage(lambda: self._store.sessions.__setitem__(session_id, updated))
        return updated

    async def cancel(self, session_id: uuid.UUID, *, at: datetime) -> None:
        cancelled = dataclasses.replace(self._store.sessions[session_id], cancelled=True, updated_at=at)
        self._work.stage(lambda: self._store.sessions.__setitem__(session_id, cancelled))

    async def meeting_state(self, meeting_id: str) -> domain.MeetingState:
        return self._store.meeting_states.get(meeting_id, domain.NOT_STARTED)


class _JoinLinks:
    def __init__(self, work: FakeUnitOfWork) -> None:
        self._work = work
        self._store = work.store

    async def get(self, session_id: uuid.UUID, user_id: str) -> domain.JoinLink | None:
        return self._store.join_links.get((session_id, user_id))

    async def add(self, link: domain.JoinLink) -> domain.JoinLink:
        key = (link.session_id, link.user_id)
        self._work.stage(lambda: self._store.join_links.setdefault(key, link))
        return self._store.join_links.get(key, link)

    async def registrants(self, session_id: uuid.UUID) -> dict[str, str]:
        return {
            link.registrant_id: link.user_id for (sid, _), link in self._store.join_links.items() if sid == session_id
        }


class _Events:
    def __init__(self, work: FakeUnitOfWork) -> None:
        self._store = work.store

    async def of_meeting(self, meeting_id: str) -> list[domain.ZoomEvent]:
        return list(self._store.events.get(meeting_id, []))


class FakeUnitOfWork:
    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self._staged: list[Callable[[], object]] = []
        self.sessions = _Sessions(self)
        self.join_links = _JoinLinks(self)
        self.events = _Events(self)

    def stage(self, write: Callable[[], object]) -> None:
        self._staged.append(write)

    async def __aenter__(self) -> FakeUnitOfWork:
        self.store.units_opened += 1
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._staged.clear()

    async def commit(self) -> None:
        if self.store.refuse_commits:
            raise StoreFailed("the fake store refuses writes")
        for write in self._staged:
            write()
        self._staged.clear()
        self.store.commits += 1


class FakeZoom:
    """Zoom's meetings API in memory: what was created, changed, deleted and registered."""

    def __init__(self) -> None:
        self.meetings: dict[str, str] = {}
        """Meeting id to topic, for the meetings Zoom has now."""
        self.changes: list[tuple[str, domain.MeetingChange]] = []
        self.deleted: list[str] = []
        self.registrants: list[tuple[str, domain.Registrant]] = []
        self.fail_create: errors.AttendanceError | None = None
        self.fail_update: errors.AttendanceError | None = None
        self.fail_delete: errors.AttendanceError | None = None
        self._ids = itertools.count(85000000001)

    async def create_meeting(
        self, credentials: domain.ZoomCredentials, *, host: str, topic: str, start: datetime, end: datetime
    ) -> domain.ZoomMeeting:
        if self.fail_create is not None:
            raise self.fail_create
        meeting_id = str(next(self._ids))
        self.meetings[meeting_id] = topic
        return domain.ZoomMeeting(
            meeting_id, f"uuid-{meeting_id}==", f"https://zoom.test/j/{meeting_id}", f"https://zoom.test/s/{meeting_id}"
        )

    async def update_meeting(
        self, credentials: domain.ZoomCredentials, meeting_id: str, change: domain.MeetingChange
    ) -> None:
        if self.fail_update is not None:
            raise self.fail_update
        self.changes.append((meeting_id, change))

    async def delete_meeting(self, credentials: domain.ZoomCredentials, meeting_id: str) -> None:
        if self.fail_delete is not None:
            raise self.fail_delete
        self.meetings.pop(meeting_id, None)
        self.deleted.append(meeting_id)

    async def add_registrant(
        self, credentials: domain.ZoomCredentials, meeting_id: str, registrant: domain.Registrant
    ) -> domain.ZoomRegistration:
        self.registrants.append((meeting_id, registrant))
        number = len(self.registrants)
        return domain.ZoomRegistration(f"R{number}", f"https://zoom.test/w/{meeting_id}?tk=R{number}")


class FakeLti:
    """lti_svc's answers: one registration ('cfg1' of org1) and each course's roster."""

    CREDENTIALS = domain.ZoomCredentials("acct", "client", "secret")

    def __init__(self, rosters: dict[str, list[domain.RosterMember]] | None = None) -> None:
        self.rosters = rosters or {}
        self.credential_requests: list[tuple[str, str]] = []

    async def zoom_credentials(self, organization_id: str, config_id: str) -> domain.ZoomCredentials:
        self.credential_requests.append((organization_id, config_id))
        if (organization_id, config_id) != ("org1", "cfg1"):
            raise errors.LtiRefused(f"reading the Zoom credentials: no such LTI registration: {config_id}")
        return self.CREDENTIALS

    async def roster(self, organization_id: str, course_id: str) -> list[domain.RosterMember]:
        return list(self.rosters.get(course_id, []))


class FakeWatch:
    def __init__(self, batches: list[list[domain.PresenceNotice]]) -> None:
        self._batches = batches

    async def next(self, *, wait_seconds: float) -> list[domain.PresenceNotice]:
        return self._batches.pop(0) if self._batches else []

    async def drain(self) -> list[domain.PresenceNotice]:
        return []


class FakeFeed:
    """Hands each watcher the batches of notices queued here, then silence."""

    def __init__(self) -> None:
        self.batches: list[list[domain.PresenceNotice]] = []
        self.watching: list[str] = []
        self.closed: list[str] = []

    @contextlib.asynccontextmanager
    async def watch(self, meeting_id: str) -> AsyncIterator[FakeWatch]:
        self.watching.append(meeting_id)
        try:
            yield FakeWatch(self.batches)
        finally:
            self.closed.append(meeting_id)


class FakeReconciliation:
    def __init__(self, outcome: domain.ReconcileOutcome) -> None:
        self.outcome = outcome
        self.reconciled: list[uuid.UUID] = []

    async def reconcile_session(self, session: domain.LiveSession) -> domain.ReconcileOutcome:
        self.reconciled.append(session.id)
        return self.outcome


class FakeRecorder:
    def __init__(self) -> None:
        self.keys: set[str] = set()

    async def record(self, item: domain.EventToStore) -> bool:
        duplicate = item.key in self.keys
        self.keys.add(item.key)
        return duplicate


def stored_session(store: FakeStore, start: datetime, end: datetime, **fields: object) -> domain.LiveSession:
    """A session already scheduled (its meeting 'm-…'), put straight into the store."""
    session_id = uuid.uuid4()
    values: dict[str, object] = {
        "id": session_id,
        "organization_id": "org1",
        "course_id": "c1",
        "lti_config_id": "cfg1",
        "session_name": "Lecture",
        "scheduled_start": start,
        "scheduled_end": end,
        "zoom_host_id": "host@x.edu",
        "zoom_meeting_id": f"m-{session_id.hex[:8]}",
        "zoom_meeting_uuid": "",
        "join_url": "https://zoom.test/j/1",
        "start_url": "https://zoom.test/s/1",
        "cancelled": False,
        "min_attendance_share": 0.75,
        "late_grace_minutes": 5,
        "created_by": "u-staff",
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
    }
    values.update(fields)
    session = domain.LiveSession(**values)  # type: ignore[arg-type]
    store.sessions[session.id] = session
    return session


def rows_named(rows: Sequence[domain.Row]) -> list[str]:
    return [row.name for row in rows]
