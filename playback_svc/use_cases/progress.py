"""Each viewer's place in each video, so a player resumes where this viewer left off."""

from __future__ import annotations

from dataclasses import dataclass

from playback_svc import domain
from playback_svc.domain import ViewingPosition
from playback_svc.use_cases.ports import Catalog, Forwarded, UnitOfWorkFactory
from service_kit.auth import SessionClaims


@dataclass(frozen=True)
class ViewerProgress:
    """The video (its canonical id) and the caller's stored position in it, if any."""

    video_id: str
    position: ViewingPosition | None


class ViewingProgress:
    """RecordPlaybackProgress and GetPlaybackProgress: only for a video the catalog shows the caller,
    keyed by (organization, user, video) from the caller's own session."""

    def __init__(self, *, catalog: Catalog, uow: UnitOfWorkFactory) -> None:
        self._catalog = catalog
        self._uow = uow

    async def record(
        self,
        caller: SessionClaims,
        video_id: str,
        position_seconds: float,
        duration_seconds: float,
        forwarded: Forwarded,
    ) -> ViewerProgress:
        """Store the position (validated: non-negative, within the duration); raises VideoNotFound,
        InvalidPlaybackRequest, StorageUnavailable."""
        position, duration = domain.progress_position(position_seconds, duration_seconds)
        video = await self._catalog.video(domain.check_identifier("video_id", video_id), forwarded)
        async with self._uow() as work:
            positions = work.positions
            stored = await positions.record(caller.organization_id, caller.user_id, video.video_id, position, duration)
            await work.commit()
        return ViewerProgress(video.video_id, stored)

    async def get(self, caller: SessionClaims, video_id: str, forwarded: Forwarded) -> ViewerProgress:
        """The caller's stored position (None if they never played it); raises VideoNotFound, StorageUnavailable."""
        video = await self._catalog.video(domain.check_identifier("video_id", video_id), forwarded)
        async with self._uow() as work:
            stored = await work.positions.of(caller.organization_id, caller.user_id, video.video_id)
        return ViewerProgress(video.video_id, stored)
