"""Dynamic registration against fakes of the invitations, the platform and the store: no server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from lti_svc import domain, errors
from lti_svc.use_cases.dynamic_registration import DynamicRegistration, PlatformRegistration
from service_kit.auth import MissingSessionToken
from service_kit.errors import PermissionDenied
from tests.lti.fakes import FakeInvitations, FakeRegistrar, FakeStore, StoreDown, caller

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
ISSUER = "https://lms.example.edu"
CONFIGURATION_URL = f"{ISSUER}/.well-known/openid-configuration"
TOOL = "https://tool.example.org"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
ADMIN = caller("Administrator")


def configuration() -> dict[str, Any]:
    return {
        "issuer": ISSUER,
        "authorization_endpoint": f"{ISSUER}/auth",
        "token_endpoint": f"{ISSUER}/token",
        "jwks_uri": f"{ISSUER}/jwks",
        "registration_endpoint": f"{ISSUER}/register",
        "https://purl.imsglobal.org/spec/lti-platform-configuration": {"product_family_code": "moodle"},
    }


class Setup:
    def __init__(self, deployment_id: str = "dep-1") -> None:
        self.store = FakeStore()
        self.invitations = FakeInvitations(ttl_seconds=3600)
        self.registrar = FakeRegistrar(
            configuration(), {"client_id": "client-1", TOOL_CONFIGURATION: {"deployment_id": deployment_id}}
        )
        self.registration = DynamicRegistration(
            uow=self.store.units(),
            invitations=self.invitations,
            registrar=self.registrar,
            public_base_url=TOOL,
            allow_http=False,
            clock=NOW.timestamp,
        )

    async def invitation(self, admin: Any = ADMIN) -> str:
        invited = await self.registration.invite(admin, "")
        return parse_qs(urlsplit(invited.registration_url).query)["invitation"][0]

    async def register(self, invitation: str, caller_: Any = None) -> Any:
        return await self.registration.register(
            caller_, PlatformRegistration(invitation, "", CONFIGURATION_URL, "reg-token")
        )


async def test_an_invitation_is_a_registration_url_for_the_administrators_organization() -> None:
    setup = Setup()
    invited = await setup.registration.invite(ADMIN, "")
    token = parse_qs(urlsplit(invited.registration_url).query)["invitation"][0]
    assert invited.registration_url.startswith(f"{TOOL}/lti/register?invitation=")
    assert setup.invitations.open == {token: "org1"} and invited.expires_at == NOW + timedelta(hours=1)


async def test_only_administrators_invite_platforms() -> None:
    setup = Setup()
    with pytest.raises(PermissionDenied):
        await setup.registration.invite(caller("Instructor"), "")
    assert setup.invitations.open == {}


async def test_a_platform_with_an_invitation_registers_the_tool_and_the_invitation_is_used_up() -> None:
    setup = Setup()
    token = await setup.invitation()
    registered = await setup.register(token)
    record = registered.view.record
    assert (record.organization_id, record.issuer, record.client_id) == ("org1", ISSUER, "client-1")
    assert (record.key_set_url, record.key_set_url_source, record.endpoints_origin) == (
        f"{ISSUER}/jwks",
        domain.EndpointSource.DISCOVERED.value,
        CONFIGURATION_URL,
    )
    assert registered.view.deployment_ids == ["dep-1"] and setup.store.deployments[record.id] == ["dep-1"]
    assert (registered.platform_name, registered.deployment_id) == ("moodle", "dep-1")
    endpoint, document, bearer = setup.registrar.registered[0]
    assert (endpoint, bearer) == (f"{ISSUER}/register", "reg-token")
    assert document["initiate_login_uri"] == f"{TOOL}/lti/login"
    assert setup.invitations.open == {}


async def test_a_registration_invitation_used_twice_is_refused() -> None:
    setup = Setup()
    token = await setup.invitation()
    await setup.register(token)
    with pytest.raises(errors.InvalidInvitation, match="expired or was used already"):
        await setup.register(token)
    assert len(setup.registrar.registered) == 1 and len(setup.store.records) == 1


async def test_a_platform_that_refuses_the_registration_leaves_the_invitation_usable() -> None:
    setup = Setup()
    token = await setup.invitation()
    setup.registrar.refusal = errors.PlatformRefused(
        "the platform refused the tool registration request (HTTP 401): invalid registration token"
    )
    with pytest.raises(errors.PlatformRefused, match="invalid registration token"):
        await setup.register(token)
    assert setup.store.records == {} and token in setup.invitations.open
    setup.registrar.refusal = None
    await setup.register(token)
    assert len(setup.store.records) == 1 and setup.invitations.open == {}


async def test_a_registration_the_store_failed_to_keep_leaves_the_invitation_usable() -> None:
    setup = Setup()
    token = await setup.invitation()
    setup.store.refuse_commits = True
    with pytest.raises(StoreDown):
        await setup.register(token)
    assert setup.store.records == {} and token in setup.invitations.open


async def test_registering_again_adds_the_new_deployment_to_the_same_registration() -> None:
    setup = Setup()
    first = await setup.register(await setup.invitation())
    setup.registrar.answer = {"client_id": "client-1", TOOL_CONFIGURATION: {"deployment_id": "dep-2"}}
    second = await setup.register(await setup.invitation())
    assert second.view.record.id == first.view.record.id and len(setup.store.records) == 1
    assert second.view.deployment_ids == ["dep-1", "dep-2"]


async def test_a_platform_registered_by_another_organization_is_refused_and_its_registration_kept() -> None:
    setup = Setup()
    theirs = await setup.register(await setup.invitation(caller("Administrator", organization_id="org2")))
    token = await setup.invitation()
    with pytest.raises(errors.ConfigAlreadyExists, match="another organization"):
        await setup.register(token)
    assert list(setup.store.records.values()) == [theirs.view.record]
    assert setup.store.deployments[theirs.view.record.id] == ["dep-1"] and token in setup.invitations.open


async def test_without_invitation_an_administrators_session_is_needed() -> None:
    setup = Setup()
    with pytest.raises(MissingSessionToken):
        await setup.register("")
    with pytest.raises(PermissionDenied):
        await setup.register("", caller("Instructor"))
    registered = await setup.register("", ADMIN)
    assert registered.view.record.organization_id == "org1" and setup.registrar.registered


async def test_a_configuration_url_that_is_not_https_or_names_another_issuer_is_refused_before_registering() -> None:
    setup = Setup()
    with pytest.raises(errors.RegistrationRefused, match="openid_configuration"):
        await setup.registration.register(
            ADMIN, PlatformRegistration("", "", "http://lms.example.edu/.well-known/openid-configuration", "")
        )
    setup.registrar.document = {**configuration(), "issuer": "https://other.example.edu"}
    with pytest.raises(errors.RegistrationRefused, match="does not match"):
        await setup.register("", ADMIN)
    assert setup.registrar.registered == [] and setup.store.records == {}


async def test_a_platform_answer_without_client_id_stores_nothing() -> None:
    setup = Setup()
    token = await setup.invitation()
    setup.registrar.answer = {"error": "nope"}
    with pytest.raises(errors.RegistrationRefused, match="no client_id"):
        await setup.register(token)
    assert setup.store.records == {} and token in setup.invitations.open
