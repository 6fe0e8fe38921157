"""The whole stack as the seed README's reader meets it, with an LMS and Zoom that cannot be reached from here.

Every service, the edge and a transcode worker run as their own processes on their own
ports (as ``make run`` starts them), over the session's PostgreSQL, Redis and SeaweedFS.
The stack lives for this package only: its worker listens on the shared ``transcode``
queue, and must not take other tests' jobs once these are done.
The LMS is the test platform of tests/lti (it signs id_tokens and serves its OpenID
configuration); Zoom is ``devstack.zoom_standin``, with ``ZOOM_ACCOUNT_ID`` set as the dev
stack sets it, since the seed's registration body names no Zoom account.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

import pytest

from devstack import free_port
from devstack.zoom_standin import ZoomStandIn
from service_kit.settings import SERVICE_NAMES, load_settings
from tests.conftest import NO_DOTENV
from tests.lti.platform import TestPlatform
from tests.support.processes import Infra, Process, Stack, spawn, start_stack
from tests.support.settings import LTI_ENCRYPTION_KEY
from tests.transcode.conftest import TEST_TRANSCODE_ENV

ENCRYPTION_KEY = LTI_ENCRYPTION_KEY
ZOOM_ACCOUNT = "seed-zoom-account"


@dataclass
class SeedStack:
    """The running stack, the LMS that launches into it, and the Zoom it schedules meetings on.

    ``secrets_used`` collects every secret and token the specs send or receive, so the last
    spec can check that none of them reached any process's log.
    """

    stack: Stack
    platform: TestPlatform
    zoom: ZoomStandIn
    worker: Process
    secrets_used: list[str] = field(default_factory=list)

    def witness(self, *values: str) -> None:
        self.secrets_used.extend(v for v in values if v)

    @property
    def edge_url(self) -> str:
        return self.stack.edge_url


@pytest.fixture(scope="package")
async def seed_stack(infra: Infra) -> AsyncIterator[SeedStack]:
    zoom = await ZoomStandIn(webhook_secret=infra.settings.zoom_webhook_secret).start()
    edge_port = free_port()
    env = {
        **infra.env,
        **TEST_TRANSCODE_ENV,
        "EDGE_PORT": str(edge_port),
        "LTI_ENCRYPTION_KEYS": f"current:{ENCRYPTION_KEY}",
        "ZOOM_API_BASE_URL": f"{zoom.base}/v2",
        "ZOOM_OAUTH_BASE_URL": zoom.base,
        "ZOOM_ACCOUNT_ID": ZOOM_ACCOUNT,
    }
    for name in SERVICE_NAMES:
        env[f"{name.upper()}_SVC_PORT"] = str(free_port())
        env[f"{name.upper()}_SVC_METRICS_PORT"] = str(free_port())
        env.pop(f"{name.upper()}_SVC_ADDR", None)
    zoom.webhook_url = f"http://127.0.0.1:{edge_port}/api/v1/webhooks/zoom"
    state = infra.state_dir / "seed"
    state.mkdir(exist_ok=True)
    seed_infra = replace(infra, env=env, settings=load_settings(env, dotenv_path=NO_DOTENV), state_dir=state)
    platform = await TestPlatform(f"http://127.0.0.1:{edge_port}").start()
    try:
        with start_stack(seed_infra) as stack:
            worker = spawn("transcode-worker", "transcode_svc.worker", seed_infra)
            try:
                seeded = SeedStack(stack, platform, zoom, worker)
                seeded.witness(
                    *(env[name] for name in ("JWT_SECRET_KEY", "HLS_PROXY_SECRET", "ZOOM_WEBHOOK_SECRET")),
                    env["AWS_SECRET_ACCESS_KEY"],
                    ENCRYPTION_KEY,
                )
                yield seeded
            finally:
                worker.stop()
    finally:
        await platform.stop()
        await zoom.stop()
