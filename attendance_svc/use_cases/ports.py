"""What the use cases need from the world, as small interfaces (ports).

The use cases decide; these persist and talk. Production implements them in
:mod:`attendance_svc.store` (the unit of work over PostgreSQL) and
:mod:`attendance_svc.adapters` (Zoom, lti_svc, Redis); the tests implement them with
fakes of a few lines, so every rule of a flow (its access checks, its order of calls,
its clean-up when a step fails) is exercised without a server.

A unit of work is one database transaction: its repositories read and write inside it,
``commit`` makes the writes durable, and leaving it without committing throws them
away. Use cases open one per step (``async with uow() as work``) and never hold one
across a call to Zoom or lti_svc, so no connection waits on the network.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from types import TracebackType
from typing import Protocol

from attendance_svc import domain
from service_kit.paging import Cursor


class StoreFailed(Exception):
    """The store did not take a write (the database refused it or could not be reached).

    A unit of work raises it in place of its driver's errors, so a use case can clean up
    after a failed write (a Zoom meeting made for a session that was not stored) without
    knowing which database is behind it.
    """


class LiveSessions(Protocol):
    """The live sessions of every organization (each use case filters by the caller's)."""

    async def get(self, session_id: uuid.UUID) -> domain.LiveSession | None: ...

    async def add(self, session: domain.LiveSession) -> None: ...

    async def of_course(
        self, organization_id: str, course_id: str, *, after: Cursor | None, limit: int
    ) -> Sequence[domain.LiveSession]:
        """In (scheduled_start, id) order, after the cursor."""
        ...

    async def replan(self, session_id: uuid.UUID, plan: domain.SessionPlan, *, at: datetime) -> domain.LiveSession:
        """Store a new plan, touching nothing else (a concurrent cancel stays cancelled)."""
        ...

    async def cancel(self, session_id: uuid.UUID, *, at: datetime) -> None: ...

    async def meeting_state(self, meeting_id: str) -> domain.MeetingState:
        """What the stored events say of the meeting: its first start and last end."""
        ...


class JoinLinks(Protocol):
    async def get(self, session_id: uuid.UUID, user_id: str) -> domain.JoinLink | None: ...

    async def add(self, link: domain.JoinLink) -> domain.JoinLink:
        """Store the link, or return the one a concurrent call stored first (one registrant per learner)."""
        ...

    async def registrants(self, session_id: uuid.UUID) -> dict[str, str]:
        """Registrant id to LMS user id, for every link of the session."""
        ...


class MeetingEvents(Protocol):
    async def of_meeting(self, meeting_id: str) -> list[domain.ZoomEvent]:
        """Every stored event of the meeting, all its instances, any order."""
        ...


class UnitOfWork(Protocol):
    @property
    def sessions(self) -> LiveSessions: ...

    @property
    def join_links(self) -> JoinLinks: ...

    @property
    def events(self) -> MeetingEvents: ...

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        """Throw away what was not committed; a driver error leaves as StoreFailed."""
        ...

    async def commit(self) -> None:
        """Make this unit's writes durable; StoreFailed when the store does not take them."""
        ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
"""A fresh unit of work per step: one object cannot serve two transactions at once."""


class Zoom(Protocol):
    """Zoom's meetings API for one organization's Server-to-Server OAuth app."""

    async def create_meeting(
        self, credentials: domain.ZoomCredentials, *, host: str, topic: str, start: datetime, end: datetime
    ) -> domain.ZoomMeeting: ...

    async def update_meeting(
        self, credentials: domain.ZoomCredentials, meeting_id: str, change: domain.MeetingChange
    ) -> None: ...

    async def delete_meeting(self, credentials: domain.ZoomCredentials, meeting_id: str) -> None:
        """A meeting Zoom no longer has counts as deleted."""
        ...

    async def add_registrant(
        self, credentials: domain.ZoomCredentials, meeting_id: str, registrant: domain.Registrant
    ) -> domain.ZoomRegistration: ...


class Lti(Protocol):
    """What attendance asks of lti_svc, as a service of the organization."""

    async def zoom_credentials(self, organization_id: str, config_id: str) -> domain.ZoomCredentials: ...

    async def roster(self, organization_id: str, course_id: str) -> list[domain.RosterMember]:
        """The course's members; empty when the platform offers no roster."""
        ...


class PresenceWatch(Protocol):
    async def next(self, *, wait_seconds: float) -> list[domain.PresenceNotice]: ...

    async def drain(self) -> list[domain.PresenceNotice]: ...


class PresenceFeed(Protocol):
    def watch(self, meeting_id: str) -> AbstractAsyncContextManager[PresenceWatch]:
        """Notices of the meeting's joins, leaves, starts and ends from entry until exit."""
        ...


class EventRecorder(Protocol):
    async def record(self, item: domain.EventToStore) -> bool:
        """Store the event durably before returning; True when it had been stored already."""
        ...


class Reconciliation(Protocol):
    """Zoom's participants report read into the stored events (see :mod:`attendance_svc.reconcile`)."""

    async def reconcile_session(self, session: domain.LiveSession) -> domain.ReconcileOutcome: ...
