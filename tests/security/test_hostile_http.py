"""Hostile HTTP at the edge: oversized bodies and headers, slow clients, malformed and fuzzed posts.

Everything here is answered with a 4xx (or dropped, for a client too slow to finish its
headers), never a 5xx and never by tying the edge up: the other clients keep being
served. The fuzzing uses hypothesis with a bounded number of examples, over plain
http.client so a test controls every byte it sends.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import time
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlencode, urlsplit

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devstack import free_port
from devstack.zoom_standin import sign
from service_kit.auth import INSTRUCTOR, issue_session_token
from tests.security.conftest import SecurityStack
from tests.support.processes import spawn, wait_for_http

MIB = 1024 * 1024
JSON_ROUTE = "/api/v1/media/presigned-upload"
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


def _token(stack: SecurityStack) -> str:
    return issue_session_token(
        stack.jwt_secret,
        user_id="u-1",
        organization_id="org-h",
        course_id="course-h",
        roles=[INSTRUCTOR],
        ttl_seconds=600,
    )


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


def _raw(stack: SecurityStack, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """One request over a fresh connection, bytes as given."""
    host = urlsplit(stack.edge_url)
    connection = http.client.HTTPConnection(host.hostname or "127.0.0.1", host.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        reply = connection.getresponse()
        return reply.status, reply.read()
    finally:
        connection.close()


def _assert_json_error(status: int, body: bytes, want: int) -> str:
    assert status == want, body[:300]
    error = json.loads(body)["error"]
    assert error["code"] == want and error["message"], error
    return str(error["message"])


# ---- sizes ---------------------------------------------------------------------------------


async def test_a_json_body_over_the_edges_limit_is_refused_with_413_in_the_json_error_shape(
    security_stack: SecurityStack, client: aiohttp.ClientSession
) -> None:
    body = json.dumps({"filename": "a.mp4", "file_size": "1", "title": "x" * (2 * MIB)}).encode()
    headers = {"Authorization": f"Bearer {_token(security_stack)}", "Content-Type": "application/json"}
    async with client.post(security_stack.edge_url + JSON_ROUTE, data=body, headers=headers) as reply:
        _assert_json_error(reply.status, await reply.read(), 413)


async def test_a_chunked_body_without_a_length_is_cut_off_at_the_same_limit(
    security_stack: SecurityStack, client: aiohttp.ClientSession
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"filename": "a.mp4", "title": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    headers = {"Authorization": f"Bearer {_token(security_stack)}", "Content-Type": "application/json"}
    async with client.post(security_stack.edge_url + JSON_ROUTE, data=chunks(), headers=headers) as reply:
        _assert_json_error(reply.status, await reply.read(), 413)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Huge": "a" * 20_000},
        {f"X-Many-{i}": "v" for i in range(300)},
        {"Cookie": "c=" + "b" * 70_000},
    ],
    ids=["one huge header", "too many headers", "a huge cookie"],
)
def test_oversized_headers_are_refused_at_once_and_the_edge_keeps_serving(
    security_stack: SecurityStack, headers: dict[str, str]
) -> None:
    started = time.monotonic()
    status, _ = _raw(security_stack, "GET", "/openapi.json", b"", headers)
    assert status in (400, 431)
    assert time.monotonic() - started < 5
    assert _raw(security_stack, "GET", "/openapi.json", b"", {})[0] == 200


# ---- slow clients --------------------------------------------------------------------------

IDLE_TIMEOUT_SECONDS = 3.0
SLOW_CLIENTS = 50


@pytest.fixture(scope="module")
def short_timeout_edge(security_stack: SecurityStack) -> Iterator[str]:
    """A second edge over the same services with EDGE_IDLE_TIMEOUT_SECONDS at 3, so the test waits seconds."""
    port = free_port()
    infra = security_stack.stack.infra
    edge = spawn("edge-short-timeout", "edge", infra, {"EDGE_PORT": str(port), "EDGE_IDLE_TIMEOUT_SECONDS": "3"})
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(edge, f"{url}/openapi.json", time.monotonic() + 60)
        yield url
    finally:
        edge.stop()


async def _slowloris(port: int, stop: asyncio.Event) -> float:
    """Open a connection and dribble one header byte per second; return how long the edge let it live."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    opened = time.monotonic()
    writer.write(b"GET /openapi.json HTTP/1.1\r\nHost: edge\r\n")
    await writer.drain()
    try:
        for byte in b"X-Slow: " + b"a" * 60:
            if stop.is_set():
                break
            writer.write(bytes([byte]))
            await writer.drain()
            try:
                if await asyncio.wait_for(reader.read(1024), timeout=1.0) == b"":
                    break  # the edge closed it
            except TimeoutError:
                continue
    except ConnectionError:
        pass
    finally:
        writer.close()
    return time.monotonic() - opened


async def test_slow_clients_are_dropped_after_the_idle_timeout_while_others_are_served_fast(
    short_timeout_edge: str, client: aiohttp.ClientSession
) -> None:
    port = urlsplit(short_timeout_edge).port
    assert port is not None
    stop = asyncio.Event()
    slow = [asyncio.create_task(_slowloris(port, stop)) for _ in range(SLOW_CLIENTS)]
    await asyncio.sleep(1.0)
    timings = []
    for _ in range(5):
        started = time.monotonic()
        async with client.get(short_timeout_edge + "/openapi.json") as reply:
            assert reply.status == 200
            await reply.read()
        timings.append(time.monotonic() - started)
    lifetimes = await asyncio.wait_for(asyncio.gather(*slow), timeout=40)
    stop.set()
    assert max(timings) < 2.0, timings
    assert max(lifetimes) < IDLE_TIMEOUT_SECONDS + 6, sorted(lifetimes)


