"""Refreshing a session: the same claims for longer, never past the session's longest lifetime."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from lti_svc import domain, errors
from service_kit.auth import SessionClaims, issue_session_token, verify_session_token
from tests.lti.conftest import Lti
from tests.lti.platform import INSTRUCTOR_ROLE, TestPlatform, session_of

HOUR = 3600


def claims(*, launched: int, roles: frozenset[str] = frozenset({"Instructor"})) -> SessionClaims:
    return SessionClaims(
        "u", "org", "course", roles, issued_at=launched, expires_at=launched + HOUR, authenticated_at=launched
    )


def test_a_refresh_lasts_one_token_lifetime_from_now() -> None:
    renewal = domain.renew_session(claims(launched=1000), now=2000, ttl=HOUR, max_lifetime=12 * HOUR)
    assert renewal.expires_at == 2000 + HOUR
    assert renewal.ends_at == 1000 + 12 * HOUR


def test_a_refresh_near_the_sessions_end_is_cut_to_that_end() -> None:
    renewal = domain.renew_session(claims(launched=0), now=12 * HOUR - 60, ttl=HOUR, max_lifetime=12 * HOUR)
    assert renewal.expires_at == 12 * HOUR


def test_a_session_past_its_longest_lifetime_is_not_refreshed() -> None:
    with pytest.raises(errors.SessionLifetimeOver, match="launch the tool again"):
        domain.renew_session(claims(launched=0), now=12 * HOUR, ttl=HOUR, max_lifetime=12 * HOUR)


def test_a_service_token_is_not_a_session_to_refresh() -> None:
    with pytest.raises(errors.NotASession):
        domain.renew_session(claims(launched=0, roles=frozenset({"Service"})), now=10, ttl=HOUR, max_lifetime=12 * HOUR)


async def test_a_launched_session_is_refreshed_with_the_same_claims_and_its_launch_time(
    lti: Lti, platform: TestPlatform, registered: dict[str, Any]
) -> None:
    page = await lti.launch(platform, roles=[INSTRUCTOR_ROLE], user="teacher-9")
    token = session_of(page.text)["session_token"]
    before = verify_session_token(token, lti.stack.jwt_secret)
    await asyncio.sleep(1.1)  # a later second, so the fresh token is a different one

    reply = await lti.api("POST", "/api/v1/sessions:refresh", token, {})
    assert reply.status == 200, reply.text
    fresh = verify_session_token(reply.json["session_token"], lti.stack.jwt_secret)
    assert (fresh.user_id, fresh.organization_id, fresh.course_id, fresh.roles) == (
        before.user_id,
        before.organization_id,
        before.course_id,
        before.roles,
    )
    assert fresh.expires_at > before.expires_at
    assert fresh.authenticated_at == before.authenticated_at == before.issued_at
    assert reply.json["session_ends_at"].startswith(time.strftime("%Y-%m-%d", time.gmtime(before.issued_at + 43200)))


async def test_a_session_launched_too_long_ago_is_refused_saying_to_launch_again(lti: Lti) -> None:
    now = int(time.time())
    old = issue_session_token(
        lti.stack.jwt_secret,
        user_id="u",
        organization_id="org",
        course_id="c",
        roles=["Learner"],
        ttl_seconds=HOUR,
        now=now,
        authenticated_at=now - 13 * HOUR,
    )
    reply = await lti.api("POST", "/api/v1/sessions:refresh", old, {})
    assert reply.status == 401 and reply.reason == "SESSION_LIFETIME_OVER"
    assert "launch the tool again" in reply.json["error"]["message"]


async def test_a_refresh_without_a_session_is_refused(lti: Lti) -> None:
    reply = await lti.api("POST", "/api/v1/sessions:refresh", None, {})
    assert reply.status == 401
