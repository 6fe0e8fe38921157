"""LTI Advantage against the test platform: deep linking, Names and Roles, Assignment and Grade Services."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp

from tests.lti.conftest import Lti
from tests.lti.platform import INSTRUCTOR_ROLE, LEARNER_ROLE, TestPlatform, form_action, hidden_fields, session_of

DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
C = "https://purl.imsglobal.org/spec/lti/claim/"


async def _instructor_token(lti: Lti, platform: TestPlatform) -> str:
    reply = await lti.launch(platform, roles=[INSTRUCTOR_ROLE], user="teacher-1")
    assert reply.status == 200, reply.text
    token: str = session_of(reply.text)["session_token"]
    return token


async def test_an_instructor_picks_a_live_session_and_the_platform_receives_a_signed_response(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any]
) -> None:
    picker = await lti.launch(platform, roles=[INSTRUCTOR_ROLE], user="teacher-1", message_type="LtiDeepLinkingRequest")
    assert picker.status == 200, picker.text
    assert "Add to the course" in picker.text
    fields = hidden_fields(picker.text)
    assert fields["launch_id"]
    session_id = f"live-{uuid.uuid4().hex[:6]}"
    form = {**fields, "pick": "live", "live_session_id": session_id, "title": "Week 3 live"}
    async with aiohttp.ClientSession() as browser:
        async with browser.post(lti.base + form_action(picker.text), data=form) as reply:
            auto_post = await reply.text()
            assert reply.status == 200, auto_post
            assert "form-action " + platform.base in reply.headers["Content-Security-Policy"]
        assert form_action(auto_post) == f"{platform.base}/deep-link-return"
        returned = hidden_fields(auto_post)
        assert list(returned) == ["JWT"]
        async with browser.post(form_action(auto_post), data=returned) as reply:
            assert reply.status == 200
    claims = platform.received.deep_link_responses[-1]
    assert claims["iss"] == platform.client_id and claims["aud"] == platform.issuer
    assert claims[C + "message_type"] == "LtiDeepLinkingResponse"
    assert claims[C + "version"] == "1.3.0"
    assert claims[C + "deployment_id"] == platform.deployment_id
    assert claims[DL + "data"] == "opaque-platform-data-42"
    [item] = claims[DL + "content_items"]
    assert item["type"] == "ltiResourceLink" and item["title"] == "Week 3 live"
    assert item["custom"] == {"live_session_id": session_id}
    assert item["url"] == f"{lti.base}/lti/launch"


async def test_a_deep_linking_launch_answers_only_once(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any]
) -> None:
    picker = await lti.launch(platform, roles=[INSTRUCTOR_ROLE], user="teacher-2", message_type="LtiDeepLinkingRequest")
    fields = {**hidden_fields(picker.text), "pick": "live", "live_session_id": "s-1"}
    async with aiohttp.ClientSession() as browser:
        async with browser.post(lti.base + form_action(picker.text), data=fields) as reply:
            assert reply.status == 200
        async with browser.post(lti.base + form_action(picker.text), data=fields) as reply:
            assert reply.status == 404
            assert "LAUNCH_NOT_FOUND" in await reply.text()


async def test_a_deep_linking_response_can_be_asked_for_as_json(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any]
) -> None:
    picker = await lti.launch(platform, roles=[INSTRUCTOR_ROLE], user="teacher-3", message_type="LtiDeepLinkingRequest")
    fields = hidden_fields(picker.text)
    body = {
        "launch_id": fields["launch_id"],
        "items": [{"type": "DEEP_LINKING_ITEM_TYPE_LTI_RESOURCE_LINK", "video_id": "v-1"}],
    }
    reply = await lti.api("POST", "/api/v1/lti/deep-linking/responses", fields["session_token"], body)
    assert reply.status == 200, reply.text
    claims = await platform.verify_tool_jwt(reply.json["jwt"], audience=platform.issuer)
    assert claims[DL + "content_items"][0]["custom"] == {"video_id": "v-1"}
    assert reply.json["return_url"] == f"{platform.base}/deep-link-return"


async def test_the_roster_is_read_over_every_page_and_cached(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any]
) -> None:
    platform.members = [
        {"user_id": f"m{i}", "name": f"Member {i}", "roles": [LEARNER_ROLE], "status": "Active"} for i in range(5)
    ] + [{"user_id": "t1", "name": "Teacher", "roles": [INSTRUCTOR_ROLE]}]
    token = await _instructor_token(lti, platform)
    path = f"/api/v1/lti/courses/{platform.context_id}/members"
    reply = await lti.api("GET", path + "?role=Learner", token)
    assert reply.status == 200, reply.text
    assert [m["user_id"] for m in reply.json["members"]] == ["m0", "m1", "m2", "m3", "m4"]
    assert reply.json["members"][0]["status"] == "COURSE_MEMBER_STATUS_ACTIVE"
    assert len(platform.received.roster_requests) == 3, "three pages of two, followed by Link rel=next"
    token_request = platform.received.token_requests[-1]
    assert token_request["scope"] == "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
    paged = await lti.api("GET", path + "?page_size=4", token)
    assert len(paged.json["members"]) == 4 and paged.json["next_page_token"]
    rest = await lti.api("GET", path + f"?page_size=4&page_token={paged.json['next_page_token']}", token)
    assert [m["user_id"] for m in rest.json["members"]] == ["m4", "t1"] and rest.json["next_page_token"] == ""
    assert len(platform.received.roster_requests) == 3, "the roster is cached"


async def test_a_learner_cannot_read_the_roster(lti: Lti, platform: TestPlatform, registered: dict[str, Any]) -> None:
    reply = await lti.launch(platform, roles=[LEARNER_ROLE])
    token = session_of(reply.text)["session_token"]
    roster = await lti.api("GET", f"/api/v1/lti/courses/{platform.context_id}/members", token)
    assert roster.status == 403 and roster.reason == "NOT_COURSE_STAFF"


async def test_a_live_session_gets_one_gradebook_column_and_scores_reach_it(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any]
) -> None:
    token = await _instructor_token(lti, platform)
    path = f"/api/v1/lti/courses/{platform.context_id}/line-items"
    body = {"live_session_id": "live-9", "label": "Live lecture 9 attendance", "score_maximum": 1}
    created = await lti.api("POST", path, token, body)
    assert created.status == 200, created.text
    again = await lti.api("POST", path, token, body)
    assert again.json["line_item"]["line_item_id"] == created.json["line_item"]["line_item_id"]
    [column] = platform.received.line_items
    assert column["label"] == "Live lecture 9 attendance" and column["scoreMaximum"] == 1
    assert column["resourceId"] == "live-session:live-9"
    line_item_id = created.json["line_item"]["line_item_id"]
    scores = {
        "scores": [
            {
                "user_id": "m1",
                "score_given": 1,
                "score_maximum": 1,
                "activity_progress": "ACTIVITY_PROGRESS_COMPLETED",
                "grading_progress": "GRADING_PROGRESS_FULLY_GRADED",
            },
            {
                "user_id": "user-refused",
                "score_given": 0,
                "activity_progress": "ACTIVITY_PROGRESS_COMPLETED",
                "grading_progress": "GRADING_PROGRESS_FULLY_GRADED",
            },
        ]
    }
    published = await lti.api("POST", f"/api/v1/lti/line-items/{line_item_id}/scores", token, scores)
    assert published.status == 200, published.text
    assert published.json["accepted_count"] == 1
    assert published.json["failures"][0]["user_id"] == "user-refused"
    assert "learner not enrolled" in published.json["failures"][0]["reason"]
    [score] = platform.received.scores
    assert score["userId"] == "m1" and score["scoreGiven"] == 1 and score["scoreMaximum"] == 1
    assert score["activityProgress"] == "Completed" and score["gradingProgress"] == "FullyGraded"
    assert score["line_item"] == column["id"]
    assert score["timestamp"].endswith("+00:00")


async def test_a_course_never_launched_has_no_roster(lti: Lti, organization: str) -> None:
    token = lti.token(organization, "Instructor", course="never-launched", user="t")
    reply = await lti.api("GET", "/api/v1/lti/courses/never-launched/members", token)
    assert reply.status == 400 and reply.reason == "COURSE_NOT_LINKED"
