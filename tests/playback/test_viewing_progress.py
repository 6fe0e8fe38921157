"""Viewing positions through the edge: each viewer's own, for videos they may see."""

from __future__ import annotations

from tests.playback.conftest import Rig


def progress_path(video_id: str) -> str:
    return f"/api/v1/media/videos/{video_id}/progress"


async def test_a_learner_records_a_position_and_reads_it_back_with_where_to_resume(rig: Rig) -> None:
    instructor = rig.client.caller()
    learner = rig.client.learner_of(instructor)
    video_id = await rig.ready_video(instructor)

    never = await rig.client.call("GET", progress_path(video_id), learner)
    assert never.status == 200, never.text
    assert never.json["progress"]["position_seconds"] == 0 and "updated_at" not in never.json["progress"]

    body = {"position_seconds": 61.5, "duration_seconds": 600}
    recorded = await rig.client.call("POST", progress_path(video_id), learner, body)
    assert recorded.status == 200, recorded.text
    read = (await rig.client.call("GET", progress_path(video_id), learner)).json["progress"]
    assert read["position_seconds"] == 61.5 and read["resume_seconds"] == 61.5 and read["duration_seconds"] == 600
    assert "updated_at" in read

    later = {"position_seconds": 598, "duration_seconds": 600}
    assert (await rig.client.call("POST", progress_path(video_id), learner, later)).status == 200
    finished = (await rig.client.call("GET", progress_path(video_id), learner)).json["progress"]
    assert finished["position_seconds"] == 598 and finished["resume_seconds"] == 0


async def test_a_position_is_its_viewers_alone(rig: Rig) -> None:
    instructor = rig.client.caller()
    learner, classmate = rig.client.learner_of(instructor), rig.client.learner_of(instructor)
    video_id = await rig.ready_video(instructor)

    body = {"position_seconds": 30, "duration_seconds": 600}
    assert (await rig.client.call("POST", progress_path(video_id), learner, body)).status == 200

    theirs = (await rig.client.call("GET", progress_path(video_id), classmate)).json["progress"]
    assert theirs["position_seconds"] == 0


async def test_progress_on_a_video_of_another_organization_is_not_found_and_a_bad_position_is_refused(
    rig: Rig,
) -> None:
    instructor = rig.client.caller()
    video_id = await rig.ready_video(instructor)
    stranger = rig.client.caller(roles=("Learner",), organization_id="another-org")

    body = {"position_seconds": 5, "duration_seconds": 600}
    assert (await rig.client.call("POST", progress_path(video_id), stranger, body)).status == 404
    assert (await rig.client.call("GET", progress_path(video_id), stranger)).status == 404

    learner = rig.client.learner_of(instructor)
    negative = await rig.client.call("POST", progress_path(video_id), learner, {"position_seconds": -3})
    assert negative.status == 400, negative.text
    assert (await rig.client.call("POST", progress_path(video_id), None, body)).status == 401
