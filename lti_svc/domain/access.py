"""Who may call what: administrators, course staff and services (never a user) for secrets.

Its own module because these checks are about the caller's session, not about LTI
messages; every RPC of the servicer runs one of them before its work.
"""

from __future__ import annotations

from lti_svc import errors
from service_kit.auth import (
    SessionClaims,
)

SERVICE_ROLE = "Service"
"""Role of session JWTs that services mint for themselves; an LTI launch never maps to it."""


def require_administrator(caller: SessionClaims, organization_id: str) -> str:
    """The organization an administrator may manage: their own (another's is refused)."""
    if not caller.is_administrator:
        raise errors.NotAdministrator(
            "only an organization's administrators manage LTI registrations: launch as an administrator"
        )
    if organization_id and organization_id != caller.organization_id:
        raise errors.NotAdministrator("administrators manage the LTI registrations of their own organization only")
    return caller.organization_id


def require_service_caller(caller: SessionClaims, organization_id: str) -> None:
    """Secrets go to services only: a session minted by a service, for the same organization.

    Services share JWT_SECRET_KEY and mint a short-lived session JWT with the ``Service``
    role for the organization they act for; launches never map to that role, and the
    edge does not route GetZoomCredentials, so no user's token can open the secrets.
    """
    if SERVICE_ROLE not in caller.roles:
        raise errors.NotServiceCaller("Zoom credentials are given to services only, never to a user's session")
    if caller.organization_id != organization_id:
        raise errors.NotServiceCaller("the service's session is for another organization than the one asked for")


def require_course_staff(caller: SessionClaims, course_id: str) -> None:
    """Roster and grades: staff of this course, an administrator, or a service of the organization."""
    if SERVICE_ROLE in caller.roles or caller.is_administrator:
        return
    if caller.manages_course and caller.course_id == course_id:
        return
    raise errors.NotCourseStaff("only the course's instructors and assistants may read its roster or send grades")
