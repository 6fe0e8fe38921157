"""Session JWTs checked at the edge and forwarded; request ids accepted, minted, echoed."""

from __future__ import annotations

import json
import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from service_kit.auth import issue_session_token
from tests.edge.conftest import JWT_SECRET

Client = TestClient[web.Request, web.Application]


def token(secret: str = JWT_SECRET, ttl: int = 600) -> str:
    return issue_session_token(
        secret, user_id="u-1", organization_id="org-1", course_id="c-1", roles=["Learner"], ttl_seconds=ttl
    )


async def test_a_call_without_authorization_forwards_none(client: Client) -> None:
    body = await (await client.get("/v1/echo/1")).json()
    assert "authorization" not in body["metadata"]


async def test_a_valid_session_token_is_forwarded_unchanged(client: Client) -> None:
    header = f"Bearer {token()}"
    response = await client.get("/v1/echo/1", headers={"Authorization": header})
    assert response.status == 200
    assert (await response.json())["metadata"]["authorization"] == header


@pytest.mark.parametrize(
    "header",
    [f"Bearer {token(secret='x' * 40)}", f"Bearer {token(ttl=-3600)}", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz"],
    ids=["wrong-signature", "expired", "garbage", "not-bearer"],
)
async def test_an_invalid_session_token_is_a_401_before_any_backend_call(client: Client, header: str) -> None:
    response = await client.post("/v1/fail", json={"code": "INTERNAL"}, headers={"Authorization": header})
    assert response.status == 401, "the backend would have answered 500"
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    error = (await response.json())["error"]
    assert error["status"] == "UNAUTHENTICATED"
    assert error["details"][0]["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"


async def test_a_client_request_id_is_forwarded_and_echoed(client: Client) -> None:
    response = await client.get("/v1/echo/1", headers={"X-Request-ID": "trace-abc-123"})
    assert response.headers["X-Request-ID"] == "trace-abc-123"
    assert (await response.json())["metadata"]["x-request-id"] == "trace-abc-123"


async def test_a_request_id_is_minted_when_none_or_a_bad_one_is_sent(client: Client) -> None:
    for headers in ({}, {"X-Request-ID": "x" * 500}):
        response = await client.get("/v1/echo/1", headers=headers)
        minted = response.headers["X-Request-ID"]
        assert len(minted) == 32
        assert (await response.json())["metadata"]["x-request-id"] == minted


async def test_error_responses_carry_the_request_id_too(client: Client) -> None:
    response = await client.get("/nowhere", headers={"X-Request-ID": "trace-404"})
    assert response.status == 404
    assert response.headers["X-Request-ID"] == "trace-404"


async def test_each_request_is_logged_once_with_its_route_template_and_request_id(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    from service_kit.logging import JsonFormatter

    caplog.set_level(logging.INFO, logger="edge.access")
    await client.get("/v1/echo/42", headers={"X-Request-ID": "trace-log"})
    records = [r for r in caplog.records if r.name == "edge.access"]
    assert len(records) == 1
    line = json.loads(JsonFormatter("edge").format(records[0]))
    assert line["route"] == "/v1/echo/{id}"
    assert line["method"] == "GET" and line["status"] == 200
    assert line["duration_ms"] >= 0
    assert line["request_id"] == "trace-log"
