"""Administrators register platforms; secrets are sealed, never shown, and go only to services."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import psycopg
import pytest

from lti_svc.domain import SERVICE_ROLE
from media.lti.v1 import lti_pb2, lti_pb2_grpc
from service_kit.auth import INSTRUCTOR, issue_session_token
from tests.lti.conftest import Lti
from tests.lti.platform import TestPlatform, script_urls

ZOOM = {"zoom_account_id": "acct-1", "zoom_api_key": "zoom-client-id-1", "zoom_api_secret": "zoom-secret-value-1"}


async def test_an_administrator_registers_a_platform_and_never_sees_its_zoom_secrets_again(
    lti: Lti, platform: TestPlatform, organization: str
) -> None:
    config = await lti.register(platform, organization, **ZOOM)
    assert config["issuer"] == platform.issuer and config["deployment_ids"] == [platform.deployment_id]
    assert config["has_zoom_credentials"] is True and config["zoom_account_id"] == "acct-1"
    read = await lti.api("GET", f"/api/v1/lti/configs/{config['config_id']}", lti.token(organization))
    assert read.status == 200
    listed = await lti.api("GET", "/api/v1/lti/configs", lti.token(organization))
    assert [c["config_id"] for c in listed.json["configs"]] == [config["config_id"]]
    for reply in (read, listed):
        assert "zoom-secret-value-1" not in reply.text and "zoom-client-id-1" not in reply.text


async def test_zoom_secrets_are_sealed_at_rest(lti: Lti, platform: TestPlatform, organization: str) -> None:
    config = await lti.register(platform, organization, **ZOOM)
    with psycopg.connect(lti.stack.infra.settings.database_url.replace("+psycopg", "")) as db:
        row = db.execute(
            "SELECT zoom_client_id_sealed, zoom_client_secret_sealed FROM lti.registrations WHERE id = %s",
            (config["config_id"],),
        ).fetchone()
    assert row is not None
    assert all(value.startswith("v1.current.") for value in row)
    assert "zoom-secret-value-1" not in row[1]


async def test_another_organizations_registration_looks_missing(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any]
) -> None:
    stranger = lti.token(f"org-{uuid.uuid4().hex[:6]}")
    path = f"/api/v1/lti/configs/{registered['config_id']}"
    missing = await lti.api("GET", f"/api/v1/lti/configs/{uuid.uuid4()}", stranger)
    for method in ("GET", "DELETE"):
        reply = await lti.api(method, path, stranger)
        assert (reply.status, reply.json["error"]["message"]) == (404, missing.json["error"]["message"])


async def test_only_administrators_register_platforms(lti: Lti, platform: TestPlatform, organization: str) -> None:
    reply = await lti.api(
        "POST", "/api/v1/lti/config", lti.token(organization, INSTRUCTOR), platform.registration_body()
    )
    assert reply.status == 403 and reply.reason == "NOT_ADMINISTRATOR"
    anonymous = await lti.api("POST", "/api/v1/lti/config", None, platform.registration_body())
    assert anonymous.status == 401


async def test_one_issuer_and_client_id_is_registered_once(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any], organization: str
) -> None:
    reply = await lti.api("POST", "/api/v1/lti/config", lti.token(organization), platform.registration_body())
    assert reply.status == 409 and "add deployment ids" in reply.json["error"]["message"]


async def test_one_issuer_serves_many_client_ids_and_deployments(lti: Lti, platform: TestPlatform) -> None:
    first = await lti.register(platform, "org-a-" + uuid.uuid4().hex[:6])
    many = [f"dep-{i}" for i in range(200)]
    second = await lti.register(
        platform, "org-b-" + uuid.uuid4().hex[:6], client_id="other-" + uuid.uuid4().hex[:6], deployment_ids=many
    )
    assert first["issuer"] == second["issuer"] and len(second["deployment_ids"]) == 200


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"zoom_api_key": "only-the-key", "zoom_account_id": "a"}, "zoom_api_secret"),
        ({"key_set_url": "ftp://lms/jwks"}, "key_set_url"),
        ({"issuer": ""}, "issuer"),
        ({"deployment_ids": ["d", "d"]}, "deployment_ids[1]"),
    ],
)
async def test_a_registration_with_a_bad_field_is_refused_naming_it(
    lti: Lti, platform: TestPlatform, organization: str, changes: dict[str, Any], field: str
) -> None:
    reply = await lti.api("POST", "/api/v1/lti/config", lti.token(organization), platform.registration_body(**changes))
    assert reply.status == 400
    violations = [v for d in reply.json["error"]["details"] for v in d.get("field_violations", [])]
    assert field in [v["field"] for v in violations]


async def test_deployments_change_with_patch_and_the_registration_can_be_deleted(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any], organization: str
) -> None:
    path = f"/api/v1/lti/configs/{registered['config_id']}"
    admin = lti.token(organization)
    patched = await lti.api("PATCH", path + "?update_mask=deployment_ids", admin, {"deployment_ids": ["d1", "d2"]})
    assert patched.status == 200, patched.text
    assert patched.json["config"]["deployment_ids"] == ["d1", "d2"]
    refused = await lti.api("PATCH", path + "?update_mask=has_zoom_credentials", admin, {"has_zoom_credentials": True})
    assert refused.status == 400 and "output only" in refused.json["error"]["message"]
    assert (await lti.api("DELETE", path, admin)).status == 200
    assert (await lti.api("GET", path, admin)).status == 404


def _zoom_credentials(lti: Lti, config_id: str, organization_id: str, token: str) -> lti_pb2.GetZoomCredentialsResponse:
    with grpc.insecure_channel(lti.stack.lti_address) as channel:
        stub = lti_pb2_grpc.LtiServiceStub(channel)
        reply: lti_pb2.GetZoomCredentialsResponse = stub.GetZoomCredentials(
            lti_pb2.GetZoomCredentialsRequest(config_id=config_id, organization_id=organization_id),
            metadata=(("authorization", f"Bearer {token}"),),
            timeout=10,
        )
        return reply


async def test_zoom_credentials_go_to_a_service_of_the_same_organization_only(
    lti: Lti, platform: TestPlatform, organization: str
) -> None:
    config = await lti.register(platform, organization, **ZOOM)
    secret = lti.stack.jwt_secret

    def token(org: str, *roles: str) -> str:
        return issue_session_token(
            secret,
            user_id="service:attendance_svc",
            organization_id=org,
            course_id=None,
            roles=list(roles),
            ttl_seconds=60,
        )

    got = _zoom_credentials(lti, config["config_id"], organization, token(organization, SERVICE_ROLE))
    assert (got.account_id, got.client_id, got.client_secret) == ("acct-1", "zoom-client-id-1", "zoom-secret-value-1")
    for refused in (token(organization, "Administrator", "Instructor"), token("org-other", SERVICE_ROLE)):
        with pytest.raises(grpc.RpcError) as caught:
            _zoom_credentials(lti, config["config_id"], organization, refused)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    listed = await lti.api("GET", "/openapi.json")
    assert 'ZoomCredentials"' not in listed.text or "GetZoomCredentials" not in listed.text


async def test_a_registration_url_registers_the_platform_dynamically_and_launches_work(
    lti: Lti, platform: TestPlatform, organization: str
) -> None:
    invited = await lti.api("POST", "/api/v1/lti/registration-invitations", lti.token(organization), {})
    assert invited.status == 200, invited.text
    url = invited.json["registration_url"]
    params = {
        "openid_configuration": f"{platform.base}/.well-known/openid-configuration",
        "registration_token": platform.registration_token,
    }
    async with lti.browser() as browser, browser.get(url, params=params) as reply:
        page = await reply.text()
        assert reply.status == 200, page
    assert platform.client_id in page
    [script] = script_urls(page)
    assert "org.imsglobal.lti.close" in (await lti.api("GET", script)).text, "its script closes the LMS's window"
    [sent] = platform.received.registrations
    assert sent["initiate_login_uri"] == f"{lti.base}/lti/login"
    assert sent["redirect_uris"] == [f"{lti.base}/lti/launch"]
    assert sent["jwks_uri"] == f"{lti.base}/.well-known/jwks.json"
    assert sent["token_endpoint_auth_method"] == "private_key_jwt"
    assert "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly" in sent["scope"]
    listed = await lti.api("GET", "/api/v1/lti/configs", lti.token(organization))
    [config] = listed.json["configs"]
    assert config["client_id"] == platform.client_id and config["deployment_ids"] == [platform.deployment_id]
    assert config["key_set_url"] == f"{platform.base}/jwks"
    assert (await lti.launch(platform)).status == 200
    async with lti.browser() as browser, browser.get(url, params=params) as reply:
        assert reply.status == 401 and "INVALID_INVITATION" in await reply.text()


async def test_dynamic_registration_with_a_wrong_registration_token_reports_the_platforms_refusal(
    lti: Lti, platform: TestPlatform, organization: str
) -> None:
    invited = await lti.api("POST", "/api/v1/lti/registration-invitations", lti.token(organization), {})
    params = {"openid_configuration": f"{platform.base}/.well-known/openid-configuration", "registration_token": "x"}
    async with lti.browser() as browser, browser.get(invited.json["registration_url"], params=params) as reply:
        page = await reply.text()
    assert reply.status == 400 and "PLATFORM_REFUSED" in page and not script_urls(page), "a refusal closes nothing"
