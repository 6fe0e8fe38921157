"""Fakes of upload_svc's ports, so its use cases run in a test without any server.

``FakeStore`` holds videos and uploads as dicts; each ``FakeUnitOfWork`` over it works
on copies and writes them back on ``commit``, or throws them away, as a transaction
would. ``store.refuse_commits = True`` makes every commit fail the way a database outage
does (``StoreFailed``). ``FakeBucket``, ``FakeProber`` and ``FakeTranscoder`` record what
they were asked and can be told what to answer.
"""

from __future__ import annotations

import copy
import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from types import TracebackType

from service_kit.auth import SessionClaims
from upload_svc import domain, errors
from upload_svc.domain import PartsPage, PresignedPost, StoredObject, StoredPart, TranscodeState, VideoCursor
from upload_svc.use_cases import StoreFailed
from upload_svc.use_cases.ports import Forwarded

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)

FACTS = domain.ProbeFacts(
    duration_seconds=12.5,
    width=1280,
    height=720,
    rotation=0,
    frame_rate=25.0,
    video_codec="h264",
    audio_codec="aac",
    has_audio=True,
    sample_aspect_ratio="1:1",
    field_order="progressive",
    pixel_format="yuv420p",
    color_transfer="bt709",
    color_primaries="bt709",
    color_space="bt709",
)


def caller(
    *roles: str, user_id: str = "u-staff", organization_id: str = "org1", course_id: str | None = "c1"
) -> SessionClaims:
    return SessionClaims(user_id, organization_id, course_id, frozenset(roles), issued_at=0, expires_at=2**31)


@dataclasses.dataclass
class FakeStore:
    videos: dict[uuid.UUID, domain.Video] = dataclasses.field(default_factory=dict)
    uploads: dict[uuid.UUID, domain.Upload] = dataclasses.field(default_factory=dict)
    refuse_commits: bool = False
    commits: int = 0

    def units(self) -> Callable[[], FakeUnitOfWork]:
        return lambda: FakeUnitOfWork(self)

    def upload_of(self, video_id: uuid.UUID) -> domain.Upload | None:
        return next((u for u in self.uploads.values() if u.video_id == video_id), None)


class _Uploads:
    def __init__(self, work: FakeUnitOfWork) -> None:
        self._work = work

    async def add(self, video: domain.Video, upload: domain.Upload) -> None:
        self._work.video_rows[video.id] = copy.deepcopy(video)
        self._work.upload_rows[upload.id] = copy.deepcopy(upload)

    async def with_video(
        self, upload_id: uuid.UUID, *, for_update: bool = False
    ) -> tuple[domain.Upload, domain.Video] | None:
        upload = self._work.upload_rows.get(upload_id)
        if upload is None:
            return None
        return copy.deepcopy(upload), copy.deepcopy(self._work.video_rows[upload.video_id])

    async def save(self, upload: domain.Upload, video: domain.Video) -> None:
        self._work.upload_rows[upload.id] = copy.deepcopy(upload)
        self._work.video_rows[video.id] = copy.deepcopy(video)


class _Videos:
    def __init__(self, work: FakeUnitOfWork) -> None:
        self._work = work

    async def with_upload(
        self, video_id: uuid.UUID, *, for_update: bool = False
    ) -> tuple[domain.Video, domain.Upload | None] | None:
        video = self._work.video_rows.get(video_id)
        if video is None:
            return None
        upload = next((u for u in self._work.upload_rows.values() if u.video_id == video_id), None)
        return copy.deepcopy(video), copy.deepcopy(upload)

    async def of_course(
        self, *, organization_id: str, course_id: str, published_only: bool, after: VideoCursor | None, limit: int
    ) -> Sequence[tuple[domain.Video, uuid.UUID | None]]:
        listed = sorted(
            (
                v
                for v in self._work.video_rows.values()
                if (v.organization_id, v.course_id) == (organization_id, course_id)
                and (v.published or not published_only)
            ),
            key=lambda v: (v.created_at, v.id),
            reverse=True,
        )
        if after is not None:
            listed = [v for v in listed if (v.created_at, v.id) < (after.created_at, uuid.UUID(after.video_id))]
        found = []
        for video in listed[:limit]:
            upload = next((u for u in self._work.upload_rows.values() if u.video_id == video.id), None)
            found.append((copy.deepcopy(video), upload.id if upload else None))
        return found

    async def save(self, video: domain.Video) -> None:
        self._work.video_rows[video.id] = copy.deepcopy(video)

    async def delete(self, video_id: uuid.UUID) -> None:
        self._work.video_rows.pop(video_id, None)
        for upload_id in [u.id for u in self._work.upload_rows.values() if u.video_id == video_id]:
            del self._work.upload_rows[upload_id]


class FakeUnitOfWork:
    """A transaction over copies of the store's dicts, written back on commit."""

    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self.video_rows: dict[uuid.UUID, domain.Video] = {}
        self.upload_rows: dict[uuid.UUID, domain.Upload] = {}
        self.uploads = _Uploads(self)
        self.videos = _Videos(self)

    async def __aenter__(self) -> FakeUnitOfWork:
        self.video_rows = copy.deepcopy(self.store.videos)
        self.upload_rows = copy.deepcopy(self.store.uploads)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.video_rows, self.upload_rows = {}, {}

    async def commit(self) -> None:
        if self.store.refuse_commits:
            raise StoreFailed("the fake store refuses writes")
        self.store.videos = copy.deepcopy(self.video_rows)
        self.store.uploads = copy.deepcopy(self.upload_rows)
        self.store.commits += 1


