"""postMessage storage for cookie-less iframes, and the tool's own keys."""

from __future__ import annotations

import json
from typing import Any

from tests.lti.conftest import Lti
from tests.lti.platform import LEARNER_ROLE, TestPlatform, hidden_fields, query_of


async def test_a_platform_offering_storage_gets_the_state_stored_there_before_the_redirect(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any]
) -> None:
    async with lti.browser(cookies=False) as browser:
        login = await lti.login(
            browser,
            platform,
            roles=[LEARNER_ROLE],
            user="u-frame",
            extra={"lti_storage_target": "post_message_forwarding"},
        )
        assert login.status == 200 and login.headers["Content-Type"].startswith("text/html")
        assert '"subject": "lti.put_data"' not in login.text  # the message is built by the script, not inlined JSON
        assert "lti.put_data" in login.text and "post_message_forwarding" in login.text
        assert f'"origin": "{platform.base}"' in login.text, "messages go to the platform's origin only"
        redirect = json.loads(login.text.split("next = ")[1].split(";\n")[0])
        state = query_of(redirect)["state"]
        assert f'"key": "state_{state}"' in login.text
        form = await lti.authorize(browser, redirect)
        page = await lti.post_launch(browser, form)
    assert page.status == 200, page.text
    assert 'data-verified="pending"' in page.text, "without the cookie the page checks the platform's storage"
    assert "lti.get_data" in page.text and "Open in a new window" in page.text
    assert "/lti/login?iss=" in page.text, "the fallback restarts the login in a new window"


async def test_a_browser_that_kept_the_state_cookie_needs_no_storage_check(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any]
) -> None:
    page = await lti.launch(platform, cookies=True)
    assert 'data-verified="yes"' in page.text


async def test_the_tool_publishes_its_rsa_keys_and_signs_with_one_of_them(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any]
) -> None:
    jwks = await lti.api("GET", "/.well-known/jwks.json")
    assert jwks.status == 200
    keys = jwks.json["keys"]
    assert keys and all(k["kty"] == "RSA" and k["alg"] == "RS256" and k["use"] == "sig" for k in keys)
    assert all("d" not in k and "p" not in k for k in keys), "never a private part"
    picker = await lti.launch(platform, roles=["Instructor"], message_type="LtiDeepLinkingRequest")
    fields = hidden_fields(picker.text)
    body = {
        "launch_id": fields["launch_id"],
        "items": [{"type": "DEEP_LINKING_ITEM_TYPE_LTI_RESOURCE_LINK", "video_id": "v"}],
    }
    signed = await lti.api("POST", "/api/v1/lti/deep-linking/responses", fields["session_token"], body)
    claims = await platform.verify_tool_jwt(signed.json["jwt"], audience=platform.issuer)
    assert claims["iss"] == platform.client_id
