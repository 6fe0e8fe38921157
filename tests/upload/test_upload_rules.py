"""The upload rules as plain calls: declarations, part plans, access, statuses, pages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service_kit.auth import ADMINISTRATOR, INSTRUCTOR, LEARNER, SessionClaims
from service_kit.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from upload_svc import domain, errors
from upload_svc.domain import MIB, StoredPart, UploadLimits, UploadMethod, VideoStatus

GIB = 1024 * MIB
LIMITS = UploadLimits(max_upload_bytes=20 * GIB, multipart_threshold_bytes=100 * MIB, multipart_part_bytes=16 * MIB)


def claims(*roles: str, org: str = "org-1", course: str | None = "course-1") -> SessionClaims:
    return SessionClaims("user-1", org, course, frozenset(roles), 0, 0)


def declare(
    filename: str = "lecture.mp4", content_type: str = "video/mp4", size: int = 10 * MIB
) -> domain.DeclaredFile:
    return domain.validate_declaration(filename=filename, content_type=content_type, file_size=size, limits=LIMITS)


# ---- declarations ---------------------------------------------------------------------------


def test_a_plain_mp4_declaration_is_accepted_with_a_title_from_its_name() -> None:
    declared = declare("Week_3 - Fourier series.MP4", "Video/MP4; codecs=avc1")
    assert declared.filename == "Week_3 - Fourier series.MP4"
    assert declared.content_type == "video/mp4"
    assert declared.title == "Week 3 - Fourier series"


def test_an_empty_file_is_refused_with_what_to_fix() -> None:
    with pytest.raises(errors.InvalidUpload) as caught:
        declare(size=0)
    assert isinstance(caught.value, InvalidArgument)
    assert [v.field for v in caught.value.violations] == ["file_size"]
    assert "empty" in caught.value.message


def test_a_file_over_the_limit_is_refused_naming_the_limit() -> None:
    with pytest.raises(errors.InvalidUpload) as caught:
        declare(size=20 * GIB + 1)
    assert "20 GiB" in caught.value.message


def test_a_file_exactly_at_the_limit_is_accepted() -> None:
    assert declare(size=20 * GIB).file_size == 20 * GIB


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [
        ("clip.avi", "video/avi"),
        ("clip.avi", "video/x-msvideo"),
        ("clip.mov", "video/mov"),
        ("clip.mkv", "video/x-matroska"),
        ("clip.mp4", "application/octet-stream"),
        ("camera.ts", "text/vnd.trolltech.linguist"),
        ("camera.mts", "model/vnd.mts"),
    ],
)
def test_the_type_a_browser_reports_for_a_video_extension_is_kept_as_it_will_be_posted(
    filename: str, content_type: str
) -> None:
    assert declare(filename=filename, content_type=content_type).content_type == content_type


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [("lecture.mkv", "video/x-matroska"), ("CAMERA.MTS", "video/mp2t"), ("talk.webm", "video/webm")],
)
def test_an_empty_type_becomes_the_type_of_the_extension(filename: str, content_type: str) -> None:
    assert declare(filename=filename, content_type="").content_type == content_type


@pytest.mark.parametrize("content_type", ["video", "video/mp4 x", "video/", "/mp4", "vidéo/mp4", "video/mp4\r\nX: y"])
def test_a_type_that_is_not_a_media_type_is_refused(content_type: str) -> None:
    with pytest.raises(errors.InvalidUpload) as caught:
        declare(content_type=content_type)
    assert [v.field for v in caught.value.violations] == ["content_type"]


@pytest.mark.parametrize("filename", ["notes.txt", "lecture", "movie.mp4.exe", "slides.pdf"])
def test_a_name_without_a_video_extension_is_refused(filename: str) -> None:
    with pytest.raises(errors.InvalidUpload) as caught:
        declare(filename=filename)
    assert [v.field for v in caught.value.violations] == ["filename"]


def test_every_bad_field_is_reported_at_once() -> None:
    with pytest.raises(errors.InvalidUpload) as caught:
        declare(filename="a.txt", content_type="text plain", size=-1)
    assert {v.field for v in caught.value.violations} == {"filename", "content_type", "file_size"}


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("C:\\Users\\ana\\Videos\\intro.mp4", "intro.mp4"),
        ("../../etc/passwd.mp4", "passwd.mp4"),
        ("  ..hidden   lecture .mov ", "hidden lecture .mov"),
        ("evil\u202egpj.mp4", "evilgpj.mp4"),
        ("line\nbreak\x00.webm", "linebreak.webm"),
        ('what?:*"<>|.mkv', "what_______.mkv"),
        ("Vidéo é.mp4", "Vidéo é.mp4"),
    ],
)
def test_filenames_are_sanitised(raw: str, clean: str) -> None:
    assert domain.sanitize_filename(raw) == clean


def test_a_very_long_filename_keeps_its_extension() -> None:
    clean = domain.sanitize_filename("x" * 500 + ".mp4")
    assert len(clean) == domain.MAX_FILENAME_LENGTH
    assert clean.endswith(".mp4")


def test_a_name_that_is_only_a_path_is_refused() -> None:
    with pytest.raises(errors.InvalidUpload):
        declare(filename="videos/")


def test_a_given_title_wins_over_the_filename() -> None:
    declared = domain.validate_declaration(
        filename="x.mp4", content_type="video/mp4", file_size=1, limits=LIMITS, title="  Welcome\tweek  "
    )
    assert declared.title == "Welcome week"


def test_a_name_with_nothing_but_underscores_gets_a_placeholder_title() -> None:
    assert domain.title_from_filename("___.mp4") == domain.UNTITLED


# ---- part plans -----------------------------------------------------------------------------


def test_files_up_to_the_threshold_go_in_one_presigned_post() -> None:
    plan = domain.plan_upload(100 * MIB, LIMITS)
    assert plan.method is UploadMethod.POST
    assert plan.part_count == 0


def test_files_above_the_threshold_go_in_parts_of_the_preferred_size() -> None:
    plan = domain.plan_upload(100 * MIB + 1, LIMITS)
    assert plan.method is UploadMethod.MULTIPART
    assert plan.part_size == 16 * MIB
    assert plan.part_count == 7
    assert plan.part_bytes(7) == 100 * MIB + 1 - 6 * 16 * MIB


def test_parts_grow_so_that_a_huge_file_needs_at_most_ten_thousand() -> None:
    five_tb = 5 * 1024 * GIB
    plan = domain.plan_upload(five_tb, UploadLimits(10 * 1024 * GIB, 100 * MIB, 5 * MIB))
    assert plan.part_count <= domain.S3_MAX_PARTS
    assert plan.part_size % MIB == 0
    assert plan.part_size <= domain.S3_MAX_PART_BYTES


def test_parts_are_never_below_s3s_minimum() -> None:
    plan = domain.plan_upload(7 * MIB, UploadLimits(GIB, 6 * MIB, 1))
    assert plan.part_size == 5 * MIB
    assert [plan.part_bytes(n) for n in (1, 2)] == [5 * MIB, 2 * MIB]


def test_the_parts_of_a_plan_add_up_to_the_file() -> None:
    plan = domain.plan_upload(123_456_789, LIMITS)
    assert sum(plan.part_bytes(n) for n in range(1, plan.part_count + 1)) == 123_456_789


@pytest.mark.parametrize(
    ("numbers", "words"),
    [([], "empty"), ([0], "outside"), ([8], "outside"), ([1, 1], "once"), (list(range(1, 102)), "at most")],
)
def test_bad_part_numbers_are_refused(numbers: list[int], words: str) -> None:
    plan = domain.plan_upload(100 * MIB + 1, LIMITS)
    big_plan = domain.plan_upload(20 * GIB, LIMITS)
    with pytest.raises(errors.InvalidPartNumbers) as caught:
        domain.check_part_numbers(numbers, big_plan if len(numbers) > 100 else plan)
    assert words in caught.value.message


def test_completing_with_a_part_missing_names_it_and_stays_retriable() -> None:
    plan = domain.UploadPlan(UploadMethod.MULTIPART, 12 * MIB, 5 * MIB, 3)
    stored = [StoredPart(1, 5 * MIB, '"a"'), StoredPart(3, 2 * MIB, '"c"')]
    with pytest.raises(errors.SourceNotUploaded) as caught:
        domain.check_parts_complete(stored, plan, {})
    assert "parts 2 of 3" in caught.value.message
    assert isinstance(caught.value, FailedPrecondition)


def test_a_part_of_the_wrong_size_is_named() -> None:
    plan = domain.UploadPlan(UploadMethod.MULTIPART, 12 * MIB, 5 * MIB, 3)
    stored = [StoredPart(1, 5 * MIB, "a"), StoredPart(2, 4 * MIB, "b"), StoredPart(3, 2 * MIB, "c")]
    with pytest.raises(errors.PartsMismatch, match="parts 2 "):
        domain.check_parts_complete(stored, plan, {})


def test_claimed_etags_must_match_the_stored_ones() -> None:
    plan = domain.UploadPlan(UploadMethod.MULTIPART, 12 * MIB, 5 * MIB, 3)
    stored = [StoredPart(1, 5 * MIB, '"a"'), StoredPart(2, 5 * MIB, '"b"'), StoredPart(3, 2 * MIB, '"c"')]
    domain.check_parts_complete(stored, plan, {1: "a", 2: '"b"'})
    with pytest.raises(errors.PartsMismatch, match="parts 3 "):
        domain.check_parts_complete(stored, plan, {3: "zzz"})


def test_a_stored_object_of_another_size_or_type_fails_the_upload() -> None:
    domain.check_stored_object(10, "video/mp4", 10, "video/mp4")
    with pytest.raises(errors.UploadRejected, match="11 bytes"):
        domain.check_stored_object(11, "video/mp4", 10, "video/mp4")
    with pytest.raises(errors.UploadRejected, match="text/plain"):
        domain.check_stored_object(10, "text/plain", 10, "video/mp4")


# ---- access ---------------------------------------------------------------------------------


def test_an_instructor_uploads_to_the_course_of_the_session() -> None:
    assert domain.course_for_new_upload(claims(INSTRUCTOR), "") == "course-1"


def test_a_learner_may_not_upload() -> None:
    with pytest.raises(errors.NotCourseStaff) as caught:
        domain.course_for_new_upload(claims(LEARNER), "")
    assert isinstance(caught.value, PermissionDenied)


def test_an_instructor_may_not_upload_to_another_course() -> None:
    with pytest.raises(errors.NotCourseStaff):
        domain.course_for_new_upload(claims(INSTRUCTOR), "course-2")


def test_an_administrator_may_upload_to_any_course_of_the_organization() -> None:
    assert domain.course_for_new_upload(claims(ADMINISTRATOR), "course-2") == "course-2"


def test_a_session_without_a_course_must_name_one() -> None:
    with pytest.raises(errors.NoCourse):
        domain.course_for_new_upload(claims(INSTRUCTOR, course=None), "")


def test_another_organizations_upload_looks_missing() -> None:
    with pytest.raises(errors.UploadNotFound) as caught:
        domain.ensure_manages(claims(ADMINISTRATOR), "org-2", "course-1")
    assert isinstance(caught.value, NotFound)


def test_a_learner_may_not_manage_an_upload_of_their_course() -> None:
    with pytest.raises(errors.NotCourseStaff):
        domain.ensure_manages(claims(LEARNER), "org-1", "course-1")


def test_learners_see_only_published_videos_of_their_course() -> None:
    learner = claims(LEARNER)
    assert domain.may_see_video(learner, "org-1", "course-1", published=True)
    assert not domain.may_see_video(learner, "org-1", "course-1", published=False)
    assert not domain.may_see_video(learner, "org-1", "course-2", published=True)
    assert not domain.may_see_video(claims(INSTRUCTOR), "org-2", "course-1", published=True)


def test_a_learner_lists_only_published_videos() -> None:
    assert domain.listing_for(claims(LEARNER), "") == domain.VideoListing("course-1", published_only=True)
    assert domain.listing_for(claims(INSTRUCTOR), "") == domain.VideoListing("course-1", published_only=False)


# ---- statuses -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (VideoStatus.PENDING_UPLOAD, VideoStatus.UPLOADED, True),
        (VideoStatus.PENDING_UPLOAD, VideoStatus.CANCELLED, True),
        (VideoStatus.UPLOADED, VideoStatus.QUEUED, True),
        (VideoStatus.QUEUED, VideoStatus.TRANSCODING, True),
        (VideoStatus.TRANSCODING, VideoStatus.READY, True),
        (VideoStatus.READY, VideoStatus.TRANSCODING, False),
        (VideoStatus.FAILED, VideoStatus.UPLOADED, False),
        (VideoStatus.CANCELLED, VideoStatus.UPLOADED, False),
        (VideoStatus.UPLOADED, VideoStatus.PENDING_UPLOAD, False),
    ],
)
def test_statuses_only_move_forward(current: VideoStatus, target: VideoStatus, allowed: bool) -> None:
    assert domain.can_transition(current, target) is allowed


def test_progress_is_full_only_when_ready() -> None:
    assert domain.progress_percent(VideoStatus.PENDING_UPLOAD) == 0
    assert domain.progress_percent(VideoStatus.TRANSCODING, 42) == 42
    assert domain.progress_percent(VideoStatus.TRANSCODING, 100) == 99
    assert domain.progress_percent(VideoStatus.READY) == 100


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (VideoStatus.UPLOADED, errors.UploadNotPending),
        (VideoStatus.CANCELLED, errors.UploadCancelled),
        (VideoStatus.FAILED, errors.UploadRejected),
    ],
)
def test_only_pending_uploads_take_more_bytes(status: VideoStatus, error: type[Exception]) -> None:
    domain.refuse_unless_pending(VideoStatus.PENDING_UPLOAD, None)
    with pytest.raises(error):
        domain.refuse_unless_pending(status, "the file has no video stream")


# ---- updates and pages ----------------------------------------------------------------------


def test_an_update_without_a_mask_changes_the_populated_fields() -> None:
    assert domain.fields_to_update([], "New title", False) == {"title": "New title"}
    assert domain.fields_to_update(["published"], "", False) == {"published": False}


def test_an_update_of_nothing_or_of_other_fields_is_refused() -> None:
    with pytest.raises(errors.InvalidUpdate, match="nothing to change"):
        domain.fields_to_update([], "", False)
    with pytest.raises(errors.InvalidUpdate, match="owner_id cannot be changed"):
        domain.fields_to_update(["owner_id"], "", False)
    with pytest.raises(errors.InvalidUpdate, match="title is empty"):
        domain.fields_to_update(["title"], "   ", False)


def test_a_page_token_round_trips_and_is_bound_to_its_course() -> None:
    cursor = domain.VideoCursor("course-1", datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), "v-1")
    token = domain.encode_video_cursor(cursor)
    assert domain.decode_video_cursor(token, "course-1") == cursor
    with pytest.raises(errors.InvalidPageToken):
        domain.decode_video_cursor(token, "course-2")
    with pytest.raises(errors.InvalidPageToken):
        domain.decode_video_cursor("not-a-token", "course-1")


def test_page_sizes_default_to_twenty_and_cap_at_a_hundred() -> None:
    assert domain.page_size(0) == 20
    assert domain.page_size(500) == 100
    with pytest.raises(errors.InvalidPageToken):
        domain.page_size(-1)


def test_part_listing_tokens_round_trip() -> None:
    assert domain.decode_part_marker(domain.encode_part_marker(1000)) == 1000
    with pytest.raises(errors.InvalidPageToken):
        domain.decode_part_marker("zzz")
