"""The LtiService servicer and the process's ``serve``.

Every RPC is proto in, a use case, proto out: registrations
(:mod:`lti_svc.use_cases.registrations`), personal API tokens (:mod:`.api_tokens`),
login, launch, session refresh, deep linking and the tool's keys (:mod:`.launches`),
rosters and grades (:mod:`.advantage`) and dynamic registration
(:mod:`.dynamic_registration`). ``serve()`` wires them once to the store
(:mod:`lti_svc.store`), platforms and Redis (:mod:`lti_svc.adapters`), the tool's keys
(:mod:`lti_svc.keys`) and secrets' envelopes (:mod:`lti_svc.crypto`). Errors are raised
as :mod:`lti_svc.errors` and the shared interceptor turns them into statuses.

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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from google.protobuf import timestamp_pb2
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lti_svc import adapters, domain, store
from lti_svc.crypto import Envelopes
from lti_svc.domain.api_tokens import ApiTokenRecord
from lti_svc.keys import ToolKeyring
from lti_svc.use_cases import NewRegistration, PlatformRegistrations, RegistrationView
from lti_svc.use_cases.advantage import CourseServices, NewScore
from lti_svc.use_cases.api_tokens import ApiTokenUseCases
from lti_svc.use_cases.dynamic_registration import DynamicRegistration, PlatformRegistration
from lti_svc.use_cases.launches import Launches, LaunchSettings, LoginRequest
from lti_svc.use_cases.ports import UnitOfWork
from media.lti.v1 import lti_pb2, lti_pb2_grpc
from service_kit import outbound
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
class UseCases:
    """Every use case the servicer calls, made once per process by :func:`use_cases`."""

    registrations: PlatformRegistrations
    api_tokens: ApiTokenUseCases
    launches: Launches
    course_services: CourseServices
    dynamic_registration: DynamicRegistration


def _timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _epoch_timestamp(seconds: int) -> timestamp_pb2.Timestamp:
    return _timestamp(datetime.fromtimestamp(seconds, UTC))


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


def launch_message(launch: domain.Launch, launch_id: str) -> lti_pb2.LtiLaunch:
    """What a verified launch said, for the edge and the pages; ``launch_id`` names a kept deep-linking launch."""
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


def line_item_message(record: domain.LineItemRecord) -> lti_pb2.LineItem:
    return lti_pb2.LineItem(
        line_item_id=str(record.id),
        course_id=record.course_id,
        live_session_id=record.live_session_id,
        label=record.label,
        score_maximum=record.score_maximum,
    )


class LtiServicer(lti_pb2_grpc.LtiServiceServicer):
    """Serves media.lti.v1.LtiService."""

    def __init__(self, use_cases: UseCases) -> None:
        self._registrations = use_cases.registrations
        self._api_tokens = use_cases.api_tokens
        self._launches = use_cases.launches
        self._course_services = use_cases.course_services
        self._dynamic_registration = use_cases.dynamic_registration

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
        started = await self._launches.start_login(
            LoginRequest(
                iss=request.iss,
                login_hint=request.login_hint,
                target_link_uri=request.target_link_uri,
                lti_message_hint=request.lti_message_hint,
                client_id=request.client_id,
                lti_deployment_id=request.lti_deployment_id,
                lti_storage_target=request.lti_storage_target,
            )
        )
        return lti_pb2.StartOidcLoginResponse(redirect_url=started.redirect_url, state=started.state)

    async def Launch(self, request: lti_pb2.LaunchRequest, context: Context) -> lti_pb2.LaunchResponse:
        opened = await self._launches.launch(request.id_token, request.organization_id)
        return lti_pb2.LaunchResponse(
            session_token=opened.session_token,
            expires_at=_epoch_timestamp(opened.expires_at),
            launch=launch_message(opened.launch, opened.launch_id),
        )

    async def CompleteBrowserLaunch(
        self, request: lti_pb2.CompleteBrowserLaunchRequest, context: Context
    ) -> lti_pb2.CompleteBrowserLaunchResponse:
        done = await self._launches.complete_browser_launch(request.id_token, request.state)
        return lti_pb2.CompleteBrowserLaunchResponse(
            session_token=done.session.session_token,
            expires_at=_epoch_timestamp(done.session.expires_at),
            redirect_url=done.redirect_url,
            launch=launch_message(done.session.launch, done.session.launch_id),
            lti_storage_target=done.storage_target,
            platform_origin=done.platform_origin,
            relaunch_url=done.relaunch_url,
        )

    async def RefreshSession(
        self, request: lti_pb2.RefreshSessionRequest, context: Context
    ) -> lti_pb2.RefreshSessionResponse:
        renewed = await self._launches.refresh_session(require_caller())
        return lti_pb2.RefreshSessionResponse(
            session_token=renewed.session_token,
            expires_at=_epoch_timestamp(renewed.expires_at),
            session_ends_at=_epoch_timestamp(renewed.ends_at),
        )

    async def GetJwks(self, request: lti_pb2.GetJwksRequest, context: Context) -> lti_pb2.GetJwksResponse:
        keys = await self._launches.key_set()
        return lti_pb2.GetJwksResponse(
            keys=[lti_pb2.Jwk(kty=k["kty"], kid=k["kid"], use=k["use"], alg=k["alg"], n=k["n"], e=k["e"]) for k in keys]
        )

    # ---- deep linking -----------------------------------------------------------------------

    async def CreateDeepLinkingResponse(
        self, request: lti_pb2.CreateDeepLinkingResponseRequest, context: Context
    ) -> lti_pb2.CreateDeepLinkingResponseResponse:
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
        answer = await self._launches.deep_linking_response(
            require_caller(), request.launch_id, picked, request.message
        )
        return lti_pb2.CreateDeepLinkingResponseResponse(jwt=answer.jwt, return_url=answer.return_url)

    # ---- roster and grades ------------------------------------------------------------------

    async def ListCourseMembers(
        self, request: lti_pb2.ListCourseMembersRequest, context: Context
    ) -> lti_pb2.ListCourseMembersResponse:
        page = await self._course_services.members(
            require_caller(),
            request.course_id,
            role=request.role,
            page_size=request.page_size,
            page_token=request.page_token,
        )
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
                for m in page.members
            ],
            next_page_token=page.next_page_token,
        )

    async def CreateLineItem(
        self, request: lti_pb2.CreateLineItemRequest, context: Context
    ) -> lti_pb2.CreateLineItemResponse:
        record = await self._course_services.create_line_item(
            require_caller(),
            request.course_id,
            request.live_session_id,
            label=request.label,
            score_maximum=request.score_maximum,
        )
        return lti_pb2.CreateLineItemResponse(line_item=line_item_message(record))

    async def PublishScores(
        self, request: lti_pb2.PublishScoresRequest, context: Context
    ) -> lti_pb2.PublishScoresResponse:
        scores = [
            NewScore(
                user_id=score.user_id,
                score_given=score.score_given,
                score_maximum=score.score_maximum,
                comment=score.comment,
                activity_progress=ACTIVITY_FROM_PROTO.get(score.activity_progress, "Completed"),
                grading_progress=GRADING_FROM_PROTO.get(score.grading_progress, "FullyGraded"),
                timestamp=score.timestamp.ToDatetime(UTC) if score.HasField("timestamp") else None,
            )
            for score in request.scores
        ]
        published = await self._course_services.publish_scores(require_caller(), request.line_item_id, scores)
        return lti_pb2.PublishScoresResponse(
            accepted_count=published.accepted_count,
            failures=[lti_pb2.ScoreFailure(user_id=f.user_id, reason=f.reason) for f in published.failures],
        )

    # ---- dynamic registration ---------------------------------------------------------------

    async def CreateRegistrationInvitation(
        self, request: lti_pb2.CreateRegistrationInvitationRequest, context: Context
    ) -> lti_pb2.CreateRegistrationInvitationResponse:
        invitation = await self._dynamic_registration.invite(require_caller(), request.organization_id)
        return lti_pb2.CreateRegistrationInvitationResponse(
            registration_url=invitation.registration_url, expires_at=_timestamp(invitation.expires_at)
        )

    async def RegisterPlatform(
        self, request: lti_pb2.RegisterPlatformRequest, context: Context
    ) -> lti_pb2.RegisterPlatformResponse:
        registered = await self._dynamic_registration.register(
            None if request.invitation else require_caller(),
            PlatformRegistration(
                invitation=request.invitation,
                organization_id=request.organization_id,
                openid_configuration=request.openid_configuration,
                registration_token=request.registration_token,
            ),
        )
        return lti_pb2.RegisterPlatformResponse(
            config=config_message(registered.view),
            platform_name=registered.platform_name,
            deployment_id=registered.deployment_id,
        )


def use_cases(
    settings: Settings,
    lti: LtiSettings,
    sessions: async_sessionmaker[AsyncSession],
    redis: Redis[bytes],
    platforms: adapters.Platforms,
) -> UseCases:
    """Every use case, wired from settings to the store, Redis, the platforms and the tool's keys."""
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
    allow_http = not settings.is_production  # plain-http platform URLs are for development and tests only

    def uow() -> UnitOfWork:
        return store.SqlUnitOfWork(sessions)

    return UseCases(
        registrations=PlatformRegistrations(
            uow=uow,
            endpoint_finder=adapters.EndpointFinder(platforms),
            sealer=envelopes,
            allow_http=allow_http,
            default_zoom_account_id=settings.zoom_account_id,
        ),
        api_tokens=ApiTokenUseCases(uow=lambda: store.SqlUnitOfWork(sessions), jwt_secret=settings.jwt_secret_key),
        launches=Launches(
            uow=uow,
            logins=adapters.LoginStates(redis, lti.state_ttl_seconds),
            deep_links=adapters.LaunchContexts(redis, lti.launch_ttl_seconds),
            key_sets=adapters.KeySets(platforms, redis, lti.jwks_cache_seconds),
            tool_keys=keyring,
            settings=LaunchSettings(
                public_base_url=settings.public_base_url,
                jwt_secret=settings.jwt_secret_key,
                session_ttl_seconds=settings.session_token_ttl_seconds,
                session_max_lifetime_seconds=settings.session_max_lifetime_seconds,
                clock_skew_seconds=lti.clock_skew_seconds,
                tool_jwt_ttl_seconds=lti.tool_jwt_ttl_seconds,
            ),
        ),
        course_services=CourseServices(
            uow=uow,
            tokens=adapters.ServiceTokens(platforms, redis, keyring.sign, lti.tool_jwt_ttl_seconds),
            rosters=adapters.Rosters(platforms, redis, lti.roster_cache_seconds),
            gradebook=adapters.Gradebook(platforms),
        ),
        dynamic_registration=DynamicRegistration(
            uow=uow,
            invitations=adapters.Invitations(redis, lti.invitation_ttl_seconds),
            registrar=adapters.Registrar(platforms),
            public_base_url=settings.public_base_url,
            allow_http=allow_http,
        ),
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
    # The one HTTP session every platform adapter shares, closed at stop.
    platforms = adapters.Platforms(lti.http_timeout_seconds, outbound.policy_for(settings.is_production))
    servicer = LtiServicer(use_cases(settings, lti, session_factory(engine), redis, platforms))

    async def close_redis() -> None:
        await redis.connection_pool.disconnect()

    await serve_grpc(
        service="lti",
        settings=settings,
        registrations=[Registration(SERVICE_NAME, lti_pb2_grpc.add_LtiServiceServicer_to_server, servicer)],
        on_stop=[platforms.close, close_redis, engine.dispose],
    )
