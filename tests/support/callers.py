"""Signed-in users for tests: a fresh organization and course each, unless told otherwise."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from service_kit.auth import INSTRUCTOR, LEARNER, issue_session_token


@dataclass(frozen=True)
class Caller:
    """A signed-in user: who, where, and the bearer token the browser would send."""

    user_id: str
    organization_id: str
    course_id: str
    token: str


def mint_caller(
    secret: str,
    *,
    roles: tuple[str, ...] = (INSTRUCTOR,),
    organization_id: str | None = None,
    course_id: str | None = None,
) -> Caller:
    """A caller in a new organization and course (unique ids keep tests apart without truncating)."""
    org = organization_id or f"org-{uuid.uuid4().hex[:8]}"
    course = course_id or f"course-{uuid.uuid4().hex[:8]}"
    user = f"user-{uuid.uuid4().hex[:8]}"
    token = issue_session_token(
        secret, user_id=user, organization_id=org, course_id=course, roles=list(roles), ttl_seconds=3600
    )
    return Caller(user, org, course, token)


def learner_of(secret: str, instructor: Caller) -> Caller:
    """A learner of the instructor's course."""
    return mint_caller(
        secret, roles=(LEARNER,), organization_id=instructor.organization_id, course_id=instructor.course_id
    )
