"""The LMS launches the tool: login, the platform's form post, the tool's page, through the edge."""

from __future__ import annotations

from typing import Any

import jwt

from service_kit.auth import verify_session_token
from tests.lti.conftest import MESSAGE_HINT, Lti
from tests.lti.platform import INSTRUCTOR_ROLE, LEARNER_ROLE, TestPlatform, query_of, session_of


async def test_the_login_redirects_to_the_platform_with_every_oidc_parameter(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any]
) -> None:
    async with lti.browser() as browser:
        reply = await lti.login(browser, platform, roles=[LEARNER_ROLE], user="u1")
    assert reply.status == 302
    location = reply.headers["Location"]
    assert location.startswith(f"{platform.base}/auth?")
    params = query_of(location)
    assert params["scope"] == "openid"
    assert params["response_type"] == "id_token"
    assert params["response_mode"] == "form_post"
    assert params["prompt"] == "none"
    assert params["client_id"] == platform.client_id
    assert params["redirect_uri"] == f"{lti.base}/lti/launch"
    assert params["lti_message_hint"] == MESSAGE_HINT
    assert len(params["state"]) >= 32 and len(params["nonce"]) >= 32
    assert params["state"] != params["nonce"]


async def test_a_learner_launches_into_a_page_for_them_and_their_course(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any], organization: str
) -> None:
    reply = await lti.launch(platform, roles=[LEARNER_ROLE], user="learner-7")
    assert reply.status == 200, reply.text
    assert reply.headers["Content-Type"].startswith("text/html")
    assert "Content-Security-Policy" in reply.headers
    assert "Ada Lovelace" in reply.text and "Analytical Engines" in reply.text and "AE-101" in reply.text
    session = session_of(reply.text)
    claims = verify_session_token(session["session_token"], lti.stack.jwt_secret)
    assert claims.user_id == "learner-7"
    assert claims.organization_id == organization
    assert claims.course_id == platform.context_id
    assert claims.roles == frozenset({"Learner"})


async def test_the_launch_works_in_an_iframe_that_blocks_every_cookie(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any]
) -> None:
    reply = await lti.launch(platform, roles=[INSTRUCTOR_ROLE], cookies=False)
    assert reply.status == 200, reply.text
    assert verify_session_token(session_of(reply.text)["session_token"], lti.stack.jwt_secret).roles == frozenset(
        {"Instructor"}
    )


async def test_the_session_token_never_appears_in_a_url_or_cookie(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any]
) -> None:
    reply = await lti.launch(platform)
    token = session_of(reply.text)["session_token"]
    assert "Set-Cookie" not in reply.headers or token not in reply.headers["Set-Cookie"]
    assert f"={token}" not in reply.text.replace(f'value="{token}"', "")
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


async def test_the_launchs_locale_reaches_the_page_which_speaks_its_language(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any]
) -> None:
    platform.claim_edits = lambda claims: {
        **claims,
        "https://purl.imsglobal.org/spec/lti/claim/launch_presentation": {"locale": "es-MX"},
    }
    reply = await lti.launch(platform, roles=[LEARNER_ROLE])
    assert session_of(reply.text)["locale"] == "es-MX"
    assert '<html lang="es">' in reply.text and "Sesión iniciada como" in reply.text


async def test_a_launch_without_a_locale_we_speak_is_in_english(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any]
) -> None:
    platform.claim_edits = lambda claims: {
        **claims,
        "https://purl.imsglobal.org/spec/lti/claim/launch_presentation": {"locale": "<script>"},
    }
    reply = await lti.launch(platform, roles=[LEARNER_ROLE])
    assert session_of(reply.text)["locale"] == ""
    assert '<html lang="en">' in reply.text and "Signed in as" in reply.text
