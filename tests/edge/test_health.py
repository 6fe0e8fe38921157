"""GET /health against the real PostgreSQL and Redis, with parts that are down.

The all-up case (SeaweedFS as the object store) belongs to the full-stack tests.
"""

from __future__ import annotations

from edge.backends import BackendService
from tests.edge.conftest import ECHO_SERVICE, added_service, free_port, make_settings, start_edge


async def test_health_is_degraded_naming_the_object_store_and_a_backend_that_are_down(echo_address: str) -> None:
    settings = make_settings()
    down = f"127.0.0.1:{free_port()}"
    services = [
        BackendService(ECHO_SERVICE, echo_address, short_name="echo"),
        BackendService(added_service(), down, short_name="gone"),
    ]
    edge = await start_edge(settings, services)
    try:
        response = await edge.get("/health")
        assert response.status == 503
        body = await response.json()
        assert body["status"] == "degraded"
        components = body["components"]
        assert set(components) == {"database", "redis", "object_store", "echo", "gone"}
        for name in ("database", "redis", "echo"):
            assert components[name]["status"] == "up", components[name]
            assert components[name]["latency_ms"] >= 0
        for name in ("object_store", "gone"):
            assert components[name]["status"] == "down"
            assert components[name]["error"]
        assert settings.s3_endpoint_url is not None
        assert settings.s3_endpoint_url.split("//")[1] in components["object_store"]["error"]
        text = await response.text()
        assert settings.aws_secret_access_key not in text and settings.jwt_secret_key not in text
    finally:
        await edge.close()


async def test_an_unreachable_database_is_reported_without_its_password(echo_address: str) -> None:
    password = "hunter2-very-secret"
    settings = make_settings(DATABASE_URL=f"postgresql+psycopg://root:{password}@127.0.0.1:{free_port()}/postgres")
    edge = await start_edge(settings, [BackendService(ECHO_SERVICE, echo_address, short_name="echo")])
    try:
        response = await edge.get("/health")
        assert response.status == 503
        body = await response.json()
        assert body["components"]["database"]["status"] == "down"
        assert body["components"]["redis"]["status"] == "up"
        assert password not in await response.text()
    finally:
        await edge.close()
