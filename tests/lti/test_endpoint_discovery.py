"""A platform registers from its issuer alone: endpoints are discovered, or known, and say where they came from."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from aiohttp import web

from devstack import free_port
from lti_svc.domain import SERVICE_ROLE
from media.lti.v1 import lti_pb2, lti_pb2_grpc
from service_kit.auth import issue_session_token
from tests.lti.conftest import LEARNER_ROLE, Lti, LtiStack
from tests.lti.platform import TestPlatform


def seed_body(platform: TestPlatform, organization: str) -> dict[str, Any]:
    """Exactly the keys of the seed README's ``POST /api/v1/lti/config`` example."""
    return {
        "organization_id": organization,
        "client_id": platform.client_id,
        "issuer": platform.issuer,
        "deployment_id": platform.deployment_id,
        "zoom_api_key": "zoom-client-id-seed",
        "zoom_api_secret": "zoom-client-secret-seed",
    }


def violations(reply_json: dict[str, Any]) -> dict[str, str]:
    return {v["field"]: v["description"] for d in reply_json["error"]["details"] for v in d.get("field_violations", [])}


@pytest.fixture
async def moodle(lti_stack: LtiStack) -> AsyncIterator[TestPlatform]:
    """A Moodle-shaped site: no OpenID configuration, endpoints under /mod/lti/."""
    started = await TestPlatform(lti_stack.edge_url, layout="moodle").start()
    try:
        yield started
    finally:
        await started.stop()


async def test_the_seeds_body_registers_a_platform_by_openid_discovery_and_it_launches(
    lti: Lti, platform: TestPlatform, organization: str
) -> None:
    reply = await lti.api("POST", "/api/v1/lti/config", lti.token(organization), seed_body(platform, organization))
    assert reply.status == 200, reply.text
    config = reply.json["config"]
    assert config["deployment_ids"] == [platform.deployment_id]
    assert (config["key_set_url"], config["auth_login_url"], config["auth_token_url"]) == (
        platform.url("key_set"),
        platform.url("login"),
        platform.url("token"),
    )
    assert {config[f"{name}_source"] for name in ("key_set_url", "auth_login_url", "auth_token_url")} == {
        "ENDPOINT_SOURCE_DISCOVERED"
    }
    assert config["endpoints_origin"] == f"{platform.issuer}/.well-known/openid-configuration"
    assert config["has_zoom_credentials"] is True and config["zoom_account_id"] == ""

    launched = await lti.launch(platform, roles=[LEARNER_ROLE])
    assert launched.status == 200, launched.text


async def test_a_moodle_site_is_found_by_its_key_set_under_the_site_url(
    lti: Lti, moodle: TestPlatform, organization: str
) -> None:
    reply = await lti.api("POST", "/api/v1/lti/config", lti.token(organization), seed_body(moodle, organization))
    assert reply.status == 200, reply.text
    config = reply.json["config"]
    assert config["key_set_url"] == f"{moodle.issuer}/mod/lti/certs.php"
    assert config["auth_login_url"] == f"{moodle.issuer}/mod/lti/auth.php"
    assert config["auth_token_url"] == f"{moodle.issuer}/mod/lti/token.php"
    assert config["key_set_url_source"] == "ENDPOINT_SOURCE_KNOWN_PLATFORM"
    assert config["endpoints_origin"] == "Moodle (site URL)"

    launched = await lti.launch(moodle, roles=[LEARNER_ROLE])
    assert launched.status == 200, launched.text


async def test_canvas_cloud_is_registered_from_its_published_endpoints_without_a_fetch(
    lti: Lti, organization: str
) -> None:
    body = {
        "issuer": "https://canvas.instructure.com",
        "client_id": f"1000000000{uuid.uuid4().int % 10**4:04d}",
        "deployment_id": "189:5d1e6a8c2cc1b3e3c5d5b3f9e7a0a1b2c3d4e5f6",
    }
    reply = await lti.api("POST", "/api/v1/lti/config", lti.token(organization), body)
    assert reply.status == 200, reply.text
    config = reply.json["config"]
    assert config["key_set_url"] == "https://sso.canvaslms.com/api/lti/security/jwks"
    assert config["auth_login_url"] == "https://sso.canvaslms.com/api/lti/authorize_redirect"
    assert config["auth_token_url"] == "https://sso.canvaslms.com/login/oauth2/token"
    assert config["auth_login_url_source"] == "ENDPOINT_SOURCE_KNOWN_PLATFORM"
    assert config["deployment_ids"] == [body["deployment_id"]]


