"""LMS launches as the big LMSs shape them: Canvas, Blackboard Learn, Moodle, D2L Brightspace, Schoology.

Each test platform here is the one test LMS of tests/lti/platform.py with a family preset
(``FAMILIES``): the family's issuer, the look of its client, deployment, course and user
ids, its key set, its roles per person and its extra claims, from its public docs. Every
launch goes the real way: the edge's login, the platform's signed form post, the edge's
launch page, lti_svc's checks, and the session JWT the page hands its scripts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import jwt
import pytest

from service_kit.auth import SessionClaims, verify_session_token
from tests.lti.conftest import Lti, LtiStack, Reply
from tests.lti.platform import FAMILIES, PlatformKey, TestPlatform, session_of

C = "https://purl.imsglobal.org/spec/lti/claim/"

StartLms = Callable[[str], Awaitable[TestPlatform]]


@pytest.fixture
async def start_lms(lti_stack: LtiStack) -> AsyncIterator[StartLms]:
    """Starts test platforms of a named family; stops them after the test."""
    started: list[TestPlatform] = []

    async def start(family: str) -> TestPlatform:
        platform = await TestPlatform(lti_stack.edge_url, family=FAMILIES[family]).start()
        started.append(platform)
        return platform

    yield start
    for platform in started:
        await platform.stop()


def _session(lti: Lti, reply: Reply) -> SessionClaims:
    assert reply.status == 200, reply.text
    return verify_session_token(session_of(reply.text)["session_token"], lti.stack.jwt_secret)


async def _launch(lti: Lti, platform: TestPlatform, persona: str) -> tuple[str, Reply]:
    """A launch of a new user of this platform, with the roles its family sends for ``persona``."""
    assert platform.family is not None
    user = platform.family.new_subject()
    return user, await lti.launch(platform, roles=list(platform.family.roles[persona]), user=user)


LAUNCHES: list[tuple[str, str, set[str]]] = [
    # (family, persona, session roles)
    ("canvas", "learner", {"Learner"}),
    ("canvas", "instructor", {"Instructor"}),
    ("canvas", "teaching assistant", {"TeachingAssistant"}),
    ("canvas", "administrator", {"Administrator"}),
    ("blackboard", "learner", {"Learner"}),
    ("blackboard", "instructor", {"Instructor"}),
    ("blackboard", "teaching assistant", {"TeachingAssistant"}),
    ("blackboard", "administrator", {"Administrator"}),
    ("moodle", "learner", {"Learner"}),
    ("moodle", "instructor", {"Instructor"}),
    ("moodle", "administrator", {"Administrator", "Instructor"}),
    ("d2l", "learner", {"Learner"}),
    ("d2l", "instructor", {"Instructor"}),
    ("d2l", "teaching assistant", {"TeachingAssistant"}),
    ("d2l", "administrator", {"Administrator"}),
    ("schoology", "learner", {"Learner"}),
    ("schoology", "instructor", {"Instructor"}),
    ("schoology", "administrator", {"Administrator"}),
]


@pytest.mark.parametrize(("family", "persona", "roles"), LAUNCHES, ids=[f"{f}-{p}" for f, p, _ in LAUNCHES])
async def test_a_launch_shaped_by_each_lms_opens_the_session_of_its_user_course_and_roles(
    lti: Lti, start_lms: StartLms, organization: str, family: str, persona: str, roles: set[str]
) -> None:
    platform = await start_lms(family)
    await lti.register(platform, organization)
    user, reply = await _launch(lti, platform, persona)
    claims = _session(lti, reply)
    assert claims.user_id == user
    assert claims.organization_id == organization
    assert claims.course_id == platform.context_id
    assert claims.roles == frozenset(roles)
    assert "Cell Biology" in reply.text


async def test_every_canvas_cloud_tenant_shares_one_issuer_yet_launches_into_its_own_organization(
    lti: Lti, start_lms: StartLms
) -> None:
    """Each Canvas tenant makes its own developer key, so (issuer, client_id) tells tenants apart."""
    first, second = await start_lms("canvas"), await start_lms("canvas")
    assert first.issuer == second.issuer == "https://canvas.instructure.com"
    await lti.register(first, "org-" + first.client_id)
    await lti.register(second, "org-" + second.client_id)
    for platform in (first, second):
        _, reply = await _launch(lti, platform, "instructor")
        claims = _session(lti, reply)
        assert (claims.organization_id, claims.course_id) == ("org-" + platform.client_id, platform.context_id)


async def test_canvas_custom_variables_reach_the_page_as_text_and_null_link_titles_are_no_trouble(
    lti: Lti, start_lms: StartLms, organization: str
) -> None:
    canvas = await start_lms("canvas")
    await lti.register(canvas, organization)
    _, reply = await _launch(lti, canvas, "learner")
    assert reply.status == 200, reply.text
    custom = session_of(reply.text)["custom"]
    assert custom == {
        "canvas_course_id": str(int(canvas.context_id[:6], 16)),
        "canvas_user_login_id": "ada@example.edu",
        "section_sis_ids": "$Canvas.course.sectionSisSourceIds",
    }


async def test_a_moodle_site_launches_from_each_of_its_registered_deployments(
    lti: Lti, start_lms: StartLms, organization: str
) -> None:
    moodle = await start_lms("moodle")
    await lti.register(moodle, organization, deployment_ids=["1", "3"])
    for deployment in ("3", "1"):
        moodle.deployment_id = deployment
        _, reply = await _launch(lti, moodle, "instructor")
        assert _session(lti, reply).course_id == moodle.context_id


async def test_a_token_without_kid_is_refused_saying_it_names_no_key_when_canvas_publishes_three(
    lti: Lti, start_lms: StartLms, organization: str
) -> None:
    canvas = await start_lms("canvas")
    await lti.register(canvas, organization)
    canvas.token_edits = _signed_without_kid
    _, reply = await _launch(lti, canvas, "learner")
    assert reply.status == 401, reply.text
    assert "LAUNCH_NO_KID" in reply.text
    assert "names no key" in reply.text and "3 RSA signing keys" in reply.text
    assert "None" not in reply.text


async def test_a_token_without_kid_is_accepted_when_moodle_publishes_one_key(
    lti: Lti, start_lms: StartLms, organization: str
) -> None:
    moodle = await start_lms("moodle")
    await lti.register(moodle, organization)
    moodle.token_edits = _signed_without_kid
    _, reply = await _launch(lti, moodle, "learner")
    assert _session(lti, reply).roles == frozenset({"Learner"})


async def test_kid_less_tokens_still_verify_after_a_one_key_platform_replaces_its_key(
    lti: Lti, start_lms: StartLms, organization: str
) -> None:
    moodle = await start_lms("moodle")
    await lti.register(moodle, organization)
    moodle.token_edits = _signed_without_kid
    _, first = await _launch(lti, moodle, "learner")
    assert first.status == 200, first.text
    fetches = moodle.received.jwks_fetches
    moodle.rotate_keys(keep_old=False)
    _, second = await _launch(lti, moodle, "learner")
    assert _session(lti, second).organization_id == organization
    assert moodle.received.jwks_fetches == fetches + 1


def _signed_without_kid(key: PlatformKey, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, key.private, algorithm="RS256")


async def test_schoology_aud_array_with_a_second_audience_launches_when_azp_names_the_tool(
    lti: Lti, start_lms: StartLms, organization: str
) -> None:
    schoology = await start_lms("schoology")
    await lti.register(schoology, organization)

    def two_audiences(claims: dict[str, Any]) -> dict[str, Any]:
        return {**claims, "aud": [*claims["aud"], "https://schoology.schoology.com/other"], "azp": schoology.client_id}

    schoology.claim_edits = two_audiences
    _, reply = await _launch(lti, schoology, "learner")
    assert _session(lti, reply).organization_id == organization


OPTIONAL_CLAIMS = ("name", "given_name", "family_name", "email", "picture", "locale", C + "custom", C + "lis")


@pytest.mark.parametrize("family", sorted(FAMILIES))
async def test_a_launch_without_optional_names_and_titles_still_opens_the_course(
    lti: Lti, start_lms: StartLms, organization: str, family: str
) -> None:
    platform = await start_lms(family)
    await lti.register(platform, organization)

    def bare(claims: dict[str, Any]) -> dict[str, Any]:
        kept = {k: v for k, v in claims.items() if k not in OPTIONAL_CLAIMS}
        kept[C + "context"] = {"id": claims[C + "context"]["id"]}
        kept[C + "resource_link"] = {"id": claims[C + "resource_link"]["id"]}
        return kept

    platform.claim_edits = bare
    user, reply = await _launch(lti, platform, "instructor")
    claims = _session(lti, reply)
    assert (claims.user_id, claims.course_id) == (user, platform.context_id)
    assert platform.context_id in reply.text  # the page names the course by its id when it has no title


async def test_a_deployment_id_sent_as_a_number_is_refused_saying_it_must_be_text(
    lti: Lti, start_lms: StartLms, organization: str
) -> None:
    moodle = await start_lms("moodle")
    await lti.register(moodle, organization)

    def numeric(claims: dict[str, Any]) -> dict[str, Any]:
        return {**claims, C + "deployment_id": int(claims[C + "deployment_id"])}

    moodle.claim_edits = numeric
    _, reply = await _launch(lti, moodle, "learner")
    assert reply.status == 401, reply.text
    assert "LAUNCH_NO_DEPLOYMENT" in reply.text and "must be a string" in reply.text


def test_the_family_presets_keep_to_their_documented_shapes() -> None:
    """The ids the presets mint look like the ones each LMS documents (so the launch tests mean something)."""
    canvas, blackboard, moodle = FAMILIES["canvas"], FAMILIES["blackboard"], FAMILIES["moodle"]
    number, _, hexdigits = canvas.new_deployment_id().partition(":")
    assert number.isdigit() and len(hexdigits) == 40 and int(hexdigits, 16) >= 0
    assert len(blackboard.new_subject()) == 32 and int(blackboard.new_subject(), 16) >= 0
    assert moodle.new_deployment_id().isdigit() and moodle.issuer == "https://moodle.example.edu"
    assert FAMILIES["schoology"].issuer == "https://schoology.schoology.com"
    assert FAMILIES["d2l"].issuer.endswith(".brightspace.com")
