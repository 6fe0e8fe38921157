"""Personal API token use cases over a fake store: create, list, revoke, resolve; no server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from lti_svc import errors
from lti_svc.domain import api_tokens as rules
from lti_svc.use_cases.api_tokens import ApiTokenUseCases
from service_kit.auth import SessionClaims, verify_session_token
from tests.lti.fakes import FakeTokenStore

NOW = datetime.now(UTC).replace(microsecond=0)
"""Now, not a fixed date: the resolved session JWTs are checked against the real clock by PyJWT."""
SECRET_KEY = "test-secret-key-for-session-jwts-0123456789"


def person(*roles: str, user: str = "u-1", org: str = "org-1", course: str | None = "c-1") -> SessionClaims:
    return SessionClaims(user, org, course, frozenset(roles), issued_at=0, expires_at=2**31)


INSTRUCTOR = person("Instructor")


class Setup:
    def __init__(self) -> None:
        self.store = FakeTokenStore()
        self.now = NOW
        self.tokens = ApiTokenUseCases(
            uow=self.store.units(), jwt_secret=SECRET_KEY, clock=lambda: self.now.timestamp()
        )


async def test_a_created_token_is_shown_once_and_stored_only_as_its_hash() -> None:
    setup = Setup()
    created = await setup.tokens.create(INSTRUCTOR, "lecture-capture PC", 0)
    assert created.secret.startswith("mdt_")
    stored = setup.store.tokens[created.record.id]
    assert stored.secret_hash == rules.secret_hash(created.secret)
    assert created.secret not in repr(setup.store.tokens)
    assert stored.expires_at == NOW + timedelta(days=90)
    assert (stored.organization_id, stored.user_id, stored.course_id) == ("org-1", "u-1", "c-1")


async def test_two_tokens_never_share_a_secret() -> None:
    setup = Setup()
    first = await setup.tokens.create(INSTRUCTOR, "a", 0)
    second = await setup.tokens.create(INSTRUCTOR, "b", 0)
    assert first.secret != second.secret


async def test_a_learner_is_refused_and_nothing_is_stored() -> None:
    setup = Setup()
    with pytest.raises(errors.ApiTokenNotAllowed):
        await setup.tokens.create(person("Learner"), "mine", 0)
    assert setup.store.tokens == {}


async def test_a_listing_shows_only_the_callers_own_tokens_that_are_not_revoked() -> None:
    setup = Setup()
    mine = await setup.tokens.create(INSTRUCTOR, "mine", 0)
    gone = await setup.tokens.create(INSTRUCTOR, "gone", 0)
    await setup.tokens.create(person("Instructor", user="u-2"), "theirs", 0)
    await setup.tokens.create(person("Instructor", org="org-2"), "same user id elsewhere", 0)
    await setup.tokens.revoke(INSTRUCTOR, str(gone.record.id))
    page = await setup.tokens.of_caller(INSTRUCTOR, 0, "")
    assert [r.id for r in page.records] == [mine.record.id]


async def test_a_listing_pages_oldest_first() -> None:
    setup = Setup()
    made = []
    for n in range(3):
        setup.now = NOW + timedelta(minutes=n)
        made.append((await setup.tokens.create(INSTRUCTOR, f"t{n}", 0)).record.id)
    first = await setup.tokens.of_caller(INSTRUCTOR, 2, "")
    second = await setup.tokens.of_caller(INSTRUCTOR, 2, first.next_page_token)
    assert [r.id for r in first.records + second.records] == made
    assert second.next_page_token == ""


async def test_another_user_cannot_revoke_my_token_and_learns_nothing_of_it() -> None:
    setup = Setup()
    mine = await setup.tokens.create(INSTRUCTOR, "mine", 0)
    for other in (person("Administrator", user="u-2"), person("Instructor", org="org-2")):
        with pytest.raises(errors.ApiTokenNotFound):
            await setup.tokens.revoke(other, str(mine.record.id))
    with pytest.raises(errors.ApiTokenNotFound):
        await setup.tokens.revoke(INSTRUCTOR, "not-a-uuid")
    assert setup.store.tokens[mine.record.id].revoked_at is None


async def test_revoking_twice_keeps_the_first_revocation() -> None:
    setup = Setup()
    mine = await setup.tokens.create(INSTRUCTOR, "mine", 0)
    await setup.tokens.revoke(INSTRUCTOR, str(mine.record.id))
    setup.now = NOW + timedelta(hours=1)
    await setup.tokens.revoke(INSTRUCTOR, str(mine.record.id))
    assert setup.store.tokens[mine.record.id].revoked_at == NOW


async def test_a_token_resolves_to_a_short_session_of_its_owner_and_scope() -> None:
    setup = Setup()
    created = await setup.tokens.create(person("Instructor", "TeachingAssistant"), "cli", 0)
    resolved = await setup.tokens.resolve(created.secret)
    claims = verify_session_token(resolved.session_token, SECRET_KEY, now=int(NOW.timestamp()))
    assert (claims.user_id, claims.organization_id, claims.course_id) == ("u-1", "org-1", "c-1")
    assert claims.roles == {"Instructor", "TeachingAssistant"}
    assert claims.api_token_id == str(created.record.id) == str(resolved.token_id)
    assert resolved.expires_at - int(NOW.timestamp()) == rules.RESOLVED_SESSION_SECONDS
    assert setup.store.tokens[created.record.id].last_used_at == NOW


async def test_last_used_is_not_rewritten_within_the_minute() -> None:
    setup = Setup()
    created = await setup.tokens.create(INSTRUCTOR, "cli", 0)
    await setup.tokens.resolve(created.secret)
    commits = setup.store.commits
    setup.now = NOW + timedelta(seconds=30)
    await setup.tokens.resolve(created.secret)
    assert setup.store.commits == commits
    setup.now = NOW + timedelta(seconds=90)
    await setup.tokens.resolve(created.secret)
    assert setup.store.tokens[created.record.id].last_used_at == setup.now


async def test_revoked_expired_and_unknown_tokens_do_not_resolve() -> None:
    setup = Setup()
    revoked = await setup.tokens.create(INSTRUCTOR, "revoked", 0)
    await setup.tokens.revoke(INSTRUCTOR, str(revoked.record.id))
    with pytest.raises(errors.RevokedApiToken):
        await setup.tokens.resolve(revoked.secret)
    short = await setup.tokens.create(INSTRUCTOR, "short", 1)
    setup.now = NOW + timedelta(days=1)
    with pytest.raises(errors.ExpiredApiToken):
        await setup.tokens.resolve(short.secret)
    for secret in (rules.new_secret(bytes(32)), "mdt_malformed", ""):
        with pytest.raises(errors.UnknownApiToken, match="mediactl login"):
            await setup.tokens.resolve(secret)


async def test_a_token_cannot_mint_another_token() -> None:
    setup = Setup()
    created = await setup.tokens.create(INSTRUCTOR, "cli", 0)
    resolved = await setup.tokens.resolve(created.secret)
    as_token = verify_session_token(resolved.session_token, SECRET_KEY, now=int(NOW.timestamp()))
    with pytest.raises(errors.ApiTokenNeedsLaunch):
        await setup.tokens.create(as_token, "another", 0)
    assert len(setup.store.tokens) == 1
    assert uuid.UUID(str(resolved.token_id)) == created.record.id
