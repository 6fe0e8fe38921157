"""/openapi.json says what each route produces, per marshaler, and what the hand-written handlers accept."""

from __future__ import annotations

from typing import Any

import pytest

from edge.app import default_backend_services
from edge.hls import hls_overrides
from edge.lti_pages import lti_overrides
from edge.marshalers import ROUTE_ENCODINGS, compile_offers
from edge.openapi import build_openapi
from edge.operations import Documented, compile_operations
from edge.zoom_webhook import attendance_overrides
from service_kit.settings import PlaybackSettings, Settings


@pytest.fixture(scope="module")
def document(settings: Settings) -> dict[str, Any]:
    operations = compile_operations(default_backend_services(settings))
    overrides = {**lti_overrides(), **attendance_overrides(), **hls_overrides(PlaybackSettings())}
    hand_written = {key: h.openapi for key, h in overrides.items() if isinstance(h, Documented)}
    return build_openapi(
        [op.binding for op in operations],
        title="t",
        version="0",
        offers=compile_offers(operations, ROUTE_ENCODINGS),
        hand_written=hand_written,
    )


def ok(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    answer: dict[str, Any] = document["paths"][path][method]["responses"]["200"]
    return answer


def test_the_attendance_report_offers_json_then_csv_and_names_its_format_values(document: dict[str, Any]) -> None:
    path = "/api/v1/live-sessions/{session_id}/attendance"
    assert list(ok(document, "get", path)["content"]) == ["application/json", "text/csv"]
    parameters = {p["name"]: p for p in document["paths"][path]["get"]["parameters"]}
    assert parameters["format"]["schema"]["enum"] == ["csv", "json"]


def test_event_streams_list_server_sent_events_first_and_other_streams_ndjson_first(
    document: dict[str, Any],
) -> None:
    events = ok(document, "get", "/api/v1/live-sessions/{session_id}/attendance/events")["content"]
    assert list(events) == ["text/event-stream", "application/x-ndjson"]
    upload = ok(document, "get", "/api/v1/media/uploads/{upload_id}/events")["content"]
    assert upload["text/event-stream"]["x-event-data"] == {
        "$ref": "#/components/schemas/media.upload.v1.WatchUploadResponse"
    }
    watch = ok(document, "get", "/api/v1/media/transcode-jobs/{job_id}:watch")["content"]
    assert list(watch) == ["application/x-ndjson", "text/event-stream"]


def test_an_export_picked_by_response_body_is_a_raw_download(document: dict[str, Any]) -> None:
    content = ok(document, "get", "/api/v1/live-sessions/{session_id}/attendance:export")["content"]
    assert content == {"*/*": {"schema": {"type": "string", "format": "binary"}}}


def test_the_webhook_is_described_as_zoom_sends_it(document: dict[str, Any]) -> None:
    operation = document["paths"]["/api/v1/webhooks/zoom"]["post"]
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert headers == {"x-zm-signature", "x-zm-request-timestamp"}
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["event", "payload"]
    assert set(operation["responses"]) == {"204", "200", "default"}
    assert operation["security"] == []


def test_lti_launch_and_login_are_form_posts_answered_with_pages_and_redirects(document: dict[str, Any]) -> None:
    launch = document["paths"]["/lti/launch"]["post"]
    form = launch["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert {"id_token", "state"} <= set(form["properties"])
    assert "text/html" in launch["responses"]["200"]["content"]
    login = document["paths"]["/lti/login"]
    assert "302" in login["get"]["responses"] and "302" in login["post"]["responses"]
    assert {p["name"] for p in login["get"]["parameters"]} >= {"iss", "login_hint", "target_link_uri"}
    picker = document["paths"]["/api/v1/lti/deep-linking/responses"]["post"]["requestBody"]["content"]
    assert set(picker) == {"application/json", "application/x-www-form-urlencoded", "multipart/form-data"}


def test_every_schema_a_hand_written_route_refers_to_is_defined(document: dict[str, Any]) -> None:
    text = repr(document["paths"])
    names = {part.split("'")[0] for part in text.split("#/components/schemas/")[1:]}
    assert names <= set(document["components"]["schemas"]) | {"Error/properties/error"}


def test_hls_routes_take_their_token_from_the_query_and_segments_redirect(document: dict[str, Any]) -> None:
    master = document["paths"]["/api/v1/media/hls/{video_id}/master.m3u8"]["get"]
    token = next(p for p in master["parameters"] if p["name"] == "token")
    assert token["in"] == "query" and token["required"] is True
    assert list(master["responses"]["200"]["content"]) == ["application/vnd.apple.mpegurl"]
    segment = document["paths"]["/api/v1/media/hls/{video_id}/{rendition}/{segment}"]["get"]
    assert {"302", "200", "206"} <= set(segment["responses"])
