"""Login, launch, session refresh and deep linking against fakes of Redis, the store and the keys: no server.

The id_tokens are real RS256 JWTs (the launch reads their header before anything else);
the fake key set takes their signature as good, since checking it is the adapter's job.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from lti_svc import domain, errors
from lti_svc.use_cases.launches import Launches, LaunchSettings, LoginRequest
from service_kit.auth import SessionClaims, verify_session_token
from tests.lti.fakes import (
    TOOL_SECRET,
    FakeDeepLinks,
    FakeKeySets,
    FakeLogins,
    FakeStore,
    FakeToolKeys,
    StoreDown,
    a_registration_record,
    caller,
)

NOW = int(time.time())
"""Now, not a fixed date: the session JWTs minted are read back with PyJWT, which checks expiry by the real clock."""
ISSUER = "https://lms.example.edu"
TOOL = "https://tool.example.org"
JWT_SECRET = "session-secret-for-tests-32-bytes!!"
C = "https://purl.imsglobal.org/spec/lti/claim/"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
PLATFORM_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def a_registration(organization_id: str = "org1", client_id: str = "client-1") -> domain.RegistrationRecord:
    moment = datetime.fromtimestamp(NOW, UTC)
    return a_registration_record(issuer=ISSUER, at=moment, organization_id=organization_id, client_id=client_id)


class Setup:
    def __init__(self) -> None:
        self.store = FakeStore()
        self.logins = FakeLogins()
        self.deep_links = FakeDeepLinks()
        self.key_sets = FakeKeySets()
        self.tool_keys = FakeToolKeys()
        self.now = NOW
        self.launches = Launches(
            uow=self.store.units(),
            logins=self.logins,
            deep_links=self.deep_links,
            key_sets=self.key_sets,
            tool_keys=self.tool_keys,
            settings=LaunchSettings(
                public_base_url=TOOL,
                jwt_secret=JWT_SECRET,
                session_ttl_seconds=3600,
                session_max_lifetime_seconds=8 * 3600,
                clock_skew_seconds=60,
                tool_jwt_ttl_seconds=300,
            ),
            clock=lambda: self.now,
        )

    def register(self, record: domain.RegistrationRecord | None = None, deployments: list[str] | None = None) -> None:
        record = record or a_registration()
        self.store.records[record.id] = record
        self.store.deployments[record.id] = deployments if deployments is not None else ["dep-1"]

    async def login(self, **changes: str) -> domain.LoginState:
        fields = {"iss": ISSUER, "login_hint": "hint", "target_link_uri": f"{TOOL}/lti/launch"}
        fields.update(changes)
        started = await self.launches.start_login(LoginRequest(**fields))
        return self.logins.states[started.state]


def id_token(nonce: str, *, roles: tuple[str, ...] = (INSTRUCTOR,), deep_linking: bool = False, **changes: Any) -> str:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": "client-1",
        "sub": "user-7",
        "iat": NOW,
        "exp": NOW + 300,
        "nonce": nonce,
        C + "message_type": "LtiDeepLinkingRequest" if deep_linking else "LtiResourceLinkRequest",
        C + "version": "1.3.0",
        C + "deployment_id": "dep-1",
        C + "target_link_uri": f"{TOOL}/lti/launch",
        C + "roles": list(roles),
        C + "context": {"id": "course-1", "title": "Analytical Engines"},
        C + "resource_link": {"id": "link-1"},
        "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
            "context_memberships_url": f"{ISSUER}/nrps/course-1"
        },
    }
    if deep_linking:
        claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = {
            "deep_link_return_url": f"{ISSUER}/deep-link-return",
            "accept_types": ["ltiResourceLink"],
            "data": "opaque-42",
        }
    claims.update(changes)
    return jwt.encode(claims, PLATFORM_KEY, algorithm="RS256", headers={"kid": "p1"})


# ---- login ------------------------------------------------------------------------------------------


async def test_a_login_keeps_a_state_and_nonce_and_sends_the_browser_to_the_platform() -> None:
    setup = Setup()
    setup.register()
    started = await setup.launches.start_login(
        LoginRequest(iss=ISSUER, login_hint="hint", target_link_uri=f"{TOOL}/lti/launch", lti_storage_target="_parent")
    )
    login = setup.logins.states[started.state]
    query = parse_qs(urlsplit(started.redirect_url).query)
    assert started.redirect_url.startswith(f"{ISSUER}/auth?")
    assert query["state"] == [started.state] and query["nonce"] == [login.nonce]
    assert query["redirect_uri"] == [f"{TOOL}/lti/launch"] and query["client_id"] == ["client-1"]
    assert login.nonce in setup.logins.nonces and login.storage_target == "_parent"


async def test_a_login_from_an_unregistered_platform_is_refused_and_keeps_nothing() -> None:
    setup = Setup()
    with pytest.raises(errors.UnknownPlatform, match="administrator registers it first"):
        await setup.login()
    assert setup.logins.states == {} and setup.logins.nonces == set()


async def test_a_login_without_client_id_for_an_issuer_with_two_registrations_asks_for_client_id() -> None:
    setup = Setup()
    setup.register(a_registration(client_id="client-1"))
    setup.register(a_registration(client_id="client-2"))
    with pytest.raises(errors.InvalidLogin, match="send client_id"):
        await setup.login()
    login = await setup.login(client_id="client-2")
    assert login.client_id == "client-2"


async def test_a_login_for_an_unregistered_deployment_or_another_site_is_refused() -> None:
    setup = Setup()
    setup.register()
    with pytest.raises(errors.InvalidLogin) as refused:
        await setup.login(lti_deployment_id="elsewhere")
    assert refused.value.reason == "LOGIN_UNKNOWN_DEPLOYMENT"
    with pytest.raises(errors.InvalidLogin, match="not on this tool"):
        await setup.login(target_link_uri="https://evil.example.com/lti/launch")
    assert setup.logins.states == {}


# ---- launch -----------------------------------------------------------------------------------------


async def test_a_launch_opens_a_session_and_remembers_the_course_services() -> None:
    setup = Setup()
    setup.register()
    login = await setup.login()
    opened = await setup.launches.launch(id_token(login.nonce), "")
    claims = verify_session_token(opened.session_token, JWT_SECRET)
    assert (claims.user_id, claims.organization_id, claims.course_id) == ("user-7", "org1", "course-1")
    assert "Instructor" in claims.roles and opened.expires_at == NOW + 3600 and opened.launch_id == ""
    link = setup.store.courses[("org1", "course-1")]
    assert link.nrps_url == f"{ISSUER}/nrps/course-1" and setup.key_sets.asked == [f"{ISSUER}/jwks"]


async def test_a_replayed_launch_is_refused_as_a_reused_nonce() -> None:
    setup = Setup()
    setup.register()
    login = await setup.login()
    token = id_token(login.nonce)
    await setup.launches.launch(token, "")
    with pytest.raises(errors.InvalidLaunch) as refused:
        await setup.launches.launch(token, "")
    assert refused.value.reason == "LAUNCH_NONCE_REUSED"


async def test_a_nonce_this_tool_never_issued_is_refused_and_nothing_is_remembered() -> None:
    setup = Setup()
    setup.register()
    with pytest.raises(errors.InvalidLaunch) as refused:
        await setup.launches.launch(id_token("made-up-nonce"), "")
    assert refused.value.reason == "LAUNCH_NONCE_REUSED" and setup.store.courses == {}


async def test_a_launch_for_another_organization_answers_like_an_unknown_platform() -> None:
    setup = Setup()
    setup.register()
    login = await setup.login()
    with pytest.raises(errors.UnknownPlatform, match="for this organization"):
        await setup.launches.launch(id_token(login.nonce), "org2")
    assert setup.key_sets.asked == [] and login.nonce in setup.logins.nonces


async def test_a_launch_without_id_token_is_refused_before_anything_is_read() -> None:
    setup = Setup()
    with pytest.raises(errors.InvalidLaunch) as refused:
        await setup.launches.launch("", "")
    assert refused.value.reason == "LAUNCH_NOT_A_JWT"


async def test_a_launch_whose_course_cannot_be_stored_opens_no_session() -> None:
    setup = Setup()
    setup.register()
    login = await setup.login()
    setup.store.refuse_commits = True
    with pytest.raises(StoreDown):
        await setup.launches.launch(id_token(login.nonce, deep_linking=True), "")
    assert setup.store.courses == {} and setup.deep_links.kept == {}


# ---- the browser's form post ------------------------------------------------------------------------


async def test_a_browser_launch_takes_its_state_and_says_where_to_go_and_how_to_come_back() -> None:
    setup = Setup()
    setup.register()
    login = await setup.login(lti_message_hint="m-1")
    done = await setup.launches.complete_browser_launch(id_token(login.nonce), login.state)
    assert done.redirect_url == f"{TOOL}/lti/launch" and done.platform_origin == ISSUER
    relaunch = parse_qs(urlsplit(done.relaunch_url).query)
    assert done.relaunch_url.startswith(f"{TOOL}/lti/login?") and relaunch["lti_message_hint"] == ["m-1"]
    assert setup.logins.states == {} and setup.logins.nonces == set()


async def test_a_state_used_once_is_refused_the_second_time() -> None:
    setup = Setup()
    setup.register()
    login = await setup.login()
    token = id_token(login.nonce)
    await setup.launches.complete_browser_launch(token, login.state)
    with pytest.raises(errors.InvalidLaunch) as refused:
        await setup.launches.complete_browser_launch(token, login.state)
    assert refused.value.reason == "LAUNCH_UNKNOWN_STATE"


async def test_a_state_of_another_login_is_refused_and_the_token_nonce_stays_unused() -> None:
    setup = Setup()
    setup.register()
    first, second = await setup.login(), await setup.login()
    with pytest.raises(errors.InvalidLaunch) as refused:
        await setup.launches.complete_browser_launch(id_token(first.nonce), second.state)
    assert refused.value.reason == "LAUNCH_NONCE_MISMATCH"
    assert first.nonce in setup.logins.nonces and setup.store.courses == {}


async def test_a_state_from_a_login_for_another_registration_is_refused() -> None:
    setup = Setup()
    setup.register()
    other = a_registration(client_id="client-2")
    setup.register(other)
    theirs = await setup.login(client_id="client-2")
    with pytest.raises(errors.InvalidLaunch) as refused:
        await setup.launches.complete_browser_launch(id_token(theirs.nonce), theirs.state)
    assert refused.value.reason == "LAUNCH_UNKNOWN_STATE"


async def test_a_form_post_without_state_or_id_token_says_which_is_missing() -> None:
    setup = Setup()
    with pytest.raises(errors.InvalidLaunch, match="no id_token"):
        await setup.launches.complete_browser_launch("", "s")
    with pytest.raises(errors.InvalidLaunch, match="no state"):
        await setup.launches.complete_browser_launch(id_token("n"), "")


# ---- session refresh --------------------------------------------------------------------------------


async def test_a_refresh_keeps_the_user_and_course_and_never_outlives_the_session() -> None:
    setup = Setup()
    launched = NOW - 8 * 3600 + 600
    session = SessionClaims("user-7", "org1", "course-1", frozenset({"Learner"}), issued_at=NOW - 60, expires_at=NOW)
    session = dataclasses.replace(session, authenticated_at=launched)
    renewed = await setup.launches.refresh_session(session)
    claims = verify_session_token(renewed.session_token, JWT_SECRET)
    assert (claims.user_id, claims.course_id, claims.roles) == ("user-7", "course-1", frozenset({"Learner"}))
    assert claims.authenticated_at == launched
    assert renewed.ends_at == launched + 8 * 3600 and renewed.expires_at == renewed.ends_at
    setup.now = renewed.ends_at
    with pytest.raises(errors.SessionLifetimeOver):
        await setup.launches.refresh_session(session)


async def test_a_session_resolved_from_an_api_token_is_not_refreshed() -> None:
    setup = Setup()
    resolved = dataclasses.replace(caller("Instructor"), api_token_id=str(uuid.uuid4()))
    with pytest.raises(errors.ApiTokenNeedsLaunch):
        await setup.launches.refresh_session(resolved)


# ---- deep linking -----------------------------------------------------------------------------------


def a_video(video_id: str = "v-1") -> domain.PickedItem:
    return domain.PickedItem("ltiResourceLink", "Lecture 1", "", "", video_id, "", {})


async def deep_linking_launch(setup: Setup) -> tuple[str, Any]:
    setup.register()
    login = await setup.login()
    opened = await setup.launches.launch(id_token(login.nonce, deep_linking=True), "")
    instructor = caller("Instructor", user_id="user-7", course_id="course-1")
    return opened.launch_id, instructor


async def test_a_deep_linking_answer_is_signed_for_the_platform_and_the_launch_is_used_up() -> None:
    setup = Setup()
    launch_id, instructor = await deep_linking_launch(setup)
    assert launch_id in setup.deep_links.kept
    answer = await setup.launches.deep_linking_response(instructor, launch_id, [a_video()], "Added")
    claims = jwt.decode(answer.jwt, TOOL_SECRET, algorithms=["HS256"], audience=ISSUER)
    assert claims["iss"] == "client-1" and claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "opaque-42"
    items = claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    assert items[0]["custom"] == {"video_id": "v-1"} and items[0]["url"] == f"{TOOL}/lti/launch"
    assert answer.return_url == f"{ISSUER}/deep-link-return" and setup.deep_links.kept == {}
    with pytest.raises(errors.LaunchNotFound):
        await setup.launches.deep_linking_response(instructor, launch_id, [a_video()], "")


async def test_a_deep_linking_launch_of_another_user_answers_like_a_missing_one_and_stays_kept() -> None:
    setup = Setup()
    launch_id, _ = await deep_linking_launch(setup)
    stranger = caller("Instructor", user_id="user-8", course_id="course-1")
    with pytest.raises(errors.LaunchNotFound):
        await setup.launches.deep_linking_response(stranger, launch_id, [a_video()], "")
    assert launch_id in setup.deep_links.kept and setup.tool_keys.signed == []


async def test_a_learner_cannot_pick_content_and_a_bad_pick_keeps_the_launch_for_another_try() -> None:
    setup = Setup()
    launch_id, instructor = await deep_linking_launch(setup)
    learner = caller("Learner", user_id="user-7", course_id="course-1")
    with pytest.raises(errors.NotCourseStaff):
        await setup.launches.deep_linking_response(learner, launch_id, [a_video()], "")
    with pytest.raises(errors.InvalidDeepLinkingItems, match="one item"):
        await setup.launches.deep_linking_response(instructor, launch_id, [a_video("v-1"), a_video("v-2")], "")
    assert launch_id in setup.deep_links.kept and setup.tool_keys.signed == []


async def test_the_key_set_is_the_tool_keys_published() -> None:
    setup = Setup()
    assert [k["kid"] for k in await setup.launches.key_set()] == ["k1"]
