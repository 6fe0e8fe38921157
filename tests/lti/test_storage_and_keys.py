"""postMessage storage for cookie-less iframes, and the tool's own keys."""

from __future__ import annotations

from typing import Any

from tests.lti.conftest import Lti
from tests.lti.platform import LEARNER_ROLE, TestPlatform, hidden_fields, page_data, query_of, script_urls


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
        storage = page_data(login.text, "lti-storage")
        assert storage["target"] == "post_message_forwarding"
        assert storage["origin"] == platform.base, "messages go to the platform's origin only"
        state = query_of(storage["next"])["state"]
        assert storage["key"] == f"state_{state}" and storage["value"] == state
        [script] = script_urls(login.text)
        assert "lti.put_data" in (await lti.api("GET", script)).text, "it stores the state in the platform frame"
        form = await lti.authorize(browser, storage["next"])
        page = await lti.post_launch(browser, form)
    assert page.status == 200, page.text
    assert 'data-verified="pending"' in page.text, "without the cookie the page checks the platform's storage"
    assert "Open in a new window" in page.text
    check = page_data(page.text, "lti-check")
    assert check["target"] == "post_message_forwarding" and check["state"] == state
    assert check["relaunch"].startswith(f"{lti.base}/lti/login?iss="), "the fallback restarts the login in a new window"
    [script] = script_urls(page.text)
    assert "lti.get_data" in (await lti.api("GET", script)).text, "its script reads the state back before going on"


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
