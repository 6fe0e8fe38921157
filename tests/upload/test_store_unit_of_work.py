"""The PostgreSQL unit of work keeps the promise upload_svc's use cases rely on.

All or nothing; a record saved back writes what changed (and refreshes ``updated_at``);
failures leave as StoreFailed.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service_kit.db import create_engine, session_factory
from tests.support.processes import Infra
from tests.upload.fakes import FACTS
from upload_svc import domain, store
from upload_svc.domain import UploadMethod, VideoStatus
from upload_svc.use_cases import StoreFailed

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def a_video_with_upload() -> tuple[domain.Video, domain.Upload]:
    video_id = uuid.uuid4()
    organization = f"org-{video_id.hex[:8]}"
    video = domain.Video(
        id=video_id,
        organization_id=organization,
        course_id="c1",
        owner_id="u-staff",
        title="Lecture",
        status=VideoStatus.PENDING_UPLOAD,
        published=False,
        source_key=domain.source_key(organization, str(video_id)),
        content_type="video/mp4",
        file_size=12_000_000,
        created_at=T0,
        updated_at=T0,
    )
    upload = domain.Upload(
        id=uuid.uuid4(),
        video_id=video_id,
        organization_id=organization,
        owner_id="u-staff",
        method=UploadMethod.MULTIPART,
        filename="lecture.mp4",
        content_type="video/mp4",
        file_size=12_000_000,
        part_size=5_242_880,
        part_count=3,
        s3_upload_id="mp-1",
        expires_at=T0 + timedelta(days=1),
        created_at=T0,
        updated_at=T0,
    )
    return video, upload


@pytest.fixture(scope="module")
async def sessions(infra: Infra) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(infra.settings.database_url, pool_size=2)
    yield session_factory(engine)
    await engine.dispose()


async def test_committed_records_read_back_as_written(sessions: async_sessionmaker[AsyncSession]) -> None:
    video, upload = a_video_with_upload()
    async with store.SqlUnitOfWork(sessions) as work:
        await work.uploads.add(video, upload)
        await work.commit()
    async with store.SqlUnitOfWork(sessions) as work:
        assert await work.uploads.with_video(upload.id) == (upload, video)
        assert await work.videos.with_upload(video.id, for_update=True) == (video, upload)


async def test_leaving_without_commit_writes_nothing(sessions: async_sessionmaker[AsyncSession]) -> None:
    video, upload = a_video_with_upload()
    async with store.SqlUnitOfWork(sessions) as work:
        await work.uploads.add(video, upload)
    async with store.SqlUnitOfWork(sessions) as work:
        assert await work.uploads.with_video(upload.id) is None


async def test_a_saved_record_writes_its_changes_and_refreshes_updated_at(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    video, upload = a_video_with_upload()
    async with store.SqlUnitOfWork(sessions) as work:
        await work.uploads.add(video, upload)
        await work.commit()
    async with store.SqlUnitOfWork(sessions) as work:
        found = await work.uploads.with_video(upload.id, for_update=True)
        assert found is not None
        upload, video = found
        video.probe, video.status, video.uploaded_at = FACTS, VideoStatus.UPLOADED, T0
        upload.completed_at = T0
        await work.uploads.save(upload, video)
        await work.commit()
    assert video.updated_at > T0, "the stored updated_at comes back on the record"
    async with store.SqlUnitOfWork(sessions) as work:
        assert await work.uploads.with_video(upload.id) == (upload, video)
        page = await work.videos.of_course(
            organization_id=video.organization_id, course_id="c1", published_only=False, after=None, limit=5
        )
        assert page == [(video, upload.id)]
        await work.videos.delete(video.id)
        await work.commit()
    async with store.SqlUnitOfWork(sessions) as work:
        assert await work.videos.with_upload(video.id) is None


async def test_a_duplicate_row_fails_the_commit_as_store_failed(sessions: async_sessionmaker[AsyncSession]) -> None:
    video, upload = a_video_with_upload()
    async with store.SqlUnitOfWork(sessions) as work:
        await work.uploads.add(video, upload)
        await work.commit()
    with pytest.raises(StoreFailed):
        async with store.SqlUnitOfWork(sessions) as work:
            await work.uploads.add(dataclasses.replace(video), dataclasses.replace(upload, id=uuid.uuid4()))
            await work.commit()


async def test_a_database_that_cannot_be_reached_fails_as_store_failed() -> None:
    engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:9/nothing", pool_size=1)
    try:
        with pytest.raises(StoreFailed):
            async with store.SqlUnitOfWork(session_factory(engine)) as work:
                await work.videos.with_upload(uuid.uuid4())
    finally:
        await engine.dispose()