@dataclasses.dataclass
class FakeBucket:
    """Object storage in memory: objects by key, open multipart uploads with their parts."""

    objects: dict[str, StoredObject] = dataclasses.field(default_factory=dict)
    multiparts: dict[str, list[StoredPart]] = dataclasses.field(default_factory=dict)
    deleted: list[str] = dataclasses.field(default_factory=list)
    aborted: list[str] = dataclasses.field(default_factory=list)
    down: bool = False

    def _check(self) -> None:
        if self.down:
            raise errors.StorageUnavailable("object storage did not answer: try again")

    def presign_post(self, key: str, content_type: str, size: int, expires_in: int) -> PresignedPost:
        return PresignedPost(url="https://bucket.example/", fields={"key": key, "Content-Type": content_type})

    def presign_part(self, key: str, s3_upload_id: str, part_number: int, size: int, expires_in: int) -> str:
        return f"https://bucket.example/{key}?uploadId={s3_upload_id}&partNumber={part_number}&size={size}"

    def presign_public_get(self, key: str, expires_in: int) -> str:
        return f"https://bucket.example/{key}?public"

    def presign_internal_get(self, key: str, expires_in: int) -> str:
        return f"http://internal/{key}"

    async def create_multipart(self, key: str, content_type: str) -> str:
        self._check()
        s3_upload_id = f"mp-{len(self.multiparts) + 1}"
        self.multiparts[s3_upload_id] = []
        return s3_upload_id

    async def list_parts(self, key: str, s3_upload_id: str, *, marker: int, limit: int) -> PartsPage | None:
        self._check()
        parts = self.multiparts.get(s3_upload_id)
        if parts is None:
            return None
        after = [p for p in parts if p.part_number > marker]
        return PartsPage(tuple(after[:limit]), after[limit - 1].part_number if len(after) > limit else None)

    async def all_parts(self, key: str, s3_upload_id: str) -> tuple[StoredPart, ...] | None:
        self._check()
        parts = self.multiparts.get(s3_upload_id)
        return None if parts is None else tuple(parts)

    async def complete_multipart(self, key: str, s3_upload_id: str, parts: Sequence[StoredPart]) -> bool:
        self._check()
        if self.multiparts.pop(s3_upload_id, None) is None:
            return False
        self.objects[key] = StoredObject(sum(p.size for p in parts), "video/mp4")
        return True

    async def abort_multipart(self, key: str, s3_upload_id: str) -> None:
        self._check()
        self.multiparts.pop(s3_upload_id, None)
        self.aborted.append(s3_upload_id)

    async def head(self, key: str) -> StoredObject | None:
        self._check()
        return self.objects.get(key)

    async def delete(self, key: str) -> None:
        self._check()
        self.objects.pop(key, None)
        self.deleted.append(key)

    async def delete_prefix(self, prefix: str) -> int:
        self._check()
        keys = [key for key in self.objects if key.startswith(prefix)]
        for key in keys:
            del self.objects[key]
        self.deleted.append(prefix)
        return len(keys)


@dataclasses.dataclass
class FakeProber:
    """ffprobe: answers FACTS, or raises the error it is given."""

    failure: Exception | None = None
    probed: list[str] = dataclasses.field(default_factory=list)

    async def probe(self, url: str, size: int = 0) -> domain.ProbeFacts:
        self.probed.append(url)
        if self.failure is not None:
            raise self.failure
        return FACTS


@dataclasses.dataclass
class FakeTranscoder:
    """transcode_svc: takes hand-offs (or, ``accepting = False``, cannot), answers the jobs it holds."""

    accepting: bool = True
    jobs: dict[str, TranscodeState] = dataclasses.field(default_factory=dict)
    offered: list[str] = dataclasses.field(default_factory=list)
    cancelled: list[str] = dataclasses.field(default_factory=list)
    snapshots: list[object] = dataclasses.field(default_factory=list)

    async def hand_off(
        self,
        *,
        video_id: str,
        organization_id: str,
        course_id: str,
        source_key: str,
        facts: domain.ProbeFacts,
        metadata: Forwarded,
    ) -> TranscodeState | None:
        self.offered.append(video_id)
        if not self.accepting:
            return None
        job = self.jobs.setdefault(video_id, TranscodeState(f"job-{video_id[:8]}", domain.VideoStatus.QUEUED, 0))
        return job

    async def current(self, video_id: str, metadata: Forwarded) -> TranscodeState | None:
        return self.jobs.get(video_id) if self.accepting else None

    async def watch(self, job_id: str, metadata: Forwarded) -> AsyncIterator[object]:
        for snapshot in self.snapshots:
            yield snapshot

    async def cancel(self, job_id: str, metadata: Forwarded) -> None:
        self.cancelled.append(job_id)
