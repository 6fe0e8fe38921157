"""LTI Dynamic Registration: an administrator's invitation, and the platform registering the tool with it.

An invitation is an unguessable token standing for the organization, valid for a while
and used once: the platform's administrator opens the registration URL from the LMS,
where no session of ours exists. It is used up only once the registration is stored, so
a platform that fails half-way can be registered again with the same URL; a URL used
already answers with what to do. An administrator signed in may register without one.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from lti_svc import domain, errors
from lti_svc.use_cases.ports import Clock, Conflict, Invitations, Registrar, UnitOfWorkFactory
from lti_svc.use_cases.registrations import RegistrationView
from service_kit.auth import MissingSessionToken, SessionClaims

log = logging.getLogger(__name__)

TOOL_NAME = "Lecture Media"


@dataclass(frozen=True)
class Invitation:
    registration_url: str
    expires_at: datetime


@dataclass(frozen=True)
class PlatformRegistration:
    """What the platform asked for, as the request gives it ("" where it gives nothing)."""

    invitation: str
    organization_id: str
    openid_configuration: str
    registration_token: str


@dataclass(frozen=True)
class RegisteredPlatform:
    view: RegistrationView
    platform_name: str
    deployment_id: str


class DynamicRegistration:
    """The dynamic-registration use cases over their ports; one per process, shared by every RPC."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        invitations: Invitations,
        registrar: Registrar,
        public_base_url: str,
        allow_http: bool,
        clock: Clock = time.time,
    ) -> None:
        self._uow = uow
        self._invitations = invitations
        self._registrar = registrar
        self._public_base_url = public_base_url
        self._allow_http = allow_http
        self._clock = clock

    async def invite(self, caller: SessionClaims, organization_id: str) -> Invitation:
        """A registration URL for the caller's organization (administrators only)."""
        organization = domain.require_administrator(caller, organization_id)
        token = domain.new_secret_token()
        await self._invitations.create(token, organization)
        expires = datetime.fromtimestamp(int(self._clock()) + self._invitations.ttl_seconds, UTC)
        return Invitation(f"{self._public_base_url}/lti/register?{urlencode({'invitation': token})}", expires)

    async def register(self, caller: SessionClaims | None, request: PlatformRegistration) -> RegisteredPlatform:
        """Read the platform's configuration, register the tool with it, and store the registration.

        ``caller`` is asked for only without an invitation (the invitation is the credential).
        A registration of the same issuer and client_id for this organization gains the
        deployment; for another organization it is refused.
        """
        if request.invitation:
            organization_id = await self._invitations.peek(request.invitation)
            if organization_id is None:
                raise errors.InvalidInvitation(
                    "this registration URL has expired or was used already: an administrator creates a new one"
                )
        else:
            if caller is None:
                raise MissingSessionToken("this call needs a session token: send 'Authorization: Bearer <token>'")
            organization_id = domain.require_administrator(caller, request.organization_id)
        problem = domain.check_url(request.openid_configuration, allow_http=self._allow_http)
        if problem:
            raise errors.RegistrationRefused(f"openid_configuration {problem}")
        document = await self._registrar.configuration(request.openid_configuration)
        platform = domain.read_platform_configuration(
            document, request.openid_configuration, allow_http=self._allow_http
        )
        answer = await self._registrar.register(
            platform.registration_endpoint,
            domain.tool_registration_document(platform, self._public_base_url, tool_name=TOOL_NAME),
            request.registration_token,
        )
        client_id, deployment_id = domain.read_registration_answer(answer)
        refusal = f"issuer {platform.issuer!r} with client_id {client_id!r} is registered by another organization"
        try:
            async with self._uow() as work:
                record = await work.registrations.by_key(platform.issuer, client_id)
                if record is not None and record.organization_id != organization_id:
                    raise errors.ConfigAlreadyExists(refusal)
                if record is None:
                    record = self._new_record(organization_id, platform, client_id, request.openid_configuration)
                    await work.registrations.add(record, [])
                if deployment_id:
                    await work.registrations.add_deployment(record.id, deployment_id)
                deployments = await work.registrations.deployments([record.id])
                await work.commit()
        except Conflict:
            raise errors.ConfigAlreadyExists(refusal) from None
        if request.invitation:
            await self._invitations.use(request.invitation)
        log.info("platform registered dynamically", extra={"config_id": str(record.id)})
        return RegisteredPlatform(
            RegistrationView(record, deployments[record.id]),
            platform_name=platform.product_family_code or platform.issuer,
            deployment_id=deployment_id,
        )

    def _new_record(
        self, organization_id: str, platform: domain.PlatformConfiguration, client_id: str, origin: str
    ) -> domain.RegistrationRecord:
        now = datetime.fromtimestamp(self._clock(), UTC)
        discovered = domain.EndpointSource.DISCOVERED.value
        return domain.RegistrationRecord(
            id=uuid.uuid4(),
            organization_id=organization_id,
            issuer=platform.issuer,
            client_id=client_id,
            key_set_url=platform.jwks_uri,
            auth_login_url=platform.authorization_endpoint,
            auth_token_url=platform.token_endpoint,
            key_set_url_source=discovered,
            auth_login_url_source=discovered,
            auth_token_url_source=discovered,
            endpoints_origin=origin,
            zoom_account_id="",
            zoom_client_id_sealed=None,
            zoom_client_secret_sealed=None,
            created_at=now,
            updated_at=now,
        )
