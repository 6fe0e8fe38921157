"""Each check of a launch, broken alone: the launch is refused with a readable 4xx naming that check."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from tests.lti.conftest import Lti, Reply
from tests.lti.platform import LEARNER_ROLE, PlatformKey, TestPlatform, new_key, session_of

C = "https://purl.imsglobal.org/spec/lti/claim/"


def _edit(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def apply(claims: dict[str, Any]) -> dict[str, Any]:
        change(claims)
        return claims

    return apply


def _refused(reply: Reply, status: int, reason: str) -> None:
    assert reply.status == status, reply.text
    assert reply.headers["Content-Type"].startswith("text/html")
    assert reason in reply.text
    assert "request id" in reply.text


CLAIM_BREAKS: list[tuple[str, Callable[[dict[str, Any]], None], int, str]] = [
    ("expired", lambda c: c.update(exp=int(time.time()) - 3600, iat=int(time.time()) - 3900), 401, "LAUNCH_EXPIRED"),
    ("issued in the future", lambda c: c.update(iat=int(time.time()) + 3600), 401, "LAUNCH_ISSUED_IN_FUTURE"),
    ("nonce not from this login", lambda c: c.update(nonce=uuid.uuid4().hex), 401, "LAUNCH_NONCE_MISMATCH"),
    ("no nonce", lambda c: c.pop("nonce"), 401, "LAUNCH_NO_NONCE"),
    (
        "unregistered deployment",
        lambda c: c.update({C + "deployment_id": "elsewhere"}),
        401,
        "LAUNCH_UNKNOWN_DEPLOYMENT",
    ),
    ("wrong version", lambda c: c.update({C + "version": "1.1"}), 400, "LAUNCH_WRONG_VERSION"),
    (
        "unknown message type",
        lambda c: c.update({C + "message_type": "LtiSubmissionReview"}),
        400,
        "LAUNCH_UNSUPPORTED_MESSAGE_TYPE",
    ),
    ("no target_link_uri", lambda c: c.pop(C + "target_link_uri"), 400, "LAUNCH_NO_TARGET_LINK_URI"),
    (
        "target_link_uri not the login's",
        lambda c: c.update({C + "target_link_uri": c[C + "target_link_uri"] + "?x"}),
        401,
        "LAUNCH_TARGET_MISMATCH",
    ),
    ("roles not a list", lambda c: c.update({C + "roles": "Learner"}), 400, "LAUNCH_NO_ROLES"),
    ("no context", lambda c: c.pop(C + "context"), 400, "LAUNCH_NO_CONTEXT"),
    ("no resource link", lambda c: c.pop(C + "resource_link"), 400, "LAUNCH_NO_RESOURCE_LINK"),
    ("several audiences without azp", lambda c: c.update(aud=[c["aud"], "another-tool"]), 401, "LAUNCH_WRONG_AUDIENCE"),
    ("no subject", lambda c: c.pop("sub"), 400, "LAUNCH_NO_USER"),
]


@pytest.mark.parametrize(("case", "change", "status", "reason"), CLAIM_BREAKS, ids=[b[0] for b in CLAIM_BREAKS])
async def test_a_launch_with_one_bad_claim_is_refused_for_that_claim(
    lti: Lti,
    platform: TestPlatform,
    registered: dict[str, Any],
    case: str,
    change: Callable[[dict[str, Any]], None],
    status: int,
    reason: str,
) -> None:
    platform.claim_edits = _edit(change)
    _refused(await lti.launch(platform), status, reason)


async def test_several_audiences_with_the_tool_as_azp_are_accepted(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any]
) -> None:
    platform.claim_edits = _edit(lambda c: c.update(aud=[c["aud"], "another-tool"], azp=c["aud"]))
    assert (await lti.launch(platform)).status == 200


async def test_unknown_claims_are_ignored(lti: Lti, platform: TestPlatform, registered: dict[str, Any]) -> None:
    platform.claim_edits = _edit(lambda c: c.update({"https://lms.example/claim/x": [1, {"y": None}], "extra": True}))
    assert (await lti.launch(platform)).status == 200


async def test_a_token_signed_by_a_key_the_platform_does_not_publish_is_refused(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any]
) -> None:
    stranger = new_key()
    platform.token_edits = lambda _key, claims: jwt.encode(
        claims, stranger.private, algorithm="RS256", headers={"kid": stranger.kid}
    )
    _refused(await lti.launch(platform), 401, "LAUNCH_UNKNOWN_KEY")


async def test_a_token_whose_signature_does_not_match_its_kid_is_refused(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any]
) -> None:
    impostor = new_key()
    platform.token_edits = lambda key, claims: jwt.encode(
        claims, impostor.private, algorithm="RS256", headers={"kid": key.kid}
    )
    _refused(await lti.launch(platform), 401, "LAUNCH_BAD_SIGNATURE")


async def test_an_unsigned_token_is_refused(lti: Lti, platform: TestPlatform, registered: dict[str, Any]) -> None:
    platform.token_edits = lambda key, claims: jwt.encode(claims, "", algorithm="none", headers={"kid": key.kid})
    _refused(await lti.launch(platform), 401, "LAUNCH_WRONG_ALGORITHM")


async def test_a_token_signed_with_hmac_over_the_public_key_is_refused(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any]
) -> None:
    def hmac_signed(key: PlatformKey, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, "x" * 64, algorithm="HS256", headers={"kid": key.kid})

    platform.token_edits = hmac_signed
    _refused(await lti.launch(platform), 401, "LAUNCH_WRONG_ALGORITHM")


async def test_a_token_from_an_unregistered_issuer_is_refused(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any]
) -> None:
    platform.claim_edits = _edit(lambda c: c.update(iss="https://other-lms.example"))
    _refused(await lti.launch(platform), 400, "UNKNOWN_PLATFORM")


async def test_a_token_for_another_client_id_is_refused(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any]
) -> None:
    platform.claim_edits = _edit(lambda c: c.update(aud="someone-else"))
    _refused(await lti.launch(platform), 400, "UNKNOWN_PLATFORM")


async def test_a_replayed_form_post_is_refused(lti: Lti, platform: TestPlatform, registered: dict[str, Any]) -> None:
    async with lti.browser() as browser:
        login = await lti.login(browser, platform, roles=[LEARNER_ROLE], user="u-replay")
        form = await lti.authorize(browser, login.headers["Location"])
        assert (await lti.post_launch(browser, form)).status == 200
        _refused(await lti.post_launch(browser, form), 401, "LAUNCH_UNKNOWN_STATE")


async def test_a_launch_with_a_state_this_tool_never_issued_is_refused(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any]
) -> None:
    async with lti.browser() as browser:
        login = await lti.login(browser, platform, roles=[LEARNER_ROLE], user="u-state")
        form = await lti.authorize(browser, login.headers["Location"])
        _refused(await lti.post_launch(browser, {**form, "state": "forged-state"}), 401, "LAUNCH_UNKNOWN_STATE")


async def test_a_launch_without_an_id_token_is_refused(lti: Lti) -> None:
    async with lti.browser() as browser:
        _refused(await lti.post_launch(browser, {"state": "s"}), 401, "LAUNCH_NOT_A_JWT")


async def test_a_json_launch_opens_a_session_and_its_nonce_works_once(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any], organization: str
) -> None:
    async with lti.browser() as browser:
        login = await lti.login(browser, platform, roles=[LEARNER_ROLE], user="u-json")
        form = await lti.authorize(browser, login.headers["Location"])
    body = {"id_token": form["id_token"], "organization_id": organization}
    first = await lti.api("POST", "/api/v1/lti/launch", body=body)
    assert first.status == 200, first.text
    assert first.json["launch"]["course"]["course_id"] == platform.context_id
    assert first.json["launch"]["roles"] == ["Learner"]
    again = await lti.api("POST", "/api/v1/lti/launch", body=body)
    assert again.status == 401 and again.reason == "LAUNCH_NONCE_REUSED"


async def test_a_json_launch_for_another_organization_is_refused(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any]
) -> None:
    async with lti.browser() as browser:
        login = await lti.login(browser, platform, roles=[LEARNER_ROLE], user="u-json2")
        form = await lti.authorize(browser, login.headers["Location"])
    reply = await lti.api("POST", "/api/v1/lti/launch", body={"id_token": form["id_token"], "organization_id": "org-x"})
    assert reply.status == 400 and reply.reason == "UNKNOWN_PLATFORM"


async def test_a_login_from_an_unregistered_platform_gets_a_page_saying_what_to_register(
    lti: Lti, platform: TestPlatform
) -> None:
    async with lti.browser() as browser:
        reply = await lti.login(browser, platform, roles=[LEARNER_ROLE], user="u")
    _refused(reply, 400, "UNKNOWN_PLATFORM")
    assert "POST /api/v1/lti/config" in reply.text


async def test_a_login_for_a_target_off_this_tool_is_refused(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any]
) -> None:
    async with lti.browser() as browser:
        reply = await lti.login(
            browser, platform, roles=[LEARNER_ROLE], user="u", extra={"target_link_uri": "https://evil.example/x"}
        )
    _refused(reply, 400, "INVALID_LOGIN")


async def test_a_login_for_an_unregistered_deployment_is_refused(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any]
) -> None:
    async with lti.browser() as browser:
        reply = await lti.login(browser, platform, roles=[LEARNER_ROLE], user="u", extra={"lti_deployment_id": "d-x"})
    _refused(reply, 400, "LOGIN_UNKNOWN_DEPLOYMENT")


async def test_a_login_posted_as_a_form_works_like_a_query(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any]
) -> None:
    form = {
        "iss": platform.issuer,
        "login_hint": '{"user": "u-post", "roles": []}',
        "target_link_uri": f"{lti.base}/lti/launch",
        "lti_message_hint": "message-hint-7",
        "client_id": platform.client_id,
    }
    async with lti.browser() as browser, browser.post(f"{lti.base}/lti/login", data=form, allow_redirects=False) as r:
        assert r.status == 302
        assert r.headers["Location"].startswith(f"{platform.base}/auth?")


async def test_the_platform_rotating_its_key_is_followed_by_one_fresh_fetch(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any]
) -> None:
    assert (await lti.launch(platform)).status == 200
    fetches = platform.received.jwks_fetches
    assert (await lti.launch(platform)).status == 200
    assert platform.received.jwks_fetches == fetches, "the key set is cached"
    platform.rotate_keys(keep_old=False)
    reply = await lti.launch(platform)
    assert reply.status == 200, reply.text
    assert platform.received.jwks_fetches == fetches + 1
    assert session_of(reply.text)["course_id"] == platform.context_id


async def test_a_refusal_page_keeps_its_own_policy_beside_the_security_baseline(
    lti: Lti, platform: TestPlatform
) -> None:
    async with lti.browser() as browser:
        reply = await lti.login(browser, platform, roles=[LEARNER_ROLE], user="u-headers")
    assert reply.status == 400 and reply.headers["Content-Type"].startswith("text/html")
    policy = reply.headers["Content-Security-Policy"]
    assert "'nonce-" in policy and "frame-ancestors" in policy and "default-src 'none'" in policy
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["Referrer-Policy"] == "no-referrer"
