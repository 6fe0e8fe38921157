"""Uploads above MULTIPART_THRESHOLD: S3 multipart with real 5 MiB parts, resumable, abortable.

These use the second upload_svc of the ``small_parts_edge`` fixture (6 MiB threshold,
5 MiB parts), so a 14 MiB video is a three-part upload.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.upload.conftest import SMALL_PART, Api

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def part_of(data: bytes, number: int, part_size: int) -> bytes:
    return data[(number - 1) * part_size : number * part_size]


async def presign(api: Api, caller: Any, upload_id: str, numbers: list[int]) -> dict[int, dict[str, Any]]:
    reply = await api.call("POST", f"/api/v1/media/uploads/{upload_id}/parts", caller, {"part_numbers": numbers})
    assert reply.status == 200, reply.body
    return {part["part_number"]: part for part in reply.body["parts"]}


async def test_a_large_video_is_planned_as_5_mib_parts(multipart_api: Api, large_video: bytes) -> None:
    created = await multipart_api.create_upload(multipart_api.caller(), size=len(large_video))
    assert created.status == 200, created.body
    assert created.body["method"] == "UPLOAD_METHOD_MULTIPART"
    assert created.body["part_size"] == str(SMALL_PART)
    assert created.body["part_count"] == 3
    assert created.body["url"] == ""
    assert created.body["fields"] == {}


async def test_a_multipart_upload_resumes_from_the_listed_parts_and_completes(
    multipart_api: Api, large_video: bytes
) -> None:
    api = multipart_api
    instructor = api.caller()
    created = (
        await api.create_upload(
            instructor, filename="Lab_session.mov", content_type="video/quicktime", size=len(large_video)
        )
    ).body
    upload_id, part_size = created["upload_id"], int(created["part_size"])

    first = await presign(api, instructor, upload_id, [1])
    assert first[1]["size"] == str(SMALL_PART)
    sent = await api.put_bytes(first[1]["url"], part_of(large_video, 1, part_size))
    assert sent.status == 200, sent.body

    # The page reloads: the browser asks what is stored and sends only the rest.
    listed = await api.call("GET", f"/api/v1/media/uploads/{upload_id}/parts", instructor)
    assert listed.status == 200
    assert [(p["part_number"], p["size"]) for p in listed.body["parts"]] == [(1, str(SMALL_PART))]
    status = (await api.call("GET", f"/api/v1/media/uploads/{upload_id}", instructor)).body
    assert (status["part_size"], status["part_count"]) == (str(SMALL_PART), 3)

    stored = {p["part_number"] for p in listed.body["parts"]}
    remaining = [n for n in range(1, status["part_count"] + 1) if n not in stored]
    assert remaining == [2, 3]
    urls = await presign(api, instructor, upload_id, remaining)
    assert int(urls[3]["size"]) == len(large_video) - 2 * SMALL_PART
    for number in remaining:
        assert (await api.put_bytes(urls[number]["url"], part_of(large_video, number, part_size))).status == 200

    completed = await api.call("POST", f"/api/v1/media/uploads/{upload_id}/complete", instructor, {})
    assert completed.status == 200, completed.body
    assert completed.body["status"] == "VIDEO_STATUS_QUEUED"
    assert (completed.body["probe"]["width"], completed.body["probe"]["height"]) == (640, 360)
    assert completed.body["probe"]["has_audio"] is False
    again = await api.call("POST", f"/api/v1/media/uploads/{upload_id}/complete", instructor, {})
    assert again.body == completed.body


async def test_a_part_url_refuses_a_slice_of_another_size(multipart_api: Api, large_video: bytes) -> None:
    api = multipart_api
    instructor = api.caller()
    created = (await api.create_upload(instructor, size=len(large_video))).body
    urls = await presign(api, instructor, created["upload_id"], [1])
    refused = await api.put_bytes(urls[1]["url"], large_video[: SMALL_PART + 1])
    assert refused.status == 403
    listed = await api.call("GET", f"/api/v1/media/uploads/{created['upload_id']}/parts", instructor)
    assert listed.body["parts"] == []


async def test_completing_with_a_missing_part_names_it_and_keeps_the_upload_open(
    multipart_api: Api, large_video: bytes
) -> None:
    api = multipart_api
    instructor = api.caller()
    created = (await api.create_upload(instructor, size=len(large_video))).body
    upload_id = created["upload_id"]
    urls = await presign(api, instructor, upload_id, [1, 3])
    for number in (1, 3):
        await api.put_bytes(urls[number]["url"], part_of(large_video, number, SMALL_PART))
    early = await api.call("POST", f"/api/v1/media/uploads/{upload_id}/complete", instructor, {})
    assert early.status == 400
    assert "parts 2 of 3 are not uploaded yet" in early.error_message
    late = await presign(api, instructor, upload_id, [2])
    await api.put_bytes(late[2]["url"], part_of(large_video, 2, SMALL_PART))
    done = await api.call("POST", f"/api/v1/media/uploads/{upload_id}/complete", instructor, {})
    assert done.status == 200, done.body


async def test_aborting_a_multipart_upload_frees_its_parts(
    multipart_api: Api, large_video: bytes, s3: S3Client
) -> None:
    api = multipart_api
    instructor = api.caller()
    created = (await api.create_upload(instructor, size=len(large_video))).body
    upload_id = created["upload_id"]
    urls = await presign(api, instructor, upload_id, [1])
    await api.put_bytes(urls[1]["url"], part_of(large_video, 1, SMALL_PART))
    key = f"uploads/{instructor.organization_id}/{created['video_id']}/source"
    assert any(u["Key"] == key for u in s3.list_multipart_uploads(Bucket="media-test").get("Uploads", []))

    aborted = await api.call("DELETE", f"/api/v1/media/uploads/{upload_id}", instructor)
    assert aborted.status == 200
    assert not any(u["Key"] == key for u in s3.list_multipart_uploads(Bucket="media-test").get("Uploads", []))
    status = (await api.call("GET", f"/api/v1/media/uploads/{upload_id}", instructor)).body
    assert status["status"] == "VIDEO_STATUS_CANCELLED"
    refused = await api.call("POST", f"/api/v1/media/uploads/{upload_id}/parts", instructor, {"part_numbers": [2]})
    assert refused.status == 400
    assert "cancelled" in refused.error_message


async def test_presigning_parts_outside_the_plan_is_refused(multipart_api: Api, large_video: bytes) -> None:
    api = multipart_api
    instructor = api.caller()
    created = (await api.create_upload(instructor, size=len(large_video))).body
    refused = await api.call(
        "POST", f"/api/v1/media/uploads/{created['upload_id']}/parts", instructor, {"part_numbers": [0, 4]}
    )
    assert refused.status == 400
    assert "outside 1..3" in refused.error_message


async def test_a_learner_may_not_list_or_presign_parts(multipart_api: Api, large_video: bytes) -> None:
    api = multipart_api
    instructor = api.caller()
    created = (await api.create_upload(instructor, size=len(large_video))).body
    learner = api.learner_of(instructor)
    listed = await api.call("GET", f"/api/v1/media/uploads/{created['upload_id']}/parts", learner)
    assert listed.status == 403
