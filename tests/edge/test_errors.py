"""Every failure as one JSON body, with grpc-gateway's status table."""

from __future__ import annotations

import io
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from edge.backends import BackendService
from tests.edge.conftest import ECHO_SERVICE, free_port, make_settings, start_edge

Client = TestClient[web.Request, web.Application]

STATUS_TABLE = [
    ("OK", 200),
    ("CANCELLED", 499),
    ("UNKNOWN", 500),
    ("INVALID_ARGUMENT", 400),
    ("DEADLINE_EXCEEDED", 504),
    ("NOT_FOUND", 404),
    ("ALREADY_EXISTS", 409),
    ("PERMISSION_DENIED", 403),
    ("UNAUTHENTICATED", 401),
    ("RESOURCE_EXHAUSTED", 429),
    ("FAILED_PRECONDITION", 400),
    ("ABORTED", 409),
    ("OUT_OF_RANGE", 400),
    ("UNIMPLEMENTED", 501),
    ("INTERNAL", 500),
    ("UNAVAILABLE", 503),
    ("DATA_LOSS", 500),
]


def error_of(body: dict[str, Any]) -> dict[str, Any]:
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "status", "message", "details"}, error
    return dict(error)


@pytest.mark.parametrize(("code", "http_status"), STATUS_TABLE, ids=[row[0] for row in STATUS_TABLE])
async def test_each_grpc_code_maps_to_its_http_status(client: Client, code: str, http_status: int) -> None:
    # Services always attach details (their interceptor adds ErrorInfo): that is what
    # tells a service's own UNAVAILABLE or DEADLINE_EXCEEDED from a transport failure.
    response = await client.post(
        "/v1/fail", json={"code": code, "message": f"failed with {code}", "with_details": True}
    )
    body = await response.json()
    assert response.status == http_status, body
    if code == "OK":
        return
    error = error_of(body)
    assert error["code"] == http_status
    assert error["status"] == code
    if http_status == 500:
        assert "failed with" not in error["message"], "5xx messages from backends are not shown"
    else:
        assert error["message"] == f"failed with {code}"


async def test_status_details_from_the_trailer_are_rendered_with_their_type(client: Client) -> None:
    response = await client.post(
        "/v1/fail", json={"code": "FAILED_PRECONDITION", "message": "not ready", "with_details": True}
    )
    assert response.status == 400
    error = error_of(await response.json())
    assert error["message"] == "not ready"
    assert error["details"] == [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "VIDEO_NOT_READY",
            "domain": "edgetest",
            "metadata": {"id": "7"},
        },
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "field_violations": [{"field": "title", "description": "is empty"}],
        },
    ]


async def test_an_unauthenticated_backend_answer_names_the_bearer_scheme(client: Client) -> None:
    response = await client.post("/v1/fail", json={"code": "UNAUTHENTICATED", "message": "who are you"})
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_an_unknown_path_is_a_json_404(client: Client) -> None:
    response = await client.get("/v1/nowhere")
    assert response.status == 404
    error = error_of(await response.json())
    assert error["status"] == "NOT_FOUND"
    assert "/v1/nowhere" in error["message"]


