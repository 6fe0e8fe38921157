"""Live sessions: schedule, read, list, change and cancel them, and register learners.

Each method is one RPC's decisions, in the order a caller can observe them: who may
(another organization's session first answers as missing), what the request may ask,
then Zoom and the store. The servicer only turns protos into these calls and back.

Sessions never half-exist: the Zoom meeting is created first and the row written
after; if the row cannot be written, the meeting is deleted again. When Zoom cannot
create the meeting, nothing is written.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from attendance_svc import domain, errors
from attendance_svc.use_cases.ports import Lti, StoreFailed, UnitOfWorkFactory, Zoom
from service_kit import paging
from service_kit.auth import SessionClaims

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class NewLiveSession:
    """A session to schedule, as the request gives it (zero values where it gives none)."""

    course_id: str
    session_name: str
    scheduled_start: datetime | None
    scheduled_end: datetime | None
    zoom_host_id: str
    lti_config_id: str
    min_attendance_share: float
    late_grace_minutes: int


@dataclass(frozen=True)
class SessionView:
    """A session as one caller sees it: the host's start URL is for staff only."""

    session: domain.LiveSession
    state: domain.MeetingState
    staff: bool

    @property
    def status(self) -> domain.SessionStatus:
        return domain.session_status(
            cancelled=self.session.cancelled, started=self.state.started_at is not None, ended=self.state.ended
        )


@dataclass(frozen=True)
class SessionPage:
    views: list[SessionView]
    next_page_token: str


