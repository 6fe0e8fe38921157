"""The LtiService servicer and the process's ``serve``.

Each RPC maps proto to domain and back. The registration RPCs are proto in, a use case
(:mod:`lti_svc.use_cases.registrations`), proto out; the others still call the checks in
:mod:`lti_svc.domain` and the tables in :mod:`lti_svc.store` from here, and move to use
cases as they are touched. Platforms and Redis are in :mod:`lti_svc.adapters`, the
tool's keys in :mod:`lti_svc.keys` and secrets' envelopes in :mod:`lti_svc.crypto`.
Errors are raised as :mod:`lti_svc.errors` and the shared interceptor turns them into
statuses.

Who may call what: registrations and invitations are for the organization's
administrators (another organization's registration answers like a missing one);
logins and launches are anonymous, the id_token being the credential; rosters and
grades are for the course's staff; personal API tokens are created by course staff and
administrators and seen and revoked by their owner only, while ResolveApiToken (the edge's,
no HTTP route) needs no caller since the token's secret is the credential;
GetZoomCredentials is for services only (a session JWT with the ``Service`` role for the
same organization, see
:func:`lti_svc.domain.require_service_caller`).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from google.protobuf import timestamp_pb2
from redis.asyncio import Redis
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lti_svc import adapters, domain, errors, store
from lti_svc.crypto import Envelopes
from lti_svc.domain.api_tokens import ApiTokenRecord
from lti_svc.keys import ToolKeyring
from lti_svc.use_cases import NewRegistration, PlatformRegistrations, RegistrationView
from lti_svc.use_cases.api_tokens import ApiTokenUseCases
from media.lti.v1 import lti_pb2, lti_pb2_grpc
from service_kit import outbound
from service_kit.auth import SessionClaims, issue_session_token
from service_kit.caller import require_caller
from service_kit.db import create_engine, session_factory
from service_kit.grpc_server import Registration
from service_kit.grpc_server import serve as serve_grpc
from service_kit.settings import LtiSettings, Settings, SettingsError, load_lti_settings

if TYPE_CHECKING:
    from grpc import aio

    Context = aio.ServicerContext[Any, Any]
else:
    Context = Any

log = logging.getLogger(__name__)

SERVICE_NAME = lti_pb2.DESCRIPTOR.services_by_name["LtiService"].full_name
TOOL_NAME = "Lecture Media"
DEFAULT_ROSTER_PAGE = 100
MAX_ROSTER_PAGE = 1000

MESSAGE_TYPE_TO_PROTO = {
    domain.RESOURCE_LINK_REQUEST: lti_pb2.LTI_MESSAGE_TYPE_RESOURCE_LINK,
    domain.DEEP_LINKING_REQUEST: lti_pb2.LTI_MESSAGE_TYPE_DEEP_LINKING,
}
MEMBER_STATUS_TO_PROTO = {
    "Active": lti_pb2.COURSE_MEMBER_STATUS_ACTIVE,
    "Inactive": lti_pb2.COURSE_MEMBER_STATUS_INACTIVE,
    "Deleted": lti_pb2.COURSE_MEMBER_STATUS_DELETED,
}
ACTIVITY_FROM_PROTO = {
    lti_pb2.ACTIVITY_PROGRESS_INITIALIZED: "Initialized",
    lti_pb2.ACTIVITY_PROGRESS_STARTED: "Started",
    lti_pb2.ACTIVITY_PROGRESS_IN_PROGRESS: "InProgress",
    lti_pb2.ACTIVITY_PROGRESS_SUBMITTED: "Submitted",
    lti_pb2.ACTIVITY_PROGRESS_COMPLETED: "Completed",
}
GRADING_FROM_PROTO = {
    lti_pb2.GRADING_PROGRESS_FULLY_GRADED: "FullyGraded",
    lti_pb2.GRADING_PROGRESS_PENDING: "Pending",
    lti_pb2.GRADING_PROGRESS_PENDING_MANUAL: "PendingManual",
    lti_pb2.GRADING_PROGRESS_FAILED: "Failed",
    lti_pb2.GRADING_PROGRESS_NOT_READY: "NotReady",
}
ITEM_TYPE_FROM_PROTO = {
    lti_pb2.DEEP_LINKING_ITEM_TYPE_LTI_RESOURCE_LINK: "ltiResourceLink",
    lti_pb2.DEEP_LINKING_ITEM_TYPE_LINK: "link",
}
ENDPOINT_SOURCE_TO_PROTO = {
    domain.EndpointSource.GIVEN.value: lti_pb2.ENDPOINT_SOURCE_GIVEN,
    domain.EndpointSource.DISCOVERED.value: lti_pb2.ENDPOINT_SOURCE_DISCOVERED,
    domain.EndpointSource.KNOWN_PLATFORM.value: lti_pb2.ENDPOINT_SOURCE_KNOWN_PLATFORM,
}


@dataclass(frozen=True)
class Dependencies:
    """What the servicer talks to, made once per process."""

    sessions: async_sessionmaker[AsyncSession]
    envelopes: Envelopes
    keyring: ToolKeyring
    key_sets: adapters.KeySets
    logins: adapters.LoginStates
    launches: adapters.LaunchContexts
    invitations: adapters.Invitations
    tokens: adapters.ServiceTokens
    rosters: adapters.Rosters
    gradebook: adapters.Gradebook
    registrar: adapters.Registrar
    endpoint_finder: adapters.EndpointFinder
    platforms: adapters.Platforms
    """The one HTTP session every platform adapter shares, closed at stop."""
    settings: Settings
    lti: LtiSettings
    clock: Callable[[], float] = time.time

    @property
    def allow_http(self) -> bool:
        """Plain-http platform URLs are for development and tests only."""
        return not self.settings.is_production

    @property
    def launch_url(self) -> str:
        return f"{self.settings.public_base_url}/lti/launch"


def _timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def config_message(view: RegistrationView) -> lti_pb2.LtiConfig:
    """A registration as the API shows it: never a Zoom secret, only whether they are stored."""
    row = view.record
    return lti_pb2.LtiConfig(
        config_id=str(row.id),
        organization_id=row.organization_id,
        issuer=row.issuer,
        client_id=row.client_id,
        deployment_ids=view.deployment_ids,
        key_set_url=row.key_set_url,
        auth_login_url=row.auth_login_url,
        auth_token_url=row.auth_token_url,
        zoom_account_id=row.zoom_account_id,
        has_zoom_credentials=row.has_zoom_credentials,
        created_at=_timestamp(row.created_at),
        updated_at=_timestamp(row.updated_at),
        key_set_url_source=ENDPOINT_SOURCE_TO_PROTO.get(row.key_set_url_source, lti_pb2.ENDPOINT_SOURCE_UNSPECIFIED),
        auth_login_url_source=ENDPOINT_SOURCE_TO_PROTO.get(
            row.auth_login_url_source, lti_pb2.ENDPOINT_SOURCE_UNSPECIFIED
        ),
        auth_token_url_source=ENDPOINT_SOURCE_TO_PROTO.get(
            row.auth_token_url_source, lti_pb2.ENDPOINT_SOURCE_UNSPECIFIED
        ),
        endpoints_origin=row.endpoints_origin,
    )


def api_token_message(record: ApiTokenRecord) -> lti_pb2.ApiToken:
    """A token as its owner sees it: never the secret (only its hash is stored anyway)."""
    message = lti_pb2.ApiToken(
        token_id=str(record.id),
        name=record.name,
        organization_id=record.organization_id,
        course_id=record.course_id or "",
        roles=list(record.roles),
        created_at=_timestamp(record.created_at),
        expires_at=_timestamp(record.expires_at),
    )
    if record.last_used_at is not None:
        message.last_used_at.CopyFrom(_timestamp(record.last_used_at))
    return message


class LtiServicer(lti_pb2_grpc.LtiServiceServicer):
    """Serves media.lti.v1.LtiService."""

    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps
        self._registrations = PlatformRegistrations(
            uow=lambda: store.SqlUnitOfWork(deps.sessions),
            endpoint_finder=deps.endpoint_finder,
            sealer=deps.envelopes,
            allow_http=deps.allow_http,
            default_zoom_account_id=deps.settings.zoom_account_id,
            clock=deps.clock,
        )
        self._api_tokens = ApiTokenUseCases(
            uow=lambda: store.SqlUnitOfWork(deps.sessions), jwt_secret=deps.settings.jwt_secret_key, clock=deps.clock
        )

    def _now(self) -> int:
        return int(self._deps.clock())

    # ---- registrations ----------------------------------------------------------------------

    async def CreateLtiConfig(
        self, request: lti_pb2.CreateLtiConfigRequest, context: Context
    ) -> lti_pb2.CreateLtiConfigResponse:
        new = NewRegistration(
            organization_id=request.organization_id,
            issuer=request.issuer,
            client_id=request.client_id,
            deployment_ids=list(request.deployment_ids),
            deployment_id=request.deployment_id,
            key_set_url=request.key_set_url,
            auth_login_url=request.auth_login_url,
            auth_token_url=request.auth_token_url,
            zoom_account_id=request.zoom_account_id,
            zoom_api_key=request.zoom_api_key,
            zoom_api_secret=request.zoom_api_secret,
        )
        view = await self._registrations.create(require_caller(), new)
        return lti_pb2.CreateLtiConfigResponse(config=config_message(view))

    async def GetLtiConfig(
        self, request: lti_pb2.GetLtiConfigRequest, context: Context
    ) -> lti_pb2.GetLtiConfigResponse:
        view = await self._registrations.get(require_caller(), request.config_id)
        return lti_pb2.GetLtiConfigResponse(config=config_message(view))

    async def ListLtiConfigs(
        self, request: lti_pb2.ListLtiConfigsRequest, context: Context
    ) -> lti_pb2.ListLtiConfigsResponse:
        page = await self._registrations.of_organization(require_caller(), request.page_size, request.page_token)
        return lti_pb2.ListLtiConfigsResponse(
            configs=[config_message(v) for v in page.views], next_page_token=page.next_page_token
        )

    async def UpdateLtiConfig(
        self, request: lti_pb2.UpdateLtiConfigRequest, context: Context
    ) -> lti_pb2.UpdateLtiConfigResponse:
        new = request.config
        given: dict[str, Any] = {
            name: getattr(new, name) for name in domain.UPDATABLE_FIELDS if name != "deployment_ids"
        }
        given["deployment_ids"] = list(new.deployment_ids)
        view = await self._registrations.update(
            require_caller(), new.config_id, given, mask=list(request.update_mask.paths)
        )
        return lti_pb2.UpdateLtiConfigResponse(config=config_message(view))

    async def DeleteLtiConfig(
        self, request: lti_pb2.DeleteLtiConfigRequest, context: Context
    ) -> lti_pb2.DeleteLtiConfigResponse:
        await self._registrations.delete(require_caller(), request.config_id)
        return lti_pb2.DeleteLtiConfigResponse()

    async def SetZoomCredentials(
        self, request: lti_pb2.SetZoomCredentialsRequest, context: Context
    ) -> lti_pb2.SetZoomCredentialsResponse:
        view = await self._registrations.set_zoom_credentials(
            require_caller(),
            request.config_id,
            account_id=request.zoom_account_id,
            client_id=request.zoom_api_key,
            client_secret=request.zoom_api_secret,
        )
        return lti_pb2.SetZoomCredentialsResponse(config=config_message(view))

    async def GetZoomCredentials(
        self, request: lti_pb2.GetZoomCredentialsRequest, context: Context
    ) -> lti_pb2.GetZoomCredentialsResponse:
        credentials = await self._registrations.zoom_credentials(
            require_caller(), request.config_id, request.organization_id
        )
        return lti_pb2.GetZoomCredentialsResponse(
            account_id=credentials.account_id, client_id=credentials.client_id, client_secret=credentials.client_secret
        )

    # ---- personal API tokens ------------------------------------------------------------------

    async def CreateApiToken(
        self, request: lti_pb2.CreateApiTokenRequest, context: Context
    ) -> lti_pb2.CreateApiTokenResponse:
        created = await self._api_tokens.create(require_caller(), request.name, request.expires_in_days)
        return lti_pb2.CreateApiTokenResponse(token=api_token_message(created.record), secret=created.secret)

    async def ListApiTokens(
        self, request: lti_pb2.ListApiTokensRequest, context: Context
    ) -> lti_pb2.ListApiTokensResponse:
        page = await self._api_tokens.of_caller(require_caller(), request.page_size, request.page_token)
        return lti_pb2.ListApiTokensResponse(
            tokens=[api_token_message(r) for r in page.records], next_page_token=page.next_page_token
        )

    async def RevokeApiToken(
        self, request: lti_pb2.RevokeApiTokenRequest, context: Context
    ) -> lti_pb2.RevokeApiTokenResponse:
        await self._api_tokens.revoke(require_caller(), request.token_id)
        return lti_pb2.RevokeApiTokenResponse()

    async def ResolveApiToken(
        self, request: lti_pb2.ResolveApiTokenRequest, context: Context
    ) -> lti_pb2.ResolveApiTokenResponse:
        resolved = await self._api_tokens.resolve(request.secret)
        return lti_pb2.ResolveApiTokenResponse(
            session_token=resolved.session_token,
            expires_at=_timestamp(datetime.fromtimestamp(resolved.expires_at, UTC)),
            token_id=str(resolved.token_id),
        )

    # ---- login and launch -------------------------------------------------------------------

    async def StartOidcLogin(
        self, request: lti_pb2.StartOidcLoginRequest, context: Context
    ) -> lti_pb2.StartOidcLoginResponse:
        domain.validate_login(request.iss, request.login_hint, request.target_link_uri)
        domain.check_target_link_uri(request.target_link_uri, self._deps.settings.public_base_url)
        async with self._deps.sessions() as session:
            if request.client_id:
                row = await store.registration_by_key(session, request.iss, request.client_id)
                rows = [row] if row is not None else []
            else:
                rows = list(await store.registrations_by_issuer(session, request.iss))
            if len(rows) > 1:
                raise errors.InvalidLogin(
                    f"several registrations use issuer {request.iss!r} and the platform sent no client_id:"
                    " configure the platform to send client_id in its login request"
                )
            if not rows:
                raise errors.UnknownPlatform(
                    f"no platform is registered with issuer {request.iss!r}"
                    + (f" and client_id {request.client_id!r}" if request.client_id else "")
                    + ": an administrator registers it first (POST /api/v1/lti/config or dynamic registration)"
                )
            row = rows[0]
            deployments = (await store.deployments_of(session, [row.id]))[row.id]
        registration = store.as_domain(row, deployments)
        if request.lti_deployment_id and request.lti_deployment_id not in registration.deployment_ids:
            raise errors.InvalidLogin(
                f"deployment {request.lti_deployment_id!r} is not registered for this platform: add it to the"
                " registration's deployment_ids",
                reason="LOGIN_UNKNOWN_DEPLOYMENT",
            )
        login_params = {
            name: value
            for name, value in (
                ("iss", request.iss),
                ("login_hint", request.login_hint),
                ("target_link_uri", request.target_link_uri),
                ("lti_message_hint", request.lti_message_hint),
                ("client_id", request.client_id),
                ("lti_deployment_id", request.lti_deployment_id),
            )
            if value
        }
        login = domain.LoginState(
            state=domain.new_secret_token(),
            nonce=domain.new_secret_token(),
            config_id=registration.config_id,
            issuer=registration.issuer,
            client_id=registration.client_id,
            target_link_uri=request.target_link_uri,
            storage_target=request.lti_storage_target,
            login_params=login_params,
        )
        await self._deps.logins.remember(login)
        redirect = domain.authorization_redirect(
            registration,
            redirect_uri=self._deps.launch_url,
            login_hint=request.login_hint,
            lti_message_hint=request.lti_message_hint,
            state=login.state,
            nonce=login.nonce,
        )
        log.info("lti login started", extra={"config_id": registration.config_id})
        return lti_pb2.StartOidcLoginResponse(redirect_url=redirect, state=login.state)

    async def _verified(self, id_token: str, organization_id: str) -> domain.Launch:
        """Signature, issuer, audience, times and claims; nonce and state are the caller's to check."""
        unverified = domain.read_unverified(id_token)
        client_id = domain.client_id_of(unverified)
        if client_id is None:
            raise errors.InvalidLaunch(
                "the id_token has several audiences and no azp: the platform must name the tool's client_id in azp",
                reason="LAUNCH_WRONG_AUDIENCE",
            )
        async with self._deps.sessions() as session:
            row = await store.registration_by_key(session, unverified.issuer, client_id)
            if row is None or (organization_id and row.organization_id != organization_id):
                raise errors.UnknownPlatform(
                    f"no platform is registered with issuer {unverified.issuer!r} and client_id {client_id!r}"
                    + (" for this organization" if organization_id else "")
                    + ": an administrator registers it first"
                )
            deployments = (await store.deployments_of(session, [row.id]))[row.id]
        registration = store.as_domain(row, deployments)
        claims = await self._deps.key_sets.verified_claims(registration.key_set_url, unverified.kid, id_token)
        return domain.check_launch_claims(claims, registration, now=self._now(), skew=self._deps.lti.clock_skew_seconds)

    async def _open_session(self, launch: domain.Launch) -> tuple[str, int, lti_pb2.LtiLaunch]:
        """Remember the course's services, keep a deep-linking launch, mint the session JWT."""
        async with self._deps.sessions() as session, session.begin():
            await store.remember_course(session, launch)
        launch_id = ""
        if launch.deep_linking is not None:
            launch_id = domain.new_secret_token()
            await self._deps.launches.remember(
                domain.DeepLinkingContext(
                    launch_id=launch_id,
                    config_id=launch.registration.config_id,
                    organization_id=launch.registration.organization_id,
                    client_id=launch.registration.client_id,
                    issuer=launch.registration.issuer,
                    deployment_id=launch.deployment_id,
                    user_id=launch.user_id,
                    course_id=launch.course_id,
                    settings=launch.deep_linking,
                )
            )
        now = self._now()
        ttl = self._deps.settings.session_token_ttl_seconds
        token = issue_session_token(
            self._deps.settings.jwt_secret_key,
            user_id=launch.user_id,
            organization_id=launch.registration.organization_id,
            course_id=launch.course_id,
            roles=launch.roles,
            ttl_seconds=ttl,
            now=now,
        )
        log.info(
            "lti launch accepted",
            extra={
                "config_id": launch.registration.config_id,
                "message_type": launch.message_type,
                "roles": sorted(launch.roles),
            },
        )
        return token, now + ttl, self._launch_message(launch, launch_id)

    def _launch_message(self, launch: domain.Launch, launch_id: str) -> lti_pb2.LtiLaunch:
        message = lti_pb2.LtiLaunch(
            launch_id=launch_id,
            organization_id=launch.registration.organization_id,
            config_id=launch.registration.config_id,
            user=lti_pb2.LtiUser(
                user_id=launch.user_id,
                name=launch.name,
                given_name=launch.given_name,
                family_name=launch.family_name,
                email=launch.email,
            ),
            course=lti_pb2.LtiCourse(course_id=launch.course_id, title=launch.course_title, label=launch.course_label),
            roles=sorted(launch.roles),
            message_type=MESSAGE_TYPE_TO_PROTO[launch.message_type],
            target_link_uri=launch.target_link_uri,
            resource_link_id=launch.resource_link_id,
            custom=launch.custom,
            locale=launch.locale,
        )
        settings = launch.deep_linking
        if settings is not None:
            message.deep_linking_settings.CopyFrom(
                lti_pb2.DeepLinkingSettings(
                    deep_link_return_url=settings.return_url,
                    accept_types=settings.accept_types,
                    accept_presentation_document_targets=settings.accept_presentation_document_targets,
                    accept_multiple=settings.accept_multiple,
                    auto_create=settings.auto_create,
                    title=settings.title,
                    text=settings.text,
                )
            )
        return message

    async def Launch(self, request: lti_pb2.LaunchRequest, context: Context) -> lti_pb2.LaunchResponse:
        if not request.id_token:
            raise errors.InvalidLaunch("id_token is required", reason="LAUNCH_NOT_A_JWT")
        launch = await self._verified(request.id_token, request.organization_id)
        domain.check_nonce_fresh(await self._deps.logins.take_nonce(launch.nonce))
        token, expires, message = await self._open_session(launch)
        return lti_pb2.LaunchResponse(
            session_token=token,
            expires_at=_timestamp(datetime.fromtimestamp(expires, UTC)),
            launch=message,
        )

    async def CompleteBrowserLaunch(
        self, request: lti_pb2.CompleteBrowserLaunchRequest, context: Context
    ) -> lti_pb2.CompleteBrowserLaunchResponse:
        if not request.id_token:
            raise errors.InvalidLaunch(
                "the platform's form post has no id_token: the platform must answer with response_mode=form_post",
                reason="LAUNCH_NOT_A_JWT",
            )
        if not request.state:
            raise errors.InvalidLaunch("the platform's form post has no state", reason="LAUNCH_UNKNOWN_STATE")
        launch = await self._verified(request.id_token, "")
        login = await self._deps.logins.take_state(request.state)
        domain.check_state_matches(login, launch, state=request.state)
        assert login is not None
        domain.check_nonce_fresh(await self._deps.logins.take_nonce(launch.nonce))
        token, expires, message = await self._open_session(launch)
        relaunch = f"{self._deps.settings.public_base_url}/lti/login?{urlencode(login.login_params)}"
        return lti_pb2.CompleteBrowserLaunchResponse(
            session_token=token,
            expires_at=_timestamp(datetime.fromtimestamp(expires, UTC)),
            redirect_url=launch.target_link_uri,
            launch=message,
            lti_storage_target=login.storage_target,
            platform_origin=domain.origin_of(launch.registration.auth_login_url),
            relaunch_url=relaunch,
        )

    async def RefreshSession(
        self, request: lti_pb2.RefreshSessionRequest, context: Context
    ) -> lti_pb2.RefreshSessionResponse:
        caller = require_caller()
        now = self._now()
        settings = self._deps.settings
        renewal = domain.renew_session(
            caller, now=now, ttl=settings.session_token_ttl_seconds, max_lifetime=settings.session_max_lifetime_seconds
        )
        token = issue_session_token(
            settings.jwt_secret_key,
            user_id=caller.user_id,
            organization_id=caller.organization_id,
            course_id=caller.course_id,
            roles=caller.roles,
            ttl_seconds=renewal.expires_at - now,
            now=now,
            authenticated_at=caller.authenticated_at or caller.issued_at,
        )
        return lti_pb2.RefreshSessionResponse(
            session_token=token,
            expires_at=_timestamp(datetime.fromtimestamp(renewal.expires_at, UTC)),
            session_ends_at=_timestamp(datetime.fromtimestamp(renewal.ends_at, UTC)),
        )

    async def GetJwks(self, request: lti_pb2.GetJwksRequest, context: Context) -> lti_pb2.GetJwksResponse:
        keys = await self._deps.keyring.published()
        return lti_pb2.GetJwksResponse(
            keys=[lti_pb2.Jwk(kty=k["kty"], kid=k["kid"], use=k["use"], alg=k["alg"], n=k["n"], e=k["e"]) for k in keys]
        )

    # ---- deep linking -----------------------------------------------------------------------

    async def CreateDeepLinkingResponse(
        self, request: lti_pb2.CreateDeepLinkingResponseRequest, context: Context
    ) -> lti_pb2.CreateDeepLinkingResponseResponse:
        caller = require_caller()
        launch = await self._deps.launches.get(request.launch_id) if request.launch_id else None
        if launch is None or (caller.user_id, caller.organization_id, caller.course_id) != (
            launch.user_id,
            launch.organization_id,
            launch.course_id,
        ):
            raise errors.LaunchNotFound(
                "no such deep-linking launch, or it is too old: open the content picker again from the course"
            )
        if not caller.manages_course:
            raise errors.NotCourseStaff("only the course's instructors pick content for it")
        picked = [
            domain.PickedItem(
                kind=ITEM_TYPE_FROM_PROTO.get(item.type, ""),
                title=item.title,
                text=item.text,
                url=item.url,
                video_id=item.video_id,
                live_session_id=item.live_session_id,
                custom=dict(item.custom),
            )
            for item in request.items
        ]
        items = domain.content_items(picked, launch.settings, self._deps.launch_url)
        claims = domain.deep_linking_response_claims(
            launch, items, message=request.message, now=self._now(), ttl=self._deps.lti.tool_jwt_ttl_seconds
        )
        signed = await self._deps.keyring.sign(claims)
        await self._deps.launches.forget(launch.launch_id)
        log.info("deep linking answered", extra={"config_id": launch.config_id, "items": len(items)})
        return lti_pb2.CreateDeepLinkingResponseResponse(jwt=signed, return_url=launch.settings.return_url)

    # ---- roster and grades ------------------------------------------------------------------

    async def _course(self, caller: SessionClaims, course_id: str) -> tuple[store.CourseLinkRow, domain.Registration]:
        if not course_id:
            raise errors.CourseNotLinked("course_id is required")
        domain.require_course_staff(caller, course_id)
        async with self._deps.sessions() as session:
            link = await store.course_link(session, caller.organization_id, course_id)
            row = await store.registration(session, link.registration_id) if link is not None else None
            if link is None or row is None:
                raise errors.CourseNotLinked(
                    f"course {course_id!r} has not been launched from its LMS yet: launch the tool from the course once"
                )
            deployments = (await store.deployments_of(session, [row.id]))[row.id]
        return link, store.as_domain(row, deployments)

    def _token_for(self, registration: domain.Registration, scopes: list[str]) -> Callable[[], Awaitable[str]]:
        async def fetch() -> str:
            return await self._deps.tokens.token(registration, scopes, now=self._now())

        return fetch

    async def ListCourseMembers(
        self, request: lti_pb2.ListCourseMembersRequest, context: Context
    ) -> lti_pb2.ListCourseMembersResponse:
        caller = require_caller()
        size = domain.page_size(request.page_size, default=DEFAULT_ROSTER_PAGE, maximum=MAX_ROSTER_PAGE)
        offset = domain.decode_offset(request.page_token) if request.page_token else 0
        link, registration = await self._course(caller, request.course_id)
        if not link.nrps_url:
            raise errors.ServiceNotOffered(
                "the platform did not offer Names and Roles for this course: enable the tool's roster access in the LMS"
            )
        members = await self._deps.rosters.members(link.nrps_url, self._token_for(registration, [domain.SCOPE_NRPS]))
        if request.role:
            members = [m for m in members if request.role in m.roles]
        page = members[offset : offset + size]
        return lti_pb2.ListCourseMembersResponse(
            members=[
                lti_pb2.CourseMember(
                    user_id=m.user_id,
                    name=m.name,
                    given_name=m.given_name,
                    family_name=m.family_name,
                    email=m.email,
                    roles=list(m.roles),
                    status=MEMBER_STATUS_TO_PROTO[m.status],
                )
                for m in page
            ],
            next_page_token=domain.encode_offset(offset + size) if offset + size < len(members) else "",
        )

    async def CreateLineItem(
        self, request: lti_pb2.CreateLineItemRequest, context: Context
    ) -> lti_pb2.CreateLineItemResponse:
        caller = require_caller()
        if not request.live_session_id:
            raise errors.InvalidScore("live_session_id is required: one gradebook column per live session")
        maximum = request.score_maximum or 100.0
        resource_id = f"live-session:{request.live_session_id}"
        document = domain.line_item_document(
            label=request.label, score_maximum=maximum, resource_id=resource_id, tag="attendance"
        )
        link, registration = await self._course(caller, request.course_id)
        async with self._deps.sessions() as session:
            existing = await store.line_item_for_session(
                session, caller.organization_id, request.course_id, request.live_session_id
            )
        if existing is not None:
            return lti_pb2.CreateLineItemResponse(line_item=self._line_item_message(existing))
        if not link.ags_lineitems_url or domain.SCOPE_AGS_LINEITEM not in link.ags_scopes:
            raise errors.ServiceNotOffered(
                "the platform did not offer gradebook columns (AGS line items) for this course: enable grade"
                " passback for the tool in the LMS"
            )
        bearer = await self._token_for(registration, [domain.SCOPE_AGS_LINEITEM, domain.SCOPE_AGS_SCORE])()
        url = await self._deps.gradebook.find_line_item(link.ags_lineitems_url, resource_id, bearer)
        if url is None:
            url = await self._deps.gradebook.create_line_item(link.ags_lineitems_url, document, bearer)
        row = store.LineItemRow(
            id=uuid.uuid4(),
            organization_id=caller.organization_id,
            course_id=request.course_id,
            live_session_id=request.live_session_id,
            registration_id=uuid.UUID(registration.config_id),
            platform_url=url,
            label=document["label"],
            score_maximum=maximum,
            created_at=store.utcnow(),
        )
        try:
            async with self._deps.sessions() as session, session.begin():
                session.add(row)
        except IntegrityError:
            async with self._deps.sessions() as session:
                found = await store.line_item_for_session(
                    session, caller.organization_id, request.course_id, request.live_session_id
                )
            assert found is not None
            row = found
        return lti_pb2.CreateLineItemResponse(line_item=self._line_item_message(row))

    @staticmethod
    def _line_item_message(row: store.LineItemRow) -> lti_pb2.LineItem:
        return lti_pb2.LineItem(
            line_item_id=str(row.id),
            course_id=row.course_id,
            live_session_id=row.live_session_id,
            label=row.label,
            score_maximum=row.score_maximum,
        )

    async def PublishScores(
        self, request: lti_pb2.PublishScoresRequest, context: Context
    ) -> lti_pb2.PublishScoresResponse:
        caller = require_caller()
        parsed = store.parse_id(request.line_item_id)
        async with self._deps.sessions() as session:
            item = await store.line_item(session, parsed) if parsed else None
        if item is None or item.organization_id != caller.organization_id:
            raise errors.LineItemNotFound("no such line item: create it with CreateLineItem first")
        _, registration = await self._course(caller, item.course_id)
        now = datetime.now(UTC)
        documents = [
            domain.score_document(
                user_id=score.user_id,
                score_given=score.score_given,
                score_maximum=score.score_maximum or item.score_maximum,
                comment=score.comment,
                activity_progress=ACTIVITY_FROM_PROTO.get(score.activity_progress, "Completed"),
                grading_progress=GRADING_FROM_PROTO.get(score.grading_progress, "FullyGraded"),
                timestamp=score.timestamp.ToDatetime(UTC) if score.HasField("timestamp") else now,
            )
            for score in request.scores
        ]
        bearer = await self._token_for(registration, [domain.SCOPE_AGS_LINEITEM, domain.SCOPE_AGS_SCORE])()
        accepted = 0
        failures: list[lti_pb2.ScoreFailure] = []
        for document in documents:
            try:
                await self._deps.gradebook.post_score(item.platform_url, document, bearer)
                accepted += 1
            except (errors.PlatformRefused, errors.PlatformUnavailable) as refused:
                failures.append(lti_pb2.ScoreFailure(user_id=document["userId"], reason=refused.message))
        log.info("scores published", extra={"line_item_id": str(item.id), "accepted": accepted})
        return lti_pb2.PublishScoresResponse(accepted_count=accepted, failures=failures)

    # ---- dynamic registration ---------------------------------------------------------------

    async def CreateRegistrationInvitation(
        self, request: lti_pb2.CreateRegistrationInvitationRequest, context: Context
    ) -> lti_pb2.CreateRegistrationInvitationResponse:
        organization_id = domain.require_administrator(require_caller(), request.organization_id)
        token = domain.new_secret_token()
        await self._deps.invitations.create(token, organization_id)
        expires = datetime.fromtimestamp(self._now() + self._deps.invitations.ttl_seconds, UTC)
        return lti_pb2.CreateRegistrationInvitationResponse(
            registration_url=f"{self._deps.settings.public_base_url}/lti/register?{urlencode({'invitation': token})}",
            expires_at=_timestamp(expires),
        )

    async def RegisterPlatform(
        self, request: lti_pb2.RegisterPlatformRequest, context: Context
    ) -> lti_pb2.RegisterPlatformResponse:
        if request.invitation:
            organization_id = await self._deps.invitations.peek(request.invitation)
            if organization_id is None:
                raise errors.InvalidInvitation(
                    "this registration URL has expired or was used already: an administrator creates a new one"
                )
        else:
            organization_id = domain.require_administrator(require_caller(), request.organization_id)
        problem = domain.check_url(request.openid_configuration, allow_http=self._deps.allow_http)
        if problem:
            raise errors.RegistrationRefused(f"openid_configuration {problem}")
        document = await self._deps.registrar.configuration(request.openid_configuration)
        platform = domain.read_platform_configuration(
            document, request.openid_configuration, allow_http=self._deps.allow_http
        )
        answer = await self._deps.registrar.register(
            platform.registration_endpoint,
            domain.tool_registration_document(platform, self._deps.settings.public_base_url, tool_name=TOOL_NAME),
            request.registration_token,
        )
        client_id, deployment_id = domain.read_registration_answer(answer)
        async with self._deps.sessions() as session, session.begin():
            row = await store.registration_by_key(session, platform.issuer, client_id)
            if row is not None and row.organization_id != organization_id:
                raise errors.ConfigAlreadyExists(
                    f"issuer {platform.issuer!r} with client_id {client_id!r} is registered by another organization"
                )
            if row is None:
                now = store.utcnow()
                row = store.RegistrationRow(
                    id=uuid.uuid4(),
                    organization_id=organization_id,
                    issuer=platform.issuer,
                    client_id=client_id,
                    key_set_url=platform.jwks_uri,
                    auth_login_url=platform.authorization_endpoint,
                    auth_token_url=platform.token_endpoint,
                    key_set_url_source=domain.EndpointSource.DISCOVERED.value,
                    auth_login_url_source=domain.EndpointSource.DISCOVERED.value,
                    auth_token_url_source=domain.EndpointSource.DISCOVERED.value,
                    endpoints_origin=request.openid_configuration,
                    zoom_account_id="",
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
                await session.flush()
            if deployment_id:
                await store.add_deployment(session, row.id, deployment_id)
            deployments = (await store.deployments_of(session, [row.id]))[row.id]
        if request.invitation:
            await self._deps.invitations.use(request.invitation)
        log.info("platform registered dynamically", extra={"config_id": str(row.id)})
        return lti_pb2.RegisterPlatformResponse(
            config=config_message(RegistrationView(store.registration_record(row), deployments)),
            platform_name=platform.product_family_code or platform.issuer,
            deployment_id=deployment_id,
        )


def dependencies(
    settings: Settings, lti: LtiSettings, sessions: async_sessionmaker[AsyncSession], redis: Redis[bytes]
) -> Dependencies:
    """Everything the servicer uses, wired from settings."""
    envelopes = Envelopes(lti.encryption_keys)
    keyring = ToolKeyring(
        sessions,
        envelopes,
        domain.RotationPolicy(
            period_seconds=int(lti.key_rotation_days * 86400),
            publish_lead_seconds=lti.key_publish_lead_seconds,
            token_ttl_seconds=lti.tool_jwt_ttl_seconds + lti.clock_skew_seconds,
        ),
    )
    platforms = adapters.Platforms(lti.http_timeout_seconds, outbound.policy_for(settings.is_production))
    return Dependencies(
        sessions=sessions,
        envelopes=envelopes,
        keyring=keyring,
        key_sets=adapters.KeySets(platforms, redis, lti.jwks_cache_seconds),
        logins=adapters.LoginStates(redis, lti.state_ttl_seconds),
        launches=adapters.LaunchContexts(redis, lti.launch_ttl_seconds),
        invitations=adapters.Invitations(redis, lti.invitation_ttl_seconds),
        tokens=adapters.ServiceTokens(platforms, redis, keyring.sign, lti.tool_jwt_ttl_seconds),
        rosters=adapters.Rosters(platforms, redis, lti.roster_cache_seconds),
        gradebook=adapters.Gradebook(platforms),
        registrar=adapters.Registrar(platforms),
        endpoint_finder=adapters.EndpointFinder(platforms),
        platforms=platforms,
        settings=settings,
        lti=lti,
    )


async def serve(settings: Settings) -> None:
    try:
        lti = load_lti_settings()
    except SettingsError as exc:
        raise SystemExit(f"configuration error: {exc}") from None
    if not lti.encryption_keys:
        log.warning("LTI_ENCRYPTION_KEYS is not set: Zoom credentials and tool signing keys are unavailable")
    engine = create_engine(settings.database_url)
    redis = Redis.from_url(settings.redis_url)
    deps = dependencies(settings, lti, session_factory(engine), redis)

    async def close_redis() -> None:
        await redis.connection_pool.disconnect()

    await serve_grpc(
        service="lti",
        settings=settings,
        registrations=[Registration(SERVICE_NAME, lti_pb2_grpc.add_LtiServiceServicer_to_server, LtiServicer(deps))],
        on_stop=[deps.platforms.close, close_redis, engine.dispose],
    )
