"""Session fixtures: real PostgreSQL, Redis and SeaweedFS, then the real processes.

``infra`` gives every test the same settings over real servers (private ones are started
when none is reachable); ``stack`` starts each ``python -m <service>`` and the edge on
free ports, waits for gRPC health SERVING and the edge's /health, and stops them with
SIGTERM at the end, as an operator would.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from devstack import free_port
from devstack.postgres import ensure_postgres
from devstack.redis import ensure_redis
from devstack.seaweed import start_seaweed
from service_kit.migrate import upgrade
from service_kit.settings import SERVICE_NAMES, WORKER_NAMES, Settings, load_settings
from service_kit.settings.rate_limits import VARIABLES as RATE_LIMIT_VARIABLES
from tests.support.processes import Infra, Stack, start_stack

NO_DOTENV = Path("/nonexistent/.env")


def forget_tool_keys(database_url: str) -> None:
    """Drop the tool signing keys an earlier run left in the (long-lived) test database.

    They are sealed with whatever LTI encryption key that run used; a run with another
    key could not open them. lti_svc makes a new key on first use.
    """
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        connection.execute("DELETE FROM lti.tool_keys")


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    state = tmp_path_factory.mktemp("infra")
    postgres = ensure_postgres(
        os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://root@127.0.0.1:5432/media_test"), state
    )
    redis = ensure_redis(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"), state)
    access_key, secret_key = "test-" + secrets.token_hex(6), secrets.token_urlsafe(30)
    seaweed = start_seaweed(state / "s3", access_key=access_key, secret_key=secret_key, bucket="media-test")
    try:
        env = {
            "MEDIA_ENV": "test",
            "MEDIA_DOTENV": str(NO_DOTENV),
            "LOG_LEVEL": "INFO",
            "DATABASE_URL": postgres.url,
            "REDIS_URL": redis.url,
            "AWS_ACCESS_KEY_ID": access_key,
            "AWS_SECRET_ACCESS_KEY": secret_key,
            "AWS_REGION": "us-east-1",
            "S3_BUCKET": "media-test",
            "S3_ENDPOINT_URL": seaweed.endpoint_url,
            "S3_PUBLIC_ENDPOINT_URL": seaweed.endpoint_url,
            "JWT_SECRET_KEY": secrets.token_urlsafe(40),
            "HLS_PROXY_SECRET": secrets.token_urlsafe(40),
            "ZOOM_WEBHOOK_SECRET": secrets.token_urlsafe(24),
            "SHUTDOWN_GRACE_SECONDS": "3",
            "SSE_KEEPALIVE_SECONDS": "1",
            # Every test talks from 127.0.0.1; tests/edge/test_rate_limits.py turns the limits on.
            **dict.fromkeys(RATE_LIMIT_VARIABLES, "off"),
            "EDGE_PORT": str(free_port()),
        }
        for name in SERVICE_NAMES:
            env[f"{name.upper()}_SVC_PORT"] = str(free_port())
            env[f"{name.upper()}_SVC_METRICS_PORT"] = str(free_port())
        for name in WORKER_NAMES:
            # Tests start several workers at once: each takes any free port for its /metrics.
            env[f"{name.upper()}_WORKER_METRICS_PORT"] = "0"
        settings: Settings = load_settings(env, dotenv_path=NO_DOTENV)
        upgrade(list(SERVICE_NAMES), settings.database_url)
        forget_tool_keys(settings.database_url)
        yield Infra(env=env, settings=settings, state_dir=state)
    finally:
        seaweed.stop()
        redis.stop()
        postgres.stop()


@pytest.fixture(scope="session")
def stack(infra: Infra) -> Iterator[Stack]:
    with start_stack(infra) as running:
        yield running
