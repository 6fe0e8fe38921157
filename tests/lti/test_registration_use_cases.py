"""Registration use cases against fakes of the store, the endpoint finder and the sealer: no server."""

from __future__ import annotations

import dataclasses
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lti_svc import domain, errors
from lti_svc.domain import SERVICE_ROLE
from lti_svc.use_cases import NewRegistration, PlatformRegistrations
from service_kit.errors import InvalidArgument
from tests.lti.fakes import FakeFinder, FakeSealer, FakeStore, caller

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
ADMIN = caller("Administrator")
ISSUER = "https://lms.example.edu"
GIVEN = {
    "key_set_url": "https://lms.example.edu/jwks",
    "auth_login_url": "https://lms.example.edu/auth",
    "auth_token_url": "https://lms.example.edu/token",
}
DISCOVERED = domain.FoundEndpoints(
    key_set_url="https://found.example.edu/jwks",
    auth_login_url="https://found.example.edu/auth",
    auth_token_url="https://found.example.edu/token",
    source=domain.EndpointSource.DISCOVERED,
    origin="https://found.example.edu/.well-known/openid-configuration",
)


def new(**fields: Any) -> NewRegistration:
    values: dict[str, Any] = {
        "organization_id": "",
        "issuer": ISSUER,
        "client_id": "client-1",
        "deployment_ids": [],
        "deployment_id": "",
        "key_set_url": "",
        "auth_login_url": "",
        "auth_token_url": "",
        "zoom_account_id": "",
        "zoom_api_key": "",
        "zoom_api_secret": "",
    }
    values.update(fields)
    return NewRegistration(**values)


class Setup:
    def __init__(self, *, default_zoom_account: str = "") -> None:
        self.store = FakeStore()
        self.finder = FakeFinder({"https://found.example.edu": DISCOVERED})
        self.clock = NOW
        self.registrations = PlatformRegistrations(
            uow=self.store.units(),
            endpoint_finder=self.finder,
            sealer=FakeSealer(),
            allow_http=False,
            default_zoom_account_id=default_zoom_account,
            clock=lambda: self.clock.timestamp(),
        )


async def test_a_platform_given_every_url_is_registered_as_given_without_any_discovery() -> None:
    setup = Setup()
    view = await setup.registrations.create(ADMIN, new(**GIVEN, deployment_ids=["d1"]))
    record = setup.store.records[view.record.id]
    assert setup.finder.asked == [] and record == view.record
    assert (record.key_set_url_source, record.auth_token_url_source, record.endpoints_origin) == ("given", "given", "")
    assert (record.organization_id, record.created_at) == ("org1", NOW) and setup.store.deployments == {
        record.id: ["d1"]
    }


async def test_urls_not_given_are_found_from_the_issuer_and_keep_where_they_came_from() -> None:
    setup = Setup()
    view = await setup.registrations.create(
        ADMIN, new(issuer="https://found.example.edu", auth_token_url="https://lms.example.edu/mine")
    )
    record = view.record
    assert setup.finder.asked == ["https://found.example.edu"]
    assert (record.key_set_url, record.key_set_url_source) == (DISCOVERED.key_set_url, "discovered")
    assert (record.auth_token_url, record.auth_token_url_source) == ("https://lms.example.edu/mine", "given")
    assert record.endpoints_origin == DISCOVERED.origin


async def test_an_issuer_with_nothing_found_is_refused_naming_the_urls_and_what_was_tried() -> None:
    setup = Setup()
    with pytest.raises(InvalidArgument) as raised:
        await setup.registrations.create(ADMIN, new())
    assert [v.field for v in raised.value.violations] == ["key_set_url", "auth_login_url"]
    assert "GET https://lms.example.edu/.well-known/openid-configuration answered HTTP 404" in raised.value.message
    assert setup.store.records == {}


async def test_the_seeds_single_deployment_id_joins_the_list_once() -> None:
    setup = Setup()
    view = await setup.registrations.create(ADMIN, new(**GIVEN, deployment_ids=["d1", "d2"], deployment_id="d2"))
    also = await setup.registrations.create(ADMIN, new(**GIVEN, client_id="client-2", deployment_id="d3"))
    assert (view.deployment_ids, also.deployment_ids) == (["d1", "d2"], ["d3"])


async def test_zoom_secrets_are_stored_sealed_for_their_row_only() -> None:
    setup = Setup()
    view = await setup.registrations.create(ADMIN, new(**GIVEN, zoom_api_key="zk", zoom_api_secret="zs"))
    record = setup.store.records[view.record.id]
    assert record.has_zoom_credentials
    assert record.zoom_client_id_sealed == f"sealed:zoom-client-id:{record.id}:kz"
    assert "zs" not in (record.zoom_client_secret_sealed or "")


