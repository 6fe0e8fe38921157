"""Database engine, sessions and the declarative base each service builds its models on.

One PostgreSQL database, one schema per service: a service's models live in its own
schema and nothing else may read them (services talk through gRPC, not tables).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

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
