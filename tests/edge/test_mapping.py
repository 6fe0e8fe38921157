"""HTTP → proto request mapping through the edge, read back from the echo backend."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

Client = TestClient[web.Request, web.Application]


async def echoed(client: Client, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    response = await client.request(method, path, **kwargs)
    body = await response.json()
    assert response.status == 200, body
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    return dict(body)


async def test_body_star_maps_the_json_body_onto_the_request(client: Client) -> None:
    body = await echoed(
        client,
        "POST",
        "/v1/echo",
        json={
            "message": "hi",
            "count": 3,
            "big": "9007199254740993",
            "color": "COLOR_GREEN",
            "tags": ["a", "b"],
            "inner": {"label": "x", "tags": ["t"]},
            "at": "2024-01-31T09:00:00Z",
            "labels": {"k": "v"},
        },
    )
    request = body["request"]
    assert body["rpc"] == "Echo"
    assert request["message"] == "hi"
    assert request["count"] == 3
    assert request["big"] == "9007199254740993"
    assert request["color"] == "COLOR_GREEN"
    assert request["tags"] == ["a", "b"]
    assert request["inner"] == {"label": "x", "big": "0", "tags": ["t"]}
    assert request["at"] == "2024-01-31T09:00:00Z"
    assert request["labels"] == {"k": "v"}


async def test_unpopulated_fields_are_printed_with_their_zero_values(client: Client) -> None:
    request = (await echoed(client, "POST", "/v1/echo", json={}))["request"]
    assert request["message"] == "" and request["count"] == 0 and request["tags"] == []
    assert request["color"] == "COLOR_UNSPECIFIED" and request["big"] == "0"
    assert "note" not in request, "optional fields have presence: unset stays absent"


async def test_an_empty_body_is_an_empty_request_when_body_is_star(client: Client) -> None:
    body = await echoed(client, "POST", "/v1/echo", data=b"")
    assert body["request"]["message"] == ""


async def test_path_query_nested_repeated_enum_and_timestamp_map_on_a_get(client: Client) -> None:
    query = [
        ("message", "hello world"),
        ("count", "-5"),
        ("big", "12345678901234"),
        ("flag", "true"),
        ("color", "COLOR_RED"),
        ("colors", "COLOR_GREEN"),
        ("colors", "1"),
        ("tags", "a"),
        ("tags", "b"),
        ("inner.label", "deep"),
        ("inner.tags", "x"),
        ("at", "2024-02-29T12:30:00.5+01:00"),
        ("mask", "message,inner.label"),
        ("ratio", "0.25"),
        ("note", ""),
        ("wait", "1.5s"),
        ("limit", "10"),
        ("blob", "aGk"),
    ]
    request = (await echoed(client, "GET", "/v1/echo/abc", params=query))["request"]
    assert request["id"] == "abc"
    assert request["message"] == "hello world"
    assert request["count"] == -5
    assert request["big"] == "12345678901234"
    assert request["flag"] is True
    assert request["color"] == "COLOR_RED"
    assert request["colors"] == ["COLOR_GREEN", "COLOR_RED"]
    assert request["tags"] == ["a", "b"]
    assert request["inner"]["label"] == "deep" and request["inner"]["tags"] == ["x"]
    assert request["at"] == "2024-02-29T11:30:00.500Z"
    assert request["mask"] == "message,inner.label"
    assert request["ratio"] == 0.25
    assert request["note"] == ""
    assert request["wait"] == "1.500s"
    assert request["limit"] == 10
    assert request["blob"] == "aGk="


async def test_a_path_variable_wins_over_the_same_field_in_the_body(client: Client) -> None:
    body = await echoed(client, "PATCH", "/v1/labels/from-path", json={"inner": {"label": "from-body", "tags": ["t"]}})
    assert body["request"]["inner"]["label"] == "from-path"
    assert body["request"]["inner"]["tags"] == ["t"]


async def test_body_field_maps_the_body_to_one_field_and_response_body_picks_one(client: Client) -> None:
    request = await echoed(client, "PUT", "/v1/things/7/inner?message=q", json={"label": "L", "big": 5})
    assert request["id"] == "7"
    assert request["message"] == "q"
    assert request["inner"] == {"label": "L", "big": "5", "tags": []}
    assert "rpc" not in request, "response_body selects the request field of the response"


async def test_a_deep_wildcard_binds_the_rest_of_the_path(client: Client) -> None:
    body = await echoed(client, "GET", "/v1/files/course%20a/week/1/notes.pdf")
    assert body["rpc"] == "EchoPath"
    assert body["request"]["path"] == "course a/week/1/notes.pdf"


async def test_a_custom_verb_reaches_its_rpc(client: Client) -> None:
    body = await echoed(client, "POST", "/v1/echo/9:shout", json={"message": "loud"})
    assert body["rpc"] == "Shout"
    assert body["request"]["id"] == "9"
    assert body["request"]["message"] == "loud"


async def test_additional_bindings_reach_the_same_rpc(client: Client) -> None:
    assert (await echoed(client, "GET", "/v1/echo/1"))["rpc"] == "Echo"
    assert (await echoed(client, "PATCH", "/v1/labels/l", json={}))["rpc"] == "Echo"
    shout = await echoed(client, "GET", "/v1/rooms/3/notes/4")
    assert shout["rpc"] == "Shout"
    assert shout["request"]["message"] == "rooms/3/notes/4"


async def test_a_literal_route_wins_over_an_overlapping_variable(client: Client) -> None:
    assert (await echoed(client, "GET", "/v1/echo/latest"))["rpc"] == "EchoLatest"
    assert (await echoed(client, "GET", "/v1/echo/latest2"))["rpc"] == "Echo"


async def test_an_rpc_without_an_http_rule_has_no_route(client: Client) -> None:
    openapi = await (await client.get("/openapi.json")).json()
    assert not any("Hidden" in op["operationId"] for ops in openapi["paths"].values() for op in ops.values())
