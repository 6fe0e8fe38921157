"""The real parts a service benchmark runs on: PostgreSQL, Redis and, when asked, SeaweedFS.

Found or started by devstack exactly as the tests do, migrated for the schemas the
benchmark's services own. The services log warnings only (BENCH_LOG_LEVEL=INFO for
more, in bench/results/logs/). Every benchmark gets the same base environment here and adds
only its own services' ports, so a change to what services need is made once.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bench._support import free_port
from service_kit.settings.rate_limits import VARIABLES as RATE_LIMIT_VARIABLES

BENCH_DATABASE_URL = "postgresql+psycopg://root@127.0.0.1:5432/media_bench"
BENCH_BUCKET = "media-bench"


@contextmanager
def infrastructure(
    state: Path, *, schemas: Sequence[str], redis_db: int, object_store: bool = False
) -> Iterator[dict[str, str]]:
    """Yield the services' environment; everything started here is stopped on the way out."""
    from devstack.postgres import ensure_postgres
    from devstack.redis import ensure_redis
    from devstack.seaweed import start_seaweed
    from service_kit.migrate import upgrade

    postgres = ensure_postgres(BENCH_DATABASE_URL, state)
    redis = ensure_redis(f"redis://127.0.0.1:6379/{redis_db}", state)
    seaweed = None
    try:
        key = base64.urlsafe_b64encode(hashlib.sha256(b"bench").digest()).decode().rstrip("=")
        env = {
            "MEDIA_ENV": "test",
            "MEDIA_DOTENV": "/nonexistent/.env",
            "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
            "DATABASE_URL": postgres.url,
            "REDIS_URL": redis.url,
            "AWS_ACCESS_KEY_ID": "unused",
            "AWS_SECRET_ACCESS_KEY": "unused",
            "AWS_REGION": "us-east-1",
            "JWT_SECRET_KEY": secrets.token_urlsafe(40),
            "HLS_PROXY_SECRET": secrets.token_urlsafe(40),
            "ZOOM_WEBHOOK_SECRET": secrets.token_urlsafe(24),
            "LTI_ENCRYPTION_KEYS": f"bench:{key}",
            "SHUTDOWN_GRACE_SECONDS": "1",
            "EDGE_PORT": str(free_port()),
            # Load generators speak from one address by design: rate limits would measure themselves.
            **dict.fromkeys(RATE_LIMIT_VARIABLES, "off"),
        }
        if object_store:
            access_key, secret_key = "bench-" + secrets.token_hex(6), secrets.token_urlsafe(30)
            seaweed = start_seaweed(state / "s3", access_key=access_key, secret_key=secret_key, bucket=BENCH_BUCKET)
            env |= {
                "AWS_ACCESS_KEY_ID": access_key,
                "AWS_SECRET_ACCESS_KEY": secret_key,
                "S3_BUCKET": BENCH_BUCKET,
                "S3_ENDPOINT_URL": seaweed.endpoint_url,
                "S3_PUBLIC_ENDPOINT_URL": seaweed.endpoint_url,
            }
        upgrade(list(schemas), postgres.url)
        yield env
    finally:
        if seaweed is not None:
            seaweed.stop()
        redis.stop()
        postgres.stop()


def service_ports(env: dict[str, str], *services: str) -> dict[str, str]:
    """``<SERVICE>_PORT``, ``_ADDR`` and ``_METRICS_PORT`` for each service, on free ports."""
    ports: dict[str, str] = {}
    for service in services:
        prefix = service.upper()
        port = free_port()
        ports |= {
            f"{prefix}_PORT": str(port),
            f"{prefix}_ADDR": f"127.0.0.1:{port}",
            f"{prefix}_METRICS_PORT": str(free_port()),
        }
    env |= ports
    return ports


@contextmanager
def environment(extra: dict[str, str]) -> Iterator[None]:
    """Children inherit ``extra`` (bench._support.spawned passes os.environ on)."""
    saved = {key: os.environ.get(key) for key in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
