"""Session JWTs: minted by a launch, verified by the edge and again by every service."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from service_kit.auth import (
    ExpiredSessionToken,
    InvalidSessionToken,
    bearer_token,
    issue_session_token,
    verify_session_token,
)

SECRET = "k" * 40


def mint(**overrides: object) -> str:
    args: dict[str, object] = {
        "user_id": "u1",
        "organization_id": "org1",
        "course_id": "c1",
        "roles": {"Instructor"},
        "ttl_seconds": 600,
    }
    args.update(overrides)
    return issue_session_token(SECRET, **args)  # type: ignore[arg-type]


def test_a_minted_token_verifies_to_the_same_identity() -> None:
    claims = verify_session_token(mint(), SECRET)
    assert (claims.user_id, claims.organization_id, claims.course_id) == ("u1", "org1", "c1")
    assert claims.roles == {"Instructor"}
    assert claims.manages_course and not claims.is_administrator


def test_an_expired_token_is_refused_with_a_hint_to_launch_again() -> None:
    token = mint(now=int(time.time()) - 3600, ttl_seconds=60)
    with pytest.raises(ExpiredSessionToken, match="launch the tool again"):
        verify_session_token(token, SECRET)


def test_a_token_signed_with_another_key_is_refused() -> None:
    token = issue_session_token("x" * 40, user_id="u", organization_id="o", course_id=None, roles=[], ttl_seconds=60)
    with pytest.raises(InvalidSessionToken):
        verify_session_token(token, SECRET)


def test_an_unsigned_token_is_refused() -> None:
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    payload = base64.urlsafe_b64encode(b'{"sub":"u","org":"o","iat":1,"exp":2147483647}').rstrip(b"=").decode()
    token = f"{header}.{payload}."
    with pytest.raises(InvalidSessionToken):
        verify_session_token(token, SECRET)


def test_a_token_without_an_organization_is_refused() -> None:
    token = jwt.encode({"sub": "u", "iat": int(time.time()), "exp": int(time.time()) + 60}, SECRET, "HS256")
    with pytest.raises(InvalidSessionToken, match="org"):
        verify_session_token(token, SECRET)


def test_learners_do_not_manage_courses() -> None:
    assert not verify_session_token(mint(roles=["Learner"]), SECRET).manages_course


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Bearer   ", "token"])
def test_an_authorization_header_that_is_not_bearer_is_refused(header: str) -> None:
    with pytest.raises(InvalidSessionToken, match="Bearer"):
        bearer_token(header)


def test_no_authorization_header_means_no_token() -> None:
    assert bearer_token(None) is None
    assert bearer_token("Bearer abc") == "abc"


def _with_payload(token: str, **changes: object) -> str:
    """The token with claims changed and its original signature kept (what an attacker can do)."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


@pytest.mark.parametrize(
    "changes",
    [{"org": "another-org"}, {"ctx": "another-course"}, {"sub": "another-user"}, {"roles": ["Administrator"]}],
)
def test_a_token_moved_to_another_organization_course_user_or_role_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidSessionToken):
        verify_session_token(_with_payload(mint(roles={"Learner"}), **changes), SECRET)


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_a_token_signed_with_the_right_key_but_another_hmac_algorithm_is_refused(algorithm: str) -> None:
    secret = "k" * 64  # long enough for HS512, so only the algorithm differs
    claims = {"sub": "u", "org": "o", "iat": int(time.time()), "exp": int(time.time()) + 60}
    with pytest.raises(InvalidSessionToken, match="alg value"):
        verify_session_token(jwt.encode(claims, secret, algorithm), secret)


def test_a_token_signed_with_an_rsa_key_is_refused() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = {"sub": "u", "org": "o", "iat": int(time.time()), "exp": int(time.time()) + 60}
    with pytest.raises(InvalidSessionToken, match="alg value"):
        verify_session_token(jwt.encode(claims, key, "RS256"), SECRET)
