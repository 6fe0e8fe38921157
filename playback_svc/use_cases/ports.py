"""What playback's use cases need from the world, as small interfaces (ports).

Production implements them in :mod:`playback_svc.adapters` (S3, upload_svc's catalog,
the URL signers) and :mod:`playback_svc.store` (viewing positions in PostgreSQL); tests
implement them with a few lines each.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Protocol

from playback_svc.domain import CatalogVideo, ViewingPosition

Forwarded = tuple[tuple[str, str], ...]
"""The caller's own credentials (gRPC metadata pairs), passed on so upload_svc checks access itself."""


class Catalog(Protocol):
    async def video(self, video_id: str, metadata: Forwarded) -> CatalogVideo:
        """The video as the caller may see it; raises VideoNotFound when they may not (or it does not exist)."""
        ...


class HlsObjects(Protocol):
    async def read_text(self, key: str) -> str | None:
        """The stored object's text, or None when there is no such key."""
        ...


class UrlSigner(Protocol):
    def signer(self, expires_at: int, now: float) -> Callable[[str], str]:
        """A function from object key to a URL that works until ``expires_at`` (epoch seconds)."""
        ...


class Positions(Protocol):
    async def record(
        self, organization_id: str, user_id: str, video_id: str, position: float, duration: float
    ) -> ViewingPosition:
        """Store the viewer's position (the latest report wins) and return it as stored."""
        ...

    async def of(self, organization_id: str, user_id: str, video_id: str) -> ViewingPosition | None: ...


class PositionsUnitOfWork(Protocol):
    @property
    def positions(self) -> Positions: ...

    async def __aenter__(self) -> PositionsUnitOfWork: ...

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None: ...

    async def commit(self) -> None: ...


UnitOfWorkFactory = Callable[[], PositionsUnitOfWork]