async def test_given_endpoints_are_kept_and_marked_given_and_a_patch_marks_its_url_given(
    lti: Lti, platform: TestPlatform, organization: str
) -> None:
    created = await lti.api("POST", "/api/v1/lti/config", lti.token(organization), seed_body(platform, organization))
    config = created.json["config"]
    path = f"/api/v1/lti/configs/{config['config_id']}?update_mask=key_set_url"
    patched = await lti.api("PATCH", path, lti.token(organization), {"key_set_url": f"{platform.base}/jwks?v=2"})
    assert patched.status == 200, patched.text
    assert patched.json["config"]["key_set_url_source"] == "ENDPOINT_SOURCE_GIVEN"
    assert patched.json["config"]["auth_login_url_source"] == "ENDPOINT_SOURCE_DISCOVERED"

    other = await TestPlatform(lti.base).start()
    try:
        given = await lti.register(other, organization)
    finally:
        await other.stop()
    assert given["key_set_url_source"] == given["auth_login_url_source"] == "ENDPOINT_SOURCE_GIVEN"
    assert given["endpoints_origin"] == ""


async def test_an_issuer_with_nothing_to_discover_is_refused_naming_the_urls_to_add(
    lti: Lti, organization: str
) -> None:
    silent = web.Application()
    runner = web.AppRunner(silent, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        body = {"issuer": f"http://127.0.0.1:{port}/lms", "client_id": "c-1", "deployment_id": "1"}
        reply = await lti.api("POST", "/api/v1/lti/config", lti.token(organization), body)
    finally:
        await runner.cleanup()
    assert reply.status == 400, reply.text
    problems = violations(reply.json)
    assert set(problems) == {"key_set_url", "auth_login_url"}
    message = reply.json["error"]["message"]
    assert f"GET http://127.0.0.1:{port}/lms/.well-known/openid-configuration answered HTTP 404" in message
    assert message.count("answered HTTP 404") == 3, "each attempt is said once"
    assert "give key_set_url and auth_login_url (and auth_token_url, which rosters and grades need)" in message
    assert "tool registration page" in problems["key_set_url"]


async def test_a_plain_http_issuer_off_this_machine_is_refused(lti: Lti, organization: str) -> None:
    body = {"issuer": "http://lms.example.edu", "client_id": "c-1", "deployment_id": "1"}
    reply = await lti.api("POST", "/api/v1/lti/config", lti.token(organization), body)
    assert reply.status == 400
    assert "https" in violations(reply.json)["issuer"]


def zoom_credentials(lti: Lti, config_id: str, organization_id: str) -> lti_pb2.GetZoomCredentialsResponse:
    token = issue_session_token(
        lti.stack.jwt_secret,
        user_id="service:attendance_svc",
        organization_id=organization_id,
        course_id=None,
        roles=[SERVICE_ROLE],
        ttl_seconds=60,
    )
    with grpc.insecure_channel(lti.stack.lti_address) as channel:
        reply: lti_pb2.GetZoomCredentialsResponse = lti_pb2_grpc.LtiServiceStub(channel).GetZoomCredentials(
            lti_pb2.GetZoomCredentialsRequest(config_id=config_id, organization_id=organization_id),
            metadata=(("authorization", f"Bearer {token}"),),
        )
        return reply


async def test_zoom_credentials_without_an_account_id_anywhere_say_which_setting_and_call_fix_it(
    lti: Lti, platform: TestPlatform, organization: str
) -> None:
    created = await lti.api("POST", "/api/v1/lti/config", lti.token(organization), seed_body(platform, organization))
    config_id = created.json["config"]["config_id"]
    with pytest.raises(grpc.RpcError) as refused:
        zoom_credentials(lti, config_id, organization)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "ZOOM_ACCOUNT_ID" in str(refused.value.details())
    assert f"PUT /api/v1/lti/configs/{config_id}/zoom-credentials" in str(refused.value.details())

    fixed = await lti.api(
        "PUT",
        f"/api/v1/lti/configs/{config_id}/zoom-credentials",
        lti.token(organization),
        {"zoom_account_id": "acct-9", "zoom_api_key": "k", "zoom_api_secret": "s"},
    )
    assert fixed.status == 200, fixed.text
    assert zoom_credentials(lti, config_id, organization).account_id == "acct-9"
