"""The attendance service's tables (schema ``attendance``) and the queries on them.

``live_sessions`` are scheduled lectures, each with the Zoom meeting made for it.
``zoom_events`` hold every webhook notification once, raw, keyed by the idempotency
key of :func:`attendance_svc.domain.event_key` (a unique index, so ``INSERT ... ON
CONFLICT DO NOTHING`` makes duplicates free), with the few facts the report reads
copied into columns so a report never parses JSON. Events learned from Zoom's
participants report land in the same table with ``source = 'report'``.
``join_links`` remember each learner's registrant id and personal join URL: the exact
tie between a Zoom participant and an LMS user. ``reconcile_jobs`` are durable to-dos
for the participants report, paused (``due_at``) when Zoom rate-limits, resumed from
the saved page token, never dropped.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, DateTime, Float, ForeignKey, Index, Integer, Table, Text, Uuid, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from attendance_svc import domain
from attendance_svc.use_cases.ports import StoreFailed
from service_kit.db import DRIVER_ERRORS, SessionUnitOfWork, schema_metadata
from service_kit.db import utcnow as utcnow  # the one clock every store uses
from service_kit.paging import Cursor

metadata = schema_metadata("attendance")


class Base(DeclarativeBase):
    metadata = metadata


class SessionRow(Base):
    """One live session and its Zoom meeting."""

    __tablename__ = "live_sessions"
    __table_args__ = (
        Index("ix_live_sessions_course_listing", "organization_id", "course_id", "scheduled_start", "id"),
        Index("ix_live_sessions_meeting", "zoom_meeting_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[str] = mapped_column(Text)
    course_id: Mapped[str] = mapped_column(Text)
    lti_config_id: Mapped[str] = mapped_column(Text)
    session_name: Mapped[str] = mapped_column(Text)
    scheduled_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    scheduled_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    zoom_host_id: Mapped[str] = mapped_column(Text)
    zoom_meeting_id: Mapped[str] = mapped_column(Text)
    zoom_meeting_uuid: Mapped[str] = mapped_column(Text)
    join_url: Mapped[str] = mapped_column(Text)
    start_url: Mapped[str] = mapped_column(Text)
    cancelled: Mapped[bool] = mapped_column(default=False)
    min_attendance_share: Mapped[float] = mapped_column(Float)
    late_grace_minutes: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class EventRow(Base):
    """One Zoom event, stored once."""

    __tablename__ = "zoom_events"
    __table_args__ = (Index("ix_zoom_events_meeting_time", "meeting_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(Text, unique=True)
    event: Mapped[str] = mapped_column(Text)
    meeting_id: Mapped[str] = mapped_column(Text)
    meeting_uuid: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    event_ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    source: Mapped[str] = mapped_column(Text)
    connection_id: Mapped[str] = mapped_column(Text, default="")
    zoom_user_id: Mapped[str] = mapped_column(Text, default="")
    email: Mapped[str] = mapped_column(Text, default="")
    registrant_id: Mapped[str] = mapped_column(Text, default="")
    participant_name: Mapped[str] = mapped_column(Text, default="")
    has_participant: Mapped[bool] = mapped_column(default=False)
    raw: Mapped[str] = mapped_column(Text)


class JoinLinkRow(Base):
    """A learner's registration with a session's meeting."""

    __tablename__ = "join_links"

    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("attendance.live_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(Text, primary_key=True)
    registrant_id: Mapped[str] = mapped_column(Text)
    join_url: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReconcileJobRow(Base):
    """Reconciliation owed for one meeting instance."""

    __tablename__ = "reconcile_jobs"
    __table_args__ = (Index("ix_reconcile_jobs_due", "done_at", "due_at"),)

    meeting_uuid: Mapped[str] = mapped_column(Text, primary_key=True)
    meeting_id: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_page_token: Mapped[str] = mapped_column(Text, default="")
    last_error: Mapped[str] = mapped_column(Text, default="")
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


EVENTS = Table("zoom_events", metadata)
"""The events table for core statements (the ORM class holds its columns)."""


_SESSION_FIELDS = tuple(field.name for field in dataclasses.fields(domain.LiveSession))


def live_session(row: SessionRow) -> domain.LiveSession:
    return domain.LiveSession(**{name: getattr(row, name) for name in _SESSION_FIELDS})


def _join_link(row: JoinLinkRow) -> domain.JoinLink:
    return domain.JoinLink(row.session_id, row.user_id, row.registrant_id, row.join_url, row.created_at)


def _event_values(item: domain.EventToStore) -> dict[str, object]:
    p = item.participant
    return {
        "key": item.key,
        "event": item.event,
        "meeting_id": item.meeting_id,
        "meeting_uuid": item.meeting_uuid,
        "occurred_at": item.occurred_at,
        "event_ts": item.event_ts,
        "source": item.source,
        "connection_id": p.connection_id if p else "",
        "zoom_user_id": p.zoom_user_id if p else "",
        "email": p.email if p else "",
        "registrant_id": p.registrant_id if p else "",
        "participant_name": p.name if p else "",
        "has_participant": p is not None,
        "raw": item.raw,
    }


async def insert_events(
    session: AsyncSession, items: Sequence[domain.EventToStore], *, reconcile_delay_seconds: int
) -> set[str]:
    """Store events once; return the keys that were new. Ended meetings get a reconcile job.

    One multi-row INSERT for the whole batch; ``ON CONFLICT DO NOTHING`` also absorbs two
    copies of one event inside the same batch.
    """
    if not items:
        return set()
    statement = (
        insert(EVENTS)
        .values([_event_values(item) for item in items])
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(EVENTS.c.key)
    )
    inserted = set((await session.execute(statement)).scalars().all())
    ended = {(i.meeting_uuid, i.meeting_id) for i in items if i.event == domain.MEETING_ENDED and i.key in inserted}
    if ended:
        due = utcnow() + timedelta(seconds=reconcile_delay_seconds)
        await session.execute(
            insert(ReconcileJobRow)
            .values([{"meeting_uuid": u, "meeting_id": m, "due_at": due, "attempts": 0} for u, m in ended if u])
            .on_conflict_do_nothing(index_elements=["meeting_uuid"])
        )
    return inserted


async def meeting_events(session: AsyncSession, meeting_id: str) -> list[domain.ZoomEvent]:
    """Every stored event of a meeting (all its instances), as the report reads them: one query."""
    columns = (
        EVENTS.c.event,
        EVENTS.c.meeting_uuid,
        EVENTS.c.occurred_at,
        EVENTS.c.has_participant,
        EVENTS.c.connection_id,
        EVENTS.c.zoom_user_id,
        EVENTS.c.email,
        EVENTS.c.registrant_id,
        EVENTS.c.participant_name,
    )
    # Plain tuples straight from the driver: the report of a large lecture reads ~10,000 rows.
    result = await session.execute(select(*columns).where(EVENTS.c.meeting_id == meeting_id))
    participant_of = domain.ParticipantIds
    event_of = domain.ZoomEvent
    return [
        event_of(event, meeting_id, meeting_uuid, at, participant_of(conn, user, email, rid, name) if has else None)
        for event, meeting_uuid, at, has, conn, user, email, rid, name in result.tuples()
    ]


async def meeting_state(session: AsyncSession, meeting_id: str) -> domain.MeetingState:
    """When the meeting first started and last ended, and whether every started instance has ended."""
    result = await session.execute(
        select(EVENTS.c.event, EVENTS.c.meeting_uuid, EVENTS.c.occurred_at).where(
            EVENTS.c.meeting_id == meeting_id, EVENTS.c.event.in_([domain.MEETING_STARTED, domain.MEETING_ENDED])
        )
    )
    started: dict[str, datetime] = {}
    ended: dict[str, datetime] = {}
    for event, uuid_, at in result.all():
        target = started if event == domain.MEETING_STARTED else ended
        target[uuid_] = min(at, target.get(uuid_, at)) if target is started else max(at, target.get(uuid_, at))
    first = min(started.values()) if started else None
    last = max(ended.values()) if ended else None
    return domain.MeetingState(first, last, bool(started) and all(u in ended for u in started))


async def meeting_instances(session: AsyncSession, meeting_id: str) -> list[str]:
    result = await session.execute(
        select(EVENTS.c.meeting_uuid).where(EVENTS.c.meeting_id == meeting_id, EVENTS.c.meeting_uuid != "").distinct()
    )
    return list(result.scalars().all())


async def session_by_meeting(session: AsyncSession, meeting_id: str) -> domain.LiveSession | None:
    result = await session.execute(
        select(SessionRow).where(SessionRow.zoom_meeting_id == meeting_id).order_by(SessionRow.created_at.desc())
    )
    row = result.scalars().first()
    return live_session(row) if row is not None else None


async def course_sessions(
    session: AsyncSession, organization_id: str, course_id: str, *, after: Cursor | None, limit: int
) -> list[domain.LiveSession]:
    query = select(SessionRow).where(SessionRow.organization_id == organization_id, SessionRow.course_id == course_id)
    if after is not None:
        query = query.where(
            (SessionRow.scheduled_start > after[0])
            | ((SessionRow.scheduled_start == after[0]) & (SessionRow.id > after[1]))
        )
    result = await session.execute(query.order_by(SessionRow.scheduled_start, SessionRow.id).limit(limit))
    return [live_session(row) for row in result.scalars().all()]


async def save_join_link(session: AsyncSession, link: domain.JoinLink) -> domain.JoinLink:
    """Insert, or return the link a concurrent call stored first (one registrant per learner)."""
    await session.execute(
        insert(JoinLinkRow)
        .values(
            session_id=link.session_id,
            user_id=link.user_id,
            registrant_id=link.registrant_id,
            join_url=link.join_url,
            created_at=link.created_at,
        )
        .on_conflict_do_nothing(index_elements=["session_id", "user_id"])
    )
    stored = await session.get(JoinLinkRow, (link.session_id, link.user_id), populate_existing=True)
    assert stored is not None
    return _join_link(stored)


async def registrants(session: AsyncSession, session_id: uuid.UUID) -> dict[str, str]:
    result = await session.execute(
        select(JoinLinkRow.registrant_id, JoinLinkRow.user_id).where(JoinLinkRow.session_id == session_id)
    )
    return {registrant: user for registrant, user in result.all()}


async def ensure_reconcile_job(session: AsyncSession, meeting_uuid: str, meeting_id: str, due_at: datetime) -> None:
    """Owe a reconciliation of this instance (again): a finished job is reopened from page one."""
    statement = insert(ReconcileJobRow).values(
        meeting_uuid=meeting_uuid, meeting_id=meeting_id, due_at=due_at, attempts=0, next_page_token=""
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["meeting_uuid"],
            set_={"due_at": due_at, "done_at": None, "next_page_token": "", "last_error": ""},
            where=ReconcileJobRow.done_at.is_not(None),
        )
    )


async def claim_due_job(session: AsyncSession, now: datetime) -> ReconcileJobRow | None:
    """One due job, locked for this transaction; other processes skip it (SKIP LOCKED)."""
    result = await session.execute(
        select(ReconcileJobRow)
        .where(ReconcileJobRow.done_at.is_(None), ReconcileJobRow.due_at <= now)
        .order_by(ReconcileJobRow.due_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return result.scalars().first()


async def lock_job(session: AsyncSession, meeting_uuid: str) -> ReconcileJobRow | None:
    result = await session.execute(
        select(ReconcileJobRow).where(ReconcileJobRow.meeting_uuid == meeting_uuid).with_for_update()
    )
    return result.scalars().first()


async def pending_job_due(session: AsyncSession, meeting_uuids: Sequence[str]) -> datetime | None:
    """The latest resume time among unfinished jobs of these instances (None when none waits)."""
    result = await session.execute(
        select(func.max(ReconcileJobRow.due_at)).where(
            ReconcileJobRow.meeting_uuid.in_(list(meeting_uuids)), ReconcileJobRow.done_at.is_(None)
        )
    )
    return result.scalar_one_or_none()


async def mark_job(session: AsyncSession, meeting_uuid: str, **values: object) -> None:
    await session.execute(update(ReconcileJobRow).where(ReconcileJobRow.meeting_uuid == meeting_uuid).values(**values))


async def count_events(session: AsyncSession, meeting_id: str) -> int:
    result = await session.execute(select(func.count()).select_from(EVENTS).where(EVENTS.c.meeting_id == meeting_id))
    return int(result.scalar_one())


# ---- the unit of work -----------------------------------------------------------------------------


class _LiveSessions:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, session_id: uuid.UUID) -> domain.LiveSession | None:
        row = await self._session.get(SessionRow, session_id)
        return live_session(row) if row is not None else None

    async def add(self, live: domain.LiveSession) -> None:
        self._session.add(SessionRow(**dataclasses.asdict(live)))

    async def of_course(
        self, organization_id: str, course_id: str, *, after: Cursor | None, limit: int
    ) -> list[domain.LiveSession]:
        return await course_sessions(self._session, organization_id, course_id, after=after, limit=limit)

    async def replan(self, session_id: uuid.UUID, plan: domain.SessionPlan, *, at: datetime) -> domain.LiveSession:
        row = await self._session.get(SessionRow, session_id)
        assert row is not None, "sessions are cancelled, never deleted"
        row.session_name, row.scheduled_start, row.scheduled_end = (
            plan.session_name,
            plan.scheduled_start,
            plan.scheduled_end,
        )
        row.min_attendance_share, row.late_grace_minutes = plan.min_attendance_share, plan.late_grace_minutes
        row.updated_at = at
        return live_session(row)

    async def cancel(self, session_id: uuid.UUID, *, at: datetime) -> None:
        row = await self._session.get(SessionRow, session_id)
        assert row is not None, "sessions are cancelled, never deleted"
        row.cancelled = True
        row.updated_at = at

    async def meeting_state(self, meeting_id: str) -> domain.MeetingState:
        return await meeting_state(self._session, meeting_id)


class _JoinLinks:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, session_id: uuid.UUID, user_id: str) -> domain.JoinLink | None:
        row = await self._session.get(JoinLinkRow, (session_id, user_id))
        return _join_link(row) if row is not None else None

    async def add(self, link: domain.JoinLink) -> domain.JoinLink:
        return await save_join_link(self._session, link)

    async def registrants(self, session_id: uuid.UUID) -> dict[str, str]:
        return await registrants(self._session, session_id)


class _MeetingEvents:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def of_meeting(self, meeting_id: str) -> list[domain.ZoomEvent]:
        return await meeting_events(self._session, meeting_id)


"""What the driver raises when the database refuses a statement or cannot be reached."""


class SqlUnitOfWork(SessionUnitOfWork):
    """The live-session use cases' unit of work (:class:`service_kit.db.SessionUnitOfWork`).

    Driver errors leave as :class:`attendance_svc.use_cases.ports.StoreFailed`.
    """

    sessions: _LiveSessions
    join_links: _JoinLinks
    events: _MeetingEvents

    def bind(self, session: AsyncSession) -> None:
        self.sessions = _LiveSessions(session)
        self.join_links = _JoinLinks(session)
        self.events = _MeetingEvents(session)

    def translate(self, error: BaseException, *, committing: bool) -> Exception | None:
        if not isinstance(error, DRIVER_ERRORS):
            return None
        what = "did not take the write" if committing else "failed"
        return StoreFailed(f"the store {what}: {error.__class__.__name__}")
