"""Routes come from descriptors: a new annotated RPC is served and documented with no edge code.

Also: hand-written overrides, the OpenAPI document and the route-labelled metrics.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from edgetest.v1 import echo_pb2

from edge.app import create_app
from edge.backends import BackendService
from edge.gateway import call_unary, operation_of, outgoing_metadata
from edge.keys import MATCH
from tests.edge.conftest import ECHO_SERVICE, added_service, make_settings, start_edge

Client = TestClient[web.Request, web.Application]


async def greet(request: echo_pb2.EchoRequest, context: grpc.aio.ServicerContext[Any, Any]) -> echo_pb2.EchoResponse:
    return echo_pb2.EchoResponse(request=request, rpc="Greet")


@pytest.fixture
async def added_address() -> AsyncIterator[str]:
    server = grpc.aio.server()
    handler = grpc.unary_unary_rpc_method_handler(
        greet,
        request_deserializer=echo_pb2.EchoRequest.FromString,
        response_serializer=echo_pb2.EchoResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("edgetest.v1.AddedService", {"Greet": handler}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(grace=None)


async def test_an_rpc_added_to_a_proto_is_served_without_edge_code(echo_address: str, added_address: str) -> None:
    services = [BackendService(ECHO_SERVICE, echo_address), BackendService(added_service(), added_address)]
    edge = await start_edge(make_settings(), services)
    try:
        response = await edge.get("/v1/added/hello/greeting?count=2")
        assert response.status == 200
        body = await response.json()
        assert body["rpc"] == "Greet"
        assert body["request"]["message"] == "hello" and body["request"]["count"] == 2
        document = await (await edge.get("/openapi.json")).json()
        assert document["paths"]["/v1/added/{message}/greeting"]["get"]["operationId"] == "AddedService_Greet"
    finally:
        await edge.close()


async def test_an_override_replaces_one_route_and_keeps_it_documented(echo_address: str) -> None:
    async def playlist(request: web.Request) -> web.StreamResponse:
        operation = operation_of(request)
        message = echo_pb2.EchoRequest(id=request[MATCH].params["id"])
        reply = await call_unary(request, operation, message, outgoing_metadata(request))
        assert isinstance(reply, echo_pb2.EchoResponse)
        return web.Response(text=f"#EXTM3U\n# override for {reply.request.id}\n", content_type="application/x-mpegurl")

    overrides = {("GET", "/v1/echo/{id}"): playlist}
    edge = await start_edge(make_settings(), [BackendService(ECHO_SERVICE, echo_address)], overrides=overrides)
    try:
        response = await edge.get("/v1/echo/v7")
        assert response.status == 200
        assert await response.text() == "#EXTM3U\n# override for v7\n"
        assert (await edge.get("/v1/echo/latest")).status == 200, "precedence is unchanged"
        document = await (await edge.get("/openapi.json")).json()
        assert "get" in document["paths"]["/v1/echo/{id}"]
        metrics = await (await edge.get("/metrics")).text()
        assert 'backend_calls_total{code="OK",method="Echo",service="edgetest.v1.EchoService"} 1.0' in metrics
    finally:
        await edge.close()


def test_an_override_for_an_undeclared_route_is_refused_at_startup() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response()

    with pytest.raises(ValueError, match="/v1/typo"):
        create_app(
            make_settings(), [BackendService(ECHO_SERVICE, "127.0.0.1:1")], overrides={("GET", "/v1/typo"): handler}
        )


async def test_openapi_lists_every_binding_with_parameters_and_schemas(client: Client) -> None:
    response = await client.get("/openapi.json")
    assert response.status == 200
    document = await response.json()
    assert document["openapi"].startswith("3.1")
    paths = document["paths"]
    assert {"/v1/echo", "/v1/echo/{id}", "/v1/echo/latest", "/v1/labels/{inner.label}", "/v1/things/{id}/inner"} <= set(
        paths
    )
    assert {"/v1/files/{path}", "/v1/echo/{id}:shout", "/v1/{message}", "/v1/videos/{id}/master.m3u8"} <= set(paths)
    assert set(paths["/v1/echo/{id}"]) == {"get"}
    get_echo = paths["/v1/echo/{id}"]["get"]
    assert get_echo["operationId"] == "EchoService_Echo_2"
    assert paths["/v1/echo"]["post"]["operationId"] == "EchoService_Echo"
    assert get_echo["summary"] == "Echo"
    names = {p["name"]: p for p in get_echo["parameters"]}
    assert names["id"]["in"] == "path"
    assert {"message", "tags", "inner.label", "at", "colors"} <= set(names)
    assert names["tags"]["schema"] == {"type": "array", "items": {"type": "string"}}
    assert names["at"]["schema"] == {"type": "string", "format": "date-time"}
    deep = paths["/v1/files/{path}"]["get"]["parameters"][0]
    assert "may contain '/'" in deep["description"]

    schemas = document["components"]["schemas"]
    request = schemas["edgetest.v1.EchoRequest"]["properties"]
    assert request["big"]["type"] == "string" and request["big"]["format"] == "int64"
    assert request["count"] == {"type": "integer", "format": "int32"}
    assert request["at"] == {"type": "string", "format": "date-time"}
    assert request["color"] == {"$ref": "#/components/schemas/edgetest.v1.Color"}
    assert schemas["edgetest.v1.Color"]["enum"] == ["COLOR_UNSPECIFIED", "COLOR_RED", "COLOR_GREEN"]
    assert request["labels"] == {"type": "object", "additionalProperties": {"type": "string"}}
    assert request["inner"] == {"$ref": "#/components/schemas/edgetest.v1.Inner"}
    assert "Error" in schemas
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"

    post = paths["/v1/echo"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/edgetest.v1.EchoRequest"
    }
    assert post["responses"]["default"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    patch_body = paths["/v1/labels/{inner.label}"]["patch"]["requestBody"]["content"]["application/json"]["schema"]
    assert patch_body == {"$ref": "#/components/schemas/edgetest.v1.EchoRequest"}, "only top-level path fields drop"
    put_body = paths["/v1/things/{id}/inner"]["put"]["requestBody"]["content"]["application/json"]["schema"]
    assert put_body == {"$ref": "#/components/schemas/edgetest.v1.Inner"}
    playlist = paths["/v1/videos/{id}/master.m3u8"]["get"]["responses"]["200"]["content"]
    assert "*/*" in playlist
    stream = paths["/v1/stream/{id}"]["get"]["responses"]["200"]["content"]
    assert "application/x-ndjson" in stream


async def test_metrics_count_requests_by_route_template_not_raw_path(client: Client) -> None:
    for item in ("m1", "m2", "m3"):
        assert (await client.get(f"/v1/echo/{item}")).status == 200
    assert (await client.get("/v1/unknown/path")).status == 404
    response = await client.get("/metrics")
    assert response.status == 200
    text = await response.text()
    assert 'http_requests_total{code="200",method="GET",route="/v1/echo/{id}"}' in text
    assert 'http_requests_total{code="404",method="GET",route="unmatched"}' in text
    assert 'http_request_duration_seconds_bucket{le="0.005",method="GET",route="/v1/echo/{id}"}' in text
    assert 'backend_calls_total{code="OK",method="Echo",service="echo"}' in text
    assert "/v1/echo/m1" not in text and "/v1/unknown/path" not in text
