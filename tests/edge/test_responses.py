"""Responses: raw google.api.HttpBody, and server streams as NDJSON or raw chunks."""

from __future__ import annotations

import json

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

Client = TestClient[web.Request, web.Application]


async def test_an_http_body_response_is_written_raw_with_its_content_type(client: Client) -> None:
    response = await client.get("/v1/videos/v-9/master.m3u8")
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/vnd.apple.mpegurl"
    assert await response.read() == b"#EXTM3U\n#EXT-X-VERSION:3\nv-9"


async def test_an_http_body_picked_by_response_body_is_written_raw(client: Client) -> None:
    response = await client.get("/v1/videos/v-8/wrapped.m3u8")
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/vnd.apple.mpegurl"
    assert await response.read() == b"#EXTM3U\n#EXT-X-VERSION:3\nv-8"


async def test_a_stream_of_http_bodies_picked_by_response_body_is_relayed_raw(client: Client) -> None:
    response = await client.get("/v1/wrapped-download/d7?count=2")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/csv"
    assert await response.read() == b"id,count\nd7,0\nd7,1\n"


async def test_a_server_stream_is_newline_delimited_json_results(client: Client) -> None:
    response = await client.get("/v1/stream/s1?count=3")
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/x-ndjson; charset=utf-8"
    lines = (await response.read()).decode().splitlines()
    results = [json.loads(line)["result"] for line in lines]
    assert [r["seq"] for r in results] == [0, 1, 2]
    assert all(r["request"]["id"] == "s1" for r in results)


async def test_a_stream_that_fails_midway_ends_with_an_error_line(client: Client) -> None:
    response = await client.get("/v1/stream/s2?count=2&flag=true")
    assert response.status == 200
    lines = [json.loads(line) for line in (await response.read()).decode().splitlines()]
    assert [set(line) for line in lines] == [{"result"}, {"result"}, {"error"}]
    assert lines[-1]["error"]["status"] == "ABORTED"
    assert lines[-1]["error"]["code"] == 409


async def test_a_stream_that_fails_before_its_first_message_is_a_plain_error(client: Client) -> None:
    response = await client.get("/v1/stream/s3?count=0&flag=true")
    assert response.status == 409
    assert (await response.json())["error"]["message"] == "the stream was interrupted"


async def test_an_empty_stream_is_an_empty_200(client: Client) -> None:
    response = await client.get("/v1/stream/s4?count=0")
    assert response.status == 200
    assert await response.read() == b""


async def test_an_http_body_stream_is_relayed_as_raw_chunks_with_the_first_content_type(client: Client) -> None:
    response = await client.get("/v1/download/d1?count=2")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/csv"
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert await response.read() == b"id,count\nd1,0\nd1,1\n"


async def test_an_http_body_stream_that_fails_midway_is_cut_not_completed(client: Client) -> None:
    response = await client.get("/v1/download/d2?count=1&flag=true")
    assert response.status == 200
    with pytest.raises(aiohttp.ClientPayloadError):
        await response.read()
