"""Login and launch: the OIDC login, the launch (by the edge's API or the browser's form post),
session refresh, the deep-linking answer, and the tool's published keys.

Each method is one RPC's decisions in the order a platform or a user can observe them.
Logins and launches are anonymous: the id_token is the credential, so its signature,
claims, nonce and (in the browser) state are checked before anything is written. A
launch then remembers the course's services (for rosters and grades), keeps a
deep-linking launch until the instructor has picked, and mints the session JWT.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from lti_svc import domain, errors
from lti_svc.use_cases.ports import (
    Clock,
    DeepLinkingLaunches,
    LoginStates,
    PlatformKeySets,
    Registrations,
    ToolKeys,
    UnitOfWorkFactory,
)
from service_kit.auth import SessionClaims, issue_session_token

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LaunchSettings:
    """The settings the launch use cases read, as plain values."""

    public_base_url: str
    jwt_secret: str
    session_ttl_seconds: int
    session_max_lifetime_seconds: int
    clock_skew_seconds: int
    tool_jwt_ttl_seconds: int

    @property
    def launch_url(self) -> str:
        """Where platforms post id_tokens (the OIDC redirect_uri)."""
        return f"{self.public_base_url}/lti/launch"


@dataclass(frozen=True)
class LoginRequest:
    """A platform's third-party login initiation, as it sent it (empty strings where it sent nothing)."""

    iss: str
    login_hint: str
    target_link_uri: str
    lti_message_hint: str = ""
    client_id: str = ""
    lti_deployment_id: str = ""
    lti_storage_target: str = ""


@dataclass(frozen=True)
class StartedLogin:
    redirect_url: str
    state: str


@dataclass(frozen=True)
class OpenedSession:
    """A verified launch: its session JWT (expiry in seconds since the epoch) and what it said.

    ``launch_id`` names a kept deep-linking launch, "" for other messages.
    """

    session_token: str
    expires_at: int
    launch: domain.Launch
    launch_id: str


@dataclass(frozen=True)
class BrowserLaunch:
    """A launch by form post: the session and where the browser goes next."""

    session: OpenedSession
    redirect_url: str
    storage_target: str
    platform_origin: str
    relaunch_url: str
    """The login URL again with the platform's own parameters, for a page that lost its session."""


@dataclass(frozen=True)
class RenewedSession:
    session_token: str
    expires_at: int
    ends_at: int


@dataclass(frozen=True)
class DeepLinkingAnswer:
    jwt: str
    return_url: str


