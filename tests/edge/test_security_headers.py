"""Every answer of the edge carries the security baseline; pages keep their own, stricter policy."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from edge.middleware import NON_PAGE_POLICY

Client = TestClient[web.Request, web.Application]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/videos/v-9/master.m3u8",  # a playlist (raw HttpBody)
        "/no/such/route",  # an error body
        "/openapi.json",  # an operational route
    ],
)
async def test_api_answers_forbid_sniffing_referrers_framing_and_loading(client: Client, path: str) -> None:
    response = await client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Content-Security-Policy"] == NON_PAGE_POLICY
