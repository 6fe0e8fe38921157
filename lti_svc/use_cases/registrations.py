"""Platform registrations: create (finding the endpoints not given), read, list, change, delete,
and the Zoom credentials that sit on them.

Each method is one RPC's decisions, in the order a caller can observe them: who may
(administrators of the organization; services only for Zoom's secrets), what the
request may ask, then the platform and the store. Another organization's registration
answers exactly like a missing one. The servicer only turns protos into these calls and
back.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from lti_svc import domain, errors
from lti_svc.use_cases.ports import Conflict, EndpointFinder, Registrations, Sealer, UnitOfWorkFactory
from service_kit import paging
from service_kit.auth import SessionClaims

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class NewRegistration:
    """A platform to register, as the request gives it (empty strings where it gives nothing)."""

    organization_id: str
    issuer: str
    client_id: str
    deployment_ids: Sequence[str]
    deployment_id: str
    """The seed's body names one deployment here; it joins ``deployment_ids``."""
    key_set_url: str
    auth_login_url: str
    auth_token_url: str
    zoom_account_id: str
    zoom_api_key: str
    zoom_api_secret: str


@dataclass(frozen=True)
class RegistrationView:
    """A registration and its deployment ids, as administrators see it."""

    record: domain.RegistrationRecord
    deployment_ids: list[str]


@dataclass(frozen=True)
class RegistrationPage:
    views: list[RegistrationView]
    next_page_token: str


