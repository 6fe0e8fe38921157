"""The edge in front of the real processes: health of every part, and the published API."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.support.processes import Stack

SEED_ROUTES = [
    ("post", "/api/v1/media/presigned-upload"),
    ("post", "/api/v1/media/uploads/{upload_id}/complete"),
    ("get", "/api/v1/media/uploads/{upload_id}"),
    ("get", "/api/v1/media/hls/{video_id}/access-token"),
    ("get", "/api/v1/media/hls/{video_id}/master.m3u8"),
    ("post", "/api/v1/lti/config"),
    ("post", "/api/v1/lti/launch"),
    ("get", "/lti/login"),
    ("post", "/lti/login"),
    ("post", "/lti/launch"),
    ("get", "/.well-known/jwks.json"),
    ("post", "/api/v1/live-sessions"),
    ("get", "/api/v1/live-sessions/{session_id}/attendance"),
    ("post", "/api/v1/webhooks/zoom"),
    ("get", "/health"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
]


def get_json(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=15) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_health_reports_every_component_up(stack: Stack) -> None:
    status, body = get_json(f"{stack.edge_url}/health")
    assert status == 200, body
    components = body["components"]
    assert isinstance(components, dict)
    expected = {"database", "redis", "object_store", "upload", "transcode", "playback", "lti", "attendance"}
    assert expected <= set(components), sorted(components)
    assert all(component["status"] == "up" for component in components.values()), components


@pytest.mark.parametrize(("method", "path"), SEED_ROUTES)
def test_openapi_lists_every_seed_route(stack: Stack, method: str, path: str) -> None:
    status, document = get_json(f"{stack.edge_url}/openapi.json")
    assert status == 200
    paths = document["paths"]
    assert isinstance(paths, dict)
    assert path in paths, sorted(paths)
    assert method in paths[path]
