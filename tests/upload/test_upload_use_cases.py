"""upload_svc's use cases over fakes of the store, the bucket, ffprobe and transcode_svc: no server.

The clean-up paths live here, which end-to-end tests reach only with a broken server:
a file ffprobe refuses fails the upload for good (its bytes deleted), a transcode_svc
that cannot take the job leaves the hand-off owed, parts gone from storage fail the
upload, an outage of the database during complete writes nothing, and another course's
or organization's upload or video does not exist for the caller.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.upload.fakes import NOW, FakeBucket, FakeProber, FakeStore, FakeTranscoder, caller
from upload_svc import domain, errors
from upload_svc.domain import StoredObject, StoredPart, VideoStatus
from upload_svc.use_cases.uploads import PARTS_GONE, JobSnapshot, NewUpload, UploadFlows, UploadView, WatchEnded
from upload_svc.use_cases.videos import Catalog

MIB = 1024 * 1024
LIMITS = domain.UploadLimits(
    max_upload_bytes=1024 * MIB, multipart_threshold_bytes=10 * MIB, multipart_part_bytes=5 * MIB
)
STAFF = caller("Instructor")
LEARNER = caller("Learner", user_id="u-ada")
OTHER_COURSE_STAFF = caller("Instructor", course_id="c2")
OTHER_ORG_ADMIN = caller("Administrator", organization_id="org2")
NO_FORWARD: tuple[tuple[str, str], ...] = ()


class World:
    """The use cases over one set of fakes."""

    def __init__(self) -> None:
        self.store = FakeStore()
        self.bucket = FakeBucket()
        self.prober = FakeProber()
        self.transcoder = FakeTranscoder()
        self.uploads = UploadFlows(
            uow=self.store.units(),
            objects=self.bucket,
            prober=self.prober,
            transcoder=self.transcoder,
            limits=LIMITS,
            presign_expiry_seconds=3600,
            upload_ttl_seconds=86400,
            clock=lambda: NOW,
            watch_poll_seconds=0,
        )
        self.catalog = Catalog(
            uow=self.store.units(), objects=self.bucket, transcoder=self.transcoder, clock=lambda: NOW
        )

    async def sent(self, size: int = 2 * MIB, filename: str = "lecture.mp4") -> UploadView:
        """A single-request upload whose bytes object storage holds."""
        created = await self.uploads.create(STAFF, NewUpload("", filename, "video/mp4", size, "Lecture 1"))
        video = self.store.videos[created.upload.video_id]
        self.bucket.objects[video.source_key] = StoredObject(size, "video/mp4")
        return UploadView(created.upload, video)

    async def multipart(self, size: int = 12 * MIB, parts: tuple[int, ...] = (1, 2, 3)) -> UploadView:
        """A multipart upload with the named parts stored."""
        created = await self.uploads.create(STAFF, NewUpload("", "long.mp4", "video/mp4", size, ""))
        upload = created.upload
        assert upload.s3_upload_id is not None
        self.bucket.multiparts[upload.s3_upload_id] = [
            StoredPart(n, upload.plan.part_bytes(n), f'"etag{n}"') for n in parts
        ]
        return UploadView(upload, self.store.videos[upload.video_id])

    def video(self, view: UploadView) -> domain.Video:
        return self.store.videos[view.video.id]


async def test_a_complete_upload_is_probed_and_handed_to_transcode() -> None:
    world = World()
    sent = await world.sent()

    done = await world.uploads.complete(STAFF, str(sent.upload.id), {}, NO_FORWARD)

    assert done.video.status is VideoStatus.QUEUED and done.video.transcode_job_id
    stored = world.video(sent)
    assert stored.status is VideoStatus.QUEUED and stored.probe is not None and stored.probe.duration_seconds == 12.5
    assert world.store.uploads[sent.upload.id].completed_at == NOW
    assert world.transcoder.offered == [str(sent.video.id)]


async def test_a_file_ffprobe_refuses_fails_the_upload_for_good_and_its_bytes_are_deleted() -> None:
    world = World()
    sent = await world.sent()
    world.prober.failure = errors.UploadRejected("no video stream: the file has only audio")

    with pytest.raises(errors.UploadRejected, match="no video stream"):
        await world.uploads.complete(STAFF, str(sent.upload.id), {}, NO_FORWARD)

    stored = world.video(sent)
    assert stored.status is VideoStatus.FAILED and stored.error_reason == "no video stream: the file has only audio"
    assert sent.video.source_key not in world.bucket.objects
    assert world.transcoder.offered == []
    # Completing again reports the recorded refusal, without probing again.
    world.prober.failure = None
    with pytest.raises(errors.UploadRejected, match="no video stream"):
        await world.uploads.complete(STAFF, str(sent.upload.id), {}, NO_FORWARD)
    assert len(world.prober.probed) == 1
    got = await world.uploads.get(STAFF, str(sent.upload.id), NO_FORWARD)
    assert got.video.status is VideoStatus.FAILED


async def test_ffprobe_that_cannot_run_leaves_the_upload_pending_to_complete_again() -> None:
    world = World()
    sent = await world.sent()
    world.prober.failure = errors.ProbeUnavailable("ffprobe timed out")

    with pytest.raises(errors.ProbeUnavailable):
        await world.uploads.complete(STAFF, str(sent.upload.id), {}, NO_FORWARD)

    assert world.video(sent).status is VideoStatus.PENDING_UPLOAD
    assert sent.video.source_key in world.bucket.objects
    world.prober.failure = None
    done = await world.uploads.complete(STAFF, str(sent.upload.id), {}, NO_FORWARD)
    assert done.video.status is VideoStatus.QUEUED


async def test_a_transcoder_that_cannot_take_the_job_leaves_the_hand_off_owed() -> None:
    world = World()
    sent = await world.sent()
    world.transcoder.accepting = False

    done = await world.uploads.complete(STAFF, str(sent.upload.id), {}, NO_FORWARD)

    # Verified and kept, with no job: exactly what the worker's hand-off sweep looks for.
    assert done.video.status is VideoStatus.UPLOADED
    stored = world.video(sent)
    assert stored.status is VideoStatus.UPLOADED and stored.transcode_job_id is None
    assert stored.uploaded_at == NOW and stored.probe is not None
    assert sent.video.source_key in world.bucket.objects
    # A second complete answers the same state; the offer is the sweep's to repeat.
    again = await world.uploads.complete(STAFF, str(sent.upload.id), {}, NO_FORWARD)
    assert again.video.status is VideoStatus.UPLOADED and world.transcoder.offered == [str(sent.video.id)]


async def test_parts_gone_from_storage_fail_the_upload() -> None:
    world = World()
    sent = await world.multipart()
    assert sent.upload.s3_upload_id is not None
    del world.bucket.multiparts[sent.upload.s3_upload_id]  # expired by a bucket lifecycle rule

    with pytest.raises(errors.UploadRejected) as refused:
        await world.uploads.complete(STAFF, str(sent.upload.id), {}, NO_FORWARD)

    assert refused.value.message == PARTS_GONE
    stored = world.video(sent)
    assert stored.status is VideoStatus.FAILED and stored.error_reason == PARTS_GONE
    with pytest.raises(errors.UploadRejected):
        await world.uploads.presign_parts(STAFF, str(sent.upload.id), [1])


async def test_a_missing_part_is_named_and_the_upload_stays_open_for_it() -> None:
    world = World()
    sent = await world.multipart(parts=(1, 3))

    with pytest.raises(errors.SourceNotUploaded, match="parts 2 of 3"):
        await world.uploads.complete(STAFF, str(sent.upload.id), {}, NO_FORWARD)

    assert world.video(sent).status is VideoStatus.PENDING_UPLOAD
    page = await world.uploads.list_parts(STAFF, str(sent.upload.id), 0, "")
    assert [p.part_number for p in page.parts] == [1, 3]
    urls = await world.uploads.presign_parts(STAFF, str(sent.upload.id), [2])
    assert [(u.part_number, u.size) for u in urls] == [(2, 5 * MIB)]


async def test_a_database_outage_during_complete_writes_nothing_and_complete_works_afterwards() -> None:
    world = World()
    sent = await world.multipart()
    world.store.refuse_commits = True

    with pytest.raises(errors.CatalogUnavailable):
        await world.uploads.complete(STAFF, str(sent.upload.id), {}, NO_FORWARD)

    stored = world.video(sent)
    assert stored.status is VideoStatus.PENDING_UPLOAD and stored.probe is None and stored.uploaded_at is None
    assert world.store.uploads[sent.upload.id].completed_at is None
    # Storage had assembled the parts: once the database is back, completing again checks that object.
    world.store.refuse_commits = False
    done = await world.uploads.complete(STAFF, str(sent.upload.id), {}, NO_FORWARD)
    assert done.video.status is VideoStatus.QUEUED
    assert len(world.transcoder.jobs) == 1


async def test_a_database_outage_at_create_stores_no_video() -> None:
    world = World()
    world.store.refuse_commits = True

    with pytest.raises(errors.CatalogUnavailable):
        await world.uploads.create(STAFF, NewUpload("", "lecture.mp4", "video/mp4", MIB, ""))

    assert world.store.videos == {} and world.store.uploads == {}


async def test_another_organizations_upload_and_video_do_not_exist_for_the_caller() -> None:
    world = World()
    sent = await world.sent()
    upload_id, video_id = str(sent.upload.id), str(sent.video.id)

    with pytest.raises(errors.UploadNotFound):
        await world.uploads.get(OTHER_ORG_ADMIN, upload_id, NO_FORWARD)
    with pytest.raises(errors.UploadNotFound):
        await world.uploads.complete(OTHER_ORG_ADMIN, upload_id, {}, NO_FORWARD)
    with pytest.raises(errors.VideoNotFound):
        await world.catalog.get(OTHER_ORG_ADMIN, video_id, NO_FORWARD)
    with pytest.raises(errors.VideoNotFound):
        await world.catalog.delete(OTHER_ORG_ADMIN, video_id, NO_FORWARD)
    assert world.video(sent).status is VideoStatus.PENDING_UPLOAD and sent.video.source_key in world.bucket.objects


async def test_another_courses_video_does_not_exist_for_its_staff_or_learners() -> None:
    world = World()
    sent = await world.sent()
    await world.uploads.complete(STAFF, str(sent.upload.id), {}, NO_FORWARD)
    await world.catalog.update(STAFF, str(sent.video.id), ["published"], "", True)

    for outsider in (OTHER_COURSE_STAFF, caller("Learner", course_id="c2")):
        with pytest.raises(errors.VideoNotFound):
            await world.catalog.get(outsider, str(sent.video.id), NO_FORWARD)
        with pytest.raises(errors.VideoNotFound):
            await world.catalog.update(outsider, str(sent.video.id), ["title"], "Mine now", False)
    with pytest.raises(errors.NotCourseStaff):
        await world.uploads.abort(OTHER_COURSE_STAFF, str(sent.upload.id))
    assert world.video(sent).title == "Lecture 1"


async def test_learners_see_published_videos_only_without_their_upload() -> None:
    world = World()
    shown, hidden = await world.sent(), await world.sent()
    await world.catalog.update(STAFF, str(shown.video.id), ["published"], "", True)

    page = await world.catalog.of_course(LEARNER, "", 0, "", NO_FORWARD)
    assert [v.video.id for v in page.videos] == [shown.video.id] and page.videos[0].upload_id == ""
    with pytest.raises(errors.VideoNotFound):
        await world.catalog.get(LEARNER, str(hidden.video.id), NO_FORWARD)
    staff_page = await world.catalog.of_course(STAFF, "", 0, "", NO_FORWARD)
    assert {v.upload_id for v in staff_page.videos} == {str(shown.upload.id), str(hidden.upload.id)}


async def test_listing_catches_an_in_flight_video_up_with_transcode() -> None:
    world = World()
    sent = await world.sent()
    await world.uploads.complete(STAFF, str(sent.upload.id), {}, NO_FORWARD)
    job = world.transcoder.jobs[str(sent.video.id)]
    world.transcoder.jobs[str(sent.video.id)] = domain.TranscodeState(job.job_id, VideoStatus.READY, 100)

    page = await world.catalog.of_course(STAFF, "", 0, "", NO_FORWARD)

    assert page.videos[0].video.status is VideoStatus.READY and page.videos[0].poster_url
    assert world.video(sent).status is VideoStatus.READY


async def test_deleting_a_transcoding_video_cancels_its_job_and_removes_its_objects() -> None:
    world = World()
    sent = await world.sent()
    await world.uploads.complete(STAFF, str(sent.upload.id), {}, NO_FORWARD)
    job_id = world.video(sent).transcode_job_id

    await world.catalog.delete(STAFF, str(sent.video.id), NO_FORWARD)

    assert world.transcoder.cancelled == [job_id]
    assert sent.video.source_key not in world.bucket.objects
    assert world.store.videos == {} and world.store.uploads == {}
    with pytest.raises(errors.VideoNotFound):
        await world.catalog.get(STAFF, str(sent.video.id), NO_FORWARD)


async def test_a_storage_outage_during_delete_keeps_the_video_to_delete_again() -> None:
    world = World()
    sent = await world.sent()
    world.bucket.down = True

    with pytest.raises(errors.StorageUnavailable):
        await world.catalog.delete(STAFF, str(sent.video.id), NO_FORWARD)

    assert sent.video.id in world.store.videos
    world.bucket.down = False
    await world.catalog.delete(STAFF, str(sent.video.id), NO_FORWARD)
    assert world.store.videos == {}


async def test_an_aborted_upload_loses_its_bytes_and_cannot_be_completed() -> None:
    world = World()
    sent = await world.multipart()

    await world.uploads.abort(STAFF, str(sent.upload.id))
    await world.uploads.abort(STAFF, str(sent.upload.id))  # again: nothing more to do

    assert world.video(sent).status is VideoStatus.CANCELLED
    assert world.bucket.aborted == [sent.upload.s3_upload_id]
    with pytest.raises(errors.UploadCancelled):
        await world.uploads.complete(STAFF, str(sent.upload.id), {}, NO_FORWARD)


async def test_a_learner_cannot_create_and_a_bad_declaration_stores_nothing() -> None:
    world = World()

    with pytest.raises(errors.NotCourseStaff):
        await world.uploads.create(LEARNER, NewUpload("", "lecture.mp4", "video/mp4", MIB, ""))
    with pytest.raises(errors.InvalidUpload):
        await world.uploads.create(STAFF, NewUpload("", "notes.pdf", "application/pdf", MIB, ""))

    assert world.store.videos == {} and world.bucket.multiparts == {}


async def test_watching_an_upload_with_no_job_shows_it_and_ends_while_it_is_pending() -> None:
    world = World()
    sent = await world.sent()

    events = [event async for event in world.uploads.watch(STAFF, str(sent.upload.id), NO_FORWARD)]

    assert isinstance(events[0], UploadView) and events[0].video.status is VideoStatus.PENDING_UPLOAD
    assert events[1:] == [WatchEnded(str(sent.upload.id), "")]


async def test_watching_a_transcoding_upload_relays_the_jobs_snapshots() -> None:
    world = World()
    sent = await world.sent()
    await world.uploads.complete(STAFF, str(sent.upload.id), {}, NO_FORWARD)
    world.transcoder.snapshots = ["25%", "100%"]
    job_id = world.video(sent).transcode_job_id or ""

    events = [event async for event in world.uploads.watch(STAFF, str(sent.upload.id), NO_FORWARD)]

    assert events == [JobSnapshot("25%"), JobSnapshot("100%"), WatchEnded(str(sent.upload.id), job_id)]


async def test_a_multipart_upload_expires_after_its_time_to_live() -> None:
    world = World()
    sent = await world.multipart()
    assert sent.upload.expires_at == NOW + timedelta(seconds=86400)
    assert sent.upload.part_count == 3 and sent.upload.method is domain.UploadMethod.MULTIPART
    with pytest.raises(errors.UploadNotFound):
        await world.uploads.get(STAFF, str(uuid.uuid4()), NO_FORWARD)
