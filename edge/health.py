"""GET /health: the edge's dependencies, checked in parallel, each with a short timeout.

PostgreSQL (``SELECT 1``), Redis (``PING``), the object store (``HeadBucket``, boto3 in a
thread with a client made once at startup) and every backend's grpc.health.v1 Check.
200 when all are up, 503 ("degraded") otherwise. Error texts say what failed, never
with a password or key in them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import grpc
import psycopg
import redis.asyncio as aioredis

from edge.backends import Backends, BackendService
from service_kit.object_store import s3_client
from service_kit.settings import Settings

CHECK_TIMEOUT_SECONDS = 2.0
"""Long enough for a healthy dependency on a busy machine, short enough for a probe."""

Check = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    up: bool
    latency_ms: float
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": "up" if self.up else "down", "latency_ms": round(self.latency_ms, 2)}
        if self.error is not None:
            body["error"] = self.error
        return body


class HealthChecker:
    """Owns the clients health checks reuse (Redis, S3) and runs the checks."""

    def __init__(self, settings: Settings, services: Sequence[BackendService], timeout: float = CHECK_TIMEOUT_SECONDS):
        self._settings = settings
        self._services = services
        self._timeout = timeout
        self._secrets = _secrets_of(settings)
        self._redis: aioredis.Redis[bytes] | None = None
        self._s3: Any = None

    async def start(self) -> None:
        """Make the clients once; boto3 reads its JSON models on creation, so off the loop."""
        self._redis = aioredis.from_url(
            self._settings.redis_url, socket_connect_timeout=self._timeout, socket_timeout=self._timeout
        )
        self._s3 = await asyncio.to_thread(
            partial(s3_client, self._settings, timeout_seconds=self._timeout, max_attempts=1)
        )

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()  # type: ignore[attr-defined,unused-ignore]  # types-redis predates aclose

    async def check(self, backends: Backends) -> tuple[bool, dict[str, Any]]:
        """Run every check at once; (all up?, the JSON body)."""
        checks: list[tuple[str, Check]] = [
            ("database", self._check_database),
            ("redis", self._check_redis),
            ("object_store", self._check_object_store),
        ]
        for address in dict.fromkeys(s.address for s in self._services):
            names = ", ".join(s.name for s in self._services if s.address == address)
            checks.append((names, _backend_check(backends, address, self._timeout)))
        results = await asyncio.gather(*(self._run(name, check) for name, check in checks))
        healthy = all(r.up for r in results)
        body = {
            "status": "ok" if healthy else "degraded",
            "components": {r.name: r.as_json() for r in results},
        }
        return healthy, body

    async def _run(self, name: str, check: Check) -> ComponentStatus:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(check(), self._timeout)
        except TimeoutError:
            return ComponentStatus(name, False, _ms(started), f"no answer within {self._timeout:g} s")
        except Exception as exc:  # a health probe reports every failure; it never raises
            return ComponentStatus(name, False, _ms(started), self._describe(exc))
        return ComponentStatus(name, True, _ms(started))

    async def _check_database(self) -> None:
        url = self._settings.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
        async with await psycopg.AsyncConnection.connect(url, connect_timeout=max(1, int(self._timeout))) as conn:
            await conn.execute("SELECT 1")

    async def _check_redis(self) -> None:
        assert self._redis is not None, "HealthChecker.start() was not awaited"
        await self._redis.ping()

    async def _check_object_store(self) -> None:
        assert self._s3 is not None, "HealthChecker.start() was not awaited"
        await asyncio.to_thread(self._s3.head_bucket, Bucket=self._settings.s3_bucket)

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, grpc.aio.AioRpcError):
            text = f"{exc.code().name}: {exc.details()}"
        else:
            text = f"{type(exc).__name__}: {exc}".strip()
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text if len(text) <= 300 else text[:297] + "..."


def _backend_check(backends: Backends, address: str, timeout: float) -> Check:
    async def check() -> None:
        status = await backends.check_health(address, timeout)
        if status != "SERVING":
            raise RuntimeError(f"health status {status} at {address}")

    return check


def _secrets_of(settings: Settings) -> tuple[str, ...]:
    """Values that must never appear in a health report, longest first."""
    found = [settings.aws_secret_access_key, settings.aws_access_key_id]
    for url in (settings.database_url, settings.redis_url):
        password = urlsplit(url).password
        if password:
            found.append(password)
    return tuple(sorted((s for s in found if s), key=len, reverse=True))


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
