"""transcode_svc's PostgreSQL unit of work keeps the promise the use cases rely on.

All or nothing; one active job per video (a second one is refused, and the transaction
goes on); a cancel stored as decided; failures as StoreFailed.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service_kit.db import create_engine, session_factory
from tests.support.processes import Infra
from tests.transcode.fakes import NOW, PROBE
from transcode_svc import store
from transcode_svc.domain import PublishedRendition, TranscodeJob, new_job
from transcode_svc.use_cases import StoreFailed


def a_job(video_id: str | None = None) -> TranscodeJob:
    return new_job(
        job_id=uuid.uuid4(),
        video_id=video_id or f"v-{uuid.uuid4().hex[:12]}",
        organization_id="org-uow",
        course_id="c1",
        source_key="uploads/org-uow/source",
        probe=PROBE,
        now=NOW,
    )


@pytest.fixture(scope="module")
async def sessions(infra: Infra) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(infra.settings.database_url, pool_size=2)
    yield session_factory(engine)
    await engine.dispose()


async def test_a_committed_job_reads_back_as_it_was_written(sessions: async_sessionmaker[AsyncSession]) -> None:
    rendition = PublishedRendition("360p", 640, 360, 1_008_000, 928_000, "avc1.64001e,mp4a.40.2", 30.0)
    written = dataclasses.replace(a_job(), renditions=(rendition,))
    async with store.SqlUnitOfWork(sessions) as work:
        assert await work.jobs.add(written)
        await work.commit()
    async with store.SqlUnitOfWork(sessions) as work:
        assert await work.jobs.get(written.id) == written
        assert await work.jobs.active(written.video_id) == written
        assert await work.jobs.latest(written.video_id) == written


async def test_leaving_without_commit_writes_nothing(sessions: async_sessionmaker[AsyncSession]) -> None:
    written = a_job()
    async with store.SqlUnitOfWork(sessions) as work:
        assert await work.jobs.add(written)
    async with store.SqlUnitOfWork(sessions) as work:
        assert await work.jobs.get(written.id) is None


async def test_a_second_active_job_for_a_video_is_refused_and_the_transaction_goes_on(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first = a_job()
    async with store.SqlUnitOfWork(sessions) as work:
        assert await work.jobs.add(first)
        await work.commit()
    second = a_job(first.video_id)
    async with store.SqlUnitOfWork(sessions) as work:
        assert not await work.jobs.add(second)
        assert await work.jobs.active(first.video_id) == first
        await work.commit()
    async with store.SqlUnitOfWork(sessions) as work:
        assert await work.jobs.get(second.id) is None


async def test_a_cancelled_job_is_stored_as_decided_and_frees_the_video_for_a_new_job(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    job = a_job()
    async with store.SqlUnitOfWork(sessions) as work:
        await work.jobs.add(job)
        await work.commit()
    cancelled = job.cancelled(NOW + timedelta(minutes=1))
    async with store.SqlUnitOfWork(sessions) as work:
        assert await work.jobs.get(job.id, for_update=True) == job
        await work.jobs.record_cancel(cancelled)
        await work.commit()
    again = dataclasses.replace(a_job(job.video_id), created_at=NOW + timedelta(minutes=2))
    async with store.SqlUnitOfWork(sessions) as work:
        assert await work.jobs.get(job.id) == cancelled
        assert await work.jobs.active(job.video_id) is None
        assert await work.jobs.add(again)
        await work.commit()
    async with store.SqlUnitOfWork(sessions) as work:
        assert await work.jobs.latest(job.video_id) == again
    async with sessions() as session:
        live = [j.id for j in await store.live_jobs(session)]
    assert again.id in live and job.id not in live


async def test_a_removed_job_is_gone(sessions: async_sessionmaker[AsyncSession]) -> None:
    job = a_job()
    async with store.SqlUnitOfWork(sessions) as work:
        await work.jobs.add(job)
        await work.commit()
    async with store.SqlUnitOfWork(sessions) as work:
        await work.jobs.remove(job.id)
        await work.commit()
    async with store.SqlUnitOfWork(sessions) as work:
        assert await work.jobs.get(job.id) is None and await work.jobs.latest(job.video_id) is None


async def test_a_database_that_cannot_be_reached_fails_as_store_failed() -> None:
    engine = create_engine("postgresql+psycopg://root@127.0.0.1:1/nowhere", pool_size=1)
    try:
        with pytest.raises(StoreFailed):
            async with store.SqlUnitOfWork(session_factory(engine)) as work:
                await work.jobs.get(uuid.uuid4())
        with pytest.raises(StoreFailed):
            async with store.SqlUnitOfWork(session_factory(engine)) as work:
                await work.jobs.add(a_job())
                await work.commit()
    finally:
        await engine.dispose()