# ---- wrong and malformed bodies -------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data; boundary=xyz", b'--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\nunterminated'),
        ("multipart/form-data", b"no boundary at all"),
        ("application/xml", b"<upload><filename>a.mp4</filename></upload>"),
        ("application/json", b'{"filename": "a.mp4", '),
        ("application/json", b"\xff\xfe\x00not utf-8"),
        ("application/json", b"[1, 2, 3]"),
    ],
    ids=["unterminated multipart", "multipart without boundary", "xml", "truncated json", "not utf-8", "json array"],
)
def test_a_json_route_refuses_other_bodies_with_a_message(
    security_stack: SecurityStack, content_type: str, body: bytes
) -> None:
    headers = {"Authorization": f"Bearer {_token(security_stack)}", "Content-Type": content_type}
    status, reply = _raw(security_stack, "POST", JSON_ROUTE, body, headers)
    assert status in (400, 415), reply[:300]
    assert json.loads(reply)["error"]["message"]


@pytest.mark.parametrize("path", ["/lti/login", "/lti/launch"])
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data; boundary=xyz", b'--xyz\r\nContent-Disposition: form-data; name="id_token"\r\n\r\nabc'),
        ("multipart/form-data; boundary=xyz", b"--xyz\r\nNo-Disposition: x\r\n\r\nabc\r\n--xyz--\r\n"),
        ("multipart/form-data", b"--\r\n"),
        ("application/json", b'{"id_token": "x"}'),
        ("text/plain", b"id_token=x"),
    ],
    ids=["unterminated multipart", "part without a name", "multipart without boundary", "json", "text"],
)
def test_the_lti_form_routes_refuse_malformed_posts_with_a_4xx(
    security_stack: SecurityStack, path: str, content_type: str, body: bytes
) -> None:
    status, reply = _raw(security_stack, "POST", path, body, {"Content-Type": content_type})
    assert 400 <= status < 500, (status, reply[:300])


# ---- fuzzing -------------------------------------------------------------------------------

LTI_FIELDS = (
    "iss",
    "login_hint",
    "target_link_uri",
    "lti_message_hint",
    "client_id",
    "lti_deployment_id",
    "id_token",
    "state",
    "error",
)
_values = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    st.sampled_from(["https://lms.example.edu", "eyJhbGciOiJub25lIn0.e30.", "a.b.c", "{}", "%ff%fe", "\x00"]),
    st.integers(min_value=1, max_value=300_000).map(lambda n: "x" * n),
)
_forms = st.dictionaries(st.sampled_from(LTI_FIELDS), _values, max_size=len(LTI_FIELDS))


@FUZZ
@given(form=_forms, cut=st.integers(min_value=0, max_value=64), raw_bytes=st.binary(max_size=64))
def test_fuzzed_lti_form_posts_get_a_4xx(
    security_stack: SecurityStack, form: dict[str, str], cut: int, raw_bytes: bytes
) -> None:
    encoded = urlencode(form, encoding="utf-8", errors="surrogatepass").encode()
    for path in ("/lti/login", "/lti/launch"):
        for body in (encoded, encoded[: max(0, len(encoded) - cut)], encoded + b"&" + raw_bytes):
            status, reply = _raw(
                security_stack, "POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"}
            )
            assert 300 <= status < 500, (path, status, reply[:300])
    query = urlencode(form, encoding="utf-8", errors="surrogatepass")[:6000]
    status, reply = _raw(security_stack, "GET", "/lti/login?" + query, b"", {})
    assert 300 <= status < 500, (status, reply[:300])


@FUZZ
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.dictionaries(
            st.text(max_size=10), st.recursive(st.none() | st.integers() | st.text(max_size=20), st.lists)
        ).map(lambda d: json.dumps(d).encode()),
        st.sampled_from(
            [b"{", b"null", b"[]", b'{"event": 1}', b'{"event": "meeting.participant_joined", "payload": 7}']
        ),
    ),
    signature=st.sampled_from(["valid", "wrong", "missing", "stale"]),
)
def test_fuzzed_zoom_webhooks_get_a_4xx(security_stack: SecurityStack, body: bytes, signature: str) -> None:
    now = int(time.time())
    timestamp = str(now - 3600 if signature == "stale" else now)
    headers = {"Content-Type": "application/json", "x-zm-request-timestamp": timestamp}
    if signature in ("valid", "stale"):
        headers["x-zm-signature"] = sign(security_stack.webhook_secret, timestamp, body)
    elif signature == "wrong":
        headers["x-zm-signature"] = sign("not-the-secret", timestamp, body)
    status, reply = _raw(security_stack, "POST", "/api/v1/webhooks/zoom", body, headers)
    assert 200 <= status < 500, (status, reply[:300])
    if signature != "valid":
        assert status == 401, reply[:300]


def test_a_huge_zoom_webhook_is_refused_with_413(security_stack: SecurityStack) -> None:
    body = b'{"event": "meeting.started", "payload": "' + b"x" * (2 * MIB) + b'"}'
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "x-zm-request-timestamp": timestamp,
        "x-zm-signature": sign(security_stack.webhook_secret, timestamp, body),
    }
    _assert_json_error(*_raw(security_stack, "POST", "/api/v1/webhooks/zoom", body, headers), 413)