class LiveSessions:
    """The live-session use cases over their ports; one per process, shared by every RPC."""

    def __init__(self, *, uow: UnitOfWorkFactory, zoom: Zoom, lti: Lti, clock: Callable[[], float] = time.time) -> None:
        self._uow = uow
        self._zoom = zoom
        self._lti = lti
        self._clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def owned(self, caller: SessionClaims, session_id: str) -> domain.LiveSession:
        """The session if it is the caller's organization's; any other answers exactly like a missing one."""
        parsed = domain.session_id_of(session_id)
        async with self._uow() as work:
            session = await work.sessions.get(parsed) if parsed else None
        if session is None or session.organization_id != caller.organization_id:
            raise errors.SessionNotFound("no such live session: check the session_id")
        return session

    async def _credentials(self, organization_id: str, config_id: str) -> domain.ZoomCredentials:
        """The registration's Zoom app; lti_svc refusing the config is the request's fault, named by its field."""
        try:
            return await self._lti.zoom_credentials(organization_id, config_id)
        except errors.LtiRefused as exc:
            raise errors.InvalidSession(f"lti_config_id: {exc.message.split(': ', 1)[-1]}", violations=()) from None

    async def create(self, caller: SessionClaims, new: NewLiveSession) -> domain.LiveSession:
        course_id = new.course_id or caller.course_id or ""
        if not course_id:
            raise errors.InvalidSession("course_id is required when the session is not for a course")
        domain.require_staff(caller, course_id)
        share = new.min_attendance_share or domain.DEFAULT_MIN_SHARE
        grace = new.late_grace_minutes or domain.DEFAULT_GRACE_MINUTES
        domain.validate_session(
            session_name=new.session_name,
            scheduled_start=new.scheduled_start,
            scheduled_end=new.scheduled_end,
            zoom_host_id=new.zoom_host_id,
            lti_config_id=new.lti_config_id,
            min_attendance_share=share,
            late_grace_minutes=grace,
        )
        assert new.scheduled_start is not None and new.scheduled_end is not None
        credentials = await self._credentials(caller.organization_id, new.lti_config_id)
        meeting = await self._zoom.create_meeting(
            credentials,
            host=new.zoom_host_id,
            topic=new.session_name,
            start=new.scheduled_start,
            end=new.scheduled_end,
        )
        now = self._now()
        session = domain.LiveSession(
            id=uuid.uuid4(),
            organization_id=caller.organization_id,
            course_id=course_id,
            lti_config_id=new.lti_config_id,
            session_name=new.session_name,
            scheduled_start=new.scheduled_start,
            scheduled_end=new.scheduled_end,
            zoom_host_id=new.zoom_host_id,
            zoom_meeting_id=meeting.meeting_id,
            zoom_meeting_uuid=meeting.meeting_uuid,
            join_url=meeting.join_url,
            start_url=meeting.start_url,
            cancelled=False,
            min_attendance_share=share,
            late_grace_minutes=grace,
            created_by=caller.user_id,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self._uow() as work:
                await work.sessions.add(session)
                await work.commit()
        except StoreFailed:
            log.exception("session not stored: deleting its Zoom meeting again")
            # Best effort: a meeting Zoom keeps is an orphan in the host's list, not a session here.
            with contextlib.suppress(errors.AttendanceError):
                await self._zoom.delete_meeting(credentials, meeting.meeting_id)
            raise errors.StoreUnavailable("the session could not be stored; nothing was scheduled: try again") from None
        log.info("live session created", extra={"session_id": str(session.id), "meeting_id": meeting.meeting_id})
        return session

    async def get(self, caller: SessionClaims, session_id: str) -> SessionView:
        session = await self.owned(caller, session_id)
        domain.require_member(caller, session.course_id)
        async with self._uow() as work:
            state = await work.sessions.meeting_state(session.zoom_meeting_id)
        return SessionView(session, state, staff=domain.is_staff(caller, session.course_id))

    async def of_course(self, caller: SessionClaims, course_id: str, page_size: int, page_token: str) -> SessionPage:
        """A course's sessions by scheduled start, a page at a time (members only)."""
        course_id = course_id or caller.course_id or ""
        if not course_id:
            raise errors.InvalidSession("course_id is required when your session is not for a course")
        domain.require_member(caller, course_id)
        if page_size < 0:
            raise errors.InvalidSession("page_size must not be negative")
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        after = paging.decode_cursor(page_token, invalid=errors.InvalidPageToken)
        staff = domain.is_staff(caller, course_id)
        async with self._uow() as work:
            rows = await work.sessions.of_course(caller.organization_id, course_id, after=after, limit=size + 1)
            page, next_token = paging.keyset_page(rows, size, lambda s: (s.scheduled_start, s.id))
            views = [SessionView(s, await work.sessions.meeting_state(s.zoom_meeting_id), staff) for s in page]
        return SessionPage(views, next_token)

    async def update(
        self,
        caller: SessionClaims,
        session_id: str,
        given: domain.SessionPlan,
        *,
        mask: Sequence[str],
        present: Collection[str],
    ) -> SessionView:
        """Change the plan's named fields (or, without a mask, those given); Zoom first, then the row.

        ``present`` names the plan fields the request carries, for an update without a mask.
        """
        session = await self.owned(caller, session_id)
        domain.require_staff(caller, session.course_id)
        if session.cancelled:
            raise errors.SessionCancelled("the session was cancelled: schedule a new one")
        paths = domain.fields_to_change(mask, present)
        plan = domain.edited_plan(session.plan, given, paths)
        domain.validate_session(
            session_name=plan.session_name,
            scheduled_start=plan.scheduled_start,
            scheduled_end=plan.scheduled_end,
            zoom_host_id=session.zoom_host_id,
            lti_config_id=session.lti_config_id,
            min_attendance_share=plan.min_attendance_share,
            late_grace_minutes=plan.late_grace_minutes,
        )
        change = domain.meeting_change(session.plan, plan)
        if change is not None:
            credentials = await self._credentials(caller.organization_id, session.lti_config_id)
            await self._zoom.update_meeting(credentials, session.zoom_meeting_id, change)
        async with self._uow() as work:
            stored = await work.sessions.replan(session.id, plan, at=self._now())
            await work.commit()
        async with self._uow() as work:
            state = await work.sessions.meeting_state(stored.zoom_meeting_id)
        return SessionView(stored, state, staff=True)

    async def cancel(self, caller: SessionClaims, session_id: str) -> None:
        """Delete the Zoom meeting, then mark the session cancelled; cancelling twice does nothing more."""
        session = await self.owned(caller, session_id)
        domain.require_staff(caller, session.course_id)
        if session.cancelled:
            return
        credentials = await self._credentials(caller.organization_id, session.lti_config_id)
        await self._zoom.delete_meeting(credentials, session.zoom_meeting_id)
        async with self._uow() as work:
            await work.sessions.cancel(session.id, at=self._now())
            await work.commit()
        log.info("live session cancelled", extra={"session_id": str(session.id)})

    async def join_link(self, caller: SessionClaims, session_id: str, user_id: str) -> domain.JoinLink:
        """The learner's personal link: registered with Zoom once, the same link every time after."""
        session = await self.owned(caller, session_id)
        domain.require_member(caller, session.course_id)
        user_id = user_id or caller.user_id
        domain.require_may_register(caller, session.course_id, user_id)
        if session.cancelled:
            raise errors.SessionCancelled("the session was cancelled: there is no meeting to join")
        async with self._uow() as work:
            existing = await work.join_links.get(session.id, user_id)
        if existing is not None:
            return existing
        roster = await self._lti.roster(session.organization_id, session.course_id)
        registrant = domain.registrant_for(user_id, roster, session.organization_id)
        credentials = await self._credentials(session.organization_id, session.lti_config_id)
        registration = await self._zoom.add_registrant(credentials, session.zoom_meeting_id, registrant)
        link = domain.JoinLink(
            session_id=session.id,
            user_id=user_id,
            registrant_id=registration.registrant_id,
            join_url=registration.join_url,
            created_at=self._now(),
        )
        async with self._uow() as work:
            stored = await work.join_links.add(link)
            await work.commit()
        return stored
