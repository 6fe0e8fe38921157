"""The PostgreSQL unit of work keeps the promise the use cases rely on: all or nothing, failures as StoreFailed."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from attendance_svc import domain, store
from attendance_svc.use_cases import StoreFailed
from service_kit.db import create_engine, session_factory
from tests.support.processes import Infra

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def a_session(**fields: object) -> domain.LiveSession:
    session_id = uuid.uuid4()
    session = domain.LiveSession(
        id=session_id,
        organization_id=f"org-{session_id.hex[:8]}",
        course_id="c1",
        lti_config_id="cfg1",
        session_name="Lecture",
        scheduled_start=T0,
        scheduled_end=T0 + timedelta(hours=1),
        zoom_host_id="host@x.edu",
        zoom_meeting_id=f"m-{session_id.hex}",
        zoom_meeting_uuid="",
        join_url="https://zoom.test/j/1",
        start_url="https://zoom.test/s/1",
        cancelled=False,
        min_attendance_share=0.75,
        late_grace_minutes=5,
        created_by="u-staff",
        created_at=T0,
        updated_at=T0,
    )
    return dataclasses.replace(session, **fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
async def sessions(infra: Infra) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(infra.settings.database_url, pool_size=2)
    yield session_factory(engine)
    await engine.dispose()


async def test_a_committed_session_reads_back_as_it_was_written(sessions: async_sessionmaker[AsyncSession]) -> None:
    written = a_session()
    async with store.SqlUnitOfWork(sessions) as work:
        await work.sessions.add(written)
        await work.commit()
    async with store.SqlUnitOfWork(sessions) as work:
        assert await work.sessions.get(written.id) == written


async def test_leaving_without_commit_writes_nothing(sessions: async_sessionmaker[AsyncSession]) -> None:
    written = a_session()
    async with store.SqlUnitOfWork(sessions) as work:
        await work.sessions.add(written)
    async with store.SqlUnitOfWork(sessions) as work:
        assert await work.sessions.get(written.id) is None


async def test_a_new_plan_changes_the_plan_only(sessions: async_sessionmaker[AsyncSession]) -> None:
    written = a_session()
    async with store.SqlUnitOfWork(sessions) as work:
        await work.sessions.add(written)
        await work.commit()
    async with store.SqlUnitOfWork(sessions) as work:
        await work.sessions.cancel(written.id, at=T0 + timedelta(minutes=1))
        await work.commit()
    later = T0 + timedelta(minutes=2)
    new_plan = domain.SessionPlan("Renamed", T0, T0 + timedelta(hours=2), 0.5, 10)
    async with store.SqlUnitOfWork(sessions) as work:
        replanned = await work.sessions.replan(written.id, new_plan, at=later)
        await work.commit()
    assert replanned == dataclasses.replace(
        written, cancelled=True, updated_at=later, **dataclasses.asdict(new_plan)
    ), "a concurrent cancel stays"


async def test_a_duplicate_row_fails_the_commit_as_store_failed(sessions: async_sessionmaker[AsyncSession]) -> None:
    written = a_session()
    async with store.SqlUnitOfWork(sessions) as work:
        await work.sessions.add(written)
        await work.commit()
    with pytest.raises(StoreFailed):
        async with store.SqlUnitOfWork(sessions) as work:
            await work.sessions.add(written)
            await work.commit()


async def test_a_database_that_cannot_be_reached_fails_as_store_failed() -> None:
    engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:9/nothing", pool_size=1)
    try:
        with pytest.raises(StoreFailed):
            async with store.SqlUnitOfWork(session_factory(engine)) as work:
                await work.sessions.add(a_session())
                await work.commit()
        with pytest.raises(StoreFailed):
            async with store.SqlUnitOfWork(session_factory(engine)) as work:
                await work.sessions.get(uuid.uuid4())
    finally:
        await engine.dispose()
