"""Personal API tokens through the real stack: created by course staff, used wherever a session works.

A client sends ``Authorization: Bearer mdt_...`` exactly where the pages send their
session JWT; the edge resolves it (lti_svc's ResolveApiToken) and the request goes on
as the owner's session would. Revocation through an edge takes effect on that edge at
once (other edge processes within ``edge.api_tokens.CACHE_SECONDS``, 10 s).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import psycopg
import pytest

from service_kit.auth import ADMINISTRATOR, INSTRUCTOR
from tests.support.callers import Caller, learner_of, mint_caller
from tests.support.processes import Stack

TOKENS = "/api/v1/api-tokens"
VIDEOS = "/api/v1/media/videos"


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return str(self.body["error"]["message"]) if isinstance(self.body, dict) and "error" in self.body else ""

    @property
    def reason(self) -> str:
        details = self.body["error"].get("details", []) if isinstance(self.body, dict) and "error" in self.body else []
        return next((str(d["reason"]) for d in details if "reason" in d), "")


class Client:
    """The edge's JSON API with a bearer credential, as mediactl or a page calls it."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self._http = http
        self._base = base

    async def call(self, method: str, path: str, bearer: str, body: Any = None, **params: str) -> Reply:
        async with self._http.request(
            method, self._base + path, json=body, params=params, headers={"Authorization": f"Bearer {bearer}"}
        ) as reply:
            return Reply(reply.status, await reply.json(), dict(reply.headers))

    async def create(self, caller: Caller, name: str = "lecture-capture PC", days: int = 0) -> dict[str, Any]:
        reply = await self.call("POST", TOKENS, caller.token, {"name": name, "expires_in_days": days})
        assert reply.status == 200, reply.body
        return dict(reply.body)


@pytest.fixture
async def api(stack: Stack) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as http:
        yield Client(http, stack.edge_url)


@pytest.fixture
def instructor(stack: Stack) -> Caller:
    return mint_caller(stack.infra.settings.jwt_secret_key, roles=(INSTRUCTOR,))


async def test_an_instructor_creates_a_token_shown_once_and_listed_without_its_secret(
    api: Client, instructor: Caller
) -> None:
    created = await api.create(instructor, "lecture-capture PC", 30)
    secret = created["secret"]
    assert secret.startswith("mdt_") and len(secret) == 47
    token = created["token"]
    assert token["name"] == "lecture-capture PC"
    assert (token["organization_id"], token["course_id"], token["roles"]) == (
        instructor.organization_id,
        instructor.course_id,
        [INSTRUCTOR],
    )
    listed = await api.call("GET", TOKENS, instructor.token)
    assert listed.status == 200
    assert [t["token_id"] for t in listed.body["tokens"]] == [token["token_id"]]
    assert secret not in str(listed.body) and "secret" not in listed.body["tokens"][0]


async def test_a_token_gets_the_same_answers_as_the_session_that_made_it(api: Client, instructor: Caller) -> None:
    upload = await api.call(
        "POST",
        "/api/v1/media/presigned-upload",
        instructor.token,
        {"filename": "Lecture_01.mp4", "content_type": "video/mp4", "file_size": 1000},
    )
    assert upload.status == 200, upload.body
    secret = (await api.create(instructor))["secret"]
    with_session = await api.call("GET", VIDEOS, instructor.token)
    with_token = await api.call("GET", VIDEOS, secret)
    assert with_token.status == with_session.status == 200
    assert with_token.body == with_session.body and len(with_token.body["videos"]) == 1
    again = await api.call("GET", VIDEOS, secret)
    assert again.body == with_session.body
    listed = await api.call("GET", TOKENS, secret)
    assert listed.body["tokens"][0]["last_used_at"]


async def test_a_revoked_token_is_refused_at_once_saying_what_to_do(api: Client, instructor: Caller) -> None:
    created = await api.create(instructor)
    secret = created["secret"]
    assert (await api.call("GET", VIDEOS, secret)).status == 200
    revoked = await api.call("DELETE", f"{TOKENS}/{created['token']['token_id']}", instructor.token)
    assert revoked.status == 200
    refused = await api.call("GET", VIDEOS, secret)
    assert refused.status == 401
    assert refused.reason == "REVOKED_API_TOKEN"
    assert "create a new token on the tool's page" in refused.message and "mediactl login" in refused.message
    assert refused.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert (await api.call("GET", TOKENS, instructor.token)).body["tokens"] == []


async def test_a_token_revoked_with_itself_is_refused_on_its_next_request(api: Client, instructor: Caller) -> None:
    created = await api.create(instructor)
    secret = created["secret"]
    assert (await api.call("DELETE", f"{TOKENS}/{created['token']['token_id']}", secret)).status == 200
    assert (await api.call("GET", VIDEOS, secret)).status == 401


