"""What the attendance tests share: their own lti_svc, attendance_svc and edge, and a local Zoom.

The Zoom stand-in (``devstack.zoom_standin``) runs in the test's event loop; attendance_svc
reaches it through the same aiohttp client code that talks to api.zoom.us (the base URLs
are settings), and the stand-in delivers signed webhooks to the edge as Zoom would.
lti_svc runs with fixed encryption keys (as tests/lti does) so registrations can hold
Zoom credentials. attendance_svc can be restarted on its port (``AttendanceStack.restart``).
Each test gets a fresh organization, LTI registration and course.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from devstack import free_port
from devstack.zoom_standin import ZoomStandIn, sign
from service_kit.auth import ADMINISTRATOR, INSTRUCTOR, LEARNER, issue_session_token
from tests.support.processes import (
    Infra,
    Process,
    spawn,
    start_deadline,
    wait_for_grpc_health,
    wait_for_http,
)
from tests.support.settings import LTI_ENCRYPTION_KEY

ENCRYPTION_KEY = LTI_ENCRYPTION_KEY


@dataclass
class AttendanceStack:
    """lti_svc, attendance_svc and an edge in front of them, over the session's PostgreSQL and Redis."""

    infra: Infra
    zoom: ZoomStandIn
    env: dict[str, str]
    edge_url: str
    attendance_address: str
    processes: dict[str, Process] = field(default_factory=dict)

    @property
    def jwt_secret(self) -> str:
        return self.infra.settings.jwt_secret_key

    @property
    def webhook_secret(self) -> str:
        return self.infra.settings.zoom_webhook_secret

    def start_attendance(self) -> None:
        process = spawn("attendance_svc-attendance", "attendance_svc", self.infra, self.env)
        self.processes["attendance"] = process
        wait_for_grpc_health(process, self.attendance_address, start_deadline())

    def stop_attendance(self) -> int:
        return self.processes["attendance"].stop()


@pytest.fixture(scope="session")
async def attendance_stack(infra: Infra) -> AsyncIterator[AttendanceStack]:
    zoom = ZoomStandIn(webhook_secret=infra.settings.zoom_webhook_secret)
    await zoom.start()
    edge_port, lti_port, attendance_port = free_port(), free_port(), free_port()
    edge_url = f"http://127.0.0.1:{edge_port}"
    zoom.webhook_url = f"{edge_url}/api/v1/webhooks/zoom"
    env = {
        "EDGE_PORT": str(edge_port),
        "LTI_SVC_PORT": str(lti_port),
        "LTI_SVC_METRICS_PORT": str(free_port()),
        "ATTENDANCE_SVC_PORT": str(attendance_port),
        "ATTENDANCE_SVC_METRICS_PORT": str(free_port()),
        "LTI_ENCRYPTION_KEYS": f"current:{ENCRYPTION_KEY}",
        "ZOOM_API_BASE_URL": f"{zoom.base}/v2",
        "ZOOM_OAUTH_BASE_URL": zoom.base,
        "ZOOM_MAX_RETRY_WAIT_SECONDS": "2",
        "ATTENDANCE_RECONCILE_POLL_SECONDS": "0.5",
        "ATTENDANCE_RECONCILE_DELAY_SECONDS": "3600",
        "ATTENDANCE_WATCH_INTERVAL_SECONDS": "0.2",
    }
    stack = AttendanceStack(infra, zoom, env, edge_url, f"127.0.0.1:{attendance_port}")
    try:
        lti = spawn("lti_svc-attendance", "lti_svc", infra, env)
        stack.processes["lti"] = lti
        wait_for_grpc_health(lti, f"127.0.0.1:{lti_port}", start_deadline())
        stack.start_attendance()
        edge = spawn("edge-attendance", "edge", infra, env)
        stack.processes["edge"] = edge
        wait_for_http(edge, f"{edge_url}/openapi.json", start_deadline())
        yield stack
    finally:
        for process in reversed(list(stack.processes.values())):
            process.stop()
        await zoom.stop()


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
        details = self.json["error"]["details"]
        return str(next(d["reason"] for d in details if "reason" in d))


