"""Fixtures: a real grpc.aio EchoService on a free port and the edge in front of it.

The edge is built exactly as production builds it, ``create_app(settings,
[BackendService(descriptor, address)])``, only with the test-only service: no edge
code knows about edgetest.v1.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from edgetest.v1 import echo_pb2
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import ServiceDescriptor

from edge.app import create_app
from edge.backends import BackendService
from edge.operations import Handler
from service_kit.settings import Settings, load_settings
from tests.edge.echo_backend import start_echo_server

ECHO_SERVICE = echo_pb2.DESCRIPTOR.services_by_name["EchoService"]
JWT_SECRET = secrets.token_urlsafe(40)
ADDED_FILE = "edgetest/v1/added_at_test_time.proto"


def added_service() -> ServiceDescriptor:
    """A service that exists in no .proto file of the repository: declared here, at run time."""
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName(ADDED_FILE)
    except KeyError:
        file = descriptor_pb2.FileDescriptorProto(
            name=ADDED_FILE,
            package="edgetest.v1",
            syntax="proto3",
            dependency=["edgetest/v1/echo.proto", "google/api/annotations.proto"],
        )
        service = file.service.add(name="AddedService")
        method = service.method.add(
            name="Greet", input_type=".edgetest.v1.EchoRequest", output_type=".edgetest.v1.EchoResponse"
        )
        method.options.Extensions[annotations_pb2.http].get = "/v1/added/{message}/greeting"
        pool.AddSerializedFile(file.SerializeToString())
    return pool.FindServiceByName("edgetest.v1.AddedService")


def free_port() -> int:
    """A port nothing listens on right now (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_settings(**overrides: str) -> Settings:
    env = {
        "MEDIA_ENV": "test",
        "JWT_SECRET_KEY": JWT_SECRET,
        "HLS_PROXY_SECRET": secrets.token_urlsafe(40),
        "AWS_ACCESS_KEY_ID": "edge-test-key",
        "AWS_SECRET_ACCESS_KEY": "edge-test-secret-" + secrets.token_hex(8),
        "ZOOM_WEBHOOK_SECRET": "zoom-test-secret",
        "DATABASE_URL": "postgresql+psycopg://root@127.0.0.1:5432/postgres",
        "REDIS_URL": "redis://127.0.0.1:6379/15",
        "S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "S3_BUCKET": "edge-test",
        "BACKEND_TIMEOUT_SECONDS": "5",
        "SHUTDOWN_GRACE_SECONDS": "0.1",
        **overrides,
    }
    return load_settings(env=env, dotenv_path=Path("/nonexistent"))


@pytest.fixture(scope="session")
def settings() -> Settings:
    return make_settings()


@pytest.fixture(scope="session")
async def echo_address() -> AsyncIterator[str]:
    server, address = await start_echo_server()
    try:
        yield address
    finally:
        await server.stop(grace=None)


async def start_edge(
    settings: Settings,
    services: list[BackendService],
    overrides: Mapping[tuple[str, str], Handler] | None = None,
) -> TestClient[web.Request, web.Application]:
    client: TestClient[web.Request, web.Application] = TestClient(
        TestServer(create_app(settings, services, overrides=overrides))
    )
    await client.start_server()
    return client


@pytest.fixture(scope="session")
async def client(settings: Settings, echo_address: str) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    edge = await start_edge(settings, [BackendService(ECHO_SERVICE, echo_address, short_name="echo")])
    try:
        yield edge
    finally:
        await edge.close()
