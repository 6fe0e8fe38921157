"""What upload_svc's use cases need from the world, as small interfaces (ports).

Production implements them in :mod:`upload_svc.store` (the unit of work over PostgreSQL)
and :mod:`upload_svc.adapters` (object storage, ffprobe, transcode_svc); the tests
implement them with fakes (``tests/upload/fakes.py``), so each flow's access checks,
status rules and clean-up run without a server.

A unit of work is one database transaction: its repositories read and write inside
it, ``commit`` makes the writes durable, and leaving it without committing throws them
away. Unlike attendance's, completing, aborting and deleting hold their unit (and its
row lock) across the calls to object storage and transcode_svc: the lock is what makes
a second complete wait for the first and answer the same state.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Protocol

from upload_svc.domain import (
    PartsPage,
    PresignedPost,
    ProbeFacts,
    StoredObject,
    StoredPart,
    TranscodeState,
    Upload,
    Video,
    VideoCursor,
)

Forwarded = tuple[tuple[str, str], ...]
"""The caller's own credentials (gRPC metadata pairs), passed on so transcode_svc checks access itself."""


class StoreFailed(Exception):
    """The store did not answer or did not take a write (the database refused it or could not be reached).

    A unit of work raises it in place of its driver's errors; the use cases turn it into
    :class:`upload_svc.errors.CatalogUnavailable` (503), without knowing which database is behind it.
    """


class Uploads(Protocol):
    async def add(self, video: Video, upload: Upload) -> None:
        """Both records go out with the commit, the video first."""
        ...

    async def with_video(self, upload_id: uuid.UUID, *, for_update: bool = False) -> tuple[Upload, Video] | None:
        """The upload and its video; ``for_update`` locks both so concurrent completes take turns."""
        ...

    async def save(self, upload: Upload, video: Video) -> None:
        """Write the changed fields of both (the video's ``updated_at`` is refreshed as stored)."""
        ...


class Videos(Protocol):
    async def with_upload(
        self, video_id: uuid.UUID, *, for_update: bool = False
    ) -> tuple[Video, Upload | None] | None: ...

    async def of_course(
        self, *, organization_id: str, course_id: str, published_only: bool, after: VideoCursor | None, limit: int
    ) -> Sequence[tuple[Video, uuid.UUID | None]]:
        """One page of a course's videos with their upload's id, newest first, by keyset."""
        ...

    async def save(self, video: Video) -> None:
        """Write the video's changed fields (its ``updated_at`` is refreshed as stored)."""
        ...

    async def delete(self, video_id: uuid.UUID) -> None:
        """The video and its upload."""
        ...


class UnitOfWork(Protocol):
    @property
    def uploads(self) -> Uploads: ...

    @property
    def videos(self) -> Videos: ...

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        """Throw away what was not committed; a driver error leaves as StoreFailed."""
        ...

    async def commit(self) -> None:
        """Make this unit's writes durable; StoreFailed when the store does not take them."""
        ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
"""A fresh unit of work per step: one object cannot serve two transactions at once."""


class ObjectStorage(Protocol):
    """The bucket: presigning (no I/O) and the server-side calls; its failures are StorageUnavailable."""

    def presign_post(self, key: str, content_type: str, size: int, expires_in: int) -> PresignedPost: ...

    def presign_part(self, key: str, s3_upload_id: str, part_number: int, size: int, expires_in: int) -> str: ...

    def presign_public_get(self, key: str, expires_in: int) -> str: ...

    def presign_internal_get(self, key: str, expires_in: int) -> str: ...

    async def create_multipart(self, key: str, content_type: str) -> str: ...

    async def list_parts(self, key: str, s3_upload_id: str, *, marker: int, limit: int) -> PartsPage | None:
        """A page of the stored parts; None when storage no longer holds the upload."""
        ...

    async def all_parts(self, key: str, s3_upload_id: str) -> tuple[StoredPart, ...] | None:
        """Every stored part; None when storage no longer holds the upload (finished or aborted)."""
        ...

    async def complete_multipart(self, key: str, s3_upload_id: str, parts: Sequence[StoredPart]) -> bool:
        """Assemble the parts; False when storage no longer holds them."""
        ...

    async def abort_multipart(self, key: str, s3_upload_id: str) -> None: ...

    async def head(self, key: str) -> StoredObject | None: ...

    async def delete(self, key: str) -> None: ...

    async def delete_prefix(self, prefix: str) -> int: ...


class Prober(Protocol):
    async def probe(self, url: str, size: int = 0) -> ProbeFacts:
        """The facts of a video; UploadRejected when it is none, ProbeUnavailable when ffprobe cannot run."""
        ...


class Transcoder(Protocol):
    """transcode_svc, asked with the caller's credentials."""

    async def hand_off(
        self,
        *,
        video_id: str,
        organization_id: str,
        course_id: str,
        source_key: str,
        facts: ProbeFacts,
        metadata: Forwarded,
    ) -> TranscodeState | None:
        """Start (idempotently) the video's transcode; None while transcode_svc cannot accept it."""
        ...

    async def current(self, video_id: str, metadata: Forwarded) -> TranscodeState | None:
        """The video's latest job; None when there is none or transcode_svc cannot tell now."""
        ...

    def watch(self, job_id: str, metadata: Forwarded) -> AsyncIterator[object]:
        """The job's snapshots as transcode_svc sends them, until it finishes; its failure is raised as it came."""
        ...

    async def cancel(self, job_id: str, metadata: Forwarded) -> None: ...


Clock = Callable[[], datetime]
"""Aware UTC now."""


def utc_now() -> datetime:
    """The production clock: aware UTC, as every stored timestamp is compared."""
    return datetime.now(UTC)