@dataclass
class Course:
    """One organization with a Zoom-enabled LTI registration, and one course in it."""

    stack: AttendanceStack
    http: aiohttp.ClientSession
    organization_id: str
    course_id: str
    config_id: str = ""
    zoom_account_id: str = ""

    def token(self, *roles: str, user: str = "teacher-1", course: str | None = None) -> str:
        return issue_session_token(
            self.stack.jwt_secret,
            user_id=user,
            organization_id=self.organization_id,
            course_id=course or self.course_id,
            roles=list(roles or (INSTRUCTOR,)),
            ttl_seconds=600,
        )

    @property
    def instructor(self) -> str:
        return self.token(INSTRUCTOR)

    @property
    def learner(self) -> str:
        return self.token(LEARNER, user="learner-1")

    async def api(self, method: str, path: str, token: str | None = None, body: Any = None, **kw: Any) -> Reply:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers.update(kw.pop("headers", {}))
        async with self.http.request(method, self.stack.edge_url + path, json=body, headers=headers, **kw) as reply:
            return Reply(reply.status, await reply.text(), dict(reply.headers))

    async def register(self) -> str:
        admin = self.token(ADMINISTRATOR, user="admin-1")
        platform = f"https://lms-{uuid.uuid4().hex[:6]}.example.edu"
        self.zoom_account_id = f"acct-{uuid.uuid4().hex[:6]}"
        body = {
            "issuer": platform,
            "client_id": f"client-{uuid.uuid4().hex[:8]}",
            "deployment_ids": ["d-1"],
            "key_set_url": f"{platform}/jwks",
            "auth_login_url": f"{platform}/auth",
            "auth_token_url": f"{platform}/token",
            "zoom_account_id": self.zoom_account_id,
            "zoom_api_key": f"zoom-client-{uuid.uuid4().hex[:6]}",
            "zoom_api_secret": "zoom-secret-" + uuid.uuid4().hex,
        }
        reply = await self.api("POST", "/api/v1/lti/config", admin, body)
        assert reply.status == 200, reply.text
        self.config_id = str(reply.json["config"]["config_id"])
        return self.config_id

    async def schedule(
        self, *, starts_in: timedelta = timedelta(minutes=-1), minutes: int = 60, **extra: Any
    ) -> dict[str, Any]:
        """A session scheduled (by default) to have started a minute ago, for an hour."""
        start = datetime.now(UTC).replace(microsecond=0) + starts_in
        body = {
            "session_name": "Week 3: recursion",
            "scheduled_start": start.isoformat().replace("+00:00", "Z"),
            "scheduled_end": (start + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
            "zoom_host_id": "host@example.edu",
            "lti_config_id": self.config_id,
            **extra,
        }
        reply = await self.api("POST", "/api/v1/live-sessions", self.instructor, body)
        assert reply.status == 200, reply.text
        session: dict[str, Any] = reply.json["session"]
        return session

    async def attendance(self, session_id: str) -> dict[str, Any]:
        reply = await self.api("GET", f"/api/v1/live-sessions/{session_id}/attendance", self.instructor)
        assert reply.status == 200, reply.text
        report: dict[str, Any] = reply.json
        return report


@pytest.fixture(scope="session")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def course(attendance_stack: AttendanceStack, http: aiohttp.ClientSession) -> Course:
    created = Course(attendance_stack, http, f"org-{uuid.uuid4().hex[:8]}", f"course-{uuid.uuid4().hex[:8]}")
    await created.register()
    return created


def person(
    name: str, *, connection: str, email: str = "", zoom_user_id: str = "", registrant_id: str = ""
) -> dict[str, str]:
    """A participant as the stand-in's simulate call takes it."""
    return {
        "name": name,
        "connection_id": connection,
        "email": email,
        "zoom_user_id": zoom_user_id,
        "registrant_id": registrant_id,
    }


def signed_headers(secret: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {"x-zm-request-timestamp": ts, "x-zm-signature": sign(secret, ts, body), "Content-Type": "application/json"}
