"""Uploads up to MULTIPART_THRESHOLD: one presigned POST that object storage itself polices.

Everything goes through the real edge to the real upload_svc, and the bytes go from
this "browser" straight to SeaweedFS, as they would in production.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.upload.conftest import Api

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

TEXT = b"These are lecture notes, not a video.\n" * 40


async def test_an_instructor_gets_a_presigned_post_for_a_small_video(api: Api, small_video: bytes) -> None:
    instructor = api.caller()
    created = await api.create_upload(instructor, filename="C:\\clips\\Week_1 intro.mp4", size=len(small_video))
    assert created.status == 200, created.body
    body = created.body
    assert body["method"] == "UPLOAD_METHOD_POST"
    assert body["url"].startswith(api.base_url.split(":")[0])
    assert body["fields"]["Content-Type"] == "video/mp4"
    assert {"policy", "x-amz-signature", "key"} <= set(body["fields"])
    assert body["fields"]["key"] == f"uploads/{instructor.organization_id}/{body['video_id']}/source"
    assert body["part_count"] == 0
    assert body["expires_at"].endswith("Z")

    status = await api.call("GET", f"/api/v1/media/uploads/{body['upload_id']}", instructor)
    assert status.status == 200
    assert status.body["status"] == "VIDEO_STATUS_PENDING_UPLOAD"
    assert status.body["filename"] == "Week_1 intro.mp4"
    assert status.body["file_size"] == str(len(small_video))
    assert status.body["progress"] == 0

    video = await api.call("GET", f"/api/v1/media/videos/{body['video_id']}", instructor)
    assert video.body["video"]["title"] == "Week 1 intro"
    assert video.body["video"]["owner_id"] == instructor.user_id
    assert video.body["video"]["course_id"] == instructor.course_id


async def test_the_presigned_post_refuses_a_larger_body(api: Api, small_video: bytes, s3: S3Client) -> None:
    instructor = api.caller()
    created = (await api.create_upload(instructor, size=len(small_video))).body
    refused = await api.post_form(created, small_video + b"\0" * 1024)
    assert refused.status == 400
    assert "EntityTooLarge" in refused.body
    smaller = await api.post_form(created, small_video[:-1])
    assert smaller.status == 400
    assert "EntityTooSmall" in smaller.body
    assert s3.list_objects_v2(Bucket="media-test", Prefix=created["fields"]["key"]).get("KeyCount") == 0


async def test_the_presigned_post_refuses_another_content_type(api: Api, small_video: bytes, s3: S3Client) -> None:
    instructor = api.caller()
    created = (await api.create_upload(instructor, size=len(small_video))).body
    refused = await api.post_form(created, small_video, content_type="text/html")
    assert refused.status == 403
    assert "Policy" in refused.body
    assert s3.list_objects_v2(Bucket="media-test", Prefix=created["fields"]["key"]).get("KeyCount") == 0


async def test_a_small_video_uploaded_and_completed_has_its_probe_facts_recorded(api: Api, small_video: bytes) -> None:
    instructor = api.caller()
    created = (await api.create_upload(instructor, size=len(small_video))).body
    sent = await api.post_form(created, small_video)
    assert sent.status == 204, sent.body

    completed = await api.call("POST", f"/api/v1/media/uploads/{created['upload_id']}/complete", instructor, {})
    assert completed.status == 200, completed.body
    # Verified, then handed to transcode_svc: queued for a worker (none runs in this stack).
    assert completed.body["status"] == "VIDEO_STATUS_QUEUED"
    assert completed.body["transcode_job_id"] != ""
    probe = completed.body["probe"]
    assert probe["duration_seconds"] == 2.0
    assert (probe["width"], probe["height"], probe["rotation"]) == (320, 240, 0)
    assert probe["frame_rate"] == 25.0
    assert (probe["video_codec"], probe["audio_codec"], probe["has_audio"]) == ("h264", "aac", True)

    status = (await api.call("GET", f"/api/v1/media/uploads/{created['upload_id']}", instructor)).body
    assert status["status"] == "VIDEO_STATUS_QUEUED"
    assert status["probe"] == probe
    assert status["error_reason"] == ""


async def test_completing_twice_returns_the_same_state(api: Api, small_video: bytes) -> None:
    instructor = api.caller()
    created = (await api.create_upload(instructor, size=len(small_video))).body
    await api.post_form(created, small_video)
    path = f"/api/v1/media/uploads/{created['upload_id']}/complete"
    first = await api.call("POST", path, instructor, {})
    before = (await api.call("GET", f"/api/v1/media/uploads/{created['upload_id']}", instructor)).body
    second = await api.call("POST", path, instructor, {})
    after = (await api.call("GET", f"/api/v1/media/uploads/{created['upload_id']}", instructor)).body
    assert first.status == second.status == 200
    assert first.body == second.body
    assert before["updated_at"] == after["updated_at"]


async def test_completing_a_text_file_named_mp4_fails_with_a_reason(api: Api, s3: S3Client) -> None:
    instructor = api.caller()
    created = (await api.create_upload(instructor, filename="notes.mp4", size=len(TEXT))).body
    assert (await api.post_form(created, TEXT)).status == 204

    refused = await api.call("POST", f"/api/v1/media/uploads/{created['upload_id']}/complete", instructor, {})
    assert refused.status == 400
    assert "could not be read as a video" in refused.error_message
    assert "X-Amz" not in refused.error_message
    status = (await api.call("GET", f"/api/v1/media/uploads/{created['upload_id']}", instructor)).body
    assert status["status"] == "VIDEO_STATUS_FAILED"
    assert status["error_reason"] == refused.error_message
    assert s3.list_objects_v2(Bucket="media-test", Prefix=created["fields"]["key"]).get("KeyCount") == 0

    again = await api.call("POST", f"/api/v1/media/uploads/{created['upload_id']}/complete", instructor, {})
    assert (again.status, again.error_message) == (400, refused.error_message)


async def test_completing_before_the_file_is_sent_says_to_send_it_first(api: Api, small_video: bytes) -> None:
    instructor = api.caller()
    created = (await api.create_upload(instructor, size=len(small_video))).body
    early = await api.call("POST", f"/api/v1/media/uploads/{created['upload_id']}/complete", instructor, {})
    assert early.status == 400
    assert "has not been uploaded yet" in early.error_message
    # Still open: sending the file and completing now works.
    await api.post_form(created, small_video)
    done = await api.call("POST", f"/api/v1/media/uploads/{created['upload_id']}/complete", instructor, {})
    assert done.status == 200, done.body


async def test_an_oversize_file_is_refused_naming_the_limit(api: Api) -> None:
    refused = await api.create_upload(api.caller(), size=20 * 1024**3 + 1)
    assert refused.status == 400
    assert "largest upload allowed" in refused.error_message
    violations = refused.body["error"]["details"]
    assert any(v.get("field") == "file_size" for d in violations for v in d.get("field_violations", []))


async def test_a_file_without_a_video_extension_is_refused_with_the_accepted_extensions(api: Api) -> None:
    refused = await api.create_upload(api.caller(), filename="notes.pdf", content_type="application/pdf", size=10)
    assert refused.status == 400
    assert "does not end in a video extension" in refused.error_message
    assert ".mp4" in refused.error_message and ".mkv" in refused.error_message


async def test_an_empty_file_is_refused(api: Api) -> None:
    refused = await api.create_upload(api.caller(), size=0)
    assert refused.status == 400
    assert "the file is empty" in refused.error_message


async def test_a_learner_may_not_upload(api: Api) -> None:
    instructor = api.caller()
    refused = await api.create_upload(api.learner_of(instructor), size=1000)
    assert refused.status == 403
    assert "only instructors" in refused.error_message


async def test_an_unknown_upload_id_is_not_found(api: Api) -> None:
    instructor = api.caller()
    for upload_id in ("7d5a1d0e-0000-4000-8000-000000000000", "not-a-uuid"):
        missing = await api.call("GET", f"/api/v1/media/uploads/{upload_id}", instructor)
        assert missing.status == 404
        assert "no such upload" in missing.error_message


async def test_another_organizations_upload_looks_exactly_like_a_missing_one(api: Api, small_video: bytes) -> None:
    owner = api.caller()
    created = (await api.create_upload(owner, size=len(small_video))).body
    stranger = api.caller(course_id=owner.course_id)
    theirs = await api.call("POST", f"/api/v1/media/uploads/{created['upload_id']}/complete", stranger, {})
    missing = await api.call(
        "POST", "/api/v1/media/uploads/7d5a1d0e-0000-4000-8000-000000000000/complete", stranger, {}
    )
    assert theirs.status == missing.status == 404
    assert theirs.body["error"]["message"] == missing.body["error"]["message"]
    assert theirs.body["error"]["details"] == missing.body["error"]["details"]


async def test_a_request_without_a_session_is_unauthenticated(api: Api) -> None:
    refused = await api.call(
        "POST",
        "/api/v1/media/presigned-upload",
        None,
        {"filename": "a.mp4", "content_type": "video/mp4", "file_size": 1},
    )
    assert refused.status == 401


async def test_aborting_a_single_upload_cancels_it(api: Api, small_video: bytes) -> None:
    instructor = api.caller()
    created = (await api.create_upload(instructor, size=len(small_video))).body
    await api.post_form(created, small_video)
    aborted = await api.call("DELETE", f"/api/v1/media/uploads/{created['upload_id']}", instructor)
    assert aborted.status == 200
    again = await api.call("DELETE", f"/api/v1/media/uploads/{created['upload_id']}", instructor)
    assert again.status == 200
    status = (await api.call("GET", f"/api/v1/media/uploads/{created['upload_id']}", instructor)).body
    assert status["status"] == "VIDEO_STATUS_CANCELLED"
    late = await api.call("POST", f"/api/v1/media/uploads/{created['upload_id']}/complete", instructor, {})
    assert late.status == 400
    assert "cancelled" in late.error_message


async def test_a_single_upload_has_no_parts_to_presign(api: Api) -> None:
    instructor = api.caller()
    created = (await api.create_upload(instructor, size=1000)).body
    refused = await api.call(
        "POST", f"/api/v1/media/uploads/{created['upload_id']}/parts", instructor, {"part_numbers": [1]}
    )
    assert refused.status == 400
    assert "not multipart" in refused.error_message
