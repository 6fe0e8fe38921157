"""Start a service's grpc.aio server the same way in every process.

One call gives every service the standard health service (grpc.health.v1), server
reflection (so grpcurl and generated clients can discover it), the shared interceptor,
a Prometheus endpoint, and a graceful stop on SIGTERM/SIGINT: health turns NOT_SERVING
first so balancers stop sending, then in-flight calls get ``shutdown_grace_seconds`` to
finish before the rest are cancelled.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from grpc import aio
from grpc_health.v1 import _async as health_aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import REGISTRY
from prometheus_client.registry import Collector

from service_kit.interceptors import ServiceInterceptor
from service_kit.metrics import serve_metrics
from service_kit.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Registration:
    """One servicer to serve: its full proto name and the generated ``add_..._to_server``."""

    full_name: str
    add_to_server: Callable[[Any, aio.Server], None]
    servicer: object


async def serve(
    *,
    service: str,
    settings: Settings,
    registrations: Sequence[Registration],
    on_stop: Sequence[Callable[[], Awaitable[None]]] = (),
    port: int | None = None,
    collectors: Sequence[Collector] = (),
) -> None:
    """Serve until SIGTERM/SIGINT, then drain and run ``on_stop`` hooks in order.

    ``collectors`` join the process's metrics (read at scrape time, such as queue depth).
    """
    endpoint = settings.endpoint(service)
    server = aio.server(
        interceptors=[ServiceInterceptor(settings.jwt_secret_key, error_domain=f"media.{service}")],
        options=[("grpc.so_reuseport", 0)],
    )
    health_servicer = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for registration in registrations:
        registration.add_to_server(registration.servicer, server)
    names = [r.full_name for r in registrations]
    reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)

    bound_port = server.add_insecure_port(f"{settings.grpc_bind_host}:{port or endpoint.port}")
    if bound_port == 0:
        raise SystemExit(f"{service}: cannot listen on {settings.grpc_bind_host}:{port or endpoint.port}")
    for collector in collectors:
        REGISTRY.register(collector)
    serve_metrics(settings.grpc_bind_host, endpoint.metrics_port)
    await server.start()
    for name in ["", *names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("serving", extra={"service": service, "port": bound_port, "metrics_port": endpoint.metrics_port})

    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop_requested.set)
    await stop_requested.wait()

    log.info("stopping", extra={"service": service, "grace_seconds": settings.shutdown_grace_seconds})
    await health_servicer.enter_graceful_shutdown()
    await server.stop(settings.shutdown_grace_seconds)
    for hook in on_stop:
        await hook()
    log.info("stopped", extra={"service": service})