class PlatformRegistrations:
    """The registration use cases over their ports; one per process, shared by every RPC."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        endpoint_finder: EndpointFinder,
        sealer: Sealer,
        allow_http: bool,
        default_zoom_account_id: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._uow = uow
        self._finder = endpoint_finder
        self._sealer = sealer
        self._allow_http = allow_http
        self._default_zoom_account = default_zoom_account_id
        self._clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    @staticmethod
    async def _owned(
        registrations: Registrations, caller: SessionClaims, config_id: str, *, for_update: bool = False
    ) -> domain.RegistrationRecord:
        parsed = _registration_id(config_id)
        record = await registrations.get(parsed, for_update=for_update) if parsed else None
        if record is None or record.organization_id != caller.organization_id:
            raise errors.ConfigNotFound("no such LTI registration: check the config_id")
        return record

    def _sealed(self, record: domain.RegistrationRecord, client_id: str, secret: str) -> domain.RegistrationRecord:
        id_context, secret_context = domain.sealing_contexts(record.id)
        return replace(
            record,
            zoom_client_id_sealed=self._sealer.seal(client_id, context=id_context),
            zoom_client_secret_sealed=self._sealer.seal(secret, context=secret_context),
        )

    async def _platform_endpoints(
        self, issuer: str, client_id: str, given: Mapping[str, Any]
    ) -> domain.ResolvedEndpoints:
        """The registration's URLs: those given, the rest found from the issuer; a 400 when launches lack one."""
        found: domain.FoundEndpoints | None = None
        tried: list[str] = []
        if not all(given.get(name) for name in domain.ENDPOINT_FIELDS):
            found, tried = await self._finder.find(issuer, client_id)
        resolved = domain.resolve_endpoints(given, found)
        domain.require_launch_endpoints(resolved, issuer, tried)
        return resolved

    async def create(self, caller: SessionClaims, new: NewRegistration) -> RegistrationView:
        """Register a platform; the seed's single ``deployment_id`` joins the list, missing URLs are found."""
        organization_id = domain.require_administrator(caller, new.organization_id)
        deployment_ids = list(new.deployment_ids)
        if new.deployment_id and new.deployment_id not in deployment_ids:
            deployment_ids.append(new.deployment_id)
        fields: dict[str, Any] = {
            "issuer": new.issuer,
            "client_id": new.client_id,
            "deployment_ids": deployment_ids,
            "key_set_url": new.key_set_url,
            "auth_login_url": new.auth_login_url,
            "auth_token_url": new.auth_token_url,
            "zoom_account_id": new.zoom_account_id,
            "zoom_api_key": new.zoom_api_key,
            "zoom_api_secret": new.zoom_api_secret,
        }
        domain.validate_config(fields, allow_http=self._allow_http, required=("issuer", "client_id"))
        endpoints = await self._platform_endpoints(new.issuer, new.client_id, fields)
        fields.update(endpoints.urls)
        domain.validate_config(fields, allow_http=self._allow_http, required=())
        now = self._now()
        record = domain.RegistrationRecord(
            id=uuid.uuid4(),
            organization_id=organization_id,
            issuer=new.issuer,
            client_id=new.client_id,
            key_set_url=endpoints.urls["key_set_url"],
            auth_login_url=endpoints.urls["auth_login_url"],
            auth_token_url=endpoints.urls["auth_token_url"],
            key_set_url_source=endpoints.sources["key_set_url"] or "",
            auth_login_url_source=endpoints.sources["auth_login_url"] or "",
            auth_token_url_source=endpoints.sources["auth_token_url"] or "",
            endpoints_origin=endpoints.origin,
            zoom_account_id=new.zoom_account_id,
            zoom_client_id_sealed=None,
            zoom_client_secret_sealed=None,
            created_at=now,
            updated_at=now,
        )
        if new.zoom_api_key:
            record = self._sealed(record, new.zoom_api_key, new.zoom_api_secret)
        try:
            async with self._uow() as work:
                await work.registrations.add(record, deployment_ids)
                await work.commit()
        except Conflict:
            raise errors.ConfigAlreadyExists(
                f"issuer {new.issuer!r} with client_id {new.client_id!r} is registered already:"
                " add deployment ids to that registration instead"
            ) from None
        log.info("lti registration created", extra={"config_id": str(record.id)})
        return RegistrationView(record, deployment_ids)

    async def get(self, caller: SessionClaims, config_id: str) -> RegistrationView:
        domain.require_administrator(caller, "")
        async with self._uow() as work:
            record = await self._owned(work.registrations, caller, config_id)
            deployments = await work.registrations.deployments([record.id])
        return RegistrationView(record, deployments[record.id])

    async def of_organization(self, caller: SessionClaims, page_size: int, page_token: str) -> RegistrationPage:
        """The caller's organization's registrations, oldest first, a page at a time."""
        organization_id = domain.require_administrator(caller, "")
        size = domain.page_size(page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        after = paging.decode_cursor(page_token, invalid=errors.InvalidPageToken)
        async with self._uow() as work:
            rows = await work.registrations.of_organization(organization_id, after=after, limit=size + 1)
            page, next_token = paging.keyset_page(rows, size, lambda r: (r.created_at, r.id))
            deployments = await work.registrations.deployments([r.id for r in page])
        return RegistrationPage([RegistrationView(r, deployments[r.id]) for r in page], next_token)

    async def update(
        self, caller: SessionClaims, config_id: str, given: Mapping[str, Any], *, mask: Sequence[str]
    ) -> RegistrationView:
        """Change the fields the mask names to their ``given`` values; a URL set by hand becomes ``given``.

        ``given`` holds every updatable field of the request (by its API name).
        """
        domain.require_administrator(caller, "")
        paths = domain.fields_to_update(mask)
        fields = {name: given[name] for name in paths}
        required = [p for p in paths if p in domain.REQUIRED_WHEN_NAMED]
        domain.validate_config(fields, allow_http=self._allow_http, required=required)
        try:
            async with self._uow() as work:
                record = await self._owned(work.registrations, caller, config_id, for_update=True)
                record = domain.edited_record(record, fields, at=self._now())
                await work.registrations.save(record)
                if "deployment_ids" in fields:
                    await work.registrations.replace_deployments(record.id, fields["deployment_ids"])
                deployments = await work.registrations.deployments([record.id])
                await work.commit()
        except Conflict:
            raise errors.ConfigAlreadyExists(
                "another registration has this issuer and client_id already: keep one registration per pair"
            ) from None
        return RegistrationView(record, deployments[record.id])

    async def delete(self, caller: SessionClaims, config_id: str) -> None:
        domain.require_administrator(caller, "")
        async with self._uow() as work:
            record = await self._owned(work.registrations, caller, config_id, for_update=True)
            await work.registrations.delete(record.id)
            await work.commit()
        log.info("lti registration deleted", extra={"config_id": str(record.id)})

    async def set_zoom_credentials(
        self, caller: SessionClaims, config_id: str, *, account_id: str, client_id: str, client_secret: str
    ) -> RegistrationView:
        """Replace the Zoom app's account id and sealed credentials (both halves are required)."""
        domain.require_administrator(caller, "")
        domain.validate_config(
            {"zoom_account_id": account_id, "zoom_api_key": client_id, "zoom_api_secret": client_secret},
            allow_http=self._allow_http,
            required=("zoom_api_key", "zoom_api_secret"),
        )
        async with self._uow() as work:
            record = await self._owned(work.registrations, caller, config_id, for_update=True)
            record = replace(record, zoom_account_id=account_id, updated_at=self._now())
            record = self._sealed(record, client_id, client_secret)
            await work.registrations.save(record)
            deployments = await work.registrations.deployments([record.id])
            await work.commit()
        log.info("zoom credentials replaced", extra={"config_id": str(record.id)})
        return RegistrationView(record, deployments[record.id])

    async def zoom_credentials(
        self, caller: SessionClaims, config_id: str, organization_id: str
    ) -> domain.ZoomAppCredentials:
        """The organization's Zoom app, opened for a service of that organization only.

        A registration without its own account id uses ZOOM_ACCOUNT_ID; with neither, the
        refusal names the setting and the call that fix it.
        """
        domain.require_service_caller(caller, organization_id)
        async with self._uow() as work:
            record = await self._owned(work.registrations, caller, config_id)
        if record.zoom_client_id_sealed is None or record.zoom_client_secret_sealed is None:
            raise errors.NoZoomCredentials(
                "the registration has no Zoom credentials: an administrator sets them with"
                " PUT /api/v1/lti/configs/{config_id}/zoom-credentials"
            )
        account_id = record.zoom_account_id or self._default_zoom_account
        if not account_id:
            raise errors.NoZoomAccount(
                "no Zoom account id: set ZOOM_ACCOUNT_ID (the Server-to-Server OAuth app's account) for every"
                " registration, or give this one its zoom_account_id with"
                f" PUT /api/v1/lti/configs/{record.id}/zoom-credentials"
            )
        id_context, secret_context = domain.sealing_contexts(record.id)
        client_id = self._sealer.open(record.zoom_client_id_sealed, context=id_context)
        secret = self._sealer.open(record.zoom_client_secret_sealed, context=secret_context)
        log.info("zoom credentials handed out", extra={"config_id": str(record.id), "caller": caller.user_id})
        return domain.ZoomAppCredentials(account_id, client_id, secret)


def _registration_id(raw: str) -> uuid.UUID | None:
    """A registration id from a request, or None: a malformed id names nothing, like an unknown one."""
    try:
        return uuid.UUID(raw.strip())
    except ValueError:
        return None