async def test_one_issuer_and_client_id_is_registered_once() -> None:
    setup = Setup()
    await setup.registrations.create(ADMIN, new(**GIVEN))
    with pytest.raises(errors.ConfigAlreadyExists, match="is registered already"):
        await setup.registrations.create(caller("Administrator", organization_id="org2"), new(**GIVEN))
    assert len(setup.store.records) == 1


async def test_only_administrators_of_their_own_organization_manage_registrations() -> None:
    setup = Setup()
    with pytest.raises(errors.NotAdministrator):
        await setup.registrations.create(caller("Instructor"), new(**GIVEN))
    with pytest.raises(errors.NotAdministrator):
        await setup.registrations.create(ADMIN, new(**GIVEN, organization_id="org2"))
    view = await setup.registrations.create(ADMIN, new(**GIVEN))
    other = caller("Administrator", organization_id="org2")
    for config_id in (str(view.record.id), "nonsense"):
        with pytest.raises(errors.ConfigNotFound):
            await setup.registrations.get(other, config_id)
    with pytest.raises(errors.ConfigNotFound):
        await setup.registrations.delete(other, str(view.record.id))
    assert view.record.id in setup.store.records


async def test_an_organizations_registrations_are_listed_oldest_first_a_page_at_a_time() -> None:
    setup = Setup()
    created = []
    for number in range(3):
        setup.clock = NOW + timedelta(minutes=number)
        created.append((await setup.registrations.create(ADMIN, new(**GIVEN, client_id=f"c{number}"))).record.id)
    await setup.registrations.create(caller("Administrator", organization_id="org2"), new(**GIVEN, client_id="x"))
    first = await setup.registrations.of_organization(ADMIN, 2, "")
    rest = await setup.registrations.of_organization(ADMIN, 2, first.next_page_token)
    assert [v.record.id for v in first.views + rest.views] == created and rest.next_page_token == ""


# ---- updates -----------------------------------------------------------------------------------


