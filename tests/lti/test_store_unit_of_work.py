"""lti_svc's PostgreSQL unit of work: all or nothing; a second (issuer, client_id), or a second line item
for one live session, as Conflict (what the fakes of ``tests/lti/fakes.py`` promise)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lti_svc import domain, errors, store
from lti_svc.use_cases import Conflict
from service_kit import errors as service_errors
from service_kit.db import create_engine, session_factory
from tests.support.processes import Infra

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def a_record(issuer: str, client_id: str = "c1") -> domain.RegistrationRecord:
    return domain.RegistrationRecord(
        id=uuid.uuid4(),
        organization_id="org-uow",
        issuer=issuer,
        client_id=client_id,
        key_set_url=f"{issuer}/jwks",
        auth_login_url=f"{issuer}/auth",
        auth_token_url="",
        key_set_url_source="given",
        auth_login_url_source="given",
        auth_token_url_source="",
        endpoints_origin="",
        zoom_account_id="",
        zoom_client_id_sealed=None,
        zoom_client_secret_sealed=None,
        created_at=NOW,
        updated_at=NOW,
    )


@pytest.fixture(scope="module")
async def sessions(infra: Infra) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(infra.settings.database_url, pool_size=2)
    yield session_factory(engine)
    await engine.dispose()


async def test_a_committed_registration_reads_back_with_its_deployments(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    record = a_record(f"https://{uuid.uuid4().hex}.example.edu")
    async with store.SqlUnitOfWork(sessions) as work:
        await work.registrations.add(record, ["d1", "d2"])
        await work.commit()
    async with store.SqlUnitOfWork(sessions) as work:
        assert await work.registrations.get(record.id) == record
        assert await work.registrations.deployments([record.id]) == {record.id: ["d1", "d2"]}


async def test_leaving_without_commit_writes_nothing(sessions: async_sessionmaker[AsyncSession]) -> None:
    record = a_record(f"https://{uuid.uuid4().hex}.example.edu")
    async with store.SqlUnitOfWork(sessions) as work:
        await work.registrations.add(record, [])
    async with store.SqlUnitOfWork(sessions) as work:
        assert await work.registrations.get(record.id) is None


async def test_a_second_registration_of_one_issuer_and_client_id_is_a_conflict(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    issuer = f"https://{uuid.uuid4().hex}.example.edu"
    async with store.SqlUnitOfWork(sessions) as work:
        await work.registrations.add(a_record(issuer), [])
        await work.commit()
    with pytest.raises(Conflict):
        async with store.SqlUnitOfWork(sessions) as work:
            await work.registrations.add(a_record(issuer), [])
            await work.commit()


def a_line_item(registration_id: uuid.UUID, live_session_id: str) -> domain.LineItemRecord:
    return domain.LineItemRecord(
        id=uuid.uuid4(),
        organization_id="org-uow",
        course_id="course-1",
        live_session_id=live_session_id,
        registration_id=registration_id,
        platform_url="https://lms.example.edu/lineitems/1",
        label="Week 1",
        score_maximum=10.0,
        created_at=NOW,
    )


async def test_a_registration_is_found_by_its_key_and_issuer_and_a_known_deployment_is_added_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    record = a_record(f"https://{uuid.uuid4().hex}.example.edu")
    async with store.SqlUnitOfWork(sessions) as work:
        await work.registrations.add(record, ["d1"])
        await work.registrations.add_deployment(record.id, "d1")
        await work.registrations.add_deployment(record.id, "d2")
        await work.commit()
    async with store.SqlUnitOfWork(sessions) as work:
        assert await work.registrations.by_key(record.issuer, "c1") == record
        assert await work.registrations.by_key(record.issuer, "c2") is None
        assert await work.registrations.by_issuer(record.issuer, limit=2) == [record]
        assert await work.registrations.deployments([record.id]) == {record.id: ["d1", "d2"]}


async def test_a_second_line_item_for_one_live_session_is_a_conflict_and_the_first_reads_back(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    record = a_record(f"https://{uuid.uuid4().hex}.example.edu")
    session_id = uuid.uuid4().hex
    first = a_line_item(record.id, session_id)
    async with store.SqlUnitOfWork(sessions) as work:
        await work.registrations.add(record, [])
        await work.line_items.add(first)
        await work.commit()
    with pytest.raises(Conflict):
        async with store.SqlUnitOfWork(sessions) as work:
            await work.line_items.add(a_line_item(record.id, session_id))
            await work.commit()
    async with store.SqlUnitOfWork(sessions) as work:
        assert await work.line_items.get(first.id) == first
        assert await work.line_items.for_session("org-uow", "course-1", session_id) == first


async def test_a_database_that_cannot_be_reached_answers_503_store_unavailable_not_a_500() -> None:
    engine = create_engine("postgresql+psycopg://root@127.0.0.1:1/nowhere", pool_size=1)
    try:
        with pytest.raises(errors.StoreUnavailable, match="could not be read: the database is unavailable"):
            async with store.SqlUnitOfWork(session_factory(engine)) as work:
                await work.registrations.get(uuid.uuid4())
        with pytest.raises(errors.StoreUnavailable, match="try again shortly"):
            async with store.SqlUnitOfWork(session_factory(engine)) as work:
                await work.registrations.add(a_record("https://down.example.edu"), ["d1"])
                await work.commit()
    finally:
        await engine.dispose()
    assert errors.StoreUnavailable.reason == "LTI_STORE_UNAVAILABLE"
    assert issubclass(errors.StoreUnavailable, service_errors.Unavailable)  # the one table: gRPC UNAVAILABLE, HTTP 503
