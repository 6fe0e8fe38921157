"""What the security tests share: a whole stack whose attendance_svc reaches a local Zoom.

``security_stack`` is the session ``stack`` (tests/support/processes.py ``start_stack``:
the five services and the edge as separate processes) over the session's PostgreSQL,
Redis and SeaweedFS, started with the two settings the authorization matrix needs beyond
the default one: LTI_ENCRYPTION_KEYS, so a registration can hold Zoom credentials, and
the Zoom base URLs pointed at the Zoom stand-in (devstack/zoom_standin.py), so a live
session can be scheduled. Its ports are its own, so it runs beside the default stack.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from devstack import free_port
from devstack.zoom_standin import ZoomStandIn
from service_kit.settings import SERVICE_NAMES, load_settings
from tests.conftest import NO_DOTENV
from tests.support.processes import Infra, Stack, start_stack
from tests.support.settings import LTI_ENCRYPTION_KEY

ENCRYPTION_KEY = LTI_ENCRYPTION_KEY


@dataclass(frozen=True)
class SecurityStack:
    """The running stack, the Zoom stand-in it talks to, and the secrets tests sign with."""

    stack: Stack
    zoom: ZoomStandIn

    @property
    def edge_url(self) -> str:
        return self.stack.edge_url

    @property
    def jwt_secret(self) -> str:
        return self.stack.infra.settings.jwt_secret_key

    @property
    def webhook_secret(self) -> str:
        return self.stack.infra.settings.zoom_webhook_secret


@pytest.fixture(scope="session")
async def security_stack(infra: Infra) -> AsyncIterator[SecurityStack]:
    zoom = ZoomStandIn(webhook_secret=infra.settings.zoom_webhook_secret)
    await zoom.start()
    edge_port = free_port()
    env = {
        **infra.env,
        "EDGE_PORT": str(edge_port),
        "LTI_ENCRYPTION_KEYS": f"current:{ENCRYPTION_KEY}",
        "ZOOM_API_BASE_URL": f"{zoom.base}/v2",
        "ZOOM_OAUTH_BASE_URL": zoom.base,
        "ZOOM_MAX_RETRY_WAIT_SECONDS": "2",
        "ATTENDANCE_RECONCILE_DELAY_SECONDS": "3600",
    }
    for name in SERVICE_NAMES:
        env[f"{name.upper()}_SVC_PORT"] = str(free_port())
        env[f"{name.upper()}_SVC_METRICS_PORT"] = str(free_port())
    zoom.webhook_url = f"http://127.0.0.1:{edge_port}/api/v1/webhooks/zoom"
    state = infra.state_dir / "security"
    state.mkdir(exist_ok=True)
    own = Infra(env=env, settings=load_settings(env, dotenv_path=NO_DOTENV), state_dir=state)
    try:
        with start_stack(own) as running:
            yield SecurityStack(running, zoom)
    finally:
        await zoom.stop()
