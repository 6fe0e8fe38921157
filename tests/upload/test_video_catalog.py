"""The video catalog through the edge: list, read, rename, publish, delete."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.support.callers import Caller
from tests.upload.conftest import Api

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


async def uploaded_video(api: Api, caller: Caller, video: bytes, filename: str = "Talk.mp4") -> str:
    created = (await api.create_upload(caller, filename=filename, size=len(video))).body
    assert (await api.post_form(created, video)).status == 204
    done = await api.call("POST", f"/api/v1/media/uploads/{created['upload_id']}/complete", caller, {})
    assert done.status == 200, done.body
    return str(created["video_id"])


async def test_a_course_lists_its_videos_newest_first_page_by_page(api: Api) -> None:
    instructor = api.caller()
    ids = [(await api.create_upload(instructor, filename=f"part_{n}.mp4", size=100)).body["video_id"] for n in range(5)]
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        reply = await api.call("GET", f"/api/v1/media/videos?page_size=2&page_token={token}", instructor)
        assert reply.status == 200, reply.body
        seen += [v["video_id"] for v in reply.body["videos"]]
        pages += 1
        token = reply.body["next_page_token"]
        if not token:
            break
    assert seen == list(reversed(ids))
    assert pages == 3
    other_course = api.caller(organization_id=instructor.organization_id)
    assert (await api.call("GET", "/api/v1/media/videos", other_course)).body["videos"] == []


async def test_learners_see_a_video_only_once_it_is_published(api: Api, small_video: bytes) -> None:
    instructor = api.caller()
    learner = api.learner_of(instructor)
    video_id = await uploaded_video(api, instructor, small_video)
    assert (await api.call("GET", f"/api/v1/media/videos/{video_id}", learner)).status == 404
    assert (await api.call("GET", "/api/v1/media/videos", learner)).body["videos"] == []

    published = await api.call(
        "PATCH", f"/api/v1/media/videos/{video_id}?update_mask=published", instructor, {"published": True}
    )
    assert published.status == 200, published.body
    assert published.body["video"]["published"] is True
    seen = await api.call("GET", f"/api/v1/media/videos/{video_id}", learner)
    assert seen.status == 200
    assert seen.body["video"]["probe"]["duration_seconds"] == 2.0
    assert [v["video_id"] for v in (await api.call("GET", "/api/v1/media/videos", learner)).body["videos"]] == [
        video_id
    ]
    refused = await api.call("PATCH", f"/api/v1/media/videos/{video_id}", learner, {"title": "Mine now"})
    assert refused.status == 403


async def test_an_instructor_renames_a_video(api: Api) -> None:
    instructor = api.caller()
    video_id = (await api.create_upload(instructor, size=100)).body["video_id"]
    renamed = await api.call("PATCH", f"/api/v1/media/videos/{video_id}", instructor, {"title": "  Week 2:  Limits "})
    assert renamed.status == 200, renamed.body
    assert renamed.body["video"]["title"] == "Week 2: Limits"
    assert (await api.call("GET", f"/api/v1/media/videos/{video_id}", instructor)).body["video"]["title"] == (
        "Week 2: Limits"
    )


async def test_an_update_that_changes_nothing_says_what_to_send(api: Api) -> None:
    instructor = api.caller()
    video_id = (await api.create_upload(instructor, size=100)).body["video_id"]
    refused = await api.call("PATCH", f"/api/v1/media/videos/{video_id}?update_mask=owner_id", instructor, {})
    assert refused.status == 400
    assert "owner_id cannot be changed" in refused.error_message


async def test_deleting_a_video_removes_every_object_it_has(api: Api, small_video: bytes, s3: S3Client) -> None:
    instructor = api.caller()
    video_id = await uploaded_video(api, instructor, small_video)
    # What a transcode would have published next to the source.
    for name in ("master.m3u8", "720p/index.m3u8", "720p/seg_00001.ts"):
        s3.put_object(Bucket="media-test", Key=f"hls/{video_id}/{name}", Body=b"#EXTM3U\n")
    deleted = await api.call("DELETE", f"/api/v1/media/videos/{video_id}", instructor)
    assert deleted.status == 200, deleted.body
    for prefix in (f"uploads/{instructor.organization_id}/{video_id}/", f"hls/{video_id}/"):
        assert s3.list_objects_v2(Bucket="media-test", Prefix=prefix).get("KeyCount") == 0
    assert (await api.call("GET", f"/api/v1/media/videos/{video_id}", instructor)).status == 404


async def test_another_organization_cannot_see_or_delete_a_video(api: Api, small_video: bytes) -> None:
    owner = api.caller()
    video_id = await uploaded_video(api, owner, small_video)
    stranger = api.caller(course_id=owner.course_id)
    assert (await api.call("GET", f"/api/v1/media/videos/{video_id}", stranger)).status == 404
    assert (await api.call("DELETE", f"/api/v1/media/videos/{video_id}", stranger)).status == 404
    assert (await api.call("GET", f"/api/v1/media/videos/{video_id}", owner)).status == 200


async def test_a_forged_page_token_is_refused(api: Api) -> None:
    refused = await api.call("GET", "/api/v1/media/videos?page_token=bm9wZQ", api.caller())
    assert refused.status == 400
    assert "page_token" in refused.error_message