async def test_a_known_path_with_the_wrong_method_is_a_405_with_allow(client: Client) -> None:
    response = await client.delete("/v1/echo")
    assert response.status == 405
    assert response.headers["Allow"] == "POST"
    assert error_of(await response.json())["status"] == "UNIMPLEMENTED"
    other = await client.post("/v1/echo/latest")
    assert other.status == 405
    assert other.headers["Allow"] == "GET"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (b'{"message": "x",', "body", "malformed JSON"),
        (b"[1, 2]", "body", "expected a JSON object"),
        (b'{"mesage": "x"}', "mesage", "unknown field"),
        (b'{"inner": {"lable": "x"}}', "inner.lable", "unknown field"),
        (b'{"count": "many"}', "count", "expected a 32-bit integer"),
        (b'{"inner": {"big": "x"}}', "inner.big", "expected a 64-bit integer"),
        (b'{"color": "COLOR_BLUE"}', "color", "expected one of COLOR_UNSPECIFIED, COLOR_RED, COLOR_GREEN"),
        (b'{"at": "yesterday"}', "at", "RFC 3339"),
        (b'{"tags": "a"}', "tags", "expected a JSON array of a string"),
        (b'{"flag": "yes"}', "flag", "expected true or false"),
    ],
)
async def test_a_bad_json_body_is_a_400_naming_the_field(client: Client, body: bytes, field: str, words: str) -> None:
    response = await client.post("/v1/echo", data=body, headers={"Content-Type": "application/json"})
    assert response.status == 400
    error = error_of(await response.json())
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["message"].startswith(f"{field}: "), error["message"]
    assert words in error["message"]
    violation = error["details"][0]
    assert violation["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    assert violation["field_violations"][0]["field"] == field


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("count=1.5", "count", "32-bit integer"),
        ("count=99999999999", "count", "32-bit integer"),
        ("color=PURPLE", "color", "expected one of"),
        ("colors=9", "colors", "expected one of"),
        ("flag=maybe", "flag", "true or false"),
        ("at=2024-13-01", "at", "RFC 3339"),
        ("wait=5", "wait", "duration"),
        ("count=1&count=2", "count", "expected one value"),
        ("mesage=x", "mesage", "unknown query parameter"),
        ("id=other", "id", "bound by the URL path"),
        ("labels.k=v", "labels.k", "unknown query parameter"),
    ],
)
async def test_a_bad_query_value_is_a_400_naming_the_key(client: Client, query: str, field: str, words: str) -> None:
    response = await client.get(f"/v1/echo/abc?{query}")
    assert response.status == 400
    error = error_of(await response.json())
    assert error["message"].startswith(f"{field}: "), error["message"]
    assert words in error["message"]


async def test_a_query_on_a_body_star_route_is_refused(client: Client) -> None:
    response = await client.post("/v1/echo?message=x", json={})
    assert response.status == 400
    assert "JSON body" in error_of(await response.json())["message"]


async def test_a_query_for_the_body_field_is_refused(client: Client) -> None:
    response = await client.put("/v1/things/1/inner?inner.label=x", json={})
    assert response.status == 400
    assert "bound by the request body" in error_of(await response.json())["message"]


async def test_a_backend_slower_than_the_deadline_is_a_504(echo_address: str) -> None:
    edge = await start_edge(
        make_settings(BACKEND_TIMEOUT_SECONDS="0.2"), [BackendService(ECHO_SERVICE, echo_address, short_name="echo")]
    )
    try:
        response = await edge.post("/v1/sleep", json={"seconds": 2})
        assert response.status == 504
        error = error_of(await response.json())
        assert error["status"] == "DEADLINE_EXCEEDED"
        assert error["message"] == "service echo did not answer within 0.2 s"
    finally:
        await edge.close()


async def test_a_backend_that_is_down_is_a_503_naming_the_service() -> None:
    edge = await start_edge(make_settings(), [BackendService(ECHO_SERVICE, f"127.0.0.1:{free_port()}")])
    try:
        response = await edge.post("/v1/echo", json={})
        assert response.status == 503
        error = error_of(await response.json())
        assert error["status"] == "UNAVAILABLE"
        assert error["message"] == "service edgetest.v1.EchoService is unavailable"
    finally:
        await edge.close()


async def test_an_unexpected_exception_is_a_generic_500_and_a_logged_traceback(
    echo_address: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(request: web.Request) -> web.StreamResponse:
        raise RuntimeError("secret internals")

    edge = await start_edge(
        make_settings(), [BackendService(ECHO_SERVICE, echo_address)], overrides={("GET", "/v1/echo/latest"): broken}
    )
    try:
        response = await edge.get("/v1/echo/latest")
        assert response.status == 500
        error = error_of(await response.json())
        assert error["status"] == "INTERNAL"
        assert "secret" not in error["message"]
        assert response.headers["X-Request-ID"] in error["message"]
        assert any("secret internals" in (r.exc_text or str(r.exc_info)) for r in caplog.records)
    finally:
        await edge.close()


async def test_a_body_over_the_size_limit_is_a_json_413(client: Client) -> None:
    oversized = io.BytesIO(b"x" * (2 * 1024 * 1024))
    response = await client.post("/v1/echo", data=oversized, headers={"Content-Type": "application/json"})
    assert response.status == 413
    assert error_of(await response.json())["status"] == "RESOURCE_EXHAUSTED"