def given_fields(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {name: "" for name in domain.UPDATABLE_FIELDS}
    fields["deployment_ids"] = []
    fields.update(changes)
    return fields


async def test_an_update_must_name_its_fields_and_only_fields_that_can_change() -> None:
    setup = Setup()
    view = await setup.registrations.create(ADMIN, new(**GIVEN))
    config_id = str(view.record.id)
    with pytest.raises(errors.InvalidConfig, match="update_mask is empty"):
        await setup.registrations.update(ADMIN, config_id, given_fields(), mask=[])
    with pytest.raises(errors.InvalidConfig) as raised:
        await setup.registrations.update(ADMIN, config_id, given_fields(), mask=["created_at", "has_zoom_credentials"])
    assert "which are output only" in raised.value.message
    assert raised.value.message.endswith("PUT /api/v1/lti/configs/{config_id}/zoom-credentials")
    with pytest.raises(errors.InvalidConfig, match="which are not fields that can change"):
        await setup.registrations.update(ADMIN, config_id, given_fields(), mask=["created_at", "zoom_api_secret"])
    with pytest.raises(InvalidArgument, match="issuer: is required"):
        await setup.registrations.update(ADMIN, config_id, given_fields(issuer=""), mask=["issuer"])
    assert setup.store.records[view.record.id] == view.record


async def test_a_patched_url_becomes_given_and_deployments_are_replaced() -> None:
    setup = Setup()
    view = await setup.registrations.create(ADMIN, new(issuer="https://found.example.edu", deployment_ids=["d1"]))
    setup.clock = NOW + timedelta(hours=1)
    changes = given_fields(key_set_url="https://found.example.edu/other-jwks", auth_token_url="", deployment_ids=["d2"])
    updated = await setup.registrations.update(
        ADMIN, str(view.record.id), changes, mask=["key_set_url", "auth_token_url", "deployment_ids"]
    )
    record = updated.record
    assert (record.key_set_url, record.key_set_url_source) == ("https://found.example.edu/other-jwks", "given")
    assert (record.auth_token_url, record.auth_token_url_source) == ("", "")
    assert record.auth_login_url_source == "discovered" and record.updated_at == NOW + timedelta(hours=1)
    assert updated.deployment_ids == ["d2"] and setup.store.records[record.id] == record


async def test_an_update_onto_another_registrations_issuer_and_client_id_is_refused() -> None:
    setup = Setup()
    await setup.registrations.create(ADMIN, new(**GIVEN, client_id="taken"))
    view = await setup.registrations.create(ADMIN, new(**GIVEN, client_id="mine"))
    with pytest.raises(errors.ConfigAlreadyExists, match="keep one registration per pair"):
        await setup.registrations.update(
            ADMIN, str(view.record.id), given_fields(client_id="taken"), mask=["client_id"]
        )
    assert setup.store.records[view.record.id].client_id == "mine"


async def test_deleting_a_registration_removes_it() -> None:
    setup = Setup()
    view = await setup.registrations.create(ADMIN, new(**GIVEN))
    await setup.registrations.delete(ADMIN, str(view.record.id))
    assert setup.store.records == {}


# ---- Zoom credentials --------------------------------------------------------------------------

SERVICE = caller(SERVICE_ROLE, user_id="service:attendance_svc")


async def test_zoom_credentials_are_replaced_by_an_administrator_and_opened_for_a_service_only() -> None:
    setup = Setup()
    view = await setup.registrations.create(ADMIN, new(**GIVEN))
    config_id = str(view.record.id)
    replaced = await setup.registrations.set_zoom_credentials(
        ADMIN, config_id, account_id="acct", client_id="zk", client_secret="zs"
    )
    assert replaced.record.has_zoom_credentials and replaced.record.zoom_account_id == "acct"
    opened = await setup.registrations.zoom_credentials(SERVICE, config_id, "org1")
    assert opened == domain.ZoomAppCredentials("acct", "zk", "zs")
    with pytest.raises(errors.NotServiceCaller):
        await setup.registrations.zoom_credentials(ADMIN, config_id, "org1")
    with pytest.raises(errors.NotServiceCaller):
        await setup.registrations.zoom_credentials(SERVICE, config_id, "org2")


async def test_setting_zoom_credentials_needs_both_halves() -> None:
    setup = Setup()
    view = await setup.registrations.create(ADMIN, new(**GIVEN))
    with pytest.raises(InvalidArgument, match="zoom_api_secret: is required"):
        await setup.registrations.set_zoom_credentials(
            ADMIN, str(view.record.id), account_id="", client_id="zk", client_secret=""
        )
    assert not setup.store.records[view.record.id].has_zoom_credentials


async def test_without_any_zoom_account_id_the_refusal_names_the_setting_and_the_call() -> None:
    setup = Setup()
    view = await setup.registrations.create(ADMIN, new(**GIVEN, zoom_api_key="zk", zoom_api_secret="zs"))
    with pytest.raises(errors.NoZoomAccount) as raised:
        await setup.registrations.zoom_credentials(SERVICE, str(view.record.id), "org1")
    assert "ZOOM_ACCOUNT_ID" in raised.value.message
    assert f"PUT /api/v1/lti/configs/{view.record.id}/zoom-credentials" in raised.value.message
    with_default = Setup(default_zoom_account="acct-default")
    with_default.store.records = setup.store.records
    opened = await with_default.registrations.zoom_credentials(SERVICE, str(view.record.id), "org1")
    assert opened.account_id == "acct-default"


async def test_a_registration_without_zoom_credentials_says_how_to_set_them() -> None:
    setup = Setup(default_zoom_account="acct")
    view = await setup.registrations.create(ADMIN, new(**GIVEN))
    with pytest.raises(
        errors.NoZoomCredentials, match=re.escape("PUT /api/v1/lti/configs/{config_id}/zoom-credentials")
    ):
        await setup.registrations.zoom_credentials(SERVICE, str(view.record.id), "org1")


def test_a_record_edit_marks_set_urls_given_and_emptied_ones_sourceless() -> None:
    record = domain.RegistrationRecord(
        id=uuid.UUID(int=1),
        organization_id="org1",
        issuer=ISSUER,
        client_id="c",
        **GIVEN,
        key_set_url_source="discovered",
        auth_login_url_source="discovered",
        auth_token_url_source="discovered",
        endpoints_origin="origin",
        zoom_account_id="",
        zoom_client_id_sealed=None,
        zoom_client_secret_sealed=None,
        created_at=NOW,
        updated_at=NOW,
    )
    later = NOW + timedelta(days=1)
    edited = domain.edited_record(record, {"key_set_url": "https://x.edu/k", "auth_token_url": ""}, at=later)
    assert edited == dataclasses.replace(
        record,
        key_set_url="https://x.edu/k",
        key_set_url_source="given",
        auth_token_url="",
        auth_token_url_source="",
        updated_at=later,
    )
