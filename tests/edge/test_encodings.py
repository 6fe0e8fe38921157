"""Encodings: the route and the Accept header choose how an answer is written (edge/marshalers.py)."""

from __future__ import annotations

import json

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from edge.app import default_backend_services
from edge.marshalers import ROUTE_ENCODINGS, accepted, compile_offers, forwarded_headers
from edge.operations import compile_operations
from edge.streams import sse_event, sse_frames
from media.attendance.v1 import attendance_pb2
from media.transcode.v1 import transcode_pb2
from media.upload.v1 import upload_pb2
from service_kit.settings import Settings

Client = TestClient[web.Request, web.Application]


def events_of(text: str) -> list[tuple[str, object]]:
    """(event name, data) of each event; an unnamed event is EventSource's ``message``."""
    found: list[tuple[str, object]] = []
    for block in text.split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith(":")]
        if not lines:
            continue
        name = next((line[7:] for line in lines if line.startswith("event: ")), "message")
        data = next(line[6:] for line in lines if line.startswith("data: "))
        found.append((name, json.loads(data)))
    return found


async def test_a_stream_asked_for_as_event_stream_is_server_sent_events_ending_with_end(client: Client) -> None:
    response = await client.get("/v1/stream/e1?count=2", headers={"Accept": "text/event-stream"})
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    events = events_of(await response.text())
    assert [name for name, _ in events] == ["message", "message", "end"]
    assert [data["seq"] for _, data in events[:2]] == [0, 1]  # type: ignore[index]
    assert events[-1][1] == {"id": "e1"}


async def test_an_event_stream_that_fails_midway_ends_with_an_error_event(client: Client) -> None:
    response = await client.get("/v1/stream/e2?count=1&flag=true", headers={"Accept": "text/event-stream"})
    events = events_of(await response.text())
    assert [name for name, _ in events] == ["message", "error"]
    assert events[-1][1]["error"]["status"] == "ABORTED"  # type: ignore[index]


async def test_an_accept_header_the_route_cannot_satisfy_gets_its_default(client: Client) -> None:
    response = await client.get("/v1/stream/e3?count=1", headers={"Accept": "text/csv, image/png;q=0.5"})
    assert response.headers["Content-Type"] == "application/x-ndjson; charset=utf-8"
    unary = await client.get("/v1/echo/e3", headers={"Accept": "text/event-stream"})
    assert unary.headers["Content-Type"].startswith("application/json")


async def test_a_service_names_a_download_through_metadata_and_only_allowed_keys_become_headers(
    client: Client,
) -> None:
    response = await client.get("/v1/download/d9?count=1&message=rows.csv")
    assert response.status == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="rows.csv"'
    assert "X-Internal" not in response.headers
    assert await response.read() == b"id,count\nd9,0\n"


async def test_a_successful_stream_is_counted_in_the_metrics(client: Client) -> None:
    def streamed() -> float:
        return next(
            (float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(wanted)),
            0.0,
        )

    wanted = 'backend_calls_total{code="OK",method="StreamEcho",service="echo"}'
    text = await (await client.get("/metrics")).text()
    before = streamed()
    await (await client.get("/v1/stream/e4?count=1", headers={"Accept": "text/event-stream"})).read()
    text = await (await client.get("/metrics")).text()
    assert streamed() == before + 1


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("text/csv", ["text/csv"]),
        ("application/json;q=0.5, text/csv", ["text/csv", "application/json"]),
        ("text/csv; charset=utf-8, */*;q=0.1", ["text/csv", "*/*"]),
        ("text/csv;q=0, application/json", ["application/json"]),
        ("Text/CSV;q=bad, application/json", ["application/json"]),
        ("", []),
    ],
)
def test_accept_lists_media_types_best_first(header: str, expected: list[str]) -> None:
    assert accepted(header) == expected


def test_only_the_allowed_metadata_keys_become_headers() -> None:
    metadata = (("content-disposition", 'attachment; filename="a.csv"'), ("x-internal", "no"), ("grpc-x", "no"))
    assert forwarded_headers(metadata) == {"Content-Disposition": 'attachment; filename="a.csv"'}
    assert forwarded_headers(None) == {}


def test_every_route_encoding_names_a_route_and_rpc_the_media_services_serve(settings: Settings) -> None:
    offers = compile_offers(compile_operations(default_backend_services(settings)), ROUTE_ENCODINGS)
    report = offers[("GET", "/api/v1/live-sessions/{session_id}/attendance")]
    assert set(report.produces) == {"application/json", "text/csv"}
    assert report.produces["text/csv"].binding.method.name == "ExportAttendance"
    assert offers[("GET", "/api/v1/live-sessions/{session_id}/attendance/events")].default == "text/event-stream"


def test_an_encoding_for_a_route_no_rule_declares_is_refused_at_start(settings: Settings) -> None:
    operations = compile_operations(default_backend_services(settings))
    with pytest.raises(ValueError, match="no http rule declares"):
        compile_offers(
            operations,
            {("GET", "/api/v1/nowhere"): ROUTE_ENCODINGS[("GET", "/api/v1/media/uploads/{upload_id}/events")]},
        )


def test_a_message_with_a_oneof_is_one_event_named_by_the_member_set() -> None:
    job = transcode_pb2.TranscodeJob(job_id="j1", progress_percent=40)
    progress = upload_pb2.WatchUploadResponse(progress=transcode_pb2.WatchTranscodeJobResponse(job=job))
    [(name, data)] = sse_frames(progress, 3)
    assert name == "progress"
    assert data["job"]["job_id"] == "j1" and data["job"]["progress_percent"] == 40  # type: ignore[index]
    end = upload_pb2.WatchUploadResponse(end=upload_pb2.WatchUploadEnd(upload_id="u1"))
    assert sse_frames(end, 4) == [("end", {"upload_id": "u1"})]


def test_attendance_updates_are_a_joined_or_left_event_per_change_then_the_report() -> None:
    update = attendance_pb2.WatchAttendanceResponse(
        live_participants=1,
        changes=[
            attendance_pb2.PresenceChange(kind=attendance_pb2.PRESENCE_CHANGE_KIND_JOINED, participant_name="Ada"),
            attendance_pb2.PresenceChange(kind=attendance_pb2.PRESENCE_CHANGE_KIND_LEFT, participant_name="Ada"),
        ],
    )
    first = sse_frames(update, 0)
    assert [name for name, _ in first] == ["joined", "left", "snapshot"]
    assert first[0][1]["participant_name"] == "Ada"  # type: ignore[index]
    assert "changes" not in first[-1][1] and first[-1][1]["live_participants"] == 1  # type: ignore[operator,index]
    assert [name for name, _ in sse_frames(update, 1)][-1] == "attendance"


def test_an_event_is_written_with_its_name_and_one_line_of_json() -> None:
    assert sse_event("end", {"id": "x"}) == b'event: end\ndata: {"id":"x"}\n\n'
    assert sse_event(None, {"seq": 1}) == b'data: {"seq":1}\n\n'
