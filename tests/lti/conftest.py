"""What the LTI tests share: lti_svc and an edge of their own, a test LMS, an admin, a browser.

lti_svc and the edge run as real processes over the session's PostgreSQL and Redis,
with LTI_ENCRYPTION_KEYS set (the default stack runs lti_svc without it, as development
does). Each test gets a fresh test platform (its own port, keys, issuer and client id),
registered for a fresh organization through the API, so tests never share state.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from devstack import free_port
from service_kit.auth import ADMINISTRATOR, issue_session_token
from tests.lti.platform import INSTRUCTOR_ROLE, LEARNER_ROLE, TestPlatform, form_action, hidden_fields
from tests.support.processes import Infra, Process, spawn, start_deadline, wait_for_grpc_health, wait_for_http
from tests.support.settings import LTI_ENCRYPTION_KEY

ENCRYPTION_KEY = LTI_ENCRYPTION_KEY
OLD_ENCRYPTION_KEY = base64.urlsafe_b64encode(hashlib.sha256(b"lti tests: old key").digest()).decode().rstrip("=")
"""Fixed test keys: the test database outlives a run, and so do the tool keys sealed under them."""
MESSAGE_HINT = "message-hint-7"


@dataclass
class LtiStack:
    """lti_svc and the edge that fronts it."""

    infra: Infra
    edge_url: str
    lti_address: str
    env: dict[str, str]
    processes: list[Process] = field(default_factory=list)

    @property
    def jwt_secret(self) -> str:
        return self.infra.settings.jwt_secret_key


@pytest.fixture(scope="session")
def lti_stack(infra: Infra) -> Iterator[LtiStack]:
    edge_port, lti_port = free_port(), free_port()
    env = {
        "LTI_SVC_PORT": str(lti_port),
        "LTI_SVC_METRICS_PORT": str(free_port()),
        "EDGE_PORT": str(edge_port),
        "LTI_ENCRYPTION_KEYS": f"current:{ENCRYPTION_KEY},old:{OLD_ENCRYPTION_KEY}",
        "LTI_CLOCK_SKEW_SECONDS": "30",
    }
    stack = LtiStack(infra, f"http://127.0.0.1:{edge_port}", f"127.0.0.1:{lti_port}", env)
    try:
        lti = spawn("lti_svc-lti", "lti_svc", infra, env)
        stack.processes.append(lti)
        wait_for_grpc_health(lti, stack.lti_address, deadline=start_deadline())
        edge = spawn("edge-lti", "edge", infra, env)
        stack.processes.append(edge)
        wait_for_http(edge, f"{stack.edge_url}/.well-known/jwks.json", deadline=start_deadline())
        yield stack
    finally:
        for process in reversed(stack.processes):
            process.stop()


@dataclass(frozen=True)
class Reply:
    status: int
    text: str
    headers: dict[str, str]

    @property
    def json(self) -> Any:
        return json.loads(self.text)

    @property
    def reason(self) -> str:
        """The ErrorInfo reason of a JSON error."""
        details = self.json["error"]["details"]
        return str(next(d["reason"] for d in details if "reason" in d))


class Lti:
    """The edge as administrators, browsers and the test LMS use it."""

    def __init__(self, stack: LtiStack, http: aiohttp.ClientSession) -> None:
        self.stack = stack
        self.http = http
        self.base = stack.edge_url

    def token(self, organization_id: str, *roles: str, user: str = "admin-1", course: str | None = None) -> str:
        return issue_session_token(
            self.stack.jwt_secret,
            user_id=user,
            organization_id=organization_id,
            course_id=course,
            roles=list(roles or (ADMINISTRATOR,)),
            ttl_seconds=600,
        )

    async def api(self, method: str, path: str, token: str | None = None, body: Any = None) -> Reply:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.request(method, self.base + path, json=body, headers=headers) as reply:
            return Reply(reply.status, await reply.text(), dict(reply.headers))

    async def register(self, platform: TestPlatform, organization_id: str, **changes: Any) -> dict[str, Any]:
        reply = await self.api(
            "POST", "/api/v1/lti/config", self.token(organization_id), platform.registration_body(**changes)
        )
        assert reply.status == 200, reply.text
        config: dict[str, Any] = reply.json["config"]
        return config

    def browser(self, *, cookies: bool = True) -> aiohttp.ClientSession:
        jar: aiohttp.abc.AbstractCookieJar = aiohttp.CookieJar(unsafe=True) if cookies else aiohttp.DummyCookieJar()
        return aiohttp.ClientSession(cookie_jar=jar)

    async def login(
        self,
        browser: aiohttp.ClientSession,
        platform: TestPlatform,
        *,
        roles: list[str],
        user: str,
        message_type: str = "LtiResourceLinkRequest",
        extra: dict[str, str] | None = None,
    ) -> Reply:
        params = {
            "iss": platform.issuer,
            "login_hint": json.dumps({"user": user, "roles": roles, "message_type": message_type}),
            "target_link_uri": f"{self.base}/lti/launch",
            "lti_message_hint": MESSAGE_HINT,
            "client_id": platform.client_id,
            "lti_deployment_id": platform.deployment_id,
            **(extra or {}),
        }
        async with browser.get(f"{self.base}/lti/login", params=params, allow_redirects=False) as reply:
            return Reply(reply.status, await reply.text(), dict(reply.headers))

    async def authorize(self, browser: aiohttp.ClientSession, location: str) -> dict[str, str]:
        """Follow the login's redirect to the platform; return the form it auto-posts."""
        async with browser.get(location) as reply:
            page = await reply.text()
            assert reply.status == 200, page
        assert form_action(page) == f"{self.base}/lti/launch"
        return hidden_fields(page)

    async def post_launch(self, browser: aiohttp.ClientSession, form: dict[str, str]) -> Reply:
        async with browser.post(f"{self.base}/lti/launch", data=form) as reply:
            return Reply(reply.status, await reply.text(), dict(reply.headers))

    async def launch(
        self,
        platform: TestPlatform,
        *,
        roles: list[str] | None = None,
        user: str | None = None,
        message_type: str = "LtiResourceLinkRequest",
        cookies: bool = True,
    ) -> Reply:
        """The whole browser flow: login → platform → form post → the tool's page."""
        async with self.browser(cookies=cookies) as browser:
            login = await self.login(
                browser,
                platform,
                roles=roles or [LEARNER_ROLE],
                user=user or f"user-{uuid.uuid4().hex[:6]}",
                message_type=message_type,
            )
            assert login.status == 302, login.text
            form = await self.authorize(browser, login.headers["Location"])
            return await self.post_launch(browser, form)


@pytest.fixture(scope="session")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def lti(lti_stack: LtiStack, http: aiohttp.ClientSession) -> Lti:
    return Lti(lti_stack, http)


@pytest.fixture
async def platform(lti_stack: LtiStack) -> AsyncIterator[TestPlatform]:
    started = await TestPlatform(lti_stack.edge_url).start()
    try:
        yield started
    finally:
        await started.stop()


@pytest.fixture
def organization() -> str:
    return f"org-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def registered(lti: Lti, platform: TestPlatform, organization: str) -> dict[str, Any]:
    """The test platform, registered for the test's organization."""
    return await lti.register(platform, organization)


__all__ = ["INSTRUCTOR_ROLE", "LEARNER_ROLE", "Lti", "LtiStack", "Reply"]
