"""playback_svc's tables (schema ``playback``) and the unit of work over them.

``viewing_positions`` keeps, per (organization, user, video), the last position a player
reported: one row each, overwritten by every heartbeat (``INSERT ... ON CONFLICT DO
UPDATE``), read when the player opens the video again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Text, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from playback_svc import errors
from playback_svc.domain import ViewingPosition
from service_kit.db import DRIVER_ERRORS, SessionUnitOfWork, schema_metadata
from service_kit.db import utcnow as utcnow  # the one clock every store uses

metadata = schema_metadata("playback")

"""What the driver raises when the database refuses a statement or cannot be reached."""


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


class Positions:
    """The viewing positions, read and written inside one transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(
        self, organization_id: str, user_id: str, video_id: str, position: float, duration: float
    ) -> ViewingPosition:
        """Store the viewer's position (the latest report wins) and return it."""
        now = utcnow()
        values = {"position_seconds": position, "duration_seconds": duration, "updated_at": now}
        statement = insert(PositionRow).values(
            organization_id=organization_id, user_id=user_id, video_id=video_id, **values
        )
        await self._session.execute(
            statement.on_conflict_do_update(index_elements=["organization_id", "user_id", "video_id"], set_=values)
        )
        return ViewingPosition(position, duration, now)

    async def of(self, organization_id: str, user_id: str, video_id: str) -> ViewingPosition | None:
        """The viewer's stored position in the video, if any."""
        row = await self._session.scalar(
            select(PositionRow).where(
                PositionRow.organization_id == organization_id,
                PositionRow.user_id == user_id,
                PositionRow.video_id == video_id,
            )
        )
        return None if row is None else ViewingPosition(row.position_seconds, row.duration_seconds, row.updated_at)


class SqlUnitOfWork(SessionUnitOfWork):
    """One transaction over the viewing positions; driver errors leave as StorageUnavailable (503)."""

    positions: Positions

    def bind(self, session: AsyncSession) -> None:
        self.positions = Positions(session)

    def translate(self, error: BaseException, *, committing: bool) -> Exception | None:
        if not isinstance(error, DRIVER_ERRORS):
            return None
        return errors.StorageUnavailable(
            f"viewing progress could not be {'saved' if committing else 'read'}: the database is unavailable; "
            "try again shortly"
        )
