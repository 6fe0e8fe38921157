"""Personal API token rules as plain calls: the secret's shape and hash, who may create, name, expiry, refusals."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from lti_svc import errors
from lti_svc.domain import api_tokens as rules
from lti_svc.domain.sessions import renew_session
from service_kit.auth import SessionClaims

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def session(*roles: str, course: str | None = "course-1", token_id: str | None = None) -> SessionClaims:
    return SessionClaims(
        "user-1", "org-1", course, frozenset(roles), issued_at=0, expires_at=2**31, api_token_id=token_id
    )


def record(**changes: object) -> rules.ApiTokenRecord:
    made = rules.new_token(
        session("Instructor"),
        token_id=uuid.uuid4(),
        secret=rules.new_secret(bytes(32)),
        name="cron",
        now=NOW,
        expires_in_days=0,
    )
    return dataclasses.replace(made, **changes)  # type: ignore[arg-type]


def test_a_secret_is_the_prefix_and_256_random_bits_in_base64url() -> None:
    secret = rules.new_secret(bytes(range(32)))
    assert secret.startswith("mdt_") and len(secret) == 4 + 43
    assert rules.is_well_formed(secret)
    with pytest.raises(ValueError, match="32 random bytes"):
        rules.new_secret(bytes(16))


def test_only_the_secrets_sha256_is_stored() -> None:
    secret = rules.new_secret(bytes(range(32)))
    made = rules.new_token(
        session("Instructor"), token_id=uuid.uuid4(), secret=secret, name="cron", now=NOW, expires_in_days=0
    )
    assert made.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in repr(made)


@pytest.mark.parametrize("value", ["", "mdt_", "mdt_short", "ghp_" + "a" * 43, "mdt_" + "a" * 42 + "!", "eyJ.x.y"])
def test_a_value_of_the_wrong_shape_is_not_a_token(value: str) -> None:
    assert not rules.is_well_formed(value)


@pytest.mark.parametrize("role", ["Instructor", "TeachingAssistant", "ContentDeveloper", "Administrator"])
def test_course_staff_and_administrators_may_create_tokens(role: str) -> None:
    rules.require_token_creator(session(role))


def test_a_learner_may_not_create_a_token_and_is_told_why() -> None:
    with pytest.raises(errors.ApiTokenNotAllowed, match="instructors and the organization's administrators"):
        rules.require_token_creator(session("Learner"))


def test_a_service_may_not_create_a_token() -> None:
    with pytest.raises(errors.ApiTokenNotAllowed, match="services"):
        rules.require_token_creator(session("Service", "Administrator"))


def test_a_session_resolved_from_a_token_may_neither_create_tokens_nor_be_refreshed() -> None:
    resolved = session("Instructor", token_id=str(uuid.uuid4()))
    with pytest.raises(errors.ApiTokenNeedsLaunch, match="page after a launch"):
        rules.require_token_creator(resolved)
    with pytest.raises(errors.ApiTokenNeedsLaunch, match="send the API token itself"):
        renew_session(resolved, now=100, ttl=3600, max_lifetime=43200)


def test_a_token_takes_the_creating_sessions_scope() -> None:
    made = rules.new_token(
        session("Instructor", "Learner"),
        token_id=uuid.uuid4(),
        secret=rules.new_secret(bytes(32)),
        name=" PC ",
        now=NOW,
        expires_in_days=30,
    )
    assert (made.organization_id, made.user_id, made.course_id) == ("org-1", "user-1", "course-1")
    assert made.roles == ("Instructor", "Learner")
    assert made.name == "PC"


@pytest.mark.parametrize(
    ("name", "problem"), [("  ", "give the token a name"), ("x" * 101, "at most 100"), ("a\nb", "control")]
)
def test_a_token_needs_a_short_printable_name(name: str, problem: str) -> None:
    with pytest.raises(errors.InvalidApiTokenRequest, match=problem) as refused:
        rules.token_name(name)
    assert refused.value.violations[0].field == "name"


def test_a_token_lives_90_days_by_default_and_at_most_a_year() -> None:
    assert rules.token_expiry(NOW, 0) == NOW + timedelta(days=90)
    assert rules.token_expiry(NOW, 365) == NOW + timedelta(days=365)
    for days in (366, -1):
        with pytest.raises(errors.InvalidApiTokenRequest, match="between 1 and 365") as refused:
            rules.token_expiry(NOW, days)
        assert refused.value.violations[0].field == "expires_in_days"


def test_unknown_revoked_and_expired_tokens_are_refused_saying_what_to_do() -> None:
    with pytest.raises(errors.UnknownApiToken, match="create a new token on the tool's page"):
        rules.check_usable(None, NOW)
    with pytest.raises(errors.RevokedApiToken, match="mediactl login"):
        rules.check_usable(record(revoked_at=NOW), NOW)
    with pytest.raises(errors.ExpiredApiToken, match="expired on 2026-11-30 12:00 UTC"):
        rules.check_usable(record(expires_at=NOW), NOW)
    alive = record()
    assert rules.check_usable(alive, NOW) is alive


def test_a_resolved_session_is_short_and_never_outlives_its_token() -> None:
    now = int(NOW.timestamp())
    assert rules.resolved_session_expiry(record(), now) == now + rules.RESOLVED_SESSION_SECONDS
    assert rules.resolved_session_expiry(record(expires_at=NOW + timedelta(seconds=20)), now) == now + 20


def test_last_used_is_written_at_most_once_a_minute() -> None:
    assert rules.should_record_use(record(), NOW)
    assert not rules.should_record_use(record(last_used_at=NOW - timedelta(seconds=59)), NOW)
    assert rules.should_record_use(record(last_used_at=NOW - timedelta(seconds=60)), NOW)


def test_tokens_are_personal() -> None:
    token = record()
    assert rules.is_owner(token, session("Instructor"))
    other = SessionClaims("user-2", "org-1", "course-1", frozenset({"Administrator"}), issued_at=0, expires_at=1)
    assert not rules.is_owner(token, other)
