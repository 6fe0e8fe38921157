"""EDGE_ACCESS_LOG_SAMPLE: playlist successes are logged 1 in N, every error line is kept, metrics count all."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from edge.app import default_backend_services
from edge.hls import MASTER_ROUTE, PLAYLIST_ROUTES, VARIANT_ROUTE
from edge.middleware import AccessLogSampler
from service_kit.logging import JsonFormatter
from tests.edge.conftest import make_settings, start_edge
from tests.support.metrics import Scrape

Client = TestClient[web.Request, web.Application]
SAMPLE = 4
VARIANT = "/api/v1/media/hls/video-1/720p/index.m3u8"


async def answer_by_query(request: web.Request) -> web.StreamResponse:
    """A stand-in playlist handler: ``?token=good`` is a 200, anything else the 403 of a bad token."""
    if request.query.get("token") == "good":
        return web.Response(body=b"#EXTM3U\n", content_type="application/vnd.apple.mpegurl")
    return web.Response(status=403, body=b"refused")


@pytest.fixture
async def sampled_edge() -> AsyncIterator[Client]:
    settings = make_settings(EDGE_ACCESS_LOG_SAMPLE=str(SAMPLE))
    edge = await start_edge(settings, default_backend_services(settings), overrides={VARIANT_ROUTE: answer_by_query})
    try:
        yield edge
    finally:
        await edge.close()


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    formatter = JsonFormatter("edge")
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == "edge.access"]


async def test_one_playlist_success_in_n_is_logged_with_its_weight_and_every_error_and_other_route_is_kept(
    sampled_edge: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edge.access")
    for _ in range(3 * SAMPLE):
        assert (await sampled_edge.get(VARIANT, params={"token": "good"})).status == 200
    for _ in range(3):
        assert (await sampled_edge.get(VARIANT, params={"token": "bad"})).status == 403
    for _ in range(5):
        assert (await sampled_edge.get("/openapi.json")).status == 200

    lines = access_lines(caplog)
    successes = [line for line in lines if line["route"] == VARIANT_ROUTE[1] and line["status"] == 200]
    refusals = [line for line in lines if line["route"] == VARIANT_ROUTE[1] and line["status"] == 403]
    others = [line for line in lines if line["route"] == "/openapi.json"]
    assert len(successes) == 3 and all(line["sample"] == SAMPLE for line in successes)
    assert len(refusals) == 3 and all("sample" not in line for line in refusals)
    assert len(others) == 5 and all("sample" not in line for line in others)

    metrics = Scrape(await (await sampled_edge.get("/metrics")).text())
    route = VARIANT_ROUTE[1]
    assert metrics.value("http_requests_total", method="GET", route=route, code="200") == 3 * SAMPLE
    assert metrics.value("http_requests_total", method="GET", route=route, code="403") == 3


async def test_without_the_setting_every_playlist_request_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    settings = make_settings()
    assert settings.edge_access_log_sample == 1
    edge = await start_edge(settings, default_backend_services(settings), overrides={VARIANT_ROUTE: answer_by_query})
    try:
        caplog.set_level(logging.INFO, logger="edge.access")
        for _ in range(5):
            await edge.get(VARIANT, params={"token": "good"})
    finally:
        await edge.close()
    lines = [line for line in access_lines(caplog) if line["route"] == VARIANT_ROUTE[1]]
    assert len(lines) == 5 and all("sample" not in line for line in lines)


def test_the_sampler_keeps_exactly_one_success_in_n_on_the_playlist_routes_only() -> None:
    sampler = AccessLogSampler(PLAYLIST_ROUTES, 10)
    kept = [sampler.keeps(MASTER_ROUTE[1], 200) for _ in range(100)]
    assert kept.count(True) == 10 and kept[9] and not kept[0]
    assert all(sampler.keeps(MASTER_ROUTE[1], status) for status in (400, 401, 403, 404, 499, 500, 503))
    assert all(sampler.keeps("/api/v1/videos/{video_id}", 200) for _ in range(20))
    assert sampler.weight(VARIANT_ROUTE[1], 204) == 10 and sampler.weight(VARIANT_ROUTE[1], 404) == 1


def test_a_sample_of_less_than_one_is_refused() -> None:
    with pytest.raises(ValueError, match="1 in at least 1"):
        AccessLogSampler(PLAYLIST_ROUTES, 0)