async def test_an_expired_token_is_refused(api: Client, instructor: Caller, stack: Stack) -> None:
    created = await api.create(instructor, days=1)
    url = stack.infra.settings.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as db:
        db.execute(
            "UPDATE lti.api_tokens SET expires_at = now() - interval '1 minute' WHERE id = %s",
            (uuid.UUID(created["token"]["token_id"]),),
        )
    refused = await api.call("GET", VIDEOS, created["secret"])
    assert refused.status == 401 and refused.reason == "EXPIRED_API_TOKEN"
    assert "expired on" in refused.message and "create a new token" in refused.message


async def test_an_unknown_token_is_refused_like_a_bad_session(api: Client) -> None:
    for secret in ("mdt_" + "A" * 43, "mdt_short"):
        refused = await api.call("GET", VIDEOS, secret)
        assert refused.status == 401 and refused.reason == "UNKNOWN_API_TOKEN", refused.body
        assert refused.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


async def test_a_learner_cannot_create_a_token(api: Client, instructor: Caller, stack: Stack) -> None:
    learner = learner_of(stack.infra.settings.jwt_secret_key, instructor)
    refused = await api.call("POST", TOKENS, learner.token, {"name": "mine"})
    assert refused.status == 403 and refused.reason == "API_TOKEN_NOT_ALLOWED"
    assert "instructors" in refused.message and "administrators" in refused.message


async def test_an_administrators_token_acts_across_the_organization(api: Client, stack: Stack) -> None:
    secret_key = stack.infra.settings.jwt_secret_key
    admin = mint_caller(secret_key, roles=(ADMINISTRATOR,))
    teacher = mint_caller(secret_key, organization_id=admin.organization_id)
    upload = await api.call(
        "POST",
        "/api/v1/media/presigned-upload",
        teacher.token,
        {"filename": "Other.mp4", "content_type": "video/mp4", "file_size": 1000},
    )
    assert upload.status == 200, upload.body
    secret = (await api.create(admin))["secret"]
    other_course = await api.call("GET", VIDEOS, secret, course_id=teacher.course_id)
    assert other_course.status == 200 and len(other_course.body["videos"]) == 1


async def test_another_user_can_neither_list_nor_revoke_my_token(api: Client, instructor: Caller, stack: Stack) -> None:
    created = await api.create(instructor)
    secret_key = stack.infra.settings.jwt_secret_key
    colleague = mint_caller(
        secret_key, roles=(INSTRUCTOR,), organization_id=instructor.organization_id, course_id=instructor.course_id
    )
    admin = mint_caller(secret_key, roles=(ADMINISTRATOR,), organization_id=instructor.organization_id)
    for other in (colleague, admin):
        assert (await api.call("GET", TOKENS, other.token)).body["tokens"] == []
        refused = await api.call("DELETE", f"{TOKENS}/{created['token']['token_id']}", other.token)
        assert refused.status == 404 and refused.reason == "API_TOKEN_NOT_FOUND"
    assert (await api.call("GET", VIDEOS, created["secret"])).status == 200


async def test_a_token_can_neither_make_another_token_nor_be_refreshed_into_a_session(
    api: Client, instructor: Caller
) -> None:
    secret = (await api.create(instructor))["secret"]
    refused = await api.call("POST", TOKENS, secret, {"name": "another"})
    assert refused.status == 403 and refused.reason == "API_TOKEN_NEEDS_LAUNCH"
    refresh = await api.call("POST", "/api/v1/sessions:refresh", secret, {})
    assert refresh.status == 403 and refresh.reason == "API_TOKEN_NEEDS_LAUNCH"


async def test_a_tokens_name_and_lifetime_are_checked(api: Client, instructor: Caller) -> None:
    for body, field_name in (({"name": " "}, "name"), ({"name": "ok", "expires_in_days": 366}, "expires_in_days")):
        refused = await api.call("POST", TOKENS, instructor.token, body)
        assert refused.status == 400, refused.body
        violations = [v for d in refused.body["error"]["details"] for v in d.get("field_violations", [])]
        assert [v["field"] for v in violations] == [field_name]


async def test_no_token_secret_reaches_any_processs_log(api: Client, instructor: Caller, stack: Stack) -> None:
    created = await api.create(instructor)
    secret = created["secret"]
    await api.call("GET", VIDEOS, secret)
    await api.call("GET", TOKENS, secret)
    await api.call("DELETE", f"{TOKENS}/{created['token']['token_id']}", secret)
    await api.call("GET", VIDEOS, secret)
    logs = {path.name: path.read_text(errors="replace") for path in stack.infra.state_dir.glob("*.log")}
    assert {"edge.log", "lti.log"} <= set(logs)
    assert "api token created" in logs["lti.log"]
    for piece in (secret, secret.removeprefix("mdt_")):
        assert not [name for name, text in logs.items() if piece in text]
