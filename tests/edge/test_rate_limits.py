"""Logins, launches, access-token minting and webhooks are rate limited per address and per caller."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from redis import Redis

from devstack import free_port
from edge.rate_limits import retry_after_seconds, storage_uri
from service_kit.auth import INSTRUCTOR, LEARNER, issue_session_token
from service_kit.settings import SettingsError
from service_kit.settings.rate_limits import load_rate_limit_settings
from tests.support.processes import Process, Stack, spawn, wait_for_http

NO_DOTENV = Path("/nonexistent/.env")
LIMITS = {
    "RATE_LIMIT_LOGIN_PER_ADDRESS": "3/minute",
    "RATE_LIMIT_LAUNCH_PER_ADDRESS": "3/minute",
    "RATE_LIMIT_ACCESS_TOKEN_PER_CALLER": "2/minute",
    "RATE_LIMIT_ACCESS_TOKEN_PER_ADDRESS": "50/minute",
    "RATE_LIMIT_WEBHOOK_PER_ADDRESS": "2/minute",
}


def _edge(stack: Stack, name: str, extra: dict[str, str]) -> Iterator[str]:
    port = free_port()
    process: Process = spawn(name, "edge", stack.infra, {"EDGE_PORT": str(port), **extra})
    try:
        wait_for_http(process, f"http://127.0.0.1:{port}/openapi.json", time.monotonic() + 60)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


@pytest.fixture(scope="module")
def limited_edge(stack: Stack) -> Iterator[str]:
    """An edge in front of the running stack with tiny limits; counts left by an earlier run are cleared."""
    redis = Redis.from_url(stack.infra.settings.redis_url)
    stale = list(redis.scan_iter("media:rate*"))
    if stale:
        redis.delete(*stale)
    yield from _edge(stack, "edge-rate-limited", LIMITS)


def _caller(stack: Stack, user: str) -> str:
    return issue_session_token(
        stack.infra.settings.jwt_secret_key,
        user_id=user,
        organization_id=f"org-{uuid.uuid4().hex[:6]}",
        course_id="c1",
        roles=[LEARNER],
        ttl_seconds=600,
    )


async def _statuses(method: str, url: str, times: int, **kwargs: object) -> list[aiohttp.ClientResponse]:
    replies = []
    async with aiohttp.ClientSession() as http:
        for _ in range(times):
            async with http.request(method, url, **kwargs) as reply:  # type: ignore[arg-type]
                await reply.read()
                replies.append(reply)
    return replies


async def test_a_burst_of_logins_from_one_address_gets_429_with_a_retry_after(limited_edge: str) -> None:
    params = {"iss": f"https://lms-{uuid.uuid4().hex[:6]}.example.edu", "login_hint": "u", "target_link_uri": "x"}
    replies = await _statuses("GET", f"{limited_edge}/lti/login", 4, params=params, allow_redirects=False)
    assert [r.status == 429 for r in replies] == [False, False, False, True]
    refused = replies[-1]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


async def test_a_caller_minting_too_many_access_tokens_is_stopped_and_another_caller_is_not(
    stack: Stack, limited_edge: str
) -> None:
    video = uuid.uuid4()
    url = f"{limited_edge}/api/v1/media/hls/{video}/access-token"
    greedy, other = _caller(stack, "greedy"), _caller(stack, "other")
    replies = await _statuses("GET", url, 3, headers={"Authorization": f"Bearer {greedy}"})
    assert [r.status for r in replies][:2] == [404, 404]
    assert replies[2].status == 429 and "Retry-After" in replies[2].headers
    [fine] = await _statuses("GET", url, 1, headers={"Authorization": f"Bearer {other}"})
    assert fine.status == 404


async def test_a_callers_api_token_counts_against_the_same_limit_as_their_session(
    stack: Stack, limited_edge: str
) -> None:
    """The edge resolves the token before the limiter runs, so the limiter sees the owner's session JWT."""
    session = issue_session_token(
        stack.infra.settings.jwt_secret_key,
        user_id=f"teacher-{uuid.uuid4().hex[:6]}",
        organization_id=f"org-{uuid.uuid4().hex[:6]}",
        course_id="c1",
        roles=[INSTRUCTOR],
        ttl_seconds=600,
    )
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{limited_edge}/api/v1/api-tokens", json={"name": "cli"}, headers={"Authorization": f"Bearer {session}"}
        ) as created,
    ):
        assert created.status == 200, await created.text()
        secret = (await created.json())["secret"]
    url = f"{limited_edge}/api/v1/media/hls/{uuid.uuid4()}/access-token"
    [first] = await _statuses("GET", url, 1, headers={"Authorization": f"Bearer {session}"})
    replies = await _statuses("GET", url, 2, headers={"Authorization": f"Bearer {secret}"})
    assert [first.status, *(r.status for r in replies)] == [404, 404, 429]


async def test_webhook_floods_from_one_address_are_refused_with_429(limited_edge: str) -> None:
    body = b'{"event": "endpoint.url_validation", "payload": {"plainToken": "x"}}'
    replies = await _statuses("POST", f"{limited_edge}/api/v1/webhooks/zoom", 3, data=body)
    assert replies[2].status == 429
    assert all(r.status != 429 for r in replies[:2])


async def test_when_redis_does_not_answer_requests_pass_rather_than_lock_everyone_out(stack: Stack) -> None:
    closed = free_port()
    for base in _edge(stack, "edge-rate-no-redis", {**LIMITS, "REDIS_URL": f"redis://127.0.0.1:{closed}/0"}):
        params = {"iss": "https://lms.example.edu", "login_hint": "u", "target_link_uri": "x"}
        replies = await _statuses("GET", f"{base}/lti/login", 5, params=params, allow_redirects=False)
        assert all(r.status != 429 for r in replies)


def test_limits_are_read_in_the_limits_notation_and_can_be_switched_off() -> None:
    settings = load_rate_limit_settings({"RATE_LIMIT_WEBHOOK_PER_ADDRESS": "off"}, dotenv_path=NO_DOTENV)
    assert settings.webhook_per_address == "" and settings.login_per_address == "300/minute"
    with pytest.raises(SettingsError, match="RATE_LIMIT_LOGIN_PER_ADDRESS"):
        load_rate_limit_settings({"RATE_LIMIT_LOGIN_PER_ADDRESS": "lots"}, dotenv_path=NO_DOTENV)


def test_redis_urls_become_limits_storage_uris_and_retry_after_is_whole_seconds() -> None:
    assert storage_uri("redis://127.0.0.1:6379/0") == "async+redis://127.0.0.1:6379/0"
    assert storage_uri("rediss://cache:6380/1") == "async+rediss://cache:6380/1"
    assert retry_after_seconds(100.2, 100.0) == 1 and retry_after_seconds(130.0, 100.5) == 30