class Launches:
    """The login and launch use cases over their ports; one per process, shared by every RPC."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        logins: LoginStates,
        deep_links: DeepLinkingLaunches,
        key_sets: PlatformKeySets,
        tool_keys: ToolKeys,
        settings: LaunchSettings,
        clock: Clock = time.time,
    ) -> None:
        self._uow = uow
        self._logins = logins
        self._deep_links = deep_links
        self._key_sets = key_sets
        self._tool_keys = tool_keys
        self._settings = settings
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock())

    # ---- login -------------------------------------------------------------------------------

    async def start_login(self, request: LoginRequest) -> StartedLogin:
        """Check the platform and its deployment, keep a state and nonce, and say where to send the browser."""
        domain.validate_login(request.iss, request.login_hint, request.target_link_uri)
        domain.check_target_link_uri(request.target_link_uri, self._settings.public_base_url)
        async with self._uow() as work:
            if request.client_id:
                found = await work.registrations.by_key(request.iss, request.client_id)
                records = [found] if found is not None else []
            else:
                records = list(await work.registrations.by_issuer(request.iss, limit=2))
            if len(records) > 1:
                raise errors.InvalidLogin(
                    f"several registrations use issuer {request.iss!r} and the platform sent no client_id:"
                    " configure the platform to send client_id in its login request"
                )
            if not records:
                raise errors.UnknownPlatform(
                    f"no platform is registered with issuer {request.iss!r}"
                    + (f" and client_id {request.client_id!r}" if request.client_id else "")
                    + ": an administrator registers it first (POST /api/v1/lti/config or dynamic registration)"
                )
            record = records[0]
            deployments = await work.registrations.deployments([record.id])
        registration = domain.launch_registration(record, deployments[record.id])
        if request.lti_deployment_id and request.lti_deployment_id not in registration.deployment_ids:
            raise errors.InvalidLogin(
                f"deployment {request.lti_deployment_id!r} is not registered for this platform: add it to the"
                " registration's deployment_ids",
                reason="LOGIN_UNKNOWN_DEPLOYMENT",
            )
        login = domain.LoginState(
            state=domain.new_secret_token(),
            nonce=domain.new_secret_token(),
            config_id=registration.config_id,
            issuer=registration.issuer,
            client_id=registration.client_id,
            target_link_uri=request.target_link_uri,
            storage_target=request.lti_storage_target,
            login_params=_login_params(request),
        )
        await self._logins.remember(login)
        redirect = domain.authorization_redirect(
            registration,
            redirect_uri=self._settings.launch_url,
            login_hint=request.login_hint,
            lti_message_hint=request.lti_message_hint,
            state=login.state,
            nonce=login.nonce,
        )
        log.info("lti login started", extra={"config_id": registration.config_id})
        return StartedLogin(redirect, login.state)

    # ---- launch ------------------------------------------------------------------------------

    async def launch(self, id_token: str, organization_id: str) -> OpenedSession:
        """A launch the edge forwards (no browser state): signature, claims and a nonce never used before."""
        if not id_token:
            raise errors.InvalidLaunch("id_token is required", reason="LAUNCH_NOT_A_JWT")
        launch = await self._verified(id_token, organization_id)
        domain.check_nonce_fresh(await self._logins.take_nonce(launch.nonce))
        return await self._open_session(launch)

    async def complete_browser_launch(self, id_token: str, state: str) -> BrowserLaunch:
        """The platform's form post: the launch checks, plus the state this browser's login left."""
        if not id_token:
            raise errors.InvalidLaunch(
                "the platform's form post has no id_token: the platform must answer with response_mode=form_post",
                reason="LAUNCH_NOT_A_JWT",
            )
        if not state:
            raise errors.InvalidLaunch("the platform's form post has no state", reason="LAUNCH_UNKNOWN_STATE")
        launch = await self._verified(id_token, "")
        login = await self._logins.take_state(state)
        domain.check_state_matches(login, launch, state=state)
        assert login is not None
        domain.check_nonce_fresh(await self._logins.take_nonce(launch.nonce))
        session = await self._open_session(launch)
        return BrowserLaunch(
            session=session,
            redirect_url=launch.target_link_uri,
            storage_target=login.storage_target,
            platform_origin=domain.origin_of(launch.registration.auth_login_url),
            relaunch_url=f"{self._settings.public_base_url}/lti/login?{urlencode(login.login_params)}",
        )

    async def _verified(self, id_token: str, organization_id: str) -> domain.Launch:
        """Signature, issuer, audience, times and claims; nonce and state are the caller's to check."""
        unverified = domain.read_unverified(id_token)
        client_id = domain.client_id_of(unverified)
        if client_id is None:
            raise errors.InvalidLaunch(
                "the id_token has several audiences and no azp: the platform must name the tool's client_id in azp",
                reason="LAUNCH_WRONG_AUDIENCE",
            )
        async with self._uow() as work:
            registration = await _platform(work.registrations, unverified.issuer, client_id, organization_id)
        claims = await self._key_sets.verified_claims(registration.key_set_url, unverified.kid, id_token)
        return domain.check_launch_claims(claims, registration, now=self._now(), skew=self._settings.clock_skew_seconds)

    async def _open_session(self, launch: domain.Launch) -> OpenedSession:
        """Remember the course's services, keep a deep-linking launch, mint the session JWT."""
        async with self._uow() as work:
            await work.courses.remember(launch)
            await work.commit()
        launch_id = ""
        if launch.deep_linking is not None:
            launch_id = domain.new_secret_token()
            await self._deep_links.remember(
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
        ttl = self._settings.session_ttl_seconds
        token = issue_session_token(
            self._settings.jwt_secret,
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
        return OpenedSession(token, now + ttl, launch, launch_id)

    # ---- session -----------------------------------------------------------------------------

    async def refresh_session(self, caller: SessionClaims) -> RenewedSession:
        """A new session JWT for the same user and course, never past the session's maximum lifetime."""
        now = self._now()
        renewal = domain.renew_session(
            caller,
            now=now,
            ttl=self._settings.session_ttl_seconds,
            max_lifetime=self._settings.session_max_lifetime_seconds,
        )
        token = issue_session_token(
            self._settings.jwt_secret,
            user_id=caller.user_id,
            organization_id=caller.organization_id,
            course_id=caller.course_id,
            roles=caller.roles,
            ttl_seconds=renewal.expires_at - now,
            now=now,
            authenticated_at=caller.authenticated_at or caller.issued_at,
        )
        return RenewedSession(token, renewal.expires_at, renewal.ends_at)

    # ---- deep linking ------------------------------------------------------------------------

    async def deep_linking_response(
        self, caller: SessionClaims, launch_id: str, picked: list[domain.PickedItem], message: str
    ) -> DeepLinkingAnswer:
        """The signed LtiDeepLinkingResponse for the instructor's picks; the kept launch is used up.

        A launch of another user, course or organization answers like a missing one.
        """
        launch = await self._deep_links.get(launch_id) if launch_id else None
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
        items = domain.content_items(picked, launch.settings, self._settings.launch_url)
        claims = domain.deep_linking_response_claims(
            launch, items, message=message, now=self._now(), ttl=self._settings.tool_jwt_ttl_seconds
        )
        signed = await self._tool_keys.sign(claims)
        await self._deep_links.forget(launch.launch_id)
        log.info("deep linking answered", extra={"config_id": launch.config_id, "items": len(items)})
        return DeepLinkingAnswer(signed, launch.settings.return_url)

    # ---- the tool's keys ---------------------------------------------------------------------

    async def key_set(self) -> list[dict[str, Any]]:
        """The tool's public keys, which platforms use to check its deep-linking answers and assertions."""
        return await self._tool_keys.published()


async def _platform(
    registrations: Registrations, issuer: str, client_id: str, organization_id: str
) -> domain.Registration:
    """The registration an id_token names; another organization's (when one is named) answers like none."""
    record = await registrations.by_key(issuer, client_id)
    if record is None or (organization_id and record.organization_id != organization_id):
        raise errors.UnknownPlatform(
            f"no platform is registered with issuer {issuer!r} and client_id {client_id!r}"
            + (" for this organization" if organization_id else "")
            + ": an administrator registers it first"
        )
    deployments = await registrations.deployments([record.id])
    return domain.launch_registration(record, deployments[record.id])


def _login_params(request: LoginRequest) -> dict[str, str]:
    """The login's own parameters (those the platform sent), to start it again from a page."""
    return {
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
