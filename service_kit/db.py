"""Database engine, sessions and the declarative base each service builds its models on.

One PostgreSQL database, one schema per service: a service's models live in its own
schema and nothing else may read them (services talk through gRPC, not tables).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from sqlalchemy import MetaData
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

DRIVER_ERRORS: tuple[type[BaseException], ...] = (SQLAlchemyError, OSError)
"""What a database outage raises through SQLAlchemy and psycopg: every store's unit of work
turns these into its service's "store unavailable" error (503), never a 500."""

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Deterministic constraint names, so Alembic can drop and alter them by name later."""


def schema_metadata(schema: str) -> MetaData:
    """MetaData for one service's schema with the shared naming convention."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def create_engine(database_url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An async engine over psycopg 3; ``pool_pre_ping`` survives database restarts."""
    return create_async_engine(database_url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit, so servicers can build replies from them."""
    return async_sessionmaker(engine, expire_on_commit=False)


def utcnow() -> datetime:
    """Aware UTC now: every stored timestamp is ``timestamptz`` and compared in UTC."""
    return datetime.now(UTC)


class SessionUnitOfWork(ABC):
    """One AsyncSession, one transaction: the base of each service's unit of work over PostgreSQL.

    ``async with`` opens the session; leaving without :meth:`commit` rolls back (closing
    the session does), so a use case that fails half-way leaves nothing behind. A
    service's subclass binds its repositories to the session (:meth:`bind`) and says which
    driver errors become which of its own (:meth:`translate`, asked when leaving on an
    error and when a commit fails; None lets the error through unchanged).
    """

    def __init__(self, factory: async_sessionmaker[AsyncSession]) -> None:
        self._factory = factory
        self._session: AsyncSession | None = None

    @abstractmethod
    def bind(self, session: AsyncSession) -> None:
        """Give the repositories this transaction's session."""

    def translate(self, error: BaseException, *, committing: bool) -> Exception | None:
        """The service's error for a driver error, or None to let it through."""
        return None

    async def __aenter__(self) -> Self:
        self._session = self._factory()
        self.bind(self._session)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        assert self._session is not None
        await self._session.close()
        translated = self.translate(error, committing=False) if error is not None else None
        if translated is not None:
            raise translated from error

    async def commit(self) -> None:
        assert self._session is not None
        try:
            await self._session.commit()
        except Exception as error:
            translated = self.translate(error, committing=True)
            if translated is None:
                raise
            raise translated from error
