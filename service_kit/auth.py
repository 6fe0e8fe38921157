"""Session JWTs: who the caller is, in which organization and course, with which roles.

An LTI launch (or an operator's CLI) mints one; the browser sends it as a Bearer token;
the edge verifies it and forwards it in gRPC metadata; each service verifies it again,
because no service trusts the network (DESIGN.md, Identity).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

from service_kit.errors import Unauthenticated

SESSION_ALGORITHM = "HS256"
AUTHORIZATION_METADATA_KEY = "authorization"
CLOCK_SKEW_SECONDS = 30

INSTRUCTOR = "Instructor"
LEARNER = "Learner"
ADMINISTRATOR = "Administrator"
TEACHING_ASSISTANT = "TeachingAssistant"
CONTENT_DEVELOPER = "ContentDeveloper"
MENTOR = "Mentor"

API_TOKEN_PREFIX = "mdt_"
"""How every personal API token begins (lti_svc issues them): the edge tells them from session
JWTs by it, and secret scanners find leaked ones by it, as GitHub's ``ghp_`` tokens."""

COURSE_STAFF_ROLES = frozenset({INSTRUCTOR, TEACHING_ASSISTANT, CONTENT_DEVELOPER, ADMINISTRATOR})
"""Roles that manage a course's media (short LTI role names)."""


@dataclass(frozen=True)
class SessionClaims:
    """The verified identity of a caller."""

    user_id: str
    organization_id: str
    course_id: str | None
    roles: frozenset[str]
    issued_at: int
    expires_at: int
    authenticated_at: int = 0
    """When the user launched (``auth_time``): refreshed tokens keep it, so a session's total
    lifetime is bounded however often it is refreshed. 0 reads as ``issued_at``."""
    api_token_id: str | None = None
    """The personal API token this session was resolved from (claim ``tid``), None for a launch's.
    Such a session is neither refreshed nor used to create further tokens."""

    def has_role(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)

    @property
    def is_administrator(self) -> bool:
        return ADMINISTRATOR in self.roles

    @property
    def manages_course(self) -> bool:
        return bool(self.roles & COURSE_STAFF_ROLES)


class InvalidSessionToken(Unauthenticated):
    """The bearer token is malformed, badly signed, or lacks a required claim."""

    reason = "INVALID_SESSION_TOKEN"


class ExpiredSessionToken(Unauthenticated):
    """The bearer token was valid but has expired: launch the tool again."""

    reason = "EXPIRED_SESSION_TOKEN"


class MissingSessionToken(Unauthenticated):
    """The call needs a caller, and no bearer token came with it."""

    reason = "MISSING_SESSION_TOKEN"


def issue_session_token(
    secret: str,
    *,
    user_id: str,
    organization_id: str,
    course_id: str | None,
    roles: frozenset[str] | set[str] | list[str],
    ttl_seconds: int,
    now: int | None = None,
    authenticated_at: int | None = None,
    api_token_id: str | None = None,
) -> str:
    """Sign a session JWT for a caller (DESIGN.md, Identity: sub, org, ctx, roles, iat, exp).

    ``auth_time`` (OpenID Connect's name) is when the user launched: ``now`` for a new
    session, the original launch's for a refreshed one. ``api_token_id`` marks a session
    resolved from a personal API token (claim ``tid``).
    """
    issued = int(time.time()) if now is None else now
    claims: dict[str, object] = {
        "sub": user_id,
        "org": organization_id,
        "roles": sorted(set(roles)),
        "iat": issued,
        "exp": issued + ttl_seconds,
        "auth_time": issued if authenticated_at is None else authenticated_at,
    }
    if course_id is not None:
        claims["ctx"] = course_id
    if api_token_id is not None:
        claims["tid"] = api_token_id
    return jwt.encode(claims, secret, algorithm=SESSION_ALGORITHM)


def is_api_token(token: str) -> bool:
    """Whether a bearer token is a personal API token (by its prefix) rather than a session JWT."""
    return token.startswith(API_TOKEN_PREFIX)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` value, or None when there is none."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidSessionToken("the Authorization header must be 'Bearer <session token>'")
    return token.strip()


def verify_session_token(token: str, secret: str, *, now: int | None = None) -> SessionClaims:
    """Check signature, expiry and required claims; raise an Unauthenticated subclass if any fails.

    Only HS256 is accepted, so a token cannot choose a weaker algorithm or ``none``.
    """
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[SESSION_ALGORITHM],
            options={"require": ["sub", "org", "iat", "exp"]},
            leeway=CLOCK_SKEW_SECONDS,
        )
    except jwt.ExpiredSignatureError:
        raise ExpiredSessionToken("the session token has expired: launch the tool again from your course") from None
    except jwt.PyJWTError as exc:
        raise InvalidSessionToken(f"the session token is not valid: {exc}") from None
    if now is not None and claims["exp"] + CLOCK_SKEW_SECONDS < now:
        raise ExpiredSessionToken("the session token has expired: launch the tool again from your course")
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidSessionToken("the session token's roles claim must be a list of role names")
    for name in ("sub", "org"):
        if not isinstance(claims[name], str) or not claims[name]:
            raise InvalidSessionToken(f"the session token's {name} claim must be a non-empty string")
    course = claims.get("ctx")
    authenticated = claims.get("auth_time", int(claims["iat"]))
    if not isinstance(authenticated, int) or isinstance(authenticated, bool):
        raise InvalidSessionToken("the session token's auth_time claim must be a whole number of seconds")
    token_id = claims.get("tid")
    return SessionClaims(
        user_id=claims["sub"],
        organization_id=claims["org"],
        course_id=course if isinstance(course, str) and course else None,
        roles=frozenset(roles),
        issued_at=int(claims["iat"]),
        expires_at=int(claims["exp"]),
        authenticated_at=authenticated,
        api_token_id=token_id if isinstance(token_id, str) and token_id else None,
    )
