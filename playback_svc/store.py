"""playback_svc's tables (schema ``playback``) and the queries on them.

``viewing_positions`` keeps, per (organization, user, video), the last position a player
reported: one row each, overwritten by every heartbeat (``INSERT ... ON CONFLICT DO
UPDATE``), read when the player opens the video again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, Float, Text, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from service_kit.db import schema_metadata
from service_kit.db import utcnow as utcnow  # the one clock every store uses

metadata = schema_metadata("playback")


class Base(DeclarativeBase):
    metadata = metadata


class PositionRow(Base):
    """One viewer's last reported position in one video."""

    __tablename__ = "viewing_positions"

    organization_id: Mapped[str] = mapped_column(Text, primary_key=True)
    user_id: Mapped[str] = mapped_column(Text, primary_key=True)
    video_id: Mapped[str] = mapped_column(Text, primary_key=True)
    position_seconds: Mapped[float] = mapped_column(Float)
    duration_seconds: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class Position:
    position_seconds: float
    duration_seconds: float
    updated_at: datetime


async def record_position(
    session: AsyncSession, organization_id: str, user_id: str, video_id: str, position: float, duration: float
) -> Position:
    """Store the viewer's position (the latest report wins) and return it."""
    now = utcnow()
    values = {"position_seconds": position, "duration_seconds": duration, "updated_at": now}
    statement = insert(PositionRow).values(
        organization_id=organization_id, user_id=user_id, video_id=video_id, **values
    )
    await session.execute(
        statement.on_conflict_do_update(index_elements=["organization_id", "user_id", "video_id"], set_=values)
    )
    return Position(position, duration, now)


async def position_of(session: AsyncSession, organization_id: str, user_id: str, video_id: str) -> Position | None:
    """The viewer's stored position in the video, if any."""
    row = await session.scalar(
        select(PositionRow).where(
            PositionRow.organization_id == organization_id,
            PositionRow.user_id == user_id,
            PositionRow.video_id == video_id,
        )
    )
    return None if row is None else Position(row.position_seconds, row.duration_seconds, row.updated_at)
